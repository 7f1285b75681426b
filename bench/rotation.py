"""Benchmark: one Interlock config rotation by our provider, by what a user waits for, on one
real Swarm, in two cases: a service that has run steadily for longer than the health window (the
normal case) and one right after a restart. Each is compared with the runbook's docker CLI
commands (seed 000, steps 4-7) followed by the same evidence the provider waits for (the update
complete and the new config's tasks running for the health window): the runbook's steps alone
verify nothing. It also prints the rotation's settle wait (its first step, on the service as each
case leaves it), the CLI steps alone, and the time of a no-op `diff`. Medians from one run; the
machine is shared, so compare the ratios.

    python -m bench.rotation [--rounds N] [--health-seconds S] [--fast]

Needs the tests' private engine, which tools/test.sh starts (`python3 -m tools.test_engine start`);
like the tests, it never follows DOCKER_HOST. `--fast` is one round with a 2 s health window: what
CI runs, so the benchmark cannot rot.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

from interlock_platform.core import interlock_toml, labels
from interlock_platform.core.interlock_toml import ServiceClusterSpec
from interlock_platform.swarm.providers.interlock import ServiceClusterProvider
from interlock_platform.swarm.providers.rotation import _settle, read_current, rotate
from tests.swarm_support import engine, reset, start_interlock
from tools import test_engine

SPEC = ServiceClusterSpec("dev", 8082, 8445, 2, "ingress_dev")
POLL = 0.25  # the provider's own poll interval
STEADY, RESTARTED = "steady", "restarted"
CASES = (STEADY, RESTARTED)
CASE_TITLES = {
    STEADY: "a service that has run steadily for longer than the window (the normal case)",
    RESTARTED: "right after a restart (the service's task has just started)",
}


def provider(client, health_seconds: float) -> float:  # noqa: ANN001
    start = time.perf_counter()
    result = rotate(client, lambda text: interlock_toml.merge(text, SPEC), stack="bench", health_seconds=health_seconds)
    elapsed = time.perf_counter() - start
    assert result.changed
    return elapsed


def runbook_cli(client) -> str:  # noqa: ANN001
    """Steps 4-7 as the seed writes them; the vi edit is done by the same transform. Returns the new config's name."""

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
    return new


