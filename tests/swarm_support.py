"""A real Docker engine in Swarm mode for the tests, and a stand-in ucp-interlock service.

The engine is the private one tools/test.sh starts for this checkout (tools/test_engine.py), on
a socket of its own: never the one `DOCKER_HOST` names, which after a runbook's `source env.sh`
is a real cluster. Tests that need it fail, loudly, when it is not there: they are never skipped.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
import tomlkit
from docker.errors import APIError, ImageNotFound, NotFound

from interlock_platform.core import interlock_toml, labels
from interlock_platform.core.interlock_toml import ServiceClusterSpec
from interlock_platform.swarm.providers.rotation import CONFIG_NAME_RE
from tools import test_engine

IMAGE = "local/busybox:1"
FIXTURE = Path(__file__).parent / "fixtures" / "interlock" / "ucp-3.2-default.toml"
STAND_IN = (Path(__file__).parent / "swarm" / "stand-in-interlock.sh").read_text()
MONITOR_NS = 2_000_000_000  # the stand-in fails within a second; 2 s of monitoring catches it


def engine() -> docker.DockerClient:
    """The private test engine, and only it: refused unless the test command marked it as started
    for the tests and it reports the data root it was started with."""
    mark = test_engine.engine_dir() / test_engine.MARK
    if not mark.exists():
        pytest.fail(
            f"these tests need the private Docker engine that tools/test.sh starts for them ({test_engine.socket_url()}), "
            "and it was not started; run `bash tools/test.sh`, or `python3 -m tools.test_engine start` first",
            pytrace=False,
        )
    try:
        client = docker.DockerClient(base_url=test_engine.socket_url(), timeout=60)
        root = client.info()["DockerRootDir"]
    except Exception as err:
        pytest.fail(
            f"the private test engine at {test_engine.socket_url()} does not answer ({err}); run `python3 -m tools.test_engine start`",
            pytrace=False,
        )
    if root != str(test_engine.data_root()):
        pytest.fail(f"the engine at {test_engine.socket_url()} is not the tests' own (data root {root}); refusing to use it", pytrace=False)
    if client.info()["Swarm"]["LocalNodeState"] != "active":
        client.swarm.init(advertise_addr="127.0.0.1")
    _ensure_image(client)
    return client


def _ensure_image(client: docker.DockerClient) -> None:
    try:
        client.images.get(IMAGE)
        return
    except ImageNotFound:
        pass
    _import_busybox(client, IMAGE.split(":")[0], IMAGE.split(":")[1])


def _import_busybox(client: docker.DockerClient, repository: str, tag: str, files: dict[str, str] | None = None,
                    changes: list[str] | None = None) -> None:
    """An image of the static busybox (and `files`, path -> text), imported as `repository:tag`:
    no registry is reachable here."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "bin").mkdir()
        shutil.copy(busybox, Path(root) / "bin" / "busybox")
        for tool in ("sh", "awk", "sleep", "cat", "echo"):
            (Path(root) / "bin" / tool).symlink_to("busybox")
        for path, text in (files or {}).items():
            (Path(root) / path).write_text(text)
        tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True).stdout
        client.api.import_image_from_data(tar, repository=repository, tag=tag, changes=changes)


def reset(client: docker.DockerClient) -> None:
    """No Interlock services and no Interlock config objects."""
    for svc in client.api.services():
        if svc["Spec"]["Name"].startswith(labels.INTERLOCK_SERVICE):
            client.api.remove_service(svc["ID"])
    deadline = time.monotonic() + 60
    while True:
        left = [c for c in client.api.configs() if CONFIG_NAME_RE.match(c["Spec"]["Name"])]
        for config in left:
            with contextlib.suppress(APIError, NotFound):
                client.api.remove_config(config["ID"])
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)


def start_interlock(
    client: docker.DockerClient, text: str | None = None, data: bytes | None = None, wait: bool = True,
    mode: dict[str, Any] | None = None, constraints: list[str] | None = None,
) -> str:  # fmt: skip
    """The stand-in ucp-interlock with `text` (default: the UCP 3.2 fixture), or raw `data`, as
    conf-1; `wait=False` for a config it cannot run with (or a placement no node meets)."""
    reset(client)
    config = client.api.create_config(
        f"{labels.INTERLOCK_CONFIG_PREFIX}1", data if data is not None else (text or FIXTURE.read_text()).encode()
    )
    svc = client.api.create_service(
        {
            "ContainerSpec": {
                "Image": IMAGE,
                "Command": ["sh", "-c", STAND_IN],
                "Configs": [{"ConfigID": config["ID"], "ConfigName": f"{labels.INTERLOCK_CONFIG_PREFIX}1",
                             "File": {"Name": labels.INTERLOCK_CONFIG_PATH, "UID": "0", "GID": "0", "Mode": 0o444}}],
            },
            "RestartPolicy": {"Condition": "on-failure", "Delay": 200_000_000},
            **({"Placement": {"Constraints": constraints}} if constraints else {}),
        },
        name=labels.INTERLOCK_SERVICE,
        mode=mode,
        update_config={"Parallelism": 1, "FailureAction": "rollback", "Monitor": MONITOR_NS, "Order": "stop-first"},
        rollback_config={"Parallelism": 1, "Monitor": MONITOR_NS},
    )  # fmt: skip
    if wait:
        wait_running(client, svc["ID"])
    return svc["ID"]


