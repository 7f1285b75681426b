"""Benchmark: one Interlock config rotation by our provider against the same rotation done with
the runbook's docker CLI commands (seed 000, steps 4-7), on one real Swarm, plus the time of a
no-op `diff`. Prints medians from one run; the machine is shared, so compare the ratio.

    python -m bench.rotation [--rounds N] [--fast]

Needs the tests' private engine, which tools/test.sh starts (`python3 -m tools.test_engine start`);
like the tests, it never follows DOCKER_HOST. `--fast` is one round with a 2 s health window: what
CI runs, so the benchmark cannot rot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

from interlock_platform.core import interlock_toml, labels
from interlock_platform.core.interlock_toml import ServiceClusterSpec
from interlock_platform.swarm.providers.interlock import ServiceClusterProvider
from interlock_platform.swarm.providers.rotation import read_current, rotate
from tests.swarm_support import engine, reset, start_interlock
from tools import test_engine

SPEC = ServiceClusterSpec("dev", 8082, 8445, 2, "ingress_dev")


def ours(client, health_seconds: float) -> float:  # noqa: ANN001
    start = time.perf_counter()
    result = rotate(client, lambda text: interlock_toml.merge(text, SPEC), stack="bench", health_seconds=health_seconds)
    elapsed = time.perf_counter() - start
    assert result.changed
    return elapsed


def runbook(client) -> float:  # noqa: ANN001
    """Steps 4-7 as the seed writes them; the vi edit is done by the same transform."""
    start = time.perf_counter()

    def sh(*args: str) -> str:
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout

    current = sh(
        "docker",
        "service",
        "inspect",
        "--format",
        "{{ (index .Spec.TaskTemplate.ContainerSpec.Configs 0).ConfigName }}",
        labels.INTERLOCK_SERVICE,
    ).strip()
    text = sh("docker", "config", "inspect", "--format", '{{ printf "%s" .Spec.Data }}', current)
    new = f"{labels.INTERLOCK_CONFIG_PREFIX}{int(current.rsplit('-', 1)[1]) + 1}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.new.toml"
        path.write_text(interlock_toml.merge(text, SPEC))
        sh("docker", "config", "create", new, str(path))
    sh("docker", "service", "update", "--update-failure-action", "rollback", "--config-rm", current,
       "--config-add", f"source={new},target={labels.INTERLOCK_CONFIG_PATH}", labels.INTERLOCK_SERVICE)  # fmt: skip
    elapsed = time.perf_counter() - start
    assert interlock_toml.section(read_current(client).text, "dev") is not None
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--health-seconds", type=float, default=20.0, help="the provider's health window (default: the stack default)")
    parser.add_argument("--fast", action="store_true", help="one round, a 2 s health window: CI's check that the benchmark runs")
    args = parser.parse_args()
    if args.fast:
        args.rounds, args.health_seconds = 1, 2.0
    test_engine.confine(os.environ)  # the runbook's docker CLI too: the private engine, never DOCKER_HOST's
    client = engine()
    times: dict[str, list[float]] = {"provider": [], "runbook CLI": []}
    for _ in range(args.rounds):  # alternate, so drift in machine load hits both alike
        for name, fn in (("provider", partial(ours, health_seconds=args.health_seconds)), ("runbook CLI", runbook)):
            start_interlock(client)
            times[name].append(fn(client))
    provider = ServiceClusterProvider()
    start_interlock(client)
    props = {"environment": "dev", "httpPort": 8082, "httpsPort": 8445, "proxyReplicas": 2, "network": "ingress_dev",
             "template": "default", "templateToml": None, "stack": "bench", "keepConfigs": 3,
             "healthSeconds": args.health_seconds}  # fmt: skip
    created = provider.create(dict(props))
    noop = []
    for _ in range(20):
        start = time.perf_counter()
        assert provider.diff(created.id, created.outs, dict(props)).changes is False
        noop.append(time.perf_counter() - start)
    reset(client)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"one rotation on one Swarm, median of {args.rounds} (stand-in ucp-interlock, Monitor 2 s, health window {args.health_seconds:g} s):")
    for name, values in times.items():
        print(f"  {name:<12} {med[name]:6.2f} s   (all: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"  ratio provider / runbook CLI: {med['provider'] / med['runbook CLI']:.2f}  (target <= 1.2)")
    print(f"no-op diff (reads the running config, no rotation): median {statistics.median(noop) * 1000:.1f} ms of 20")


if __name__ == "__main__":
    main()
