"""AWS isolation rules: security groups, NACLs, the load balancer, the VPC baseline, tags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    REGISTRY_SCHEMA,
    STACK_REFERENCE,
    UNKNOWN,
    GroupLayout,
    Network,
    Stack,
    env_of,
    environment_stack,
    get,
    items,
    network,
    number,
    overlaps,
    protocol,
    registry_or_report,
    world_like,
)

SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"  # the older rule resource, ingress or egress by its `type`
RULES = (INGRESS, EGRESS)
NACL = "aws:ec2/networkAcl:NetworkAcl"
DEFAULT_NACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
PREFIX_LIST_ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
# aws.alb.* is the same resource as aws.lb.* under an alias type
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
TARGET_GROUPS = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")
ATTACHMENTS = ("aws:lb/targetGroupAttachment:TargetGroupAttachment", "aws:alb/targetGroupAttachment:TargetGroupAttachment")
LISTENER, TARGET_GROUP, ATTACHMENT = LISTENERS[0], TARGET_GROUPS[0], ATTACHMENTS[0]
NODE_LABELS = "pulumi-python:dynamic/swarm:NodeLabels"
TAGGED = {
    "aws:ec2/vpc:Vpc", SUBNET, "aws:ec2/routeTable:RouteTable", SG, INGRESS, EGRESS, NACL,
    "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/flowLog:FlowLog",
    "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role", LOAD_BALANCERS[0], TARGET_GROUP, LISTENER, DEFAULT_SG, VPC_ENDPOINT,
}  # fmt: skip
ENCAPSULATION = {"4": "IP-in-IP", "50": "ESP"}
LISTENER_PORTS = (80, 443)
WORLD_EGRESS_PORTS = (80, 443)  # what nodes fetch from the internet: registries, packages, AWS APIs


@dataclass
class Opening:
    """One allow or deny, whatever resource or inline block it is written in."""

    carrier: PolicyResource  # the resource it is written in (a security group for an inline rule)
    label: str  # how messages name it
    direction: str  # "ingress", "egress", or "unknown" (a SecurityGroupRule whose type is not known yet)
    action: Any  # "allow" or "deny" (security groups only allow); UNKNOWN
    protocol: Any  # by number ("6", "-1" for all), UNKNOWN or None
    from_port: int | None
    to_port: int | None
    cidrs: list[Any]  # as written (str or UNKNOWN), IPv4 and IPv6, prefix lists resolved where the stack defines them
    group: PolicyResource | None = None  # the security group or NACL it belongs to, when a resource of the stack feeds it
    group_id: Any = None  # the group or NACL id as written, when none does
    peers: list[PolicyResource] = field(default_factory=list)  # resources feeding its peer security group
    self_only: bool = False  # its only peer is its own group
    rule_number: int | None = None

    @property
    def urn(self) -> str:
        return self.carrier.urn

    def describe(self) -> str:
        ports = "all ports" if self.protocol == "-1" else f"{self.from_port}-{self.to_port}"
        return f"{self.label} ({self.direction}, protocol {_shown(self.protocol)}, {ports})"

    def networks(self) -> list[Network]:
        return [n for n in (network(c) for c in self.cidrs) if n is not None]

    def single_port(self) -> int | None:
        return self.from_port if self.from_port == self.to_port else None


def _shown(value: Any) -> str:
    return "unknown" if value is UNKNOWN else str(value)


def _role(sg: PolicyResource) -> str:
    """What a security group calls itself, for messages only (a tag never decides a rule): our
    `role` tag; a group from the shared stack (through a StackReference) is the management group."""
    if sg.resource_type == STACK_REFERENCE:
        return "management"
    role = get(sg.props, "tags", "role")
    return role if isinstance(role, str) else sg.name


def _group(rule: PolicyResource, prop: str) -> PolicyResource | None:
    fed = Stack.fed_by(rule, prop)
    return fed[0] if fed else None


def _prefix_list_cidrs(stack: Stack, resource: PolicyResource, prop: str) -> list[Any]:
    """The CIDRs of the managed prefix lists this stack defines and `prop` references: a rule
    through a prefix list admits what the list holds."""
    cidrs: list[Any] = []
    for pl in Stack.fed_by(resource, prop):
        if pl.resource_type != PREFIX_LIST:
            continue
        cidrs += [get(e, "cidr") for e in items(get(pl.props, "entries"))]
        cidrs += [
            get(e.props, "cidr")
            for e in stack.of_type(PREFIX_LIST_ENTRY)
            if any(r.urn == pl.urn for r in Stack.fed_by(e, "prefixListId"))
        ]
    return cidrs


def sg_openings(stack: Stack) -> list[Opening]:
    """Every security-group rule in the stack: the aws.vpc rule resources, aws.ec2.SecurityGroupRule,
    and the inline rules of security groups and the default security group."""
    out: list[Opening] = []
    for sg in stack.of_type(SG, DEFAULT_SG):
        what = "default security group" if sg.resource_type == DEFAULT_SG else "security group"
        for direction in ("ingress", "egress"):
            for i, e in enumerate(items(get(sg.props, direction))):
                if e is UNKNOWN:
                    continue
                cidrs = items(get(e, "cidrBlocks")) + items(get(e, "ipv6CidrBlocks")) + _prefix_list_cidrs(stack, sg, direction)
                others = items(get(e, "securityGroups")) + items(get(e, "prefixListIds"))
                out.append(Opening(
                    sg, f"{what} {sg.name} inline {direction}[{i}]", direction, "allow", protocol(get(e, "protocol")),
                    number(get(e, "fromPort")), number(get(e, "toPort")), cidrs, sg,
                    peers=[r for r in Stack.fed_by(sg, direction) if r.resource_type in (SG, STACK_REFERENCE)],
                    self_only=get(e, "self") is True and not cidrs and not others,
                ))  # fmt: skip
    for rule in stack.of_type(*RULES):
        cidrs = [c for c in (get(rule.props, "cidrIpv4"), get(rule.props, "cidrIpv6")) if c is not None]
        cidrs += _prefix_list_cidrs(stack, rule, "prefixListId")
        group, peers = _group(rule, "securityGroupId"), Stack.fed_by(rule, "referencedSecurityGroupId")
        gid, pid = get(rule.props, "securityGroupId"), get(rule.props, "referencedSecurityGroupId")
        same = (group is not None and len(peers) == 1 and peers[0].urn == group.urn) or (isinstance(gid, str) and gid == pid)
        out.append(Opening(
            rule, rule.name, "ingress" if rule.resource_type == INGRESS else "egress", "allow", protocol(get(rule.props, "ipProtocol")),
            number(get(rule.props, "fromPort")), number(get(rule.props, "toPort")), cidrs, group, gid, peers, same and not cidrs,
        ))  # fmt: skip
    for rule in stack.of_type(LEGACY_RULE):
        kind_ = get(rule.props, "type")
        cidrs = items(get(rule.props, "cidrBlocks")) + items(get(rule.props, "ipv6CidrBlocks"))
        cidrs += _prefix_list_cidrs(stack, rule, "prefixListIds")
        group, peers = _group(rule, "securityGroupId"), Stack.fed_by(rule, "sourceSecurityGroupId")
        same = get(rule.props, "self") is True or (group is not None and len(peers) == 1 and peers[0].urn == group.urn)
        out.append(Opening(
            rule, rule.name, kind_ if kind_ in ("ingress", "egress") else "unknown", "allow", protocol(get(rule.props, "protocol")),
            number(get(rule.props, "fromPort")), number(get(rule.props, "toPort")), cidrs, group, get(rule.props, "securityGroupId"),
            peers, same and not cidrs,
        ))  # fmt: skip
    return out


def nacl_entries(stack: Stack) -> list[Opening]:
    """Every NACL entry in the stack: NetworkAclRule resources (on any NACL, ours or not) and the
    inline entries of NACLs and the default NACL."""
    out: list[Opening] = []
    for acl in stack.of_type(NACL, DEFAULT_NACL):
        what = "default NACL" if acl.resource_type == DEFAULT_NACL else "NACL"
        for direction in ("ingress", "egress"):
            for i, e in enumerate(items(get(acl.props, direction))):
                if e is UNKNOWN:
                    continue
                out.append(Opening(
                    acl, f"{what} {acl.name} inline {direction}[{i}]", direction, get(e, "action"), protocol(get(e, "protocol")),
                    number(get(e, "fromPort")), number(get(e, "toPort")),
                    [c for c in (get(e, "cidrBlock"), get(e, "ipv6CidrBlock")) if c is not None], acl, rule_number=number(get(e, "ruleNo")),
                ))  # fmt: skip
    for entry in stack.of_type(NACL_RULE):
        egress = get(entry.props, "egress")
        acl = next((r for r in Stack.fed_by(entry, "networkAclId") if r.resource_type in (NACL, DEFAULT_NACL)), None)
        out.append(Opening(
            entry, f"NACL entry {entry.name}", "egress" if egress is True else "unknown" if egress is UNKNOWN else "ingress",
            get(entry.props, "ruleAction"), protocol(get(entry.props, "protocol")), number(get(entry.props, "fromPort")),
            number(get(entry.props, "toPort")), [c for c in (get(entry.props, "cidrBlock"), get(entry.props, "ipv6CidrBlock")) if c is not None],
            acl, get(entry.props, "networkAclId"), rule_number=number(get(entry.props, "ruleNumber")),
        ))  # fmt: skip
    return out


def _load_balancer_groups(stack: Stack) -> set[str]:
    """The security groups attached to a load balancer of the stack (what the group does), unless
    its role tag says it is something else (a tag adds scrutiny, never exempts)."""
    groups = {
        sg.urn: sg for lb in stack.of_type(*LOAD_BALANCERS) for sg in Stack.fed_by(lb, "securityGroups") if sg.resource_type == SG
    }
    return {urn for urn, sg in groups.items() if get(sg.props, "tags", "role") in (None, "load-balancer")}


# --------------------------------------------------------------------------------------------


def _no_world_ingress(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    lb_groups = _load_balancer_groups(stack)
    for o in sg_openings(stack):
        if o.direction != "ingress":
            continue
        for net in o.networks():
            if not world_like(net):
                continue
            port = o.single_port()
            if o.group is not None and o.group.urn in lb_groups and o.protocol == "6" and port in LISTENER_PORTS:
                continue
            role = _role(o.group) if o.group else "unknown"
            report(f"{o.describe()} admits {net} (the internet) into the {role} security group. Only a load balancer's group may admit "
                   f"the world, and only on its listener ports {LISTENER_PORTS}. Fix: admit the networks that need it, or go through "
                   "the load balancer", o.urn)  # fmt: skip


def _no_world_egress(args: StackValidationArgs, report: ReportViolation) -> None:
    for o in sg_openings(Stack(args.resources)):
        if o.direction != "egress" or o.protocol is UNKNOWN:
            continue
        for net in o.networks():
            if world_like(net) and not (o.protocol == "6" and o.single_port() in WORLD_EGRESS_PORTS):
                report(f"{o.describe()} lets its group send to {net} (the internet, and with it every environment's range) beyond "
                       f"TCP {' and '.join(map(str, WORLD_EGRESS_PORTS))}. Fix: send to the networks that need it, one port each", o.urn)  # fmt: skip


def _encapsulation_scoped(args: StackValidationArgs, report: ReportViolation) -> None:
    reg = registry_or_report(args, report)
    if reg is None:
        return
    stack = Stack(args.resources)
    block = reg.management_block
    in_environment = env_of(stack.name, reg) is not None

    def outside(net: Network) -> bool:
        return block is None or net.version != 4 or not net.subnet_of(block)  # type: ignore[arg-type]

    for o in sg_openings(stack):
        if o.protocol not in ENCAPSULATION:
            continue
        what = f"{ENCAPSULATION[o.protocol]} (IP protocol {o.protocol})"
        known = [c for c in o.cidrs if c is not UNKNOWN]
        if known:
            for cidr in known:
                net = network(cidr)
                if net is None or outside(net):
                    report(f"{o.describe()} carries {what} to or from {cidr}. It may only flow between the management VLAN and an "
                           "environment's workers. Fix: reference the management or workers security group", o.urn)  # fmt: skip
            continue
        peer = o.group if o.self_only else (o.peers[0] if o.peers else None)
        if o.group is None or peer is None:
            continue  # a literal group id: nothing to decide it by before the ids exist
        # By where the groups come from, not what they are called: an env stack takes exactly one
        # group from the shared stack, the managers'; the shared stack's own groups are all managers'.
        from_shared = [g.resource_type == STACK_REFERENCE for g in (o.group, peer)]
        # Members of one of the environment's own groups among themselves: the overlay data plane
        # between its application groups (isolation: applicationGroup), as `-1` to itself carried before.
        among_themselves = in_environment and o.self_only and not any(from_shared)
        if not among_themselves and ((sum(from_shared) != 1) if in_environment else any(from_shared)):
            report(f"{o.describe()} carries {what} between {o.group.name} and {peer.name}. It may only flow between the management "
                   "security group and an environment's own groups, or among the members of one of its groups; never between environments. "
                   "Fix: remove the rule", o.urn)  # fmt: skip
    own = env_of(stack.name, reg)
    for e in nacl_entries(stack):
        if e.protocol in ENCAPSULATION and e.action == "allow":
            for net in e.networks():
                within_own = own is not None and net.version == 4 and net.subnet_of(own.cidr)  # type: ignore[arg-type]
                if outside(net) and not within_own:
                    report(f"{e.label} allows {ENCAPSULATION[e.protocol]} (IP protocol {e.protocol}) for {net}, outside the management "
                           f"VLAN {block} and the environment's own range. Fix: allow it only for those", e.urn)  # fmt: skip


def _no_cross_environment(args: StackValidationArgs, report: ReportViolation) -> None:
    found = environment_stack(args, report)
    if found is None:
        return  # not an environment's stack (shared connects environments to management by design)
    stack, reg, env = found
    others = reg.others(env.name)

    def foreign(net: Network) -> list[str]:
        if net.prefixlen == 0:
            return []  # the world itself: the world rules and the NACL's deny-first order decide it
        return [o.name for o in others if overlaps(net, o.cidr)]

    for o in sg_openings(stack):
        for net in o.networks():
            for name in foreign(net):
                report(f"{o.describe()} in the {env.name} stack admits {net}, which holds (part of) environment {name}'s range. "
                       "Fix: environments never reach each other; remove the rule", o.urn)  # fmt: skip
        refs = o.peers + ([o.group] if o.group is not None else [])
        refs += Stack.fed_by(o.carrier, "securityGroupId") if o.carrier.resource_type in (LEGACY_RULE, *RULES) else []
        for ref in {r.urn: r for r in refs}.values():
            target = str(get(ref.props, "name") or "")
            if ref.resource_type == STACK_REFERENCE and target.rsplit("/", 1)[-1] in reg.environments:
                report(f"{o.describe()} in the {env.name} stack takes a security group from stack {target}. Fix: an "
                       "environment may only reference its own groups and the shared management group", o.urn)  # fmt: skip
    for e in nacl_entries(stack):
        if e.action == "allow":
            for net in e.networks():
                for name in foreign(net):
                    report(f"{e.label} in the {env.name} stack allows {net}, which holds (part of) environment {name}'s range. "
                           "Fix: remove it; the NACL must deny other environments", e.urn)  # fmt: skip
    for carrier, label, ids in _literal_group_ids(stack):
        for gid in ids:
            if gid not in reg.management_group_ids | reg.endpoint_security_group_ids:  # the shared stack's, which env stacks hang rules on
                report(f"{label} in the {env.name} stack names security group {gid} by a literal id: it is neither one of this "
                       "stack's groups nor the shared management group or a VPC endpoint's, so it may be another environment's. Fix: reference "
                       "the group by its resource (group.id), or the management group through the shared stack", carrier.urn)  # fmt: skip


def _unvouched(values: list[Any], feeders: list[PolicyResource]) -> list[str]:
    """The literal ids among `values` that no resource of the stack feeding the property can stand
    for: each feeder stands for one value (its id, known or not), never for the rest."""
    literal = [v for v in values if isinstance(v, str)]
    return literal[len(feeders):] if len(literal) > len(feeders) else []


def _literal_group_ids(stack: Stack) -> list[tuple[PolicyResource, str, list[str]]]:
    """(resource, label, ids) for every security group a rule of the stack names by a literal id,
    as the group it is attached to or as its peer."""
    out = []
    groups = (SG, DEFAULT_SG, STACK_REFERENCE)
    for sg in stack.of_type(SG):
        for direction in ("ingress", "egress"):
            peers = [p for e in items(get(sg.props, direction)) if e is not UNKNOWN for p in items(get(e, "securityGroups"))]
            fed = [r for r in Stack.fed_by(sg, direction) if r.resource_type in groups]
            bad = _unvouched(peers, fed)
            if bad:
                out.append((sg, f"security group {sg.name} inline {direction}", bad))
    for rule in stack.of_type(*RULES, LEGACY_RULE):
        for prop in ("securityGroupId", "referencedSecurityGroupId", "sourceSecurityGroupId"):
            fed = [r for r in Stack.fed_by(rule, prop) if r.resource_type in groups]
            bad = _unvouched([get(rule.props, prop)], fed)
            if bad:
                out.append((rule, f"{rule.name}.{prop}", bad))
    return out


def _no_all_protocols(args: StackValidationArgs, report: ReportViolation) -> None:
    for o in sg_openings(Stack(args.resources)):
        if o.protocol != "-1":
            continue
        if o.self_only and o.group is not None:
            continue  # members of one group among themselves, whatever the group is called
        report(f"{o.describe()} allows every protocol. Only a group referencing itself may (its members among themselves). "
               "Fix: list the protocols and ports (the UCP port table has them)", o.urn)  # fmt: skip


def _descriptions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in (SG, *RULES, LEGACY_RULE):
        description = get(args.props, "description")
        if description is UNKNOWN:
            return
        if not description or description == "Managed by Pulumi":
            report(f"{args.name} has no description. Fix: say what it admits and why (auditors and CKV_AWS_23 ask)")


def _uncovered(ranges: list[Network], net: Network) -> list[Network]:
    """`ranges` without `net`: what a deny of `net` leaves of them."""
    out: list[Network] = []
    for r in ranges:
        if r.version != net.version or not r.overlaps(net):  # type: ignore[arg-type]
            out.append(r)
        elif not r.subnet_of(net):  # type: ignore[arg-type]
            out += [p for p in r.address_exclude(net) if not p.subnet_of(net)]  # type: ignore[arg-type]
    return out


def _nacl_isolation(args: StackValidationArgs, report: ReportViolation) -> None:
    found = environment_stack(args, report)
    if found is None:
        return  # not an environment's stack (shared connects environments to management by design)
    stack, reg, env = found
    acls = stack.of_type(NACL)
    if not acls:
        report(
            f"the {env.name} stack has no network ACL. Fix: every environment's subnets sit behind a NACL that denies the others",
            None,
        )
    entries = nacl_entries(stack)
    # Each NACL as AWS evaluates it: its entries by rule number, the first match decides. Entries
    # on a NACL the stack does not define are judged on their own: nothing shows a deny before them.
    tables: dict[str, tuple[str, str | None, list[Opening]]] = {}
    for acl in stack.of_type(NACL, DEFAULT_NACL):
        tables[acl.urn] = (f"NACL {acl.name}", acl.urn, [])
    for e in entries:
        key = e.group.urn if e.group is not None else f"id:{_shown(e.group_id)}"
        tables.setdefault(key, (f"NACL {_shown(e.group_id)} (not defined in this stack)", None, []))[2].append(e)
    _associations(stack, env.name, report)
    for what, urn, table in tables.values():
        owned = urn is not None
        for direction in ("ingress", "egress"):
            way = "outbound" if direction == "egress" else "inbound"
            listed = [e for e in table if e.direction == direction]
            if owned and len(listed) > reg.nacl_quota:
                report(f"{what} has {len(listed)} {way} entries, over the quota of {reg.nacl_quota}. Fix: merge entries", urn)
            ordered = sorted((e for e in listed if e.rule_number is not None), key=lambda e: e.rule_number or 0)
            for other in reg.others(env.name):
                left: list[Network] = [other.cidr]
                for e in ordered:
                    if e.action == "deny" and e.protocol == "-1":
                        for net in e.networks():
                            left = _uncovered(left, net)
                    elif e.action == "allow":
                        for net in e.networks():
                            hit = [r for r in left if overlaps(net, r)]
                            if hit:
                                report(f"{e.label} (rule {e.rule_number}) allows {net} while {', '.join(map(str, hit))} of environment "
                                       f"{other.name} is not yet denied (first match wins). Fix: number a deny of {other.cidr} before "
                                       "every allow", e.urn)  # fmt: skip
                if owned and left:
                    report(f"{what} of {env.name} has no {way} deny for (all of) environment {other.name} ({other.cidr}): "
                           f"{', '.join(map(str, left))} is not denied. Fix: deny it, numbered before every allow", urn)  # fmt: skip


def _associations(stack: Stack, env: str, report: ReportViolation) -> None:
    """A subnet of the stack stays on a NACL of the stack, and the stack's NACLs take no subnet
    that is not its own: a NACL this stack does not define has none of its denies."""
    for assoc in stack.of_type(NACL_ASSOCIATION):
        acls = [r for r in Stack.fed_by(assoc, "networkAclId") if r.resource_type == NACL]
        acl_id = get(assoc.props, "networkAclId")
        if not acls and acl_id is not UNKNOWN:
            report(f"association {assoc.name} of {env} puts a subnet on NACL {acl_id}, which this stack does not define (the default "
                   "NACL, the shared stack's or another environment's): none of this environment's denies guard it there. "
                   "Fix: associate it with this stack's NACL", assoc.urn)  # fmt: skip
        subnets = [r for r in Stack.fed_by(assoc, "subnetId") if r.resource_type == SUBNET]
        subnet_id = get(assoc.props, "subnetId")
        if not subnets and subnet_id is not UNKNOWN:
            report(f"association {assoc.name} of {env} takes subnet {subnet_id}, which this stack does not define, off the NACL that "
                   "guards it. Fix: associate only this stack's subnets", assoc.urn)  # fmt: skip
    for acl in stack.of_type(NACL, DEFAULT_NACL):
        bad = _unvouched(items(get(acl.props, "subnetIds")), [r for r in Stack.fed_by(acl, "subnetIds") if r.resource_type == SUBNET])
        if bad or (acl.resource_type == DEFAULT_NACL and items(get(acl.props, "subnetIds"))):
            report(f"{'default NACL' if acl.resource_type == DEFAULT_NACL else 'NACL'} {acl.name} of {env} takes subnets "
                   f"{', '.join(map(str, bad or items(get(acl.props, 'subnetIds'))))} off the NACL that guards them. "
                   "Fix: associate only this stack's subnets, with this stack's NACL", acl.urn)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Where an environment's instances and network interfaces sit, and which groups they carry.

INSTANCE = "aws:ec2/instance:Instance"
SPOT_INSTANCE = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
ENI = "aws:ec2/networkInterface:NetworkInterface"
ENI_SG_ATTACHMENT = "aws:ec2/networkInterfaceSgAttachment:NetworkInterfaceSgAttachment"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
# (type, subnet properties, security-group properties, address properties)
PLACED = {
    INSTANCE: (("subnetId",), ("vpcSecurityGroupIds", "securityGroups"), ("privateIp", "secondaryPrivateIps")),
    SPOT_INSTANCE: (("subnetId",), ("vpcSecurityGroupIds", "securityGroups"), ("privateIp", "secondaryPrivateIps")),
    ENI: (("subnetId",), ("securityGroups",), ("privateIp", "privateIps", "privateIpLists")),
    ENI_SG_ATTACHMENT: ((), ("securityGroupId",), ()),
    LAUNCH_TEMPLATE: ((), ("vpcSecurityGroupIds", "securityGroupNames"), ()),
    AUTOSCALING_GROUP: (("vpcZoneIdentifiers",), (), ()),
    # an interface endpoint's network interfaces: in the management VLAN, or behind the managers'
    # group, they would take the managers' place in every environment's rules
    VPC_ENDPOINT: (("subnetIds",), ("securityGroupIds",), ()),
}


def _values(value: Any) -> list[Any]:
    return items(value) if items(value) or not isinstance(value, str) else [value]


def _placement(args: StackValidationArgs, report: ReportViolation) -> None:
    found = environment_stack(args, report)
    if found is None:
        return  # the shared stack places the managers
    stack, reg, env = found
    mgmt = reg.management_block
    for r in stack.of_type(*PLACED):
        subnet_props, group_props, address_props = PLACED[r.resource_type]
        what = f"{r.resource_type.rsplit(':', 1)[-1]} {r.name} of {env.name}"
        for prop in subnet_props:
            fed = Stack.fed_by(r, prop)
            if any(f.resource_type == STACK_REFERENCE for f in fed):
                report(f"{what} takes its subnet ({prop}) from the shared stack: the management VLAN or the edge, where the managers "
                       f"and the load balancers are. Fix: place it in one of {env.name}'s subnets", r.urn)  # fmt: skip
                continue
            for sid in _unvouched(_values(get(r.props, prop)), [f for f in fed if f.resource_type == SUBNET]):
                where = "a shared subnet (the management VLAN or the edge)" if sid in reg.shared_subnet_ids else "not one of this stack's subnets"
                report(f"{what} is placed in subnet {sid} ({where}). Fix: place it in one of {env.name}'s subnets, by resource", r.urn)
        for prop in group_props:
            fed = Stack.fed_by(r, prop)
            if any(f.resource_type == STACK_REFERENCE for f in fed):
                report(f"{what} takes a security group ({prop}) from the shared stack: the managers' group, which every environment's "
                       f"workers admit. Fix: give it {env.name}'s own groups", r.urn)  # fmt: skip
                continue
            for gid in _unvouched(_values(get(r.props, prop)), [f for f in fed if f.resource_type == SG]):
                whose = "the managers' security group" if gid in reg.management_group_ids else "a group this stack does not define"
                report(f"{what} carries security group {gid} ({whose}). Fix: give it {env.name}'s own groups, by resource", r.urn)
        for prop in address_props:
            for value in _values(get(r.props, prop)):
                net = network(value)
                if net is None:
                    continue
                if mgmt is not None and overlaps(net, mgmt):
                    report(f"{what} takes address {value} ({prop}) in the management VLAN {mgmt}. Fix: an address of {env.cidr}", r.urn)
                for other in reg.others(env.name):
                    if overlaps(net, other.cidr):
                        report(f"{what} takes address {value} ({prop}) in environment {other.name}'s range {other.cidr}. "
                               f"Fix: an address of {env.cidr}", r.urn)  # fmt: skip
        if r.resource_type == LAUNCH_TEMPLATE:
            for i, nic in enumerate(items(get(r.props, "networkInterfaces"))):
                for sid in (get(nic, "subnetId"),) if nic is not UNKNOWN else ():
                    if isinstance(sid, str) and not any(f.resource_type == SUBNET for f in Stack.fed_by(r, "networkInterfaces")):
                        report(f"{what}.networkInterfaces[{i}] is placed in subnet {sid}, not one of this stack's. "
                               f"Fix: place it in one of {env.name}'s subnets, by resource", r.urn)  # fmt: skip


# What crosses between the application groups of one environment without a declared flow: the
# overlay data plane (VXLAN, gossip; IP-in-IP and ESP) of the overlay networks they share.
OVERLAY_DATA_PLANE = {("17", 4789), ("6", 7946), ("17", 7946)}
# The nodes' ephemeral ranges, Linux's 32768-60999 and Windows' 49152-65535 (AWS's NACL guidance):
# NACL return traffic, no platform port in it
NODE_EPHEMERAL = (32768, 65535)
NACL_ASSOCIATION = "aws:ec2/networkAclAssociation:NetworkAclAssociation"


def _overlay(proto: Any, lo: int, hi: int) -> bool:
    return proto in ENCAPSULATION or (lo == hi and (proto, lo) in OVERLAY_DATA_PLANE)


def _port_span(o: Opening) -> tuple[int, int] | None:
    """The ports an opening covers; None when not known yet."""
    if o.protocol == "-1" or o.protocol in ENCAPSULATION:
        return (0, 65535)
    if o.from_port is None or o.to_port is None:
        return None
    return (o.from_port, o.to_port)


def _sg_side(sg: PolicyResource | None, layout: GroupLayout, lb_groups: set[str]) -> str | set[str]:
    """Which application groups a security group stands for: "management" (the shared stack's),
    "lb" (attached to a load balancer), its group (by its application-group tag), or every group
    (an untagged group of the stack may sit on any worker, so it counts for all of them)."""
    if sg is None:
        return set(layout.groups)  # a group this stack does not define (a literal id) may sit on any worker
    if sg.resource_type == STACK_REFERENCE:
        return "management"
    if sg.urn in lb_groups:
        return "lb"
    tag = get(sg.props, "tags", "application-group")
    return {tag} if isinstance(tag, str) and tag in layout.groups else set(layout.groups)


def _group_flows_declared(args: StackValidationArgs, report: ReportViolation) -> None:
    found = environment_stack(args, report)
    if found is None:
        return
    stack, reg, env = found
    layout = reg.group_layouts.get(env.name)
    if layout is None:
        return  # isolation: environment; every group of it reaches every other by design
    lb_groups = _load_balancer_groups(stack)
    proxy_ports = set(proxy_targets(reg, env).values())

    def undeclared(srcs: set[str], dsts: set[str], proto: Any, lo: int, hi: int, nacl: bool) -> list[tuple[str, str]]:
        if _overlay(proto, lo, hi):
            return []
        if nacl and proto in ("6", "17") and NODE_EPHEMERAL[0] <= lo and hi <= NODE_EPHEMERAL[1]:
            return []  # stateless return traffic; the security groups decide who may open a connection
        return [(a, b) for a in sorted(srcs) for b in sorted(dsts) if a != b and not layout.declared(a, b, proto, lo, hi)]

    def explain(what: str, pairs: list[tuple[str, str]], urn: str) -> None:
        shown = ", ".join(f"{a} -> {b}" for a, b in pairs[:6]) + (f" and {len(pairs) - 6} more" if len(pairs) > 6 else "")
        report(f"{what} opens {shown} between application groups of {env.name}, which its config does not declare. Fix: remove it, "
               "or declare the flow in applicationGroups[].allowFrom (group, ports, protocol)", urn)  # fmt: skip

    for o in sg_openings(stack):
        span = _port_span(o)
        if span is None or o.protocol is UNKNOWN or o.direction not in ("ingress", "egress"):
            continue
        if o.group is None and (
            o.group_id is UNKNOWN or not isinstance(o.group_id, str) or o.group_id == reg.management_security_group_id
            or o.group_id in reg.endpoint_security_group_ids
        ):  # fmt: skip
            continue  # the managers' group or a VPC endpoint's (their ids from the shared stack), or one not known yet
        mine = _sg_side(o.group, layout, lb_groups)
        if mine == "management":
            continue
        peer_sg = o.group if o.self_only else (o.peers[0] if len(o.peers) == 1 else None)
        peers: list[str | set[str]] = [] if peer_sg is None else [_sg_side(peer_sg, layout, lb_groups)]
        peers += [layout.groups_in(net) for net in o.networks() if not world_like(net)]
        for other in peers:
            if other == "management" or not other:
                continue
            if "lb" in (mine, other):
                served = other if mine == "lb" else mine
                if served == "lb" or not isinstance(served, set):
                    continue
                bad = sorted(served - layout.ingress_groups)
                if bad or o.protocol != "6" or not (span[0] == span[1] and span[0] in proxy_ports):
                    report(f"{o.describe()} connects the load balancer with application group(s) {', '.join(sorted(served))}. It may "
                           f"reach only the ingress group(s) {', '.join(sorted(layout.ingress_groups)) or '(none)'} on TCP "
                           f"{' and '.join(map(str, sorted(proxy_ports)))}. Fix: remove it", o.urn)  # fmt: skip
                continue
            if not isinstance(mine, set) or not isinstance(other, set):
                continue
            if o.self_only and len(mine) == 1:
                continue  # one group's members among themselves
            srcs, dsts = (other, mine) if o.direction == "ingress" else (mine, other)
            pairs = undeclared(srcs, dsts, o.protocol, *span, nacl=False)
            if pairs:
                explain(o.describe(), pairs, o.urn)

    # NACLs: the groups a NACL guards are those of the subnets it is associated with (what it
    # does, not what it is called); its entries are read in rule order, after the denies before them.
    subnets = {sn.urn: network(get(sn.props, "cidrBlock")) for sn in stack.of_type(SUBNET)}
    guards: dict[str, set[str]] = {}
    for assoc in stack.of_type(NACL_ASSOCIATION):
        for acl in Stack.fed_by(assoc, "networkAclId"):
            for sn in Stack.fed_by(assoc, "subnetId"):
                net = subnets.get(sn.urn)
                if net is not None:
                    guards.setdefault(acl.urn, set()).update(layout.groups_in(net))
    tables: dict[str, list[Opening]] = {}
    for e in nacl_entries(stack):
        tables.setdefault(e.group.urn if e.group is not None else f"id:{_shown(e.group_id)}:{e.urn}", []).append(e)
    for acl_urn, entries in tables.items():
        # a NACL associated with no subnet of the stack (a literal id, or one not yet associated)
        # may guard any of them: it counts for every group
        guarded = guards.get(acl_urn) or set(layout.groups)
        table = sorted((e for e in entries if e.rule_number is not None), key=lambda e: (e.direction, e.rule_number or 0))
        for direction in ("ingress", "egress"):
            denied: list[Network] = []
            for e in (e for e in table if e.direction == direction):
                if e.action == "deny" and e.protocol == "-1":
                    denied += e.networks()
                    continue
                span = _port_span(e)
                if e.action != "allow" or span is None or e.protocol is UNKNOWN:
                    continue
                for net in e.networks():
                    left = [net]
                    for d in denied:
                        left = _uncovered(left, d)
                    others = set().union(*(layout.groups_in(n) for n in left)) if left else set()
                    srcs, dsts = (others, guarded) if direction == "ingress" else (guarded, others)
                    pairs = undeclared(srcs, dsts, e.protocol, *span, nacl=True)
                    if pairs:
                        explain(f"{e.describe()} (rule {e.rule_number}, for {net})", pairs, e.urn)


def _listener_groups(listener: PolicyResource) -> list[PolicyResource]:
    return [r for r in Stack.fed_by(listener, "defaultActions") if r.resource_type in TARGET_GROUPS]


def proxy_targets(reg: Any, env: Any) -> dict[int, int]:
    """Where an environment's load balancer forwards 443 and 80: its Interlock proxy ports (the
    registry's), or its Gateway's NodePorts once its config gives the Gateway the load balancer."""
    return dict(reg.owns(env.name).load_balancer_targets or {443: env.https_port, 80: env.http_port})


def _lb_ports(args: StackValidationArgs, report: ReportViolation) -> None:
    found = environment_stack(args, report)
    if found is None:
        return  # not an environment's stack (shared connects environments to management by design)
    stack, reg, env = found
    expected = proxy_targets(reg, env)
    target_kind = "Gateway NodePort" if reg.owns(env.name).load_balancer_targets else "Interlock port"
    for listener in stack.of_type(*LISTENERS):
        port = number(get(listener.props, "port"))
        if get(listener.props, "port") is UNKNOWN:
            continue
        if port not in expected:
            report(
                f"listener {listener.name} of {env.name} listens on {port}; the environment's load balancer has 443 and 80 only. Fix: remove it",
                listener.urn,
            )
            continue
        for tg in _listener_groups(listener):
            if get(tg.props, "port") is not UNKNOWN and number(get(tg.props, "port")) != expected[port]:
                report(f"listener {listener.name} forwards {port} to target port {number(get(tg.props, 'port'))}, but {env.name}'s "
                       f"{'HTTPS' if port == 443 else 'HTTP'} {target_kind} is {expected[port]}. Fix: forward {port} to {expected[port]}", listener.urn)  # fmt: skip
    own_ports = set(expected.values())
    others = {p: o.name for o in reg.others(env.name) for p in (o.http_port, o.https_port)}
    for tg in stack.of_type(*TARGET_GROUPS):
        port = number(get(tg.props, "port"))
        if port is not None and port not in own_ports:
            whose = f", environment {others[port]}'s Interlock port" if port in others else ""
            report(f"target group {tg.name} of {env.name} sends to port {port}{whose}; the environment's load balancer reaches only its "
                   f"proxies on {sorted(own_ports)}. Fix: target {expected[443]} or {expected[80]}", tg.urn)  # fmt: skip
    nodes = {i for n in stack.of_type(NODE_LABELS) for i in items(get(n.props, "instanceIds")) if i is not UNKNOWN}
    for attachment in stack.of_type(*ATTACHMENTS):
        target = get(attachment.props, "targetId")
        if target is UNKNOWN:
            continue
        if target not in nodes:
            report(f"{attachment.name} targets {target}, which is not one of {env.name}'s ingress nodes ({', '.join(sorted(nodes)) or 'none labelled'}). "
                   "Fix: target only the nodes that run this environment's proxies", attachment.urn)  # fmt: skip
        tg = next((r for r in Stack.fed_by(attachment, "targetGroupArn") if r.resource_type in TARGET_GROUPS), None)
        port = get(attachment.props, "port")
        if (
            tg is not None
            and port is not UNKNOWN
            and get(tg.props, "port") is not UNKNOWN
            and number(port) not in (None, number(get(tg.props, "port")))
        ):
            report(
                f"{attachment.name} sends to port {number(port)}, not its target group's {number(get(tg.props, 'port'))}. Fix: leave the port to the target group",
                attachment.urn,
            )


def _vpc_baseline(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    for vpc in stack.of_type("aws:ec2/vpc:Vpc"):

        def on_vpc(type_: str, vpc: PolicyResource = vpc) -> list[PolicyResource]:
            return [r for r in stack.of_type(type_) if any(d.urn == vpc.urn for d in Stack.fed_by(r, "vpcId"))]

        logs = [f for f in on_vpc("aws:ec2/flowLog:FlowLog") if get(f.props, "trafficType") in ("ALL", UNKNOWN)]
        if not logs:
            report(
                f"VPC {vpc.name} has no flow log of ALL traffic. Fix: add an aws.ec2.FlowLog with traffic_type ALL (CKV2_AWS_11)",
                vpc.urn,
            )
        if not on_vpc(DEFAULT_SG):
            report(f"VPC {vpc.name}'s default security group is not locked to no rules. Fix: adopt it with aws.ec2.DefaultSecurityGroup "
                   "and empty ingress and egress (CKV2_AWS_12)", vpc.urn)  # fmt: skip
    for default in stack.of_type(DEFAULT_SG):  # whichever VPC it adopts, this stack's or another's
        if items(get(default.props, "ingress")) or items(get(default.props, "egress")):
            report(f"default security group {default.name} has rules; anything launched without a group would get them. "
                   "Fix: ingress=[] and egress=[] (CKV2_AWS_12)", default.urn)  # fmt: skip


def _subnets(args: StackValidationArgs, report: ReportViolation) -> None:
    reg = registry_or_report(args, report)
    if reg is None:
        return
    stack = Stack(args.resources)
    env = env_of(stack.name, reg)
    platform = [(e.name, e.cidr) for e in reg.environments.values()] + [("management", c) for c in reg.management_cidrs]
    for subnet in stack.of_type(SUBNET):
        net = network(get(subnet.props, "cidrBlock"))
        inside = [name for name, cidr in platform if overlaps(net, cidr)]
        tier = get(subnet.props, "tags", "tier")
        if inside or tier in ("management", "application"):  # a VLAN by its range; its tier tag only adds scrutiny
            where = f"in {', '.join(inside)}'s range" if inside else f"tagged tier={tier}"
            for prop, what in (
                ("mapPublicIpOnLaunch", "public IPv4 addresses"),
                ("assignIpv6AddressOnCreation", "IPv6 addresses, which are public"),
            ):
                if get(subnet.props, prop) is True:
                    report(f"subnet {subnet.name} ({net or 'unknown range'}, {where}) gives its instances {what}. "
                           f"Fix: {prop}=False; only the load balancers' edge subnets face the internet (CKV_AWS_130)", subnet.urn)  # fmt: skip
        if env is not None and net is not None:
            for name, cidr in platform:
                if name != env.name and overlaps(net, cidr):
                    report(f"subnet {subnet.name} of {env.name} ({net}) lies in {name}'s range {cidr}, whose rules trust that range. "
                           f"Fix: carve {env.name}'s subnets out of {env.cidr}", subnet.urn)  # fmt: skip


def _vpc_endpoints(args: StackValidationArgs, report: ReportViolation) -> None:
    """An environment's stack may give itself a VPC endpoint, never one that serves another
    environment: an interface endpoint with private DNS answers the service's name for the whole VPC
    (every environment's calls would cross this stack's endpoint and its group), and a gateway
    endpoint re-routes the subnets of whatever route tables it names."""
    found = environment_stack(args, report)
    if found is None:
        return  # the shared stack owns the VPC and with it the endpoints every environment shares
    stack, _, env = found
    for ep in stack.of_type(VPC_ENDPOINT):
        if get(ep.props, "privateDnsEnabled") is True:
            report(f"VPC endpoint {ep.name} in the {env.name} stack has private DNS on, so it answers "
                   f"{_shown(get(ep.props, 'serviceName'))} for every environment in the VPC. Fix: list the service in the shared "
                   "stack's vpcEndpoints (it owns the VPC's endpoints), or turn private DNS off", ep.urn)  # fmt: skip
        tables = items(get(ep.props, "routeTableIds"))
        own = [r for r in Stack.fed_by(ep, "routeTableIds") if r.resource_type == ROUTE_TABLE]
        foreign = [r for r in Stack.fed_by(ep, "routeTableIds") if r.resource_type != ROUTE_TABLE]
        if tables and (foreign or len(own) < len([t for t in tables if t is not UNKNOWN])):
            report(f"VPC endpoint {ep.name} in the {env.name} stack routes through route tables this stack does not own "
                   f"({', '.join(map(_shown, tables))}): it would re-route another environment's or the managers' subnets. "
                   "Fix: attach only the route tables of this stack's own subnets", ep.urn)  # fmt: skip


def _tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TAGGED:
        return
    tags = get(args.props, "tags")
    if tags is UNKNOWN:
        return
    missing = [k for k in ("environment", "managed-by") if not get(tags or {}, k)]
    if missing:
        report(f"{args.name} lacks the tags {', '.join(missing)}. Fix: tag every AWS resource with its environment and its owner")


def _stack(
    name: str, description: str, validate: Callable[[StackValidationArgs, ReportViolation], None], config: bool = False
) -> StackValidationPolicy:
    return StackValidationPolicy(
        name=name, description=description, validate=validate, config_schema=REGISTRY_SCHEMA if config else None
    )


POLICIES = [
    _stack("sg-no-world-ingress", "No security group rule admits 0.0.0.0/0 or ::/0, except the load balancer's on its listener ports.", _no_world_ingress),
    _stack("sg-encapsulation-scoped", "IP protocols 4 and 50 flow only between the management VLAN or security group and one environment's own groups, or among one group's members.", _encapsulation_scoped, True),
    _stack("sg-no-cross-environment", "Nothing in an environment's stack admits another environment's CIDR or security groups.", _no_cross_environment, True),
    _stack("sg-no-world-egress", "No security group rule sends to 0.0.0.0/0, ::/0 or as wide a range, except on TCP 80 and 443.", _no_world_egress),
    _stack("sg-no-all-protocols", "No all-protocols (-1) rule, except a security group referencing itself.", _no_all_protocols),
    ResourceValidationPolicy(name="sg-descriptions", description="Every security group and rule says what it is for.", validate=_descriptions,
                             enforcement_level=EnforcementLevel.ADVISORY),
    _stack("nacl-environment-isolation", "An environment's NACL denies every other environment first and stays within the quota; "
           "its subnets stay on its own NACLs.", _nacl_isolation, True),
    _stack("group-flows-declared", "With isolation: applicationGroup, nothing opens a port between two application groups that the "
           "config does not declare, beyond the overlay data plane; the load balancer reaches only the ingress group.", _group_flows_declared, True),
    _stack("lb-ports-match-service-cluster", "443 forwards to the environment's HTTPS proxy port, 80 to its HTTP port (its Gateway's NodePorts once it has the load balancer), to its ingress nodes only.", _lb_ports, True),
    _stack("vpc-baseline", "Flow logs on, the default security group empty.", _vpc_baseline),
    _stack("vpc-endpoints-scoped", "An environment's VPC endpoints serve it alone: no private DNS (which answers for the whole VPC), "
           "only its own route tables.", _vpc_endpoints, True),
    _stack("instances-in-environment", "An environment's instances, network interfaces, launch templates, autoscaling groups and VPC endpoints "
           "sit in its own subnets and addresses and carry its own security groups, never the management VLAN's or the managers'.",
           _placement, True),
    _stack("subnet-no-public-addresses", "No subnet in an environment's or the management range hands out public IPv4 or IPv6 "
           "addresses; an environment's subnets stay out of the others' ranges.", _subnets, True),
    ResourceValidationPolicy(name="tags-present", description="AWS resources carry the environment and managed-by tags.", validate=_tags,
                             enforcement_level=EnforcementLevel.ADVISORY),
]  # fmt: skip
