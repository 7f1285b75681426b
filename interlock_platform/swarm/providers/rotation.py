"""Rotating Interlock's config on a live Swarm: the runbook's steps 4-7, made safe under
concurrent rotations and late failures.

One rotation:

1. waits until `ucp-interlock` runs steadily: no update in flight, the tasks running the
   attached config have run for the health window, and none of them (nor of the extension and
   proxy services Interlock runs for it) failed or restarted since the update that attached it.
   That config is the base, and it is known good. A service that cannot run at all (0 replicas,
   no suitable node) is refused at once; one that keeps failing, after a grace, with the last
   config that ran steadily;
2. applies the transform to the base and creates `com.docker.ucp.interlock.conf-<N+1>`, N the
   highest of the platform's own configs (by their label, not the name pattern alone), in a name
   that always fits Swarm's 64 characters;
3. swaps it in with a service update that carries the version index it read (a
   compare-and-swap: a concurrent rotation makes it fail with "update out of sequence", and we
   start again from step 1) and a monitor window of at least the health window, so Swarm itself
   rolls back a config that crashes Interlock as it starts, even if this process dies;
4. watches until it knows *its own* outcome:
   - its config is attached, the update that attached it completed, and its tasks ran for the
     window without a failure: success;
   - the service rolled back to the base it built on: its config was rejected. It raises
     `RotationFailed` with the failing tasks' messages and logs, and deletes its config;
   - a later rotation built on it and was rolled back to it: its change is in effect, and it
     succeeds once healthy. The later rotation owns that failure;
   - its config broke the service without a rollback (the update paused, or a task failed after
     Swarm's monitor window): it swaps its own config back for its base, and that is the only
     case where it swaps anything back;
   - anything else (a rollback to another rotation's config, an overwrite): it starts again from
     step 1, on the settled result;
5. prunes config objects by what is known good: the attached config and the known-good list
   that rotations keep in a label on the service. Rejected configs go; the last good one never.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import docker
from docker.errors import APIError, NotFound

from interlock_platform.core import interlock_toml, labels

CONFIG_NAME_RE = re.compile(rf"^{re.escape(labels.INTERLOCK_CONFIG_PREFIX)}(\d+)$")
# Swarm's longest object name (swarmkit's validation of a config's Annotations.Name)
MAX_NAME_LENGTH = 64
# How long Interlock must run a new config without failing before it counts as good: it reads the
# config, connects to the engine (it polls every 3 s) and starts its extension and proxies.
DEFAULT_HEALTH_SECONDS = 20.0
IN_FLIGHT = {"updating", "rollback_started"}
GLOBAL_SCHEDULING_GRACE = 5.0  # seconds a global service may have no task before no node is eligible
PAUSED = {"paused", "rollback_paused"}
ROLLED_BACK = {"rollback_completed", "rollback_paused"}
LOG_LINES = 20
# A clean stop (SIGTERM/SIGKILL from the orchestrator) is not a failure
CLEAN_EXIT_CODES = (None, 0, 137, 143)


class RotationError(RuntimeError):
    pass


class RotationFailed(RotationError):
    """The new config was rejected: the service is back on the config the rotation built on."""


@dataclass(frozen=True)
class CurrentConfig:
    service_id: str
    version: int
    config_id: str
    config_name: str
    text: str
    spec: dict[str, Any]
    update_state: str | None = None
    update_started: str | None = None
    update_message: str = ""

    @property
    def service_name(self) -> str:
        return str(self.spec["Name"])

    @property
    def known_good(self) -> list[str]:
        return known_good_configs(self.spec)

    @property
    def image(self) -> str:
        return str(self.spec["TaskTemplate"]["ContainerSpec"].get("Image", ""))


@dataclass(frozen=True)
class RotationResult:
    changed: bool
    config_name: str
    previous_config_name: str
    attempts: int
    text: str


def known_good_configs(spec: dict[str, Any]) -> list[str]:
    """The configs a service ran steadily, newest first, as rotations recorded them: ours and
    hand-made ones, whatever their names."""
    value = (spec.get("Labels") or {}).get(labels.KNOWN_GOOD_CONFIGS, "")
    return [name for name in value.split(",") if name and len(name) <= MAX_NAME_LENGTH]


def _interlock_ref(spec: dict[str, Any]) -> dict[str, Any] | None:
    refs = spec["TaskTemplate"]["ContainerSpec"].get("Configs") or []
    return next((r for r in refs if r.get("File", {}).get("Name") == labels.INTERLOCK_CONFIG_PATH), None)


def read_current(client: docker.DockerClient, service: str = labels.INTERLOCK_SERVICE) -> CurrentConfig:
    try:
        svc = client.api.inspect_service(service)
    except NotFound:
        raise RotationError(
            f"the service {service} does not exist: enable Layer 7 routing in UCP (Admin Settings > Layer 7 Routing) first"
        ) from None
    spec = svc["Spec"]
    ref = _interlock_ref(spec)
    if ref is None:
        raise RotationError(f"{service} has no config mounted at {labels.INTERLOCK_CONFIG_PATH}")
    data = client.api.inspect_config(ref["ConfigID"])["Spec"]["Data"]
    text = interlock_toml.decode(base64.b64decode(data), f"the running config {ref['ConfigName']}")
    status = svc.get("UpdateStatus") or {}
    return CurrentConfig(
        svc["ID"], svc["Version"]["Index"], ref["ConfigID"], ref["ConfigName"], text, spec,
        status.get("State"), status.get("StartedAt"), status.get("Message", ""),
    )  # fmt: skip


def _number(name: str) -> int | None:
    match = CONFIG_NAME_RE.match(name)
    return int(match.group(1)) if match else None


def _is_ours(config: dict[str, Any]) -> bool:
    """A config this platform created: it carries the label rotations set, not only the name
    pattern, which anyone who can create a config can use."""
    return labels.MANAGED_BY_STACK in (config["Spec"].get("Labels") or {})


def _name(number: int) -> str:
    return f"{labels.INTERLOCK_CONFIG_PREFIX}{number}"


def _next_name(client: docker.DockerClient, current: CurrentConfig) -> str:
    """The name of the next config: one more than the highest of the platform's own configs (by
    their label), the attached one and the known-good ones, skipping names already taken. A
    config someone else named with a huge number (`...conf-<34 digits>`, 64 characters) neither
    moves the sequence nor blocks it; and if the sequence itself ever outgrew Swarm's 64
    characters, the lowest free number is used, which always fits."""
    configs = client.api.configs()
    taken = {c["Spec"]["Name"] for c in configs}
    trusted = {current.config_name, *current.known_good}
    numbers = [
        n for c in configs if (_is_ours(c) or c["Spec"]["Name"] in trusted) and (n := _number(c["Spec"]["Name"])) is not None
    ]
    number = max(numbers, default=0) + 1
    while _name(number) in taken:
        number += 1
    if len(_name(number)) > MAX_NAME_LENGTH:
        number = 1
        while _name(number) in taken:
            number += 1
    return _name(number)


def _in_the_way(client: docker.DockerClient, name: str) -> str:
    """Who holds a config name we meant to create, for the error."""
    try:
        config = client.api.inspect_config(name)
    except NotFound:
        return f"{name} was taken and removed again"
    owner = (config["Spec"].get("Labels") or {}).get(labels.MANAGED_BY_STACK)
    who = f"stack {owner}'s rotation" if owner else "someone else (it has no com.docker.interlock-platform.stack label)"
    return f"{name} (created {config.get('CreatedAt', '?')[:19]} by {who})"


# --------------------------------------------------------------------------------------------
# Time and task health, as the engine reports them


def _instant(text: str | None) -> float | None:
    """An engine timestamp (RFC 3339 with nanoseconds) as POSIX seconds."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text or "")
    if match is None:
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + zone).timestamp() + float(f"0.{match.group(2) or 0}")


