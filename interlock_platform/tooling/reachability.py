"""Who can reach whom, evaluated from the resources a program registered, by AWS's documented
rules for the two firewalls a packet crosses in a VPC, not from the firewall plan:

- a network ACL applies where a packet leaves or enters a subnet (never between two hosts of one
  subnet). It is stateless: the reply is a packet of its own, checked in the other direction. Its
  entries are read in rule-number order; the first whose protocol, ports and CIDR match decides;
  none matching is a deny. A subnet associated with no NACL has the VPC's default NACL, which
  allows everything.
- security groups are stateful and allow only: a packet leaves if any rule of any group on the
  sender's interface allows it, and enters if any rule of any group on the receiver's interface
  does. A rule naming a security group matches the interfaces that carry that group. A reply to
  an allowed connection is allowed.

Hosts are placed as the stacks' outputs tell operators to: a worker of application group G has
an address in one of G's subnets and carries `workerSecurityGroupId` and
`applicationGroupSecurityGroupIds[G]`; a manager sits in the management VLAN with the
management groups; the load balancer sits in the edge subnets with its own group.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from interlock_platform.tooling.mock_runtime import ProgramRun

SUBNET = "aws:ec2/subnet:Subnet"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
NACL_ASSOCIATION = "aws:ec2/networkAclAssociation:NetworkAclAssociation"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "-1": -1, "all": -1}
CLIENT_PORT = 45000  # a source port in Linux's ephemeral range (32768-60999), as the nodes open them


def protocol_number(value: Any) -> int:
    text = str(value).strip().lower()
    return PROTOCOLS[text] if text in PROTOCOLS else int(float(text))


@dataclass(frozen=True)
class Host:
    name: str
    address: ipaddress.IPv4Address
    subnet: str  # subnet id
    security_groups: frozenset[str]  # security group ids on its interface


@dataclass(frozen=True)
class _Entry:
    number: int
    egress: bool
    allow: bool
    protocol: int
    ports: tuple[int, int]
    cidr: ipaddress.IPv4Network


@dataclass(frozen=True)
class _SgRule:
    group: str
    egress: bool
    protocol: int
    ports: tuple[int, int]
    cidr: ipaddress.IPv4Network | None
    peer: str | None


def _ports(protocol: int, inputs: Mapping[str, Any]) -> tuple[int, int]:
    if protocol not in (6, 17):
        return (0, 65535)  # ports mean nothing to other protocols
    return (int(inputs.get("fromPort", 0)), int(inputs.get("toPort", 65535)))


class Network:
    """The firewalls of a set of stacks (a shared stack and env stacks), as registered."""

    def __init__(self, runs: Iterable[ProgramRun]) -> None:
        self.subnets: dict[str, tuple[ipaddress.IPv4Network, dict[str, Any]]] = {}
        self.acl_of: dict[str, str] = {}
        self.entries: dict[str, list[_Entry]] = {}
        self.rules: list[_SgRule] = []
        for run in runs:
            for r in run.of_type(SUBNET):
                self.subnets[r.id] = (ipaddress.ip_network(r.inputs["cidrBlock"]), r.inputs.get("tags", {}))  # type: ignore[assignment]
            for r in run.of_type(NACL_ASSOCIATION):
                self.acl_of[r.inputs["subnetId"]] = r.inputs["networkAclId"]
            for r in run.of_type(NACL_RULE):
                i, proto = r.inputs, protocol_number(r.inputs["protocol"])
                self.entries.setdefault(i["networkAclId"], []).append(
                    _Entry(int(i["ruleNumber"]), bool(i.get("egress", False)), i["ruleAction"] == "allow", proto,
                           _ports(proto, i), ipaddress.ip_network(i["cidrBlock"]))  # type: ignore[arg-type]
                )  # fmt: skip
            for r in run.resources:
                if r.type not in (SG_INGRESS, SG_EGRESS):
                    continue
                i, proto = r.inputs, protocol_number(r.inputs["ipProtocol"])
                cidr = i.get("cidrIpv4")
                self.rules.append(
                    _SgRule(i["securityGroupId"], r.type == SG_EGRESS, proto, _ports(proto, i),
                            ipaddress.ip_network(cidr) if cidr else None, i.get("referencedSecurityGroupId"))  # type: ignore[arg-type]
                )  # fmt: skip
        for entries in self.entries.values():
            entries.sort(key=lambda e: e.number)

    # ---------------------------------------------------------------- the two firewalls

    def _nacl_allows(self, subnet: str, egress: bool, protocol: int, port: int, peer: ipaddress.IPv4Address) -> bool:
        acl = self.acl_of.get(subnet)
        if acl is None:
            return True  # the VPC's default NACL allows all
        for e in self.entries.get(acl, []):
            if e.egress != egress or peer not in e.cidr:
                continue
            if e.protocol not in (-1, protocol):
                continue
            if e.protocol in (6, 17) and not e.ports[0] <= port <= e.ports[1]:
                continue
            return e.allow  # the first match decides
        return False  # no entry matched: the final `*` deny

    def _sg_allows(self, own: Host, egress: bool, protocol: int, port: int, peer: Host) -> bool:
        for r in self.rules:
            if r.group not in own.security_groups or r.egress != egress:
                continue
            if r.protocol not in (-1, protocol):
                continue
            if r.protocol in (6, 17) and not r.ports[0] <= port <= r.ports[1]:
                continue
            if (r.cidr is not None and peer.address in r.cidr) or (r.peer is not None and r.peer in peer.security_groups):
                return True
        return False

    def reaches(self, src: Host, dst: Host, protocol: str | int, port: int = 0, client_port: int = CLIENT_PORT) -> bool:
        """Whether `src` can open a connection (TCP: and get the replies; other protocols: the
        packet arrives) to `dst` on `protocol`/`port`."""
        proto = protocol_number(protocol)
        crossing = src.subnet != dst.subnet  # NACLs apply only between subnets
        forward = (
            (not crossing or self._nacl_allows(src.subnet, True, proto, port, dst.address))
            and self._sg_allows(src, True, proto, port, dst)
            and (not crossing or self._nacl_allows(dst.subnet, False, proto, port, src.address))
            and self._sg_allows(dst, False, proto, port, src)
        )
        if not forward or proto != 6:
            return forward
        # the reply: stateless NACLs check it again, towards the client's port; the SGs let it through
        return not crossing or (
            self._nacl_allows(dst.subnet, True, proto, client_port, src.address)
            and self._nacl_allows(src.subnet, False, proto, client_port, dst.address)
        )

    # ---------------------------------------------------------------- hosts, placed as the outputs say

    def subnets_tagged(self, **tags: str) -> list[str]:
        return sorted(sid for sid, (_, t) in self.subnets.items() if all(t.get(k) == v for k, v in tags.items()))

    def host_in(self, name: str, subnet: str, security_groups: Iterable[str], offset: int = 10) -> Host:
        cidr = self.subnets[subnet][0]
        return Host(name, cidr.network_address + offset, subnet, frozenset(security_groups))


def group_hosts(net: Network, env: ProgramRun) -> dict[str, list[Host]]:
    """One worker per application group and zone, with the groups the env stack's outputs name."""
    out = env.outputs
    group_sgs: Mapping[str, str] = out.get("applicationGroupSecurityGroupIds") or {}
    hosts: dict[str, list[Host]] = {}
    for group, subnet_ids in out["applicationGroupSubnetIds"].items():
        sgs = [out["workerSecurityGroupId"], *([group_sgs[group]] if group in group_sgs else [])]
        hosts[group] = [net.host_in(f"{group}-{i}", sid, sgs) for i, sid in enumerate(subnet_ids)]
    return hosts