def wait_running(client: docker.DockerClient, service: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(t["Status"]["State"] == "running" for t in client.api.tasks(filters={"service": service})):
            return
        time.sleep(0.1)
    raise AssertionError(f"{service} did not start within {timeout}s")


def dummy_service(client: docker.DockerClient, name: str) -> None:
    """A service standing in for one Interlock spawns (an extension or a proxy)."""
    client.api.create_service({"ContainerSpec": {"Image": IMAGE, "Command": ["sleep", "1000000"]}}, name=name)


def interlock_configs(client: docker.DockerClient) -> list[str]:
    return sorted(
        (c["Spec"]["Name"] for c in client.api.configs() if CONFIG_NAME_RE.match(c["Spec"]["Name"])),
        key=lambda n: int(n.rsplit("-", 1)[1]),
    )


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    """The engine, in Swarm mode, for a module's tests."""
    return engine()


@pytest.fixture
def interlock(client: docker.DockerClient):
    """The stand-in ucp-interlock running the UCP 3.2 config; removed afterwards."""
    start_interlock(client)
    yield client
    reset(client)


# --------------------------------------------------------------------------------------------
# Stand-ins for an MKE release: `local/ucp-agent:<tag>` tells the release, and the Interlock
# images of that tag. `local/ucp-interlock:<tag>` runs the stand-in Interlock as its entrypoint
# (the manual route starts it with `run -c /config.toml`); a bad one exits at once.

RELEASE_ORG = "local"
AGENT = "ucp-agent"
INSTANCE_ID = "standin8instance0id00000"
BAD_INTERLOCK = 'echo "interlock: this image cannot start" >&2; exit 1\n'


def release_images(client: docker.DockerClient, tag: str, interlock_script: str = STAND_IN) -> None:
    """Tag the local busybox as the release's agent, extension and proxy images, and build its
    `ucp-interlock` image around `interlock_script`."""
    base = client.images.get(IMAGE)
    for name in (AGENT, "ucp-interlock-extension", "ucp-interlock-proxy"):
        base.tag(f"{RELEASE_ORG}/{name}", tag)
    _import_busybox(client, f"{RELEASE_ORG}/ucp-interlock", tag, {"interlock.sh": interlock_script},
                    ['ENTRYPOINT ["/bin/sh", "/interlock.sh"]'])  # fmt: skip


def set_release(client: docker.DockerClient, tag: str) -> None:
    """The stand-in `ucp-agent` service at release `tag`: created, or updated as an MKE upgrade does."""
    image = f"{RELEASE_ORG}/{AGENT}:{tag}"
    service_labels = {"com.docker.ucp.version": tag, labels.UCP_INSTANCE_ID: INSTANCE_ID}
    try:
        current = client.api.inspect_service(AGENT)
    except NotFound:
        client.api.create_service(
            {"ContainerSpec": {"Image": image, "Command": ["sleep", "1000000"]}}, name=AGENT, labels=service_labels
        )
        return
    template = current["Spec"]["TaskTemplate"]
    template["ContainerSpec"]["Image"] = image
    client.api.update_service(
        current["ID"], version=current["Version"]["Index"], task_template=template, name=AGENT, labels=service_labels
    )


def remove_release(client: docker.DockerClient) -> None:
    """No Interlock, no stand-in agent, no ucp-interlock network."""
    reset(client)
    with contextlib.suppress(NotFound):
        client.api.remove_service(AGENT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.api.remove_network("ucp-interlock")
            break
        except NotFound:
            break
        except APIError:  # still attached to a task that is shutting down
            time.sleep(0.5)


def add(spec: ServiceClusterSpec, **broken: object) -> Callable[[str], str]:
    """A transform that adds `spec`'s section, with some of its keys set to what a careless
    edit would put there."""

    def transform(text: str) -> str:
        doc = tomlkit.parse(interlock_toml.merge(text, spec))
        for key, value in broken.items():
            doc["Extensions"][spec.name][key] = value
        return tomlkit.dumps(doc)

    return transform
