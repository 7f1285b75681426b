"""The firewall plan: every security-group rule and NACL entry, as data.

Pure: built from the validated topology and the port table, no Pulumi. The components create
exactly these rules; validation counts them against the AWS quotas; tests read them. Security
groups are named by role: `management` and `management-peers` (shared stack), `workers` and
`loadBalancer` (one env stack each).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from interlock_platform.core import ports
from interlock_platform.core.model import (
    HTTPS,
    WORLD,
    ApplicationGroup,
    EgressRule,
    EnvironmentTopology,
    SharedTopology,
    endpoint_sg,
)

ALL = "-1"
Direction = Literal["ingress", "egress"]


@dataclass(frozen=True)
class Peer:
    """The other side of a rule: a CIDR, a security group by role, or an AWS-managed prefix list
    by service (`s3`: the addresses S3's gateway endpoint serves)."""

    kind: Literal["cidr", "sg", "prefixList"]
    value: str

    @property
    def slug(self) -> str:
        if self.kind == "prefixList":
            return f"pl-{self.value}"
        return self.value.replace("/", "-").replace(".", "-") if self.kind == "cidr" else self.value


@dataclass(frozen=True)
class SgRule:
    security_group: str
    direction: Direction
    protocol: str  # "tcp", "udp", "4", "50" or "-1"
    from_port: int | None  # None with protocol -1 (AWS wants no ports then)
    to_port: int | None
    peer: Peer
    description: str

    @property
    def slug(self) -> str:
        """A stable resource name: renaming it would replace the rule in AWS."""
        way = "in" if self.direction == "ingress" else "out"
        if self.protocol == ALL:
            what = "all"
        elif self.protocol in ("tcp", "udp"):
            what = f"{self.protocol}-{self.from_port}" + (f"-{self.to_port}" if self.to_port != self.from_port else "")
        else:
            what = f"proto{self.protocol}"
        return f"{way}-{what}-{self.peer.slug}"


@dataclass(frozen=True)
class NaclEntry:
    egress: bool
    rule_number: int
    action: Literal["allow", "deny"]
    protocol: str
    from_port: int
    to_port: int
    cidr: str
    description: str

    @property
    def slug(self) -> str:
        return f"{'out' if self.egress else 'in'}-{self.rule_number}"


def _from_port_rule(sg: str, direction: Direction, rule: ports.PortRule, peer: Peer, why: str) -> SgRule:
    return SgRule(sg, direction, rule.protocol.value, rule.from_port, rule.to_port, peer, f"{rule.label} {rule.purpose} {why}")


def _sg(role: str) -> Peer:
    return Peer("sg", role)


def _cidr(cidr: object) -> Peer:
    return Peer("cidr", str(cidr))


# --------------------------------------------------------------------------------------------
# Security groups


def management_rules_for_environment(ucp_version: str, calico_ip_in_ip: bool, env: str, esp: bool = True) -> list[SgRule]:
    """The holes an environment punches in the management SG. The env stack owns them, so
    `pulumi destroy -s <env>` closes exactly these."""
    workers = _sg(f"workers:{env}")
    inbound = [
        _from_port_rule("management", "ingress", r, workers, f"from {env} workers")
        for r in ports.manager_ports(ucp_version, calico_ip_in_ip, esp)
    ]
    outbound = [
        _from_port_rule("management", "egress", r, workers, f"to {env} workers")
        for r in ports.worker_ports(ucp_version, calico_ip_in_ip, esp)
    ]
    return inbound + outbound


def management_sg_rules(shared: SharedTopology) -> list[SgRule]:
    """The shared stack's own rules on the management SG: admins in, HTTPS out."""
    rules = [
        SgRule(
            "management",
            "ingress",
            "tcp",
            port,
            port,
            _cidr(c),
            f"TCP {port} {'UCP UI and API' if port == 443 else 'Kubernetes API'} from admin network {c}",
        )
        for c in shared.admin_cidrs
        for port in ports.ADMIN_PORTS
    ]
    if shared.management_internet_egress:
        rules.append(SgRule("management", "egress", "tcp", 443, 443, _cidr(WORLD), "TCP 443 HTTPS to registries and AWS APIs"))
    rules += _endpoint_egress(shared, "management")
    if shared.proxy is not None:
        rules += _egress_rules_of([shared.proxy], "management")
    return rules


# --------------------------------------------------------------------------------------------
# VPC endpoints (vpcEndpoints): the interface endpoints sit in the management subnets, each behind
# its own security group, which admits TCP 443 from the managers (the shared stack's rule) and
# from each environment's workers (that environment's rule, so a destroy closes it). S3 is a
# gateway endpoint: the nodes reach it through their route tables, by its prefix list.


def _endpoint_egress(shared: SharedTopology, sg: str) -> list[SgRule]:
    rules = [
        SgRule(sg, "egress", "tcp", HTTPS, HTTPS, _sg(endpoint_sg(svc)), f"TCP 443 to the {svc} VPC endpoint")
        for svc in shared.interface_endpoints
    ]
    if shared.s3_gateway:
        rules.append(SgRule(sg, "egress", "tcp", HTTPS, HTTPS, Peer("prefixList", "s3"), "TCP 443 to S3 through its gateway endpoint (image layers)"))
    return rules


def endpoint_sg_rules(shared: SharedTopology) -> dict[str, list[SgRule]]:
    """The shared stack's own rules on the endpoints' security groups: the managers in."""
    return {
        endpoint_sg(svc): [SgRule(endpoint_sg(svc), "ingress", "tcp", HTTPS, HTTPS, _sg("management"), f"TCP 443 to the {svc} VPC endpoint from managers")]
        for svc in shared.interface_endpoints
    }


def endpoint_rules_for_environment(shared: SharedTopology, env: str) -> dict[str, list[SgRule]]:
    """The holes an environment punches in the endpoints' security groups (its env stack owns them)."""
    return {
        endpoint_sg(svc): [
            SgRule(endpoint_sg(svc), "ingress", "tcp", HTTPS, HTTPS, _sg(f"workers:{env}"), f"TCP 443 to the {svc} VPC endpoint from {env} workers")
        ]
        for svc in shared.interface_endpoints
    }


def management_peer_rules(shared: SharedTopology) -> list[SgRule]:
    """Managers and DTR among themselves, on a separate SG so env rules keep their quota headroom."""
    peers = _sg("management-peers")
    table = ports.manager_ports(shared.ucp_version, shared.calico_ip_in_ip)
    return [_from_port_rule("management-peers", d, r, peers, "between managers") for d in ("ingress", "egress") for r in table]  # type: ignore[arg-type]


def projected_management_rules(shared: SharedTopology) -> dict[str, list[SgRule]]:
    """The management SGs as they will be once every registered environment is deployed."""
    env_rules = [
        rule
        for name, env in shared.environments.items()
        for rule in management_rules_for_environment(shared.ucp_version, shared.calico_ip_in_ip, name, env.allow_esp)
    ]
    endpoints = endpoint_sg_rules(shared)
    for name in shared.environments:
        for sg, rules in endpoint_rules_for_environment(shared, name).items():
            endpoints[sg] = endpoints[sg] + rules
    return {"management": management_sg_rules(shared) + env_rules, "management-peers": management_peer_rules(shared), **endpoints}


def _proxy_port(what: str, whose: str) -> str:
    return f"Interlock {what} proxy port" if whose == "Interlock" else f"Gateway {what} NodePort"


def worker_sg_rules(topo: EnvironmentTopology) -> list[SgRule]:
    if isolates_groups(topo):
        return group_isolated_worker_sg_rules(topo)
    s, env = topo.shared, topo.name
    mgmt, me, lb = _sg("management"), _sg("workers"), _sg("loadBalancer")
    rules = [
        _from_port_rule("workers", "ingress", r, mgmt, "from managers")
        for r in ports.worker_ports(s.ucp_version, s.calico_ip_in_ip, topo.env.allow_esp)
    ]
    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))
    for port, what, whose in topo.proxy_ports:
        rules.append(
            SgRule(
                "workers",
                "ingress",
                "tcp",
                port,
                port,
                lb,
                f"TCP {port} {_proxy_port(what, whose)} from the {env} load balancer",
            )
        )
    rules += [
        _from_port_rule("workers", "egress", r, mgmt, "to managers")
        for r in ports.manager_ports(s.ucp_version, s.calico_ip_in_ip, topo.env.allow_esp)
    ]
    rules.append(SgRule("workers", "egress", ALL, None, None, me, f"all traffic between {env} workers"))
    return rules + _egress_rules(topo, "workers")