def _engine_now(client: docker.DockerClient) -> float:
    """The engine's clock: task timestamps come from it, and this machine's clock may differ."""
    return _instant(client.info().get("SystemTime")) or time.time()


def _task_config(task: dict[str, Any]) -> str | None:
    ref = _interlock_ref({"TaskTemplate": task.get("Spec") or {"ContainerSpec": {}}})
    return ref["ConfigID"] if ref else None


def _task_failed(task: dict[str, Any]) -> bool:
    """The task failed, or ended by itself ("complete": Interlock never finishes; the service
    restarted it). A task the orchestrator stopped ends "shutdown" with a clean exit code."""
    status = task.get("Status", {})
    exit_code = status.get("ContainerStatus", {}).get("ExitCode")
    return status.get("State") in ("failed", "rejected", "complete") or exit_code not in CLEAN_EXIT_CODES


HEALTHY, STARTING, FAILING = "healthy", "starting", "failing"


def _health(
    client: docker.DockerClient, service_id: str, spec: dict[str, Any], config_id: str, window: float, since: float | None,
    text: str | None = None,
) -> str:  # fmt: skip
    """How the tasks that run `config_id` fare. FAILING when one of them failed or restarted
    after `since` (any time, with None): a steady run has no failure at all since the config was
    attached, however long the current task has run (a crash loop whose restart is older than the
    window is still a crash loop), and the same holds for the extension and proxy services that
    Interlock runs for the config `text` (their task history and their update state). HEALTHY
    when every task the service wants runs it and has for `window` seconds; otherwise STARTING."""
    tasks = [t for t in client.api.tasks(filters={"service": service_id}) if _task_config(t) == config_id]
    if any(_task_failed(t) and _after(t, since) for t in tasks):
        return FAILING
    if text is not None and _interlock_services_failing(client, text, since if since is not None else _first_start(tasks)):
        return FAILING
    wanted = [t for t in tasks if t.get("DesiredState") == "running"]
    running = [t for t in wanted if t["Status"].get("State") == "running"]
    replicas = spec.get("Mode", {}).get("Replicated", {}).get("Replicas")
    if not running or len(running) < len(wanted) or (replicas is not None and len(running) < replicas):
        return STARTING
    now = _engine_now(client)
    if all(now - (_instant(t["Status"].get("Timestamp")) or now) >= window for t in running):
        return HEALTHY
    return STARTING


