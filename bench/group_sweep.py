"""Benchmark: the dev stack's offline preview under `isolation: applicationGroup`, swept over N
application groups up to the VPC's subnet quota, and the refusal one group past it.

    python -m bench.group_sweep [--sweep 3,10,20,40,max] [--fast]   # --fast: N = 3, and the refusal

The project is copied once and its stacks changed as a user would: the shared stack gives test
and prod the subnets they use (`environments.<name>.maxSubnets`), so dev's share is the rest of
the VPC's default quota (200 subnets, less the shared subnets); dev keeps its three groups
(ingress, payments, ledger, and the ledger's flow) and gains `group<i>` groups of one /28 per zone,
each allowing HTTPS from the one before it (a chain: every group's firewall carries a flow). For
each N the dev preview (policy pack included) runs as a user runs it, and the benchmark prints
resources, wall time, CPU time, CPU time per resource, peak memory (of the preview's process), and
the largest security-group and NACL rule counts (per group and direction) against the quotas.
Then N = share / zones + 1 is previewed: validation refuses it, and the refusal is printed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.preview import CHILD_ENV, largest_counts
from interlock_platform.core.model import SharedTopology
from interlock_platform.core.topology import PROJECT, parse_shared
from interlock_platform.tooling.stack_files import ROOT, offline_config

KEY = f"{PROJECT}:"
# dev's own groups end at ledger (/22 blocks 4..6 of 10.40.64.0/18, i.e. up to 10.40.91.255): the
# swept /28 groups start after it, at /28 block 448
FIRST_SWEPT_BLOCK = 448


def _stack(project: Path, name: str) -> dict[str, Any]:
    return yaml.safe_load((project / "stacks" / f"Pulumi.{name}.yaml").read_text())


def _write(project: Path, name: str, doc: dict[str, Any]) -> None:
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def copy_project() -> tuple[Path, int, int]:
    """A copy of the project whose shared stack gives dev the rest of the VPC's subnets: (project,
    dev's share, zones)."""
    project = Path(tempfile.mkdtemp(prefix="group-sweep-")) / "project"
    shutil.copytree(
        ROOT, project,
        ignore=shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "venv", ".scanners", "out"),
    )  # fmt: skip
    shared = _stack(project, "shared")
    zones = len(_shared_model(project).availability_zones)
    for env in ("test", "prod"):
        groups = _stack(project, env)["config"][f"{KEY}applicationGroups"]
        shared["config"][f"{KEY}environments"][env]["maxSubnets"] = len(groups) * zones
    _write(project, "shared", shared)
    model = _shared_model(project)
    return project, model.environments["dev"].max_subnets, zones


def _shared_model(project: Path) -> SharedTopology:
    """The shared stack as the program reads it (secrets stood in, as offline)."""
    config = offline_config("shared", project)[0]
    return parse_shared("shared", {k[len(KEY) :]: v for k, v in config.items() if k.startswith(KEY)})


def set_groups(project: Path, dev: dict[str, Any], n: int) -> None:
    """dev with n application groups: its own three, then a chain of /28 groups."""
    doc = copy.deepcopy(dev)
    groups = doc["config"][f"{KEY}applicationGroups"]
    names = [g["name"] for g in groups]
    for i in range(n - len(groups)):
        group: dict[str, Any] = {"name": f"group{i}", "prefixLength": 28, "firstSubnet": FIRST_SWEPT_BLOCK + 3 * i}
        group["allowFrom"] = [{"group": names[-1], "ports": [8443], "protocol": "tcp"}]
        groups.append(group)
        names.append(group["name"])
    _write(project, "dev", doc)


def timed(args: list[str], cwd: Path) -> tuple[float, float, int, str, int]:
    """Wall seconds, CPU seconds (user + system, of the preview and the children it reaped: the
    policy pack), peak RSS in MiB of the largest of them, output and exit code of one run. CPU
    time moves little with the machine's load; wall time does."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=CHILD_ENV)
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)  # reap it ourselves: Popen.wait would discard the rusage
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()  # type: ignore[union-attr]
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, out, proc.returncode


def quotas(project: Path) -> tuple[int, int, int]:
    q = _shared_model(project).quotas
    return q.security_group_rules_per_direction, q.nacl_rules_per_direction, q.subnets_per_vpc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", default="3,10,20,40,max", help="numbers of application groups; max: as many as dev's share holds")
    parser.add_argument("--fast", action="store_true", help="N = 3 and the refusal past the quota: CI's check that the benchmark runs")
    args = parser.parse_args()
    if args.fast:
        args.sweep = "3"
    project, share, zones = copy_project()
    most = share // zones
    sg_quota, nacl_quota, vpc_quota = quotas(project)
    dev = _stack(project, "dev")
    print(
        f"dev under isolation: applicationGroup, N application groups of one subnet per zone ({zones} zones); the VPC's quota "
        f"is {vpc_quota} subnets, dev's share {share} (test and prod keep what they use), so at most {most} groups:"
    )
    print(
        f"  {'N':>4} {'subnets':>7} {'resources':>9} {'wall s':>7} {'CPU s':>6} {'CPU ms/resource':>15} {'peak MiB':>8} "
        f"{'max SG rules':>12} {'max NACL entries':>16}"
    )
    sweep = [most if x == "max" else int(x) for x in args.sweep.split(",")]
    rows = []
    for n in sweep:
        set_groups(project, dev, n)
        out = project / "preview.json"
        out.unlink(missing_ok=True)
        seconds, cpu, peak, stdout, code = timed([sys.executable, "-m", "interlock_platform", "preview", "--stack", "dev", "--json", str(out)], cwd=project)
        if code != 0 or not out.exists():
            sys.exit(f"the preview of N = {n} failed (exit {code}):\n{stdout.strip()[-2000:]}")
        resources = sum(1 for r in json.loads(out.read_text())["resources"] if r["custom"])
        sg, nacl = largest_counts(out)
        rows.append((n, resources, cpu))
        print(
            f"  {n:>4} {n * zones:>7} {resources:>9} {seconds:>7.2f} {cpu:>6.2f} {cpu / resources * 1000:>15.1f} {peak:>8} "
            f"{sg:>9}/{sg_quota} {nacl:>13}/{nacl_quota}"
        )
    if len(rows) > 1:
        (n0, r0, s0), (n1, r1, s1) = rows[0], rows[-1]
        print(
            f"  marginal CPU cost from N = {n0} to N = {n1}: {(s1 - s0) / (r1 - r0) * 1000:.1f} ms per resource added "
            f"({(r1 - r0) / (n1 - n0):.1f} resources per group)"
        )
    past = most + 1
    set_groups(project, dev, past)
    _, _, _, stdout, code = timed([sys.executable, "-m", "interlock_platform", "preview", "--stack", "dev"], cwd=project)
    refusal = [line for line in stdout.splitlines() if "applicationGroups" in line and "share" in line]
    if code != 2 or not refusal:
        sys.exit(f"N = {past} (past the quota) was not refused as it should be (exit {code}):\n{stdout.strip()[-2000:]}")
    print(f"past the quota, N = {past} ({past * zones} subnets): the preview exits {code}, validation refuses it with the fix:")
    print("\n".join(f"  {line.strip()}" for line in refusal))
    shutil.rmtree(project.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