def _egress_rules(topo: EnvironmentTopology, sg: str) -> list[SgRule]:
    """Where the workers may connect beyond the cluster: the VPC endpoints, then `egress` and the proxy."""
    return _endpoint_egress(topo.shared, sg) + _egress_rules_of(topo.egress, sg)


def _egress_rules_of(egress: Iterable[EgressRule], sg: str) -> list[SgRule]:
    rules = []
    for e in egress:
        ports_label = str(e.from_port) if e.from_port == e.to_port else f"{e.from_port}-{e.to_port}"
        rules.append(
            SgRule(sg, "egress", e.protocol.value, e.from_port, e.to_port, _cidr(e.cidr), f"{e.protocol.value.upper()} {ports_label} {e.description}")
        )
    return rules


# --------------------------------------------------------------------------------------------
# isolation: applicationGroup. Every worker's ENI carries two groups, and AWS unions their rules:
# the environment's `workers` SG (manager ports, the overlay data plane, egress) and its
# application group's `group:<name>` SG (within the group, declared flows, the load balancer).
# So the shared one may hold only what crosses every group anyway, never "all between workers".

SECURITY_GROUPS_PER_WORKER_ENI = 2  # the environment's workers SG and the group's SG (AWS allows 5 by default)
AWS_RULES_TIMES_GROUPS_PER_ENI = 1000  # rules per SG x SGs per ENI may not exceed it (AWS)