def _after(task: dict[str, Any], since: float | None) -> bool:
    return since is None or (_instant(task["Status"].get("Timestamp")) or 0) >= since


def _first_start(tasks: list[dict[str, Any]]) -> float | None:
    """When the first of these tasks was created: the earliest the config can have had effects."""
    starts = [t for t in (_instant(t.get("CreatedAt")) for t in tasks) if t is not None]
    return min(starts, default=None)


def _interlock_services_failing(client: docker.DockerClient, text: str, since: float | None) -> list[str]:
    """Interlock's own signals about a config: the extension and proxy services it runs for each
    service cluster (by the names the config gives them). One whose update paused or rolled back,
    or whose tasks failed after `since`, means the config does not run steadily."""
    failing = []
    for name in _interlock_service_names(text):
        try:
            svc = client.api.inspect_service(name)
        except NotFound:
            continue
        status = svc.get("UpdateStatus") or {}
        state = status.get("State")
        recent = since is None or (_instant(status.get("StartedAt")) or 0) >= since  # not last week's rollback
        if recent and (state in PAUSED or state in ROLLED_BACK or state == "rollback_started"):
            failing.append(f"{name} (update {state})")
        elif any(_task_failed(t) and _after(t, since) for t in client.api.tasks(filters={"service": svc["ID"]})):
            failing.append(f"{name} (tasks failed)")
    return failing


@functools.lru_cache(maxsize=8)
def _interlock_service_names(text: str) -> tuple[str, ...]:
    """The extension and proxy services a config has Interlock run (parsed once per config: the
    health check polls)."""
    try:
        ext = interlock_toml.extensions(interlock_toml.parse(text))
    except interlock_toml.InterlockConfigError:
        return ()
    names = [
        str(table[key]) for table in (ext or {}).values() if isinstance(table, dict)
        for key in ("ServiceName", "ProxyServiceName") if isinstance(table.get(key), str) and table[key]
    ]  # fmt: skip
    return tuple(dict.fromkeys(names))


