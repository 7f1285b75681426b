"""Rotating Interlock's config on a live Swarm: the runbook's steps 4-7, made safe.

Read the config mounted at /config.toml on `ucp-interlock`, transform it, create
`com.docker.ucp.interlock.conf-<N+1>`, and swap it in with a service update that carries the
version index it read (a compare-and-swap: a concurrent rotation makes it fail with "update out
of sequence", and we re-read and retry). The update rolls back on failure. When it does, the
error carries the failing tasks' messages and the last lines of their logs; the previous config
stays attached, and the unused new config object is deleted.
"""

from __future__ import annotations

import base64
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, NotFound

from components import interlock_toml, labels

CONFIG_NAME_RE = re.compile(rf"^{re.escape(labels.INTERLOCK_CONFIG_PREFIX)}(\d+)$")
DEFAULT_MONITOR_NS = 5_000_000_000  # Swarm's own default, made explicit
TERMINAL = {"completed", "rollback_completed", "rollback_paused", "paused"}
LOG_LINES = 20


class RotationError(RuntimeError):
    pass


class RotationFailed(RotationError):
    """The new config was rejected: the service rolled back to the previous one."""


@dataclass(frozen=True)
class CurrentConfig:
    service_id: str
    version: int
    config_id: str
    config_name: str
    text: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class RotationResult:
    changed: bool
    config_name: str
    previous_config_name: str
    attempts: int
    text: str


def read_current(client: docker.DockerClient, service: str = labels.INTERLOCK_SERVICE) -> CurrentConfig:
    try:
        svc = client.api.inspect_service(service)
    except NotFound:
        raise RotationError(
            f"the service {service} does not exist: enable Layer 7 routing in UCP (Admin Settings > Layer 7 Routing) first"
        ) from None
    spec = svc["Spec"]
    refs = spec["TaskTemplate"]["ContainerSpec"].get("Configs") or []
    ref = next((r for r in refs if r.get("File", {}).get("Name") == labels.INTERLOCK_CONFIG_PATH), None)
    if ref is None:
        raise RotationError(f"{service} has no config mounted at {labels.INTERLOCK_CONFIG_PATH}")
    data = client.api.inspect_config(ref["ConfigID"])["Spec"]["Data"]
    text = interlock_toml.decode(base64.b64decode(data), f"the running config {ref['ConfigName']}")
    return CurrentConfig(svc["ID"], svc["Version"]["Index"], ref["ConfigID"], ref["ConfigName"], text, spec)


def _next_name(client: docker.DockerClient, current: str) -> str:
    numbers = [int(m.group(1)) for c in client.api.configs() if (m := CONFIG_NAME_RE.match(c["Spec"]["Name"]))]
    own = CONFIG_NAME_RE.match(current)
    numbers.append(int(own.group(1)) if own else 0)
    return f"{labels.INTERLOCK_CONFIG_PREFIX}{max(numbers) + 1}"


def _update_status(client: docker.DockerClient, service_id: str) -> dict[str, Any]:
    return client.api.inspect_service(service_id).get("UpdateStatus") or {}


def rotate(
    client: docker.DockerClient,
    transform: Callable[[str], str],
    *,
    stack: str,
    keep: int = 3,
    attempts: int = 8,
    timeout: float = 600.0,
    service: str = labels.INTERLOCK_SERVICE,
    poll: float = 0.25,
) -> RotationResult:
    """Apply `transform` to the running config. A transform that changes nothing rotates nothing."""
    for attempt in range(1, attempts + 1):
        current = read_current(client, service)
        new_text = transform(current.text)
        if new_text == current.text:
            return RotationResult(False, current.config_name, current.config_name, attempt, current.text)
        name = _next_name(client, current.config_name)
        try:
            created = client.api.create_config(name, new_text.encode(), labels={labels.MANAGED_BY_STACK: stack})
        except APIError as err:
            if err.status_code == 409:  # another stack took this number: read again
                continue
            raise
        config_id = created["ID"]
        before = _update_status(client, current.service_id).get("StartedAt")
        try:
            _swap(client, current, config_id, name)
        except APIError as err:
            client.api.remove_config(config_id)
            if "update out of sequence" in str(err):  # another rotation landed first: redo on its result
                time.sleep(0.05 * attempt)
                continue
            raise
        _wait(client, current, config_id, name, before, timeout, poll)
        prune(client, keep, service)
        return RotationResult(True, name, current.config_name, attempt, new_text)
    raise RotationError(
        f"gave up after {attempts} attempts: other rotations of {service} kept landing first; run `pulumi up` again"
    )