def isolates_groups(topo: EnvironmentTopology) -> bool:
    return topo.isolation == "applicationGroup"


def group_sg(group: str) -> str:
    return f"group:{group}"


def group_cidrs(group: ApplicationGroup) -> list[str]:
    """The group's subnets as the fewest CIDRs that hold exactly them (never a neighbour's range)."""
    return [str(c) for c in ipaddress.collapse_addresses(s.cidr for s in group.subnets)]


def ingress_groups(topo: EnvironmentTopology) -> tuple[str, ...]:
    """The groups that hold an ingress node, by the address its EC2 hostname carries."""
    found = []
    for node in topo.ingress_nodes:
        addr = node.address
        for g in topo.application_groups:
            if addr is not None and any(addr in s.cidr for s in g.subnets) and g.name not in found:
                found.append(g.name)
    return tuple(g.name for g in topo.application_groups if g.name in found)


def port_ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive ports as one range: one rule instead of several."""
    out: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def declared_flows(topo: EnvironmentTopology) -> list[tuple[str, str, str, list[tuple[int, int]]]]:
    """(from group, to group, protocol, port ranges): every allowFrom, one row per pair and protocol."""
    merged: dict[tuple[str, str, str], set[int]] = {}
    names = {g.name for g in topo.application_groups}
    for g in topo.application_groups:
        for f in g.allow_from:
            if f.group not in names or f.group == g.name:
                continue  # refused by topology's flow checks; no rule for it
            merged.setdefault((f.group, g.name, f.protocol.value), set()).update(f.ports)
    return [(src, dst, proto, port_ranges(p)) for (src, dst, proto), p in merged.items()]


def _ports_label(protocol: str, lo: int, hi: int) -> str:
    return f"{protocol.upper()} {lo}" if lo == hi else f"{protocol.upper()} {lo}-{hi}"


def group_isolated_worker_sg_rules(topo: EnvironmentTopology) -> list[SgRule]:
    """The environment-wide workers SG: manager ports both ways, the overlay data plane among the
    environment's workers (every group shares its overlay networks), egress. Nothing else."""
    s, env, esp = topo.shared, topo.name, topo.env.allow_esp
    mgmt, me = _sg("management"), _sg("workers")
    overlay = ports.overlay_data_plane(s.ucp_version, s.calico_ip_in_ip, esp)
    rules = [_from_port_rule("workers", "ingress", r, mgmt, "from managers") for r in ports.worker_ports(s.ucp_version, s.calico_ip_in_ip, esp)]
    rules += [_from_port_rule("workers", "ingress", r, me, f"overlay data plane between the {env} groups") for r in overlay]
    rules += [_from_port_rule("workers", "egress", r, mgmt, "to managers") for r in ports.manager_ports(s.ucp_version, s.calico_ip_in_ip, esp)]
    rules += [_from_port_rule("workers", "egress", r, me, f"overlay data plane between the {env} groups") for r in overlay]
    return rules + _egress_rules(topo, "workers")