def _unrunnable(client: docker.DockerClient, current: CurrentConfig) -> str | None:
    """Why no task of the service can run at all, so no config can be checked: scaled to 0, or
    no node satisfies its placement. Waiting for health would take the whole timeout."""
    service = current.service_name
    replicas = current.spec.get("Mode", {}).get("Replicated", {}).get("Replicas")
    if replicas == 0:
        return (
            f"{service} is scaled to 0 replicas: nothing runs Interlock, so no config can be checked and nothing was changed. "
            f"Scale it back (`docker service scale {service}=1`), then run `pulumi up` again"
        )
    placement = current.spec["TaskTemplate"].get("Placement") or {}
    constraints = ", ".join(placement.get("Constraints") or []) or "none"
    fix = (
        "nothing was changed. Make a node satisfy them (a manager, active, with the labels they name: `docker node ls`, "
        "`docker node update --availability active` or `--label-add`), or correct them with `docker service update "
        "--constraint-rm`, then run `pulumi up` again"
    )
    wanted = client.api.tasks(filters={"service": current.service_id, "desired-state": "running"})
    for task in wanted:
        status = task.get("Status", {})
        if status.get("State") == "pending" and "no suitable node" in (status.get("Err") or ""):
            return f"no node can run {service}: {status['Err']} (its placement constraints: {constraints}); {fix}"
    # A global service gets a task on each eligible node the moment its spec is stored, and on
    # none when no node is eligible: no pending task says so, only the absence of any.
    if "Global" in current.spec.get("Mode", {}) and not wanted:
        updated = _instant(client.api.inspect_service(current.service_id).get("UpdatedAt"))
        if updated is not None and _engine_now(client) - updated > GLOBAL_SCHEDULING_GRACE:
            return f"no node can run {service}: it is global and no node is eligible (its placement constraints: {constraints}); {fix}"
    return None


def _stuck_grace(window: float) -> float:
    """How long a service may stay failing before we stop waiting for whoever broke it to fix it."""
    return 2 * window + 10


# --------------------------------------------------------------------------------------------
# The rotation


def rotate(
    client: docker.DockerClient,
    transform: Callable[[str], str],
    *,
    stack: str,
    keep: int = 3,
    attempts: int = 8,
    timeout: float = 600.0,
    health_seconds: float = DEFAULT_HEALTH_SECONDS,
    service: str = labels.INTERLOCK_SERVICE,
    poll: float = 0.25,
    image: str | None = None,
) -> RotationResult:
    """Apply `transform` to the running config. A transform that changes nothing rotates nothing.
    With `image`, the same service update also moves the service to that image (an MKE upgrade:
    the config names the new extension and proxy images, the service runs the new core), so
    both go back together if it fails; a new config object carries it even when the text is
    unchanged, because a rotation's outcome is told by the config it attached."""
    deadline = time.monotonic() + timeout
    in_the_way: list[str] = []
    for attempt in range(1, attempts + 1):
        base = _settle(client, service, health_seconds, deadline, poll)
        new_text = transform(base.text)
        if new_text == base.text and image in (None, base.image):
            return RotationResult(False, base.config_name, base.config_name, attempt, base.text)
        name = _next_name(client, base)
        config_id = _create(client, name, new_text, stack)
        if config_id is None:  # another rotation (or someone) took this name since: start again
            in_the_way.append(_in_the_way(client, name))
            continue
        since = _engine_now(client)
        try:
            _swap(client, base, config_id, name, health_seconds, [base.config_name, *base.known_good][:keep], image=image)
        except APIError as err:
            raced = "update out of sequence" in str(err) or not _exists(client, config_id)
            with contextlib.suppress(APIError):
                client.api.remove_config(config_id)
            if raced:  # another rotation landed first (or pruned our unattached config): redo on its result
                time.sleep(0.05 * attempt)
                continue
            raise RotationError(
                f"the engine refused to update {service} with {name}: {err.explanation or err}; "
                f"check `docker service inspect {service}` and run `pulumi up` again"
            ) from None
        outcome, message = _outcome(client, base, config_id, name, transform, health_seconds, since, deadline, poll, image)
        if outcome != APPLIED:
            with contextlib.suppress(APIError):  # still referenced by a shutting-down task: the next prune removes it
                client.api.remove_config(config_id)
            if outcome == REJECTED:
                raise RotationFailed(message)
            continue
        _record_known_good(client, service, config_id, name, keep)
        prune(client, keep, service)
        return RotationResult(True, name, base.config_name, attempt, new_text)
    taken = f"; the config names it tried were taken: {', '.join(in_the_way)}" if in_the_way else ""
    raise RotationError(
        f"gave up after {attempts} attempts: other changes to {service} kept landing first{taken}; run `pulumi up` again"
    )