def _engine_seconds(client, text: str) -> float:  # noqa: ANN001
    """An engine timestamp (RFC 3339, nanoseconds) as POSIX seconds, read independently of the provider."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", text)
    assert match, text
    return datetime.fromisoformat(match.group(1) + "+00:00").timestamp() + float(f"0.{match.group(2) or 0}")


def evidence(client, config_name: str, health_seconds: float, poll: float = POLL) -> None:  # noqa: ANN001
    """What the provider waits for, checked by hand: the update that attached `config_name` is
    complete, every task the service wants runs that config, and each has run for the window."""
    config_id = client.api.inspect_config(config_name)["ID"]
    while True:
        svc = client.api.inspect_service(labels.INTERLOCK_SERVICE)
        state = (svc.get("UpdateStatus") or {}).get("State")
        wanted = [t for t in client.api.tasks(filters={"service": svc["ID"]}) if t.get("DesiredState") == "running"]
        ours = [
            t for t in wanted
            if t["Status"].get("State") == "running"
            and any(c["ConfigID"] == config_id for c in t["Spec"]["ContainerSpec"].get("Configs") or [])
        ]  # fmt: skip
        if state not in ("updating", "rollback_started") and wanted and len(ours) == len(wanted):
            now = _engine_seconds(client, client.info()["SystemTime"])
            if all(now - _engine_seconds(client, t["Status"]["Timestamp"]) >= health_seconds for t in ours):
                return
        time.sleep(poll)


def runbook(client, health_seconds: float) -> tuple[float, float]:  # noqa: ANN001
    """The runbook's CLI steps followed by the provider's evidence: (total, CLI steps alone)."""
    start = time.perf_counter()
    new = runbook_cli(client)
    cli = time.perf_counter() - start
    evidence(client, new, health_seconds)
    elapsed = time.perf_counter() - start
    assert interlock_toml.section(read_current(client).text, "dev") is not None
    return elapsed, cli


def prepare(client, case: str, health_seconds: float) -> None:  # noqa: ANN001
    """A fresh stand-in; for the steady case, one that has run steadily for longer than the window."""
    start_interlock(client)  # returns once its task runs
    if case == STEADY:
        time.sleep(health_seconds + 1.0)


def settle_wait(client, health_seconds: float) -> float:  # noqa: ANN001
    """How long the rotation's first step (waiting for a steady base) takes on the service as it is."""
    start = time.perf_counter()
    _settle(client, labels.INTERLOCK_SERVICE, health_seconds, time.monotonic() + 600, POLL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--health-seconds", type=float, default=20.0, help="the provider's health window (default: the stack default)")
    parser.add_argument("--fast", action="store_true", help="one round, a 2 s health window: CI's check that the benchmark runs")
    args = parser.parse_args()
    if args.fast:
        args.rounds, args.health_seconds = 1, 2.0
    window = args.health_seconds
    test_engine.confine(os.environ)  # the runbook's docker CLI too: the private engine, never DOCKER_HOST's
    client = engine()
    times: dict[tuple[str, str], list[float]] = {(case, who): [] for case in CASES for who in ("provider", "runbook")}
    cli: list[float] = []
    settles: dict[str, list[float]] = {case: [] for case in CASES}
    for _ in range(args.rounds):  # alternate, so drift in machine load hits every column alike
        for case in CASES:
            prepare(client, case, window)
            settles[case].append(settle_wait(client, window))  # untimed probe: what the rotation's first step waits
            prepare(client, case, window)
            times[case, "provider"].append(provider(client, window))
            prepare(client, case, window)
            total, steps = runbook(client, window)
            times[case, "runbook"].append(total)
            cli.append(steps)
    ci_provider = ServiceClusterProvider()
    start_interlock(client)
    props = {"environment": "dev", "httpPort": 8082, "httpsPort": 8445, "proxyReplicas": 2, "network": "ingress_dev",
             "template": "default", "templateToml": None, "stack": "bench", "keepConfigs": 3,
             "healthSeconds": window}  # fmt: skip
    created = ci_provider.create(dict(props))
    noop = []
    for _ in range(20):
        start = time.perf_counter()
        assert ci_provider.diff(created.id, created.outs, dict(props)).changes is False
        noop.append(time.perf_counter() - start)
    reset(client)

    def fmt(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    print(
        f"one rotation on one Swarm, median of {args.rounds} (stand-in ucp-interlock, Monitor 2 s, health window {window:g} s), "
        "against the runbook's CLI steps followed by the evidence the provider waits for (the new config's tasks ran for the window):"
    )
    for case in CASES:
        ours, theirs = statistics.median(times[case, "provider"]), statistics.median(times[case, "runbook"])
        print(f"  {CASE_TITLES[case]}:")
        print(f"    provider                  {ours:6.2f} s   (all: {fmt(times[case, 'provider'])})")
        print(f"    runbook CLI + evidence    {theirs:6.2f} s   (all: {fmt(times[case, 'runbook'])})")
        print(f"    ratio provider / runbook CLI + evidence: {ours / theirs:.2f}  (target <= 1.1)")
        print(f"    the rotation's settle wait before it updates: median {statistics.median(settles[case]):.2f} s  (all: {fmt(settles[case])})")
    print(f"  runbook CLI alone (steps 4-7, no evidence): median {statistics.median(cli):.2f} s  (all: {fmt(cli)})")
    print(f"no-op diff (reads the running config, no rotation): median {statistics.median(noop) * 1000:.1f} ms of 20")


if __name__ == "__main__":
    main()