def manager_hosts(net: Network, shared: ProgramRun) -> list[Host]:
    sgs = [shared.outputs["managementSecurityGroupId"], shared.outputs["managementPeersSecurityGroupId"]]
    return [net.host_in(f"manager-{i}", sid, sgs) for i, sid in enumerate(shared.outputs["managementSubnetIds"])]


def load_balancer_hosts(net: Network, shared: ProgramRun, env: ProgramRun) -> list[Host]:
    """The load balancer's interfaces: one per edge subnet, with the groups attached to it."""
    (lb,) = env.of_type(LOAD_BALANCER)
    return [net.host_in(f"nlb-{i}", sid, lb.inputs["securityGroups"], 20) for i, sid in enumerate(shared.outputs["edgeSubnetIds"])]


# Probes for a matrix a reviewer reads: the platform's ports and a few an app might use.
MATRIX_PROBES: tuple[tuple[str, int], ...] = (
    ("tcp", 22), ("tcp", 80), ("tcp", 443), ("tcp", 2377), ("tcp", 5432), ("tcp", 7946), ("tcp", 8080), ("tcp", 8443),
    ("tcp", 9090), ("tcp", 10250), ("tcp", 12376), ("udp", 53), ("udp", 4789), ("udp", 7946), ("4", 0), ("50", 0),
)  # fmt: skip


def group_matrix(net: Network, env: ProgramRun, probes: Iterable[tuple[str, int]] = MATRIX_PROBES) -> dict[tuple[str, str], list[str]]:
    """(from group, to group) -> what opens, across zones: every probe, and each declared-looking
    port the group rules name. "all" when every probe and a sweep of ports opens."""
    hosts = group_hosts(net, env)
    ports = set(probes)
    for r in net.rules:
        if r.protocol in (6, 17) and r.ports[0] == r.ports[1]:
            ports.add(("tcp" if r.protocol == 6 else "udp", r.ports[0]))
    out: dict[tuple[str, str], list[str]] = {}
    for a, a_hosts in hosts.items():
        for b, b_hosts in hosts.items():
            src, dst = a_hosts[0], b_hosts[-1]  # different zones: the NACLs apply
            opened = [f"{p.upper() if p in ('tcp', 'udp') else 'IP protocol ' + p}{' ' + str(n) if p in ('tcp', 'udp') else ''}"
                      for p, n in sorted(ports) if net.reaches(src, dst, p, n)]  # fmt: skip
            sweep = all(net.reaches(src, dst, "tcp", n) for n in range(1, 65536, 997))
            out[(a, b)] = ["all"] if sweep and len(opened) == len(ports) else opened
    return out