def _create(client: docker.DockerClient, name: str, text: str, stack: str) -> str | None:
    data = text.encode()
    try:
        return str(client.api.create_config(name, data, labels={labels.MANAGED_BY_STACK: stack})["ID"])
    except APIError as err:
        if err.status_code == 409:
            return None
        raise RotationError(
            f"the engine refused to create the Interlock config {name} ({len(data):,} bytes): {err.explanation or err}. "
            f"Swarm takes a config of fewer than {interlock_toml.SWARM_CONFIG_LIMIT:,} bytes; if it is too big, move templates out of the config, or fewer "
            "service clusters per config"
        ) from None


def _exists(client: docker.DockerClient, config_id: str) -> bool:
    try:
        client.api.inspect_config(config_id)
    except NotFound:
        return False
    return True


def _settle(client: docker.DockerClient, service: str, window: float, deadline: float, poll: float) -> CurrentConfig:
    """Wait until no update is in flight and the attached config has run steadily: its tasks ran
    for `window` and none failed or restarted since the update that attached it. That is the base
    a rotation may build on. A service that keeps failing (someone's rejected config, not yet
    restored, or a config that fails later than the window) is waited for, then refused with the
    fix: the last config that ran steadily. One that cannot run at all is refused at once."""
    failing_since: float | None = None
    while True:
        current = read_current(client, service)
        why_not = _unrunnable(client, current)
        if why_not is not None:
            raise RotationError(why_not)
        health = None
        if current.update_state not in IN_FLIGHT:
            health = _health(
                client, current.service_id, current.spec, current.config_id, window, _instant(current.update_started), current.text
            )  # fmt: skip
            if health == HEALTHY:
                return current
        now = time.monotonic()
        if health == FAILING or current.update_state in PAUSED:
            failing_since = failing_since or now
            if now - failing_since > _stuck_grace(window):
                _forget_known_good(client, service, current.config_name)
                raise RotationError(_stuck_message(client, current))
        else:
            failing_since = None
        if now > deadline:
            raise RotationError(
                f"{service} did not settle within the rotation's timeout (update {current.update_state or 'none'}, "
                f"tasks {health or 'updating'}); nothing was changed. Run `pulumi up` again once `docker service ps {service}` "
                "shows it running"
            )
        time.sleep(poll)


def _stuck_message(client: docker.DockerClient, current: CurrentConfig) -> str:
    good = next((name for name in current.known_good if name != current.config_name), None)
    fix = (
        f"docker service update --config-rm {current.config_name} "
        f"--config-add source={good},target={labels.INTERLOCK_CONFIG_PATH} {current.service_name}"
        if good
        else f"docker service update --config-rm/--config-add with a config Interlock accepts on {current.service_name}"
    )
    since = _instant(current.update_started)
    services = _interlock_services_failing(client, current.text, since)
    return (
        f"{current.service_name} is stuck on {current.config_name}: it does not run steadily (its tasks failed or restarted "
        f"since it was attached; update {current.update_state or 'none'}{': ' + current.update_message if current.update_message else ''}"
        f"{'; Interlock reports ' + ', '.join(services) if services else ''}), and nothing put a working config back (the change "
        f"that broke it may have been stopped, or it fails later than the health window). Nothing was changed and it is not "
        f"recorded as known good. Restore the last config that ran steadily (`{fix}`), then run `pulumi up` again.\n"
        + failure_report(client, current.service_id, None)
    )


