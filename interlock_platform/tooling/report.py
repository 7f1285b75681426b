"""What a reviewer reads: the preview's summary, the security matrix and the load balancer
port map, all derived from the resources the program registered (not from the plan), so they
show what the program really does."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from interlock_platform.tooling import reachability
from interlock_platform.tooling.mock_runtime import ProgramRun, Registration

SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULES = {
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "ingress",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "egress",
}
NACL = "aws:ec2/networkAcl:NetworkAcl"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"


@dataclass(frozen=True)
class Rule:
    security_group: str
    direction: str
    peer: str
    protocol: str
    ports: str
    description: str


def _ports(protocol: str, lo: Any, hi: Any) -> str:
    if protocol == "-1":
        return "all"
    if protocol not in ("tcp", "udp"):
        return f"IP protocol {protocol}"
    lo, hi = int(lo), int(hi)
    return f"{protocol.upper()} {lo}" if lo == hi else f"{protocol.upper()} {lo}-{hi}"


def _port_order(ports: str) -> tuple[str, int]:
    """"TCP 179" before "TCP 2377" before "TCP 12379-12388": by protocol, then first port, as numbers."""
    label, _, first = ports.rpartition(" ")
    return (label, int(first.split("-")[0])) if first[:1].isdigit() else (ports, 0)


def security_group_names(runs: Iterable[ProgramRun]) -> dict[str, str]:
    names: dict[str, str] = {}
    for run in runs:
        for r in run.of_type(SG):
            names[r.id] = r.name
    return names


def security_group_rules(run: ProgramRun, names: Mapping[str, str]) -> list[Rule]:
    rules = []
    for r in run.resources:
        direction = SG_RULES.get(r.type)
        if direction is None:
            continue
        i = r.inputs
        sg = names.get(i["securityGroupId"], i["securityGroupId"])
        ref = i.get("referencedSecurityGroupId")
        peer = (
            ("itself" if names.get(ref) == sg else names.get(ref, ref))
            if ref
            else i.get("cidrIpv4") or i.get("cidrIpv6") or i.get("prefixListId", "?")
        )
        rules.append(
            Rule(
                sg,
                direction,
                peer,
                i["ipProtocol"],
                _ports(i["ipProtocol"], i.get("fromPort"), i.get("toPort")),
                i.get("description", ""),
            )
        )
    return rules


def nacl_entries(run: ProgramRun) -> dict[str, list[dict[str, Any]]]:
    acls = {r.id: r.name for r in run.of_type(NACL)}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in run.of_type(NACL_RULE):
        out[acls.get(r.inputs["networkAclId"], r.inputs["networkAclId"])].append(r.inputs)
    for entries in out.values():
        entries.sort(key=lambda e: (bool(e["egress"]), int(e["ruleNumber"])))
    return dict(out)


def load_balancer_map(run: ProgramRun) -> list[dict[str, Any]]:
    groups = {r.state.get("arn"): r for r in run.of_type(TARGET_GROUP)}
    targets: dict[str, list[str]] = defaultdict(list)
    for a in run.of_type(ATTACHMENT):
        targets[a.inputs["targetGroupArn"]].append(f"{a.inputs['targetId']}:{int(a.inputs['port'])}")
    rows = []
    for listener in run.of_type(LISTENER):
        for action in listener.inputs.get("defaultActions", []):
            tg: Registration | None = groups.get(action.get("targetGroupArn"))
            rows.append(
                {
                    "listener": f"{listener.inputs['protocol']} {int(listener.inputs['port'])}",
                    "action": action.get("type"),
                    "targetGroup": tg.name if tg else action.get("targetGroupArn"),
                    "targetPort": int(tg.inputs["port"]) if tg else None,
                    "targets": sorted(targets.get(action.get("targetGroupArn"), [])),
                }
            )
    return sorted(rows, key=lambda row: row["listener"])


def quota_table(
    run: ProgramRun,
    names: Mapping[str, str],
    sg_quota: int,
    nacl_quota: int,
    projected: Mapping[str, tuple[int, int]] | None = None,
) -> list[str]:
    lines = [f"  security groups: rules per direction against the quota of {sg_quota}"]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for rule in security_group_rules(run, names):
        counts[rule.security_group][rule.direction] += 1
    for sg, c in sorted(counts.items()):
        note = ""
        if projected and sg in projected:
            note = f"   (with every environment deployed: in {projected[sg][0]}/{sg_quota}, out {projected[sg][1]}/{sg_quota})"
        owned = "" if sg in {r.name for r in run.of_type(SG)} else " [rules owned by this stack on another stack's group]"
        lines.append(f"    {sg:<34} in {c['ingress']:>3}/{sg_quota}  out {c['egress']:>3}/{sg_quota}{owned}{note}")
    lines.append(f"  NACLs: entries per direction against the quota of {nacl_quota}")
    for acl, entries in sorted(nacl_entries(run).items()):
        n_in = sum(1 for e in entries if not e["egress"])
        lines.append(f"    {acl:<34} in {n_in:>3}/{nacl_quota}  out {len(entries) - n_in:>3}/{nacl_quota}")
    return lines


def summary(
    run: ProgramRun,
    names: Mapping[str, str],
    sg_quota: int,
    nacl_quota: int,
    projected: Mapping[str, tuple[int, int]] | None,
    violations: list[dict[str, Any]],
) -> str:
    custom = [r for r in run.resources if r.custom and r.type != "pulumi:pulumi:StackReference"]
    lines = [
        f"{run.project} / {run.stack}: {len(custom)} resources in {len([r for r in run.resources if not r.custom])} components"
    ]
    lines.append("  resources by type:")
    for type_, n in sorted(Counter(r.type for r in custom).items()):
        lines.append(f"    {n:>4}  {type_}")
    lines += quota_table(run, names, sg_quota, nacl_quota, projected)
    lb = load_balancer_map(run)
    if lb:
        lines.append(
            "  load balancer: "
            + ", ".join(f"{row['listener']} -> {row['targetPort']} ({len(row['targets'])} targets)" for row in lb)
        )
    mandatory = [v for v in violations if v.get("enforcement") == "mandatory"]
    lines.append(f"  policy violations: {len(violations)} ({len(mandatory)} mandatory)")
    for v in violations:
        lines.append(f"    [{v['enforcement']}] {v['policy']}: {v['urn']}: {v['message']}")
    return "\n".join(lines)


def security_matrix_markdown(run: ProgramRun, names: Mapping[str, str]) -> str:
    rules = security_group_rules(run, names)
    out = [
        f"# Security matrix: {run.project} / {run.stack}",
        "",
        "Who may reach whom, from the security-group rules and NACL entries this stack registers.",
        "",
        "## Who may reach whom (security-group ingress)",
        "",
        "| from | to | ports |",
        "|---|---|---|",
    ]
    reach: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in rules:
        if r.direction == "ingress":
            reach[(r.peer if r.peer != "itself" else r.security_group, r.security_group)].append(r.ports)
    for (src, dst), ports in sorted(reach.items()):
        out.append(f"| {src} | {dst} | {', '.join(sorted(ports, key=_port_order))} |")
    out += _group_to_group(run)
    out += ["", "## Where each group may connect (security-group egress)", "", "| from | to | ports |", "|---|---|---|"]
    reach = defaultdict(list)
    for r in rules:
        if r.direction == "egress":
            reach[(r.security_group, r.peer if r.peer != "itself" else r.security_group)].append(r.ports)
    for (src, dst), ports in sorted(reach.items()):
        out.append(f"| {src} | {dst} | {', '.join(sorted(ports, key=_port_order))} |")
    out += ["", "## Every security-group rule", "", "| group | direction | peer | ports | description |", "|---|---|---|---|---|"]
    for r in sorted(rules, key=lambda r: (r.security_group, r.direction, r.peer, _port_order(r.ports))):
        out.append(f"| {r.security_group} | {r.direction} | {r.peer} | {r.ports} | {r.description} |")
    for acl, entries in sorted(nacl_entries(run).items()):
        out += [
            "",
            f"## NACL {acl} (evaluated in rule-number order; stateless)",
            "",
            "| direction | rule | action | cidr | ports |",
            "|---|---|---|---|---|",
        ]
        for e in entries:
            out.append(
                f"| {'out' if e['egress'] else 'in'} | {int(e['ruleNumber'])} | {e['ruleAction']} | {e['cidrBlock']} | {_ports(e['protocol'], e.get('fromPort', 0), e.get('toPort', 0))} |"
            )
    return "\n".join(out) + "\n"


def _group_to_group(run: ProgramRun) -> list[str]:
    """With isolation: applicationGroup, what each application group's hosts can open on
    another's (across zones, so both groups' NACLs apply), from the registered NACLs and SGs."""
    if run.outputs.get("isolation") != "applicationGroup" or not run.outputs.get("applicationGroupSubnetIds"):
        return []
    matrix = reachability.group_matrix(reachability.Network([run]), run)
    out = [
        "",
        "## Application group to application group (isolation: applicationGroup)",
        "",
        "Evaluated by AWS's rules from the registered NACL entries and security-group rules (NACLs in rule order, "
        "stateless; SGs unioned per interface, stateful), for a worker of each group carrying the `workers` group and "
        "its own. Probed: the platform's ports, common app ports and every port a rule names; `all` is every port.",
        "",
        "| from \\ to | " + " | ".join(sorted({b for _, b in matrix})) + " |",
        "|---|" + "---|" * len({b for _, b in matrix}),
    ]
    for a in sorted({a for a, _ in matrix}):
        out.append(f"| {a} | " + " | ".join(", ".join(matrix[(a, b)]) or "nothing" for b in sorted({b for _, b in matrix})) + " |")
    return out


def load_balancer_markdown(run: ProgramRun) -> str:
    out = [
        f"# Load balancer port map: {run.project} / {run.stack}",
        "",
        "| listener | action | target group | target port | targets (instance:port) |",
        "|---|---|---|---|---|",
    ]
    for row in load_balancer_map(run):
        out.append(
            f"| {row['listener']} | {row['action']} | {row['targetGroup']} | {row['targetPort']} | {', '.join(row['targets'])} |"
        )
    return "\n".join(out) + "\n"


def _plain(value: Any) -> Any:
    """Protobuf hands numbers back as floats: 8080.0 is 8080 in a manifest."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


CLUSTER_FOLDER = "_cluster"


def kubernetes_manifests(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """`<namespace>/<kind>-<name>.yaml` -> the manifest, as registered (`namespacepatch-<name>.yaml`
    for the labels the platform puts on a namespace it does not own; `_cluster/` for cluster-wide
    objects other than namespaces, a folder no namespace can be named)."""
    out = {}
    for r in run.resources:
        if not r.type.startswith("kubernetes:") or not r.custom:
            continue
        body = _plain(r.inputs)
        manifest = {"apiVersion": body.pop("apiVersion"), "kind": body.pop("kind"), "metadata": body.pop("metadata"), **body}
        meta = manifest["metadata"]
        namespace = meta.get("namespace") or (meta["name"] if manifest["kind"] == "Namespace" else CLUSTER_FOLDER)
        # a patch (server-side apply of some fields of an object the platform does not own) is named so
        kind = r.type.rsplit(":", 1)[-1] if r.type.endswith("Patch") else manifest["kind"]
        out[f"{namespace}/{kind.lower()}-{meta['name']}.yaml"] = manifest
    return dict(sorted(out.items()))
