"""The Docker engine the Swarm tests run against: one the test command starts for this checkout,
on a private socket, and nothing else.

The runbooks start every session with `source env.sh`, which points `DOCKER_HOST` (and
`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`) at the production cluster. The Swarm tests run
`docker swarm init`, delete `ucp-interlock*` services and rewrite node labels, so they must never
follow those variables. `tools/test.sh` runs `python3 -m tools.test_engine start`, which starts a
`dockerd` of its own (its own data root, exec root and socket under `engine_dir()`, and its own
network namespace where the machine allows one, so its Swarm ports cannot meet another engine's),
and marks it as started for the tests. The tests connect only to that socket
(`tests/swarm_support.py`), after checking the mark and the engine's data root, and point every
`DOCKER_*` variable of their process at it, so nothing the code under test does can reach another
engine.

    python3 -m tools.test_engine start   # idempotent: starts it, or checks the one that runs
    python3 -m tools.test_engine stop
    python3 -m tools.test_engine socket  # prints the socket's URL
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Variables through which docker-py and the docker CLI pick an engine: none of them may lead the
# tests anywhere but the private socket.
ENGINE_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "DOCKER_CONFIG")
MARK = "started-by-interlock-platform-tests"


def engine_dir(checkout: Path = ROOT) -> Path:
    """Per checkout, so two checkouts' test runs never share (or tear down) one engine. Short,
    because a unix socket's path is limited to 107 bytes."""
    digest = hashlib.sha256(str(checkout.resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"ilp-engine-{digest}"


def socket_path(checkout: Path = ROOT) -> Path:
    return engine_dir(checkout) / "docker.sock"


def socket_url(checkout: Path = ROOT) -> str:
    return f"unix://{socket_path(checkout)}"


def data_root(checkout: Path = ROOT) -> Path:
    return engine_dir(checkout) / "data"


def confine(environ: MutableMapping[str, str]) -> None:
    """Point every engine variable of `environ` at the private engine: what the tests, and the
    commands run for them, see."""
    for name in ENGINE_VARIABLES:
        environ.pop(name, None)
    environ["DOCKER_HOST"] = socket_url()
    environ["DOCKER_CONFIG"] = str(engine_dir() / "client-config")  # no contexts, no credential helpers


def private_environment() -> dict[str, str]:
    env = dict(os.environ)
    confine(env)
    return env


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], env=private_environment(), capture_output=True, text=True, check=check)


def _answers() -> bool:
    if not socket_path().exists():
        return False
    return _docker("info", "--format", "{{.DockerRootDir}}", check=False).stdout.strip() == str(data_root())


def _namespace() -> list[str]:
    """A network namespace of the engine's own (`unshare --net`, loopback up), or nothing where the
    machine does not allow one: then the engine shares the host's loopback. Not `ip netns exec`,
    which remounts /sys and hides the cgroups dockerd needs."""
    if shutil.which("unshare") is None:
        return []
    if subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False).returncode != 0:
        return []
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "engine"]


def start(timeout: float = 60) -> None:
    directory = engine_dir()
    if _answers():
        _ensure_swarm()
        return
    if shutil.which("dockerd") is None:
        sys.exit("dockerd is not installed: install Debian's docker.io (tools/test.sh does)")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "client-config").mkdir(exist_ok=True)
    (directory / MARK).unlink(missing_ok=True)
    log = (directory / "dockerd.log").open("ab")
    # No iptables or bridge inside a sandbox: Swarm services, configs and overlays still work.
    command = [
        *_namespace(),
        "dockerd",
        f"--host={socket_url()}",
        f"--data-root={data_root()}",
        f"--exec-root={directory / 'exec'}",
        f"--pidfile={directory / 'dockerd.pid'}",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
    ]
    subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not _answers():
        if time.monotonic() > deadline:
            sys.exit(f"the test engine did not start within {timeout:.0f} s; see {directory / 'dockerd.log'}")
        time.sleep(0.5)
    _ensure_swarm()
    (directory / MARK).write_text(f"{socket_url()}\n{data_root()}\n")


def _ensure_swarm() -> None:
    if _docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "active":
        _docker("swarm", "init", "--advertise-addr", "127.0.0.1")


def stop() -> None:
    pidfile = engine_dir() / "dockerd.pid"
    if not pidfile.exists():
        return
    with contextlib.suppress(ProcessLookupError, ValueError):
        os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
    (engine_dir() / MARK).unlink(missing_ok=True)


def main(argv: list[str]) -> None:
    verbs = {"start": start, "stop": stop, "socket": lambda: print(socket_url())}
    if len(argv) != 1 or argv[0] not in verbs:
        sys.exit(f"usage: python3 -m tools.test_engine {{{'|'.join(verbs)}}}")
    verbs[argv[0]]()


if __name__ == "__main__":
    main(sys.argv[1:])