def _swap(client: docker.DockerClient, current: CurrentConfig, config_id: str, name: str) -> None:
    spec = current.spec
    template = dict(spec["TaskTemplate"])
    container = dict(template["ContainerSpec"])
    old = next(r for r in container.get("Configs") or [] if r.get("File", {}).get("Name") == labels.INTERLOCK_CONFIG_PATH)
    container["Configs"] = [r for r in container["Configs"] if r is not old] + [
        {**old, "ConfigID": config_id, "ConfigName": name}
    ]
    template["ContainerSpec"] = container
    update = dict(spec.get("UpdateConfig") or {})
    update["FailureAction"] = "rollback"
    update.setdefault("Monitor", DEFAULT_MONITOR_NS)
    client.api.update_service(
        current.service_id, version=current.version, task_template=template, name=spec["Name"], labels=spec.get("Labels"),
        mode=spec.get("Mode"), update_config=update, rollback_config=spec.get("RollbackConfig"), endpoint_spec=spec.get("EndpointSpec"),
    )  # fmt: skip


def _wait(
    client: docker.DockerClient,
    current: CurrentConfig,
    config_id: str,
    name: str,
    before: str | None,
    timeout: float,
    poll: float,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = _update_status(client, current.service_id)
        if status.get("StartedAt") != before and status.get("State") in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise RotationError(
                f"{name} did not converge on {current.spec['Name']} within {timeout:.0f}s (update state: {status.get('State', 'unknown')})"
            )
        time.sleep(poll)
    if status["State"] == "completed":
        return
    report = failure_report(client, current.service_id, status.get("StartedAt"))
    still = read_current(client, current.spec["Name"])
    if still.config_id == config_id:  # paused, not rolled back: put the previous config back ourselves
        _swap(client, still, current.config_id, current.config_name)
        _wait(
            client,
            still,
            current.config_id,
            current.config_name,
            _update_status(client, current.service_id).get("StartedAt"),
            timeout,
            poll,
        )
    with contextlib.suppress(APIError):  # still referenced by a shutting-down task: the next prune removes it
        client.api.remove_config(config_id)
    raise RotationFailed(
        f"{current.spec['Name']} rejected {name} and rolled back to {current.config_name} "
        f"({status.get('Message', status['State'])}); the new config was deleted.\n{report}"
    )


def failure_report(client: docker.DockerClient, service_id: str, since: str | None) -> str:
    """What the runbook left the operator to dig out by hand: why the tasks failed, and their logs."""
    lines = []
    for task in client.api.tasks(filters={"service": service_id}):
        status = task.get("Status", {})
        exit_code = status.get("ContainerStatus", {}).get("ExitCode")
        failed = status.get("State") in ("failed", "rejected") or (exit_code not in (None, 0, 137, 143))
        if not failed or (since and task.get("CreatedAt", "") < since):
            continue
        lines.append(
            f"task {task['ID'][:12]} on node {task.get('NodeID', '?')[:12]}: {status.get('Err') or status.get('Message')} (exit code {exit_code})"
        )
        lines += [f"    | {line}" for line in task_logs(client, task["ID"])]
    return "\n".join(lines) if lines else "no failed task was found; see `docker service ps --no-trunc ucp-interlock`"


def task_logs(client: docker.DockerClient, task_id: str, tail: int = LOG_LINES) -> list[str]:
    try:
        res = client.api._get(client.api._url("/tasks/{0}/logs", task_id), params={"stdout": 1, "stderr": 1, "tail": str(tail)})
        res.raise_for_status()
    except Exception as err:
        return [f"(logs unavailable: {err})"]
    return _demux(res.content).splitlines()[-tail:]


def _demux(raw: bytes) -> str:
    """Docker's multiplexed log stream: 8-byte headers (stream, 0, 0, 0, size) before each frame."""
    out, i = [], 0
    while i + 8 <= len(raw) and raw[i] in (0, 1, 2) and raw[i + 1 : i + 4] == b"\x00\x00\x00":
        size = int.from_bytes(raw[i + 4 : i + 8], "big")
        out.append(raw[i + 8 : i + 8 + size])
        i += 8 + size
    text = b"".join(out) if out else raw
    return text.decode(errors="replace")


def prune(client: docker.DockerClient, keep: int, service: str = labels.INTERLOCK_SERVICE) -> list[str]:
    """Keep the newest `keep` config objects; remove older ones that no service references."""
    referenced = {
        r["ConfigID"] for s in client.api.services() for r in s["Spec"]["TaskTemplate"]["ContainerSpec"].get("Configs") or []
    }
    numbered = sorted(
        ((int(m.group(1)), c) for c in client.api.configs() if (m := CONFIG_NAME_RE.match(c["Spec"]["Name"]))),
        key=lambda x: -x[0],
    )
    removed = []
    for _, config in numbered[keep:]:
        if config["ID"] in referenced:
            continue
        try:
            client.api.remove_config(config["ID"])
            removed.append(config["Spec"]["Name"])
        except APIError:
            pass  # in use by a task that is still shutting down; the next prune gets it
    return removed


def remove_services(client: docker.DockerClient, names: list[str]) -> list[str]:
    """Remove services Interlock leaves behind (stale extension and proxy services)."""
    removed = []
    for name in names:
        try:
            client.api.remove_service(name)
            removed.append(name)
        except NotFound:
            continue
    return removed
