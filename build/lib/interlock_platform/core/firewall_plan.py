"""The firewall plan: every security-group rule and NACL entry, as data.

Pure: built from the validated topology and the port table, no Pulumi. The components create
exactly these rules; validation counts them against the AWS quotas; tests read them. Security
groups are named by role: `management` and `management-peers` (shared stack), `workers` and
`loadBalancer` (one env stack each).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from interlock_platform.core import ports
from interlock_platform.core.model import WORLD, EnvironmentTopology, SharedTopology

ALL = "-1"
Direction = Literal["ingress", "egress"]


@dataclass(frozen=True)
class Peer:
    """The other side of a rule: a CIDR, or a security group by role."""

    kind: Literal["cidr", "sg"]
    value: str

    @property
    def slug(self) -> str:
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
    rules.append(SgRule("management", "egress", "tcp", 443, 443, _cidr(WORLD), "TCP 443 HTTPS to registries and AWS APIs"))
    return rules


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
    return {"management": management_sg_rules(shared) + env_rules, "management-peers": management_peer_rules(shared)}


def worker_sg_rules(topo: EnvironmentTopology) -> list[SgRule]:
    s, env = topo.shared, topo.name
    mgmt, me, lb = _sg("management"), _sg("workers"), _sg("loadBalancer")
    rules = [
        _from_port_rule("workers", "ingress", r, mgmt, "from managers")
        for r in ports.worker_ports(s.ucp_version, s.calico_ip_in_ip, topo.env.allow_esp)
    ]
    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))
    for port, what in ((topo.env.http_port, "HTTP"), (topo.env.https_port, "HTTPS")):
        rules.append(
            SgRule(
                "workers",
                "ingress",
                "tcp",
                port,
                port,
                lb,
                f"TCP {port} Interlock {what} proxy port from the {env} load balancer",
            )
        )
    rules += [
        _from_port_rule("workers", "egress", r, mgmt, "to managers")
        for r in ports.manager_ports(s.ucp_version, s.calico_ip_in_ip, topo.env.allow_esp)
    ]
    rules.append(SgRule("workers", "egress", ALL, None, None, me, f"all traffic between {env} workers"))
    for e in topo.egress:
        ports_label = str(e.from_port) if e.from_port == e.to_port else f"{e.from_port}-{e.to_port}"
        rules.append(
            SgRule(
                "workers",
                "egress",
                e.protocol.value,
                e.from_port,
                e.to_port,
                _cidr(e.cidr),
                f"{e.protocol.value.upper()} {ports_label} {e.description}",
            )
        )
    return rules


def load_balancer_sg_rules(topo: EnvironmentTopology) -> list[SgRule]:
    env = topo.name
    rules = [
        SgRule("loadBalancer", "ingress", "tcp", port, port, _cidr(c), f"TCP {port} clients of {env} from {c}")
        for c in topo.load_balancer.client_cidrs
        for port in (443, 80)
    ]
    for port, what in ((topo.env.https_port, "HTTPS"), (topo.env.http_port, "HTTP")):
        rules.append(
            SgRule(
                "loadBalancer",
                "egress",
                "tcp",
                port,
                port,
                _sg("workers"),
                f"TCP {port} to the {env} Interlock {what} proxies and their health checks",
            )
        )
    return rules


def environment_security_groups(topo: EnvironmentTopology) -> dict[str, list[SgRule]]:
    s = topo.shared
    return {
        "workers": worker_sg_rules(topo),
        "loadBalancer": load_balancer_sg_rules(topo),
        "management": management_rules_for_environment(s.ucp_version, s.calico_ip_in_ip, topo.name, topo.env.allow_esp),
    }


# --------------------------------------------------------------------------------------------
# NACLs (stateless: return traffic needs its own entries)

DENY_BASE = 100  # denies first, so no later allow can re-open another environment
ALLOW_BASE = 1000
EPHEMERAL = ports.EPHEMERAL_PORTS
NODE_EPHEMERAL = ports.NODE_EPHEMERAL_PORTS


def _replies(
    protocol: str, sources: list[tuple[str, str]], vpc: ipaddress.IPv4Network
) -> list[tuple[str, str, int, int, str, str]]:
    """Stateless return traffic for connections the nodes open: only from the destinations they
    may connect to, only on the nodes' ephemeral range (which holds no platform port). A NAT
    gateway rewrites the destination of a reply, not its source: a reply from the internet
    still comes from the internet, so an egress to 0.0.0.0/0 needs its replies from 0.0.0.0/0."""
    upper, by_cidr = protocol.upper(), dict(sources)
    if WORLD in by_cidr:  # it holds every source beyond the VPC; those within come before the VPC's deny
        by_cidr = {c: why for c, why in by_cidr.items() if c == WORLD or ipaddress.ip_network(c).subnet_of(vpc)}
    return [("allow", protocol, *NODE_EPHEMERAL, cidr, f"{upper} replies {why}") for cidr, why in by_cidr.items()]


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


def environment_nacl(topo: EnvironmentTopology) -> list[NaclEntry]:
    s, env = topo.shared, topo.env
    mgmt, edge, own = str(s.management_block), str(s.edge_block), str(env.cidr)
    denies = [("deny", ALL, 0, 0, str(o.cidr), f"deny environment {o.name}") for o in topo.other_environments]
    inbound = list(denies)
    inbound += [
        _row(r, mgmt, "from the management VLAN")
        for r in ports.worker_ports(s.ucp_version, s.calico_ip_in_ip, topo.env.allow_esp)
    ]
    inbound.append(("allow", ALL, 0, 0, own, f"within {env.name}"))
    inbound += [
        ("allow", "tcp", p, p, edge, f"TCP {p} Interlock proxy port from the load balancer subnets")
        for p in (env.http_port, env.https_port)
    ]
    for protocol in ("tcp", "udp"):
        sources = [(mgmt, "from managers")] if protocol == "tcp" else []
        sources += [(str(e.cidr), f"from {e.description}") for e in topo.egress if e.protocol.value == protocol]
        inbound += _replies(protocol, sources, s.vpc_cidr)
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
    outbound += [("allow", e.protocol.value, e.from_port, e.to_port, str(e.cidr), e.description) for e in topo.egress]
    outbound = denies + _inside_then_rest(outbound[len(denies) :], s.vpc_cidr)
    return _number(inbound, False) + _number(outbound, True)


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
    inbound += _replies("tcp", [(WORLD, "to HTTPS the managers open (registries, AWS APIs)")], shared.vpc_cidr)
    outbound = [("allow", ALL, 0, 0, mgmt, "within the management VLAN")]
    outbound += [
        ("allow", ALL, 0, 0, str(e.cidr), f"environment {e.name}; ports filtered by the management SG")
        for e in shared.environments.values()
    ]
    outbound.append(("allow", "tcp", 443, 443, WORLD, "HTTPS to registries and AWS APIs"))
    outbound += [("allow", "tcp", *EPHEMERAL, str(c), "TCP replies to admin clients") for c in shared.admin_cidrs]
    return _number(inbound, False) + _number(outbound, True)
