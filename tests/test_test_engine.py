"""The Swarm tests act only on the engine the test command started for them: never on the one
DOCKER_HOST names, which after a runbook's `source env.sh` is a real cluster."""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker

from interlock_platform.tooling.stack_files import ROOT
from tools import test_engine

# A Swarm test that goes through a provider's own connection (no ucpHost: the engine from the
# environment) and through the tests' fixtures: it rewrites a node's labels.
SWARM_TEST = "tests/test_swarm.py::test_node_labels_merge_preserve_and_remove"


class _Decoy(socketserver.ThreadingUnixStreamServer):
    """A socket where a real cluster's engine would be: it counts who knocks, and answers nothing."""

    daemon_threads = True

    def __init__(self, path: Path) -> None:
        self.knocks = 0
        super().__init__(str(path), _Knock)


class _Knock(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.knocks += 1  # type: ignore[attr-defined]


def test_the_swarm_tests_ignore_the_engine_docker_host_names(tmp_path: Path) -> None:
    decoy = _Decoy(tmp_path / "cluster.sock")
    threading.Thread(target=decoy.serve_forever, daemon=True).start()
    private = docker.DockerClient(base_url=test_engine.socket_url(), timeout=30)
    since = int(time.time()) - 1
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path / 'cluster.sock'}",  # what `source env.sh` leaves behind
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path),
    }
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", SWARM_TEST, "-q", "-p", "no:cacheprovider"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
    finally:
        decoy.shutdown()
        decoy.server_close()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert decoy.knocks == 0, "a Swarm test connected to the engine DOCKER_HOST names"
    # ...and it did its work on the private engine: the node update is in that engine's events
    events = private.api.events(since=since, until=int(time.time()) + 1, decode=True, filters={"type": "node"})
    assert any(e.get("Action") == "update" for e in events)


def test_the_engine_variables_of_the_test_process_point_at_the_private_engine() -> None:
    assert os.environ["DOCKER_HOST"] == test_engine.socket_url()
    assert not {"DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"} & os.environ.keys()