def group_sg_rules(topo: EnvironmentTopology) -> dict[str, list[SgRule]]:
    """One SG per application group: all traffic within it, the declared flows (an ingress rule on
    the receiving group and an egress rule on the sending one), the load balancer to the ingress group."""
    out: dict[str, list[SgRule]] = {}
    for g in topo.application_groups:
        me = group_sg(g.name)
        out[me] = [
            SgRule(me, "ingress", ALL, None, None, _sg(me), f"all traffic within application group {g.name}"),
            SgRule(me, "egress", ALL, None, None, _sg(me), f"all traffic within application group {g.name}"),
        ]
    for src, dst, proto, ranges in declared_flows(topo):
        for lo, hi in ranges:
            what = _ports_label(proto, lo, hi)
            out[group_sg(dst)].append(SgRule(group_sg(dst), "ingress", proto, lo, hi, _sg(group_sg(src)), f"{what} from group {src} (declared in allowFrom)"))
            out[group_sg(src)].append(SgRule(group_sg(src), "egress", proto, lo, hi, _sg(group_sg(dst)), f"{what} to group {dst} (declared in allowFrom)"))
    for name in ingress_groups(topo):
        for port, what, whose in topo.proxy_ports:
            out[group_sg(name)].append(
                SgRule(group_sg(name), "ingress", "tcp", port, port, _sg("loadBalancer"), f"TCP {port} {_proxy_port(what, whose)} from the {topo.name} load balancer")
            )
    return out


def load_balancer_sg_rules(topo: EnvironmentTopology) -> list[SgRule]:
    env = topo.name
    rules = [
        SgRule("loadBalancer", "ingress", "tcp", port, port, _cidr(c), f"TCP {port} clients of {env} from {c}")
        for c in topo.load_balancer.client_cidrs
        for port in (443, 80)
    ]
    targets = [group_sg(g) for g in ingress_groups(topo)] if isolates_groups(topo) else ["workers"]
    for target in targets:
        for port, what, whose in reversed(topo.proxy_ports):
            rules.append(
                SgRule(
                    "loadBalancer",
                    "egress",
                    "tcp",
                    port,
                    port,
                    _sg(target),
                    f"TCP {port} to the {env} {whose} {what} proxies and their health checks",
                )
            )
    return rules


def environment_security_groups(topo: EnvironmentTopology) -> dict[str, list[SgRule]]:
    s = topo.shared
    plan = {
        "workers": worker_sg_rules(topo),
        "loadBalancer": load_balancer_sg_rules(topo),
        "management": management_rules_for_environment(s.ucp_version, s.calico_ip_in_ip, topo.name, topo.env.allow_esp),
        **(group_sg_rules(topo) if isolates_groups(topo) else {}),
        **endpoint_rules_for_environment(s, topo.name),
    }
    if topo.network_only:
        # No load balancer yet: its group, which admits the internet on 80 and 443, would be open
        # with nothing behind it, and the nodes' rules would admit a group no load balancer holds.
        lb = Peer("sg", "loadBalancer")
        plan = {sg: [r for r in rules if r.peer != lb] for sg, rules in plan.items() if sg != "loadBalancer"}
    return plan


# --------------------------------------------------------------------------------------------
# NACLs (stateless: return traffic needs its own entries)

DENY_BASE = 100  # denies first, so no later allow can re-open another environment
ALLOW_BASE = 1000
EPHEMERAL = ports.EPHEMERAL_PORTS


def _replies(
    protocol: str, sources: list[tuple[str, str]], vpc: ipaddress.IPv4Network, windows: bool = False
) -> list[tuple[str, str, int, int, str, str]]:
    """Stateless return traffic for connections the nodes open: only from the destinations they
    may connect to, only on the nodes' ephemeral range (which holds no platform port; widened to
    Windows' 49152-65535 where `windows` nodes are behind the NACL, in the same entry). A NAT
    gateway rewrites the destination of a reply, not its source: a reply from the internet
    still comes from the internet, so an egress to 0.0.0.0/0 needs its replies from 0.0.0.0/0."""
    upper, by_cidr = protocol.upper(), dict(sources)
    if WORLD in by_cidr:  # it holds every source beyond the VPC; those within come before the VPC's deny
        by_cidr = {c: why for c, why in by_cidr.items() if c == WORLD or ipaddress.ip_network(c).subnet_of(vpc)}
    return [("allow", protocol, *ports.reply_ports(windows), cidr, f"{upper} replies {why}") for cidr, why in by_cidr.items()]


def _number(entries: list[tuple[str, str, int, int, str, str]], egress: bool) -> list[NaclEntry]:
    """The leading denies at 100+, then every other entry in the order given at 1000+ (step 10)."""
    out: list[NaclEntry] = []
    denies = rest = 0
    for action, proto, lo, hi, cidr, desc in entries:
        if action == "deny" and rest == 0:
            number, denies = DENY_BASE + denies, denies + 1
        else:
            number, rest = ALLOW_BASE + 10 * rest, rest + 1
        out.append(NaclEntry(egress, number, action, proto, lo, hi, cidr, desc))  # type: ignore[arg-type]
    return out