def _relabel(client: docker.DockerClient, service: str, known_good: Callable[[list[str]], list[str]]) -> None:
    """Rewrite the known-good list alone (a label: no task restarts), compare-and-swap on the
    version read. Bookkeeping: when other updates keep landing, the next rotation records it."""
    for _ in range(5):
        svc = client.api.inspect_service(service)
        spec = svc["Spec"]
        before = known_good_configs(spec)
        after = list(dict.fromkeys(known_good(before)))
        if after == before:
            return
        try:
            client.api.update_service(
                svc["ID"], version=svc["Version"]["Index"], task_template=spec["TaskTemplate"], name=spec["Name"],
                labels={**(spec.get("Labels") or {}), labels.KNOWN_GOOD_CONFIGS: ",".join(after)}, mode=spec.get("Mode"),
                update_config=spec.get("UpdateConfig"), rollback_config=spec.get("RollbackConfig"), endpoint_spec=spec.get("EndpointSpec"),
            )  # fmt: skip
            return
        except APIError as err:
            if "update out of sequence" not in str(err):
                return
        except NotFound:
            return


def _record_known_good(client: docker.DockerClient, service: str, config_id: str, name: str, keep: int) -> None:
    """Our config ran steadily for the window: it heads the known-good list while it is the one attached."""
    if (_interlock_ref(client.api.inspect_service(service)["Spec"]) or {}).get("ConfigID") == config_id:
        _relabel(client, service, lambda good: [name, *good][: max(keep, 1)])


def _forget_known_good(client: docker.DockerClient, service: str, name: str) -> None:
    """A config seen failing after it was attached is no longer known good, whoever recorded it."""
    _relabel(client, service, lambda good: [g for g in good if g != name])


APPLIED, REJECTED, RETRY = "applied", "rejected", "retry"


def _outcome(
    client: docker.DockerClient,
    base: CurrentConfig,
    config_id: str,
    name: str,
    transform: Callable[[str], str],
    window: float,
    since: float,
    deadline: float,
    poll: float,
    image: str | None = None,
) -> tuple[str, str]:
    """This rotation's own outcome (see the module's docstring), once the service has settled."""
    service = base.service_name
    new_text = transform(base.text)
    while True:
        svc = client.api.inspect_service(base.service_id)
        if (svc["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas")) == 0:
            raise RotationError(
                f"{service} was scaled to 0 replicas while {name} was being checked: {name} is attached but unverified. "
                f"Scale it back (`docker service scale {service}=1`), then run `pulumi up` again"
            )
        status = svc.get("UpdateStatus") or {}
        state, started = status.get("State"), status.get("StartedAt")
        attached = (_interlock_ref(svc["Spec"]) or {}).get("ConfigID")
        # Swarm clears UpdateStatus on every spec change, a label-only one too (another stack
        # recording its known-good config): no status is no update in flight, never "not yet".
        settled = state not in IN_FLIGHT and (state is None or started != base.update_started)
        if settled and attached == config_id:
            health = _health(client, svc["ID"], svc["Spec"], config_id, window, None, new_text)
            if state in PAUSED or health == FAILING:
                report = failure_report(client, base.service_id, started)
                how = _restore(client, base, config_id, window, poll)
                why = status.get("Message") or state or "a task failed after the update completed"
                return REJECTED, f"{service} rejected {name} ({why}); {how}; the new config was deleted.\n{report}"
            if health == HEALTHY:
                return APPLIED, ""
        elif settled and attached == base.config_id and state in ROLLED_BACK:
            report = failure_report(client, base.service_id, started)
            return REJECTED, (
                f"{service} rejected {name} and rolled back to {base.config_name} "
                f"({status.get('Message') or state}); the new config was deleted.\n{report}"
            )
        elif settled:  # another change came after ours: is ours still in effect?
            current = read_current(client, service)
            if transform(current.text) != current.text or image not in (None, current.image):
                return RETRY, ""
            if _health(client, current.service_id, current.spec, current.config_id, window, since) == HEALTHY:
                return APPLIED, ""
        if time.monotonic() > deadline:
            raise RotationError(
                f"{name} did not settle on {service} within the rotation's timeout (update {state or 'unknown'}); Swarm rolls "
                f"it back by itself if it fails. Check `docker service ps {service}`, then run `pulumi up` again"
            )
        time.sleep(poll)


