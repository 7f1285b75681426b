"""Benchmark: the firewall of each application group (isolation: applicationGroup) against the
AWS quotas, for 3, 6 and 10 groups with a realistic set of declared flows.

    python -m bench.group_quotas [--fast]   # --fast: 3 groups only, what CI runs

For each layout the dev stack runs under the mock runtime (the shared stack's quotas raised in
its outputs so that every layout registers), and the NACL entries and security-group rules are
counted from what the program registered, per NACL and per security group and direction. Then
the layout is validated at the default quotas (20 NACL entries, 60 SG rules per direction), as
`pulumi up` would, and the refusals are printed with their fixes; then at the NACL quota AWS
grants at most (40).
"""

from __future__ import annotations

import argparse
import copy
from collections import Counter
from typing import Any

from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import PROJECT, parse_environment, parse_shared
from interlock_platform.tooling.mock_runtime import ProgramRun, run_program
from interlock_platform.tooling.stack_files import offline_config

NAMES = ("ingress", "web", "api", "payments", "ledger", "reports", "batch", "audit", "monitoring", "identity")
# (from, to, protocol, ports): a web tier calling an API, the API payments, payments the ledger,
# reports and batch reading the ledger's database, monitoring scraping every app group's node
# exporter, every app group shipping syslog to audit and calling identity over HTTPS.
CHAIN = (
    ("web", "api", "tcp", [8443]), ("api", "payments", "tcp", [8443]), ("payments", "ledger", "tcp", [8443, 8444]),
    ("reports", "ledger", "tcp", [5432]), ("batch", "ledger", "tcp", [5432]), ("batch", "reports", "tcp", [8443]),
)  # fmt: skip
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULES = {
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "in",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "out",
}
NACL, NACL_RULE = "aws:ec2/networkAcl:NetworkAcl", "aws:ec2/networkAclRule:NetworkAclRule"


def flows(groups: list[str]) -> list[tuple[str, str, str, list[int]]]:
    apps = [g for g in groups if g not in ("ingress", "monitoring", "audit", "identity")]
    out = [f for f in CHAIN if f[0] in groups and f[1] in groups]
    if "monitoring" in groups:
        out += [("monitoring", g, "tcp", [9100]) for g in apps]
    if "audit" in groups:
        out += [(g, "audit", "udp", [514]) for g in apps]
    if "identity" in groups:
        out += [(g, "identity", "tcp", [443]) for g in apps]
    return out


def layout(n: int) -> list[dict[str, Any]]:
    """n groups, one /24 per zone each, side by side in dev's 10.40.64.0/18; the ingress group first
    (the reference ingress nodes sit in 10.40.64.0/24 and 10.40.65.0/24)."""
    names = list(NAMES[:n])
    groups: list[dict[str, Any]] = [{"name": g, "prefixLength": 24, "firstSubnet": 3 * i} for i, g in enumerate(names)]
    by_name = {g["name"]: g for g in groups}
    for src, dst, proto, ports in flows(names):
        by_name[dst].setdefault("allowFrom", []).append({"group": src, "ports": ports, "protocol": proto})
    return groups


def _raw(stack: str) -> dict[str, Any]:
    config, _, _ = offline_config(stack)
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: copy.deepcopy(v) for k, v in config.items() if k.startswith(prefix)}


def counts(run: ProgramRun) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    sgs = {r.id: r.name for r in run.of_type(SG)}
    acls = {r.id: r.name for r in run.of_type(NACL)}
    by_sg: dict[str, Counter[str]] = {}
    for r in run.resources:
        if r.type in SG_RULES and r.inputs["securityGroupId"] in sgs:
            by_sg.setdefault(sgs[r.inputs["securityGroupId"]], Counter())[SG_RULES[r.type]] += 1
    by_acl: dict[str, Counter[str]] = {}
    for r in run.of_type(NACL_RULE):
        by_acl.setdefault(acls[r.inputs["networkAclId"]], Counter())["out" if r.inputs["egress"] else "in"] += 1
    return by_sg, by_acl


def measure(n: int) -> dict[str, Any]:
    shared_cfg, shared_raw = offline_config("shared")[0], _raw("shared")
    outputs = parse_shared("shared", shared_raw).to_outputs()
    dev_raw = _raw("dev")
    dev_raw["applicationGroups"] = layout(n)
    refusals = _refusals(dev_raw, outputs)
    roomy = copy.deepcopy(outputs)
    roomy["awsQuotas"].update(naclRulesPerDirection=40, securityGroupRulesPerDirection=500)
    shared_run = run_program("shared", shared_cfg)
    dev_cfg, _, _ = offline_config("dev")
    dev_cfg = {**dev_cfg, f"{PROJECT}:applicationGroups": dev_raw["applicationGroups"]}
    run = run_program("dev", dev_cfg, {dev_cfg[f"{PROJECT}:sharedStack"]: {**shared_run.outputs, **roomy}})
    by_sg, by_acl = counts(run)
    at_most = copy.deepcopy(outputs)
    at_most["awsQuotas"]["naclRulesPerDirection"] = 40  # the most AWS grants
    return {
        "groups": n, "flows": len(flows(list(NAMES[:n]))), "sg": by_sg, "nacl": by_acl, "refusals": refusals,
        "quotas": outputs["awsQuotas"], "refusals_at_40": _refusals(dev_raw, at_most),
    }  # fmt: skip


def _refusals(raw: dict[str, Any], outputs: dict[str, Any]) -> list[str]:
    try:
        parse_environment("dev", copy.deepcopy(raw), copy.deepcopy(outputs))
    except InvalidConfig as err:
        return [f"{p.key}: {p.message}. Fix: {p.fix}" for p in err.problems]
    return []


def report(m: dict[str, Any]) -> list[str]:
    q = m["quotas"]
    sg_q, nacl_q = q["securityGroupRulesPerDirection"], q["naclRulesPerDirection"]
    lines = [f"{m['groups']} groups, {m['flows']} declared flows", f"  NACL entries per direction (quota {nacl_q}):"]
    for name, c in sorted(m["nacl"].items()):
        over = " OVER" if max(c["in"], c["out"]) > nacl_q else ""
        lines.append(f"    {name:<28} in {c['in']:>3}/{nacl_q}  out {c['out']:>3}/{nacl_q}{over}")
    lines.append(f"  security-group rules per direction (quota {sg_q}):")
    for name, c in sorted(m["sg"].items()):
        over = " OVER" if max(c["in"], c["out"]) > sg_q else ""
        lines.append(f"    {name:<28} in {c['in']:>3}/{sg_q}  out {c['out']:>3}/{sg_q}{over}")
    if m["refusals"]:
        lines.append(f"  refused at the default quotas ({len(m['refusals'])} problem(s)):")
        lines += [f"    {r}" for r in m["refusals"]]
    else:
        lines.append("  accepted at the default quotas")
    if m["refusals"]:
        lines.append("  with naclRulesPerDirection: 40 (the AWS maximum): " + ("accepted" if not m["refusals_at_40"] else f"{len(m['refusals_at_40'])} problems"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="3 groups only: CI's check that the benchmark runs")
    for n in (3,) if parser.parse_args().fast else (3, 6, 10):
        print("\n".join(report(measure(n))))
        print()


if __name__ == "__main__":
    main()