def _inside_then_rest(
    entries: list[tuple[str, str, int, int, str, str]], vpc: ipaddress.IPv4Network
) -> list[tuple[str, str, int, int, str, str]]:
    """The allows within the VPC, then a deny of the rest of the VPC, then the allows beyond it
    (the internet, on the few ports it may use). So no address of the VPC gets in through an
    allow meant for the internet: the environments the registry lists, and those it does not
    (a retired one, one someone added by hand), alike."""
    inside = [e for e in entries if ipaddress.ip_network(e[4]).subnet_of(vpc)]
    beyond = [e for e in entries if not ipaddress.ip_network(e[4]).subnet_of(vpc)]
    return [*inside, ("deny", ALL, 0, 0, str(vpc), "the rest of the VPC: no other environment, listed or not"), *beyond]


def _row(rule: ports.PortRule, cidr: str, desc: str) -> tuple[str, str, int, int, str, str]:
    return ("allow", rule.protocol.value, rule.from_port, rule.to_port, cidr, f"{rule.label} {desc}")


def _deny_other_environments(topo: EnvironmentTopology) -> list[tuple[str, str, int, int, str, str]]:
    denies = [("deny", ALL, 0, 0, str(o.cidr), f"deny environment {o.name}") for o in topo.other_environments]
    return denies


def nacl_destinations(egress: Iterable[EgressRule], s3_gateway: bool) -> list[EgressRule]:
    """Where the NACL lets nodes connect beyond the cluster: `egress` (and the proxy), and with an S3
    gateway endpoint TCP 443 to the internet. A NACL cannot name a prefix list and S3's addresses
    are public, so the NACL admits HTTPS beyond the VPC; the security groups admit only S3's prefix
    list there, and they are the gate."""
    out = list(egress)
    covered = any(e.cidr.prefixlen == 0 and e.protocol is ports.Protocol.TCP and e.from_port <= HTTPS <= e.to_port for e in out)
    if s3_gateway and not covered:
        out.append(EgressRule("HTTPS to S3 through its gateway endpoint (the SGs admit S3's prefix list only)", ipaddress.ip_network(WORLD), ports.Protocol.TCP, HTTPS, HTTPS))
    return out


def environment_nacl(topo: EnvironmentTopology) -> list[NaclEntry]:
    s, env = topo.shared, topo.env
    mgmt, edge, own = str(s.management_block), str(s.edge_block), str(env.cidr)
    denies = _deny_other_environments(topo)
    inbound = list(denies)
    inbound += [
        _row(r, mgmt, "from the management VLAN")
        for r in ports.worker_ports(s.ucp_version, s.calico_ip_in_ip, topo.env.allow_esp)
    ]
    inbound.append(("allow", ALL, 0, 0, own, f"within {env.name}"))
    inbound += [
        ("allow", "tcp", p, p, edge, f"TCP {p} {whose} proxy port from the load balancer subnets")
        for p, _, whose in topo.proxy_ports
    ]
    destinations = nacl_destinations(topo.egress, s.s3_gateway)
    for protocol in ("tcp", "udp"):
        sources = [(mgmt, "from managers")] if protocol == "tcp" else []
        sources += [(str(e.cidr), f"from {e.description}") for e in destinations if e.protocol.value == protocol]
        inbound += _replies(protocol, sources, s.vpc_cidr, topo.has_windows)
    inbound = denies + _inside_then_rest(inbound[len(denies) :], s.vpc_cidr)

    outbound = list(denies)
    outbound.append(("allow", ALL, 0, 0, own, f"within {env.name}"))
    # TCP to the management VLAN is one entry: the manager ports and the replies to connections
    # managers open share it, and the management SG does the per-port filtering. The quota of
    # 20 entries cannot hold the per-port list plus the return traffic.
    outbound.append(("allow", "tcp", 0, 65535, mgmt, "TCP manager ports and replies to managers"))
    outbound += [
        _row(r, mgmt, "to the management VLAN")
        for r in ports.manager_ports(s.ucp_version, s.calico_ip_in_ip, topo.env.allow_esp)
        if r.protocol is not ports.Protocol.TCP
    ]
    outbound.append(("allow", "tcp", *EPHEMERAL, edge, "TCP replies to the load balancer"))
    outbound += [("allow", e.protocol.value, e.from_port, e.to_port, str(e.cidr), e.description) for e in destinations]
    outbound = denies + _inside_then_rest(outbound[len(denies) :], s.vpc_cidr)
    return _number(inbound, False) + _number(outbound, True)