def _restore(client: docker.DockerClient, base: CurrentConfig, config_id: str, window: float, poll: float) -> str:
    """Put the base back in place of our own config, which broke the service and which Swarm did
    not roll back. Only ever our own config, only while it is still attached."""
    for _ in range(8):
        current = read_current(client, base.service_name)
        if current.config_id != config_id:
            return f"{current.config_name} has replaced it since"
        try:  # no rollback to our broken config if the base fails now
            _swap(client, current, base.config_id, base.config_name, window, current.known_good, failure_action="pause", image=base.image)
        except APIError as err:
            if "update out of sequence" in str(err):
                continue
            return f"putting {base.config_name} back failed ({err.explanation or err}); restore it by hand"
        deadline = time.monotonic() + 3 * window + 60
        while time.monotonic() < deadline:
            status = _update_status(client, current.service_id)
            if status.get("StartedAt") != current.update_started and status.get("State") not in IN_FLIGHT:
                break
            time.sleep(poll)
        return f"Swarm did not roll it back, so this rotation put {base.config_name} back"
    return f"other changes kept landing while putting {base.config_name} back; check `docker service ps {base.service_name}`"


def _update_status(client: docker.DockerClient, service_id: str) -> dict[str, Any]:
    return client.api.inspect_service(service_id).get("UpdateStatus") or {}


def _swap(
    client: docker.DockerClient,
    current: CurrentConfig,
    config_id: str,
    name: str,
    window: float,
    known_good: list[str],
    failure_action: str = "rollback",
    image: str | None = None,
) -> None:
    """One service update: the config at /config.toml becomes `name` (and the image `image`, when
    given), compare-and-swap on the version read, with a monitor window that covers Interlock's start."""
    spec = current.spec
    template = dict(spec["TaskTemplate"])
    container = dict(template["ContainerSpec"])
    old = _interlock_ref(spec)
    container["Configs"] = [r for r in container.get("Configs") or [] if r is not old] + [
        {**(old or {}), "ConfigID": config_id, "ConfigName": name}
    ]
    if image:
        container["Image"] = image
    template["ContainerSpec"] = container
    update = dict(spec.get("UpdateConfig") or {})
    update["FailureAction"] = failure_action
    update["Monitor"] = max(int(update.get("Monitor") or 0), int(window * 1_000_000_000))
    service_labels = {**(spec.get("Labels") or {}), labels.KNOWN_GOOD_CONFIGS: ",".join(dict.fromkeys(known_good))}
    client.api.update_service(
        current.service_id, version=current.version, task_template=template, name=spec["Name"], labels=service_labels,
        mode=spec.get("Mode"), update_config=update, rollback_config=spec.get("RollbackConfig"), endpoint_spec=spec.get("EndpointSpec"),
    )  # fmt: skip


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
        # docker-py has no call for a task's logs; its APIClient is a requests session on the engine
        url = f"{client.api.base_url}/v{client.api.api_version}/tasks/{task_id}/logs"
        res = client.api.get(url, params={"stdout": 1, "stderr": 1, "tail": str(tail)})
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
    """Remove config objects no service uses, by what is known good: the attached config and
    the newest of the known-good list stay (`keep` in all). Configs our rotations created that
    are not on that list (rejected ones, left behind by a process that was killed) go; others
    (UCP's own) go when they are not among the newest `keep`."""
    spec = client.api.inspect_service(service)["Spec"]  # the names are enough: no need to fetch the config's data
    attached = (_interlock_ref(spec) or {}).get("ConfigName")
    kept = list(dict.fromkeys([attached, *known_good_configs(spec)]))[:keep]
    referenced = {
        r["ConfigID"] for s in client.api.services() for r in s["Spec"]["TaskTemplate"]["ContainerSpec"].get("Configs") or []
    }
    numbered = sorted(
        ((int(m.group(1)), c) for c in client.api.configs() if (m := CONFIG_NAME_RE.match(c["Spec"]["Name"]))),
        key=lambda x: -x[0],
    )
    newest = {config["Spec"]["Name"] for _, config in numbered[:keep]}
    removed = []
    for _, config in numbered:
        name = config["Spec"]["Name"]
        if config["ID"] in referenced or name in kept:
            continue
        ours = labels.MANAGED_BY_STACK in (config["Spec"].get("Labels") or {})
        if ours or name not in newest:
            try:
                client.api.remove_config(config["ID"])
                removed.append(name)
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