def _egress_replies(topo: EnvironmentTopology, windows: bool = False) -> list[tuple[str, str, int, int, str, str]]:
    """Return traffic for the configured egress destinations (the management VLAN's is in its TCP entry)."""
    rows = []
    for protocol in ("tcp", "udp"):
        sources = [(str(e.cidr), f"from {e.description}") for e in nacl_destinations(topo.egress, topo.shared.s3_gateway) if e.protocol.value == protocol]
        rows += _replies(protocol, sources, topo.shared.vpc_cidr, windows)
    return rows


def group_nacl(topo: EnvironmentTopology, group: ApplicationGroup) -> list[NaclEntry]:
    """An application group's NACL (isolation: applicationGroup): other environments denied first,
    then the group itself, the management VLAN, the overlay data plane from the environment's
    groups, the declared flows from their source group's subnets only, the load balancer to the
    ingress group, and return traffic on the nodes' ephemeral range (Linux's; with Windows'
    added where this group, or the peer a reply goes to, runs Windows)."""
    s, env = topo.shared, topo.env
    mgmt, edge, env_cidr = str(s.management_block), str(s.edge_block), str(env.cidr)
    esp = env.allow_esp
    by_name = {g.name: g for g in topo.application_groups}
    flows = declared_flows(topo)
    overlay = ports.overlay_data_plane(s.ucp_version, s.calico_ip_in_ip, esp)
    own = group_cidrs(group)
    serves_lb = group.name in ingress_groups(topo)
    denies = _deny_other_environments(topo)

    # TCP from and to the management VLAN is one entry each way (the worker SG filters the ports):
    # the per-port list, the overlay and the replies would not fit the 20-entry quota.
    inbound = [("allow", "tcp", 0, 65535, mgmt, "TCP from managers: UCP worker ports and replies; the workers SG filters ports")]
    inbound += [_row(r, mgmt, "from the management VLAN") for r in ports.worker_ports(s.ucp_version, s.calico_ip_in_ip, esp) if r.protocol is not ports.Protocol.TCP]
    inbound += [("allow", ALL, 0, 0, c, f"within group {group.name}") for c in own]
    inbound += [_row(r, env_cidr, f"overlay data plane from the {env.name} groups") for r in overlay]
    for src, dst, proto, ranges in flows:
        if dst == group.name:
            inbound += [("allow", proto, lo, hi, c, f"{_ports_label(proto, lo, hi)} from group {src} (allowFrom)") for c in group_cidrs(by_name[src]) for lo, hi in ranges]
    if serves_lb:
        inbound += [("allow", "tcp", p, p, edge, f"TCP {p} {whose} proxy port from the load balancer subnets") for p, _, whose in topo.proxy_ports]
    # replies to what this group opens towards the other groups (gossip on TCP 7946, its flows)
    mine = ports.reply_ports(group.windows)  # where replies land on this group's nodes
    inbound.append(("allow", "tcp", *mine, env_cidr, f"TCP replies from the {env.name} groups"))
    udp_out = sorted({dst for src, dst, proto, _ in flows if src == group.name and proto == "udp"})
    inbound += [("allow", "udp", *mine, c, f"UDP replies from group {d}") for d in udp_out for c in group_cidrs(by_name[d])]
    inbound += _egress_replies(topo, group.windows)
    inbound = denies + _inside_then_rest(inbound, s.vpc_cidr)

    outbound = [("allow", ALL, 0, 0, c, f"within group {group.name}") for c in own]
    outbound.append(("allow", "tcp", 0, 65535, mgmt, "TCP manager ports and replies to managers"))
    outbound += [_row(r, mgmt, "to the management VLAN") for r in ports.manager_ports(s.ucp_version, s.calico_ip_in_ip, esp) if r.protocol is not ports.Protocol.TCP]
    outbound += [_row(r, env_cidr, f"overlay data plane to the {env.name} groups") for r in overlay]
    for src, dst, proto, ranges in flows:
        if src == group.name:
            outbound += [("allow", proto, lo, hi, c, f"{_ports_label(proto, lo, hi)} to group {dst} (allowFrom)") for c in group_cidrs(by_name[dst]) for lo, hi in ranges]
    # where replies land on the peers' nodes: any group of the environment, or the flow's source
    outbound.append(("allow", "tcp", *ports.reply_ports(topo.has_windows), env_cidr, f"TCP replies to the {env.name} groups"))
    udp_in = sorted({src for src, dst, proto, _ in flows if dst == group.name and proto == "udp"})
    outbound += [("allow", "udp", *ports.reply_ports(by_name[d].windows), c, f"UDP replies to group {d}") for d in udp_in for c in group_cidrs(by_name[d])]
    if serves_lb:
        outbound.append(("allow", "tcp", *EPHEMERAL, edge, "TCP replies to the load balancer"))
    outbound += [("allow", e.protocol.value, e.from_port, e.to_port, str(e.cidr), e.description) for e in nacl_destinations(topo.egress, s.s3_gateway)]
    outbound = denies + _inside_then_rest(outbound, s.vpc_cidr)
    return _number(inbound, False) + _number(outbound, True)


def group_nacls(topo: EnvironmentTopology) -> dict[str, list[NaclEntry]]:
    return {g.name: group_nacl(topo, g) for g in topo.application_groups}


def management_nacl(shared: SharedTopology) -> list[NaclEntry]:
    mgmt = str(shared.management_block)
    inbound = [
        ("allow", "tcp", p, p, str(c), f"TCP {p} from admin network") for c in shared.admin_cidrs for p in ports.ADMIN_PORTS
    ]
    inbound.append(("allow", ALL, 0, 0, mgmt, "within the management VLAN"))
    # Per-environment entries are coarse (the management SG filters ports): 14 ports per
    # environment would not fit the 20-entry quota.
    inbound += [
        ("allow", ALL, 0, 0, str(e.cidr), f"environment {e.name}; ports filtered by the management SG")
        for e in shared.environments.values()
    ]
    internet = [EgressRule("HTTPS to registries and AWS APIs", ipaddress.ip_network(WORLD), ports.Protocol.TCP, HTTPS, HTTPS)]
    destinations = nacl_destinations(
        (internet if shared.management_internet_egress else []) + ([shared.proxy] if shared.proxy else []), shared.s3_gateway
    )
    why = {WORLD: "to HTTPS the managers open (registries, AWS APIs)"}
    inbound += _replies("tcp", [(str(e.cidr), why.get(str(e.cidr), f"from {e.description}")) for e in destinations], shared.vpc_cidr)
    outbound = [("allow", ALL, 0, 0, mgmt, "within the management VLAN")]
    outbound += [
        ("allow", ALL, 0, 0, str(e.cidr), f"environment {e.name}; ports filtered by the management SG")
        for e in shared.environments.values()
    ]
    outbound += [("allow", "tcp", e.from_port, e.to_port, str(e.cidr), e.description) for e in destinations]
    outbound += [("allow", "tcp", *EPHEMERAL, str(c), "TCP replies to admin clients") for c in shared.admin_cidrs]
    return _number(inbound, False) + _number(outbound, True)


# --------------------------------------------------------------------------------------------
# The layout check of isolation: applicationGroup (topology calls it with the other quota checks)


@dataclass(frozen=True)
class LayoutProblem:
    key: str
    message: str
    fix: str


def _group_key(topo: EnvironmentTopology, group: str) -> str:
    index = next(i for i, g in enumerate(topo.application_groups) if g.name == group)
    return f"applicationGroups[{index}]"


def _flow_entry_count(topo: EnvironmentTopology, group: str, egress: bool) -> int:
    """The entries a group's NACL holds for declared flows in one direction: the flows themselves
    (one per peer CIDR and port range) and the UDP replies of the other direction's flows."""
    by_name = {g.name: g for g in topo.application_groups}
    n, udp_peers = 0, set()
    for src, dst, proto, ranges in declared_flows(topo):
        mine, peer = (src, dst) if egress else (dst, src)
        if mine == group:
            n += len(group_cidrs(by_name[peer])) * len(ranges)
        elif peer == group and proto == "udp":
            udp_peers.add(mine)
    return n + sum(len(group_cidrs(by_name[p])) for p in udp_peers)


def group_isolation_problems(topo: EnvironmentTopology) -> list[LayoutProblem]:
    """Why this environment's groups cannot each get a firewall within the AWS quotas, one problem
    per group and direction, each naming what fills it and the fix. [] when the layout fits."""
    out: list[LayoutProblem] = []
    s, quotas = topo.shared, topo.shared.quotas
    for i, node in enumerate(topo.ingress_nodes):
        if node.address is None:
            out.append(LayoutProblem(
                f"ingressNodes[{i}].hostname",
                f"{node.hostname} carries no address, so the application group the load balancer must reach cannot be known",
                "list the node by its EC2 private DNS name (ip-a-b-c-d.<region>.compute.internal), as `docker node ls` shows it",
            ))  # fmt: skip
    if topo.ingress_nodes and not out and not ingress_groups(topo):
        out.append(LayoutProblem("ingressNodes", "no ingress node sits in an application group", "list nodes of this environment's groups"))
    limit = quotas.security_group_rules_per_direction
    if limit * SECURITY_GROUPS_PER_WORKER_ENI > AWS_RULES_TIMES_GROUPS_PER_ENI:
        out.append(LayoutProblem(
            "isolation",
            f"every worker carries {SECURITY_GROUPS_PER_WORKER_ENI} security groups (workers and its group's), and AWS allows "
            f"rules per group x groups per ENI <= {AWS_RULES_TIMES_GROUPS_PER_ENI}: {limit} x {SECURITY_GROUPS_PER_WORKER_ENI} is over it",
            f"lower awsQuotas.securityGroupRulesPerDirection in the shared stack to at most {AWS_RULES_TIMES_GROUPS_PER_ENI // SECURITY_GROUPS_PER_WORKER_ENI}",
        ))  # fmt: skip
    flows = declared_flows(topo)
    for sg, rules in environment_security_groups(topo).items():
        for direction in ("ingress", "egress"):
            counted = [r for r in rules if r.direction == direction]
            if len(counted) <= limit:
                continue
            if not sg.startswith("group:"):
                key = {"workers": "egress", "loadBalancer": "loadBalancer.clientCidrs"}.get(sg, "environment")
                out.append(LayoutProblem(
                    key, f"the {sg} security group would hold {len(counted)} {direction} rules, over the AWS quota of {limit}",
                    "merge CIDRs into fewer blocks, or raise awsQuotas.securityGroupRulesPerDirection in the shared stack after AWS raised your quota",
                ))  # fmt: skip
                continue
            group = sg.removeprefix("group:")
            peers = [
                (src if direction == "ingress" else dst, sum(hi - lo >= 0 for lo, hi in ranges))
                for src, dst, _, ranges in flows
                if (dst if direction == "ingress" else src) == group
            ]
            detail = ", ".join(f"{n} for group {peer}" for peer, n in peers)
            where = f"{_group_key(topo, group)}.allowFrom" if direction == "ingress" else "applicationGroups"
            out.append(LayoutProblem(
                where,
                f"the security group of application group '{group}' would hold {len(counted)} {direction} rules ({detail}; one per port "
                f"range per peer group), over the AWS quota of {limit}",
                "declare consecutive ports (one range is one rule), merge groups that talk on many ports, or raise "
                "awsQuotas.securityGroupRulesPerDirection in the shared stack after AWS raised your quota",
            ))  # fmt: skip
    nlimit = quotas.nacl_rules_per_direction
    for group, entries in group_nacls(topo).items():
        for egress in (False, True):
            counted = [e for e in entries if e.egress == egress]
            if len(counted) <= nlimit:
                continue
            way = "outbound" if egress else "inbound"
            flow_entries = _flow_entry_count(topo, group, egress)
            egress_entries = len(nacl_destinations(topo.egress, s.s3_gateway)) if egress else len(_egress_replies(topo))
            # n subnets need at least popcount(n) CIDRs, and that many only when aligned
            fewest = bin(len(s.availability_zones)).count("1")
            scattered = [g.name for g in topo.application_groups if len(group_cidrs(g)) > fewest]
            by_egress = egress_entries > flow_entries
            out.append(LayoutProblem(
                "egress" if by_egress else _group_key(topo, group),
                f"the NACL of application group '{group}' would hold {len(counted)} {way} entries, over the quota of {nlimit}: "
                f"{flow_entries} for declared flows (one per source-group CIDR and port range), {egress_entries} for egress "
                f"destinations, {len(counted) - flow_entries - egress_entries} the group always needs",
                ("list fewer egress destinations (merge CIDRs), " if by_egress else "declare consecutive ports, ")
                + (f"align the subnets of {', '.join(scattered)} so each group's zones form {fewest} CIDR(s) (firstSubnet a multiple of "
                   f"{1 << (len(s.availability_zones) - 1).bit_length()}), " if scattered and not by_egress else "")
                + "or raise awsQuotas.naclRulesPerDirection in the shared stack (AWS allows up to 40)",
            ))  # fmt: skip
    return out
