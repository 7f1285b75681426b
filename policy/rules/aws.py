"""AWS isolation rules: security groups, NACLs, the load balancer, the VPC baseline, tags."""

from __future__ import annotations

from collections.abc import Callable

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
    NOT_CONFIGURED,
    REGISTRY_SCHEMA,
    STACK_REFERENCE,
    UNKNOWN,
    WORLD,
    Registry,
    Stack,
    environment_stack,
    get,
    network,
    number,
    registry,
)

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RULES = (INGRESS, EGRESS)
NACL = "aws:ec2/networkAcl:NetworkAcl"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
NODE_LABELS = "pulumi-python:dynamic/swarm:NodeLabels"
TAGGED = {
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", SG, INGRESS, EGRESS, NACL,
    "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/flowLog:FlowLog",
    "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role", "aws:lb/loadBalancer:LoadBalancer", TARGET_GROUP, LISTENER,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
}  # fmt: skip
ENCAPSULATION = {"4": "IP-in-IP", "50": "ESP"}
LISTENER_PORTS = (80, 443)


def _role(sg: PolicyResource) -> str:
    """What a security group is for: our `role` tag; a group from the shared stack (through a
    StackReference) is the management group, the only one env stacks take from it."""
    if sg.resource_type == STACK_REFERENCE:
        return "management"
    role = get(sg.props, "tags", "role")
    return role if isinstance(role, str) else sg.name


def _group(rule: PolicyResource, prop: str) -> PolicyResource | None:
    fed = Stack.fed_by(rule, prop)
    return fed[0] if fed else None


def _describe(rule: PolicyResource) -> str:
    p = rule.props
    proto = get(p, "ipProtocol")
    ports = "all ports" if proto == "-1" else f"{number(get(p, 'fromPort'))}-{number(get(p, 'toPort'))}"
    return f"{rule.name} ({'ingress' if rule.resource_type == INGRESS else 'egress'}, protocol {proto}, {ports})"


def _registry_or_report(args: StackValidationArgs, report: ReportViolation) -> Registry | None:
    reg = registry(args.get_config())
    if reg is None:
        report(NOT_CONFIGURED, None)
    return reg


# --------------------------------------------------------------------------------------------


def _no_world_ingress(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    for rule in stack.of_type(INGRESS):
        cidr = get(rule.props, "cidrIpv4") or get(rule.props, "cidrIpv6")
        if cidr not in WORLD:
            continue
        sg = _group(rule, "securityGroupId")
        role = _role(sg) if sg else "unknown"
        port = number(get(rule.props, "fromPort"))
        if role == "load-balancer" and port in LISTENER_PORTS and port == number(get(rule.props, "toPort")):
            continue
        report(f"{_describe(rule)} admits {cidr} into the {role} security group. Only the load balancer's group may admit the world, "
               f"and only on its listener ports {LISTENER_PORTS}. Fix: admit the networks that need it, or go through the load balancer", rule.urn)  # fmt: skip
    for sg in stack.of_type(SG):  # inline rules, which this project does not use
        for inline in get(sg.props, "ingress") or []:
            if any(c in WORLD for c in (get(inline, "cidrBlocks") or []) + (get(inline, "ipv6CidrBlocks") or [])):
                report(
                    f"security group {sg.name} has an inline ingress rule from the world. Fix: use aws.vpc.SecurityGroupIngressRule from known networks",
                    sg.urn,
                )


def _encapsulation_scoped(args: StackValidationArgs, report: ReportViolation) -> None:
    reg = _registry_or_report(args, report)
    if reg is None:
        return
    stack = Stack(args.resources)
    block = reg.management_block
    allowed_pairs = {frozenset({"management", "workers"}), frozenset({"management-peers"})}
    for rule in stack.of_type(*RULES):
        proto = get(rule.props, "ipProtocol")
        if proto not in ENCAPSULATION:
            continue
        what = f"{ENCAPSULATION[proto]} (IP protocol {proto})"
        cidr = get(rule.props, "cidrIpv4") or get(rule.props, "cidrIpv6")
        if cidr not in (None, UNKNOWN):
            net = network(cidr)
            if cidr in WORLD or net is None or block is None or not (net.version == 4 and net.subnet_of(block)):  # type: ignore[arg-type]
                report(f"{_describe(rule)} carries {what} to or from {cidr}. It may only flow between the management VLAN and an "
                       "environment's workers. Fix: reference the management or workers security group", rule.urn)  # fmt: skip
            continue
        sg, peer = _group(rule, "securityGroupId"), _group(rule, "referencedSecurityGroupId")
        if sg is None or peer is None:
            continue  # a literal group id: nothing to decide it by before the ids exist
        pair = frozenset({_role(sg), _role(peer)})
        if pair not in allowed_pairs:
            report(f"{_describe(rule)} carries {what} between {_role(sg)} and {_role(peer)}. It may only flow between the management "
                   "security group and an environment's workers, never between environments. Fix: remove the rule", rule.urn)  # fmt: skip
    for entry in stack.of_type(NACL_RULE):
        proto = get(entry.props, "protocol")
        if proto in ENCAPSULATION and get(entry.props, "ruleAction") == "allow":
            net = network(get(entry.props, "cidrBlock"))
            if net is not None and (block is None or net.version != 4 or not net.subnet_of(block)):  # type: ignore[arg-type]
                report(f"NACL entry {entry.name} allows {ENCAPSULATION[proto]} (IP protocol {proto}) for {net}, outside the management "
                       f"VLAN {block}. Fix: allow it only for the management VLAN", entry.urn)  # fmt: skip


def _no_cross_environment(args: StackValidationArgs, report: ReportViolation) -> None:
    found = environment_stack(args, report)
    if found is None:
        return  # not an environment's stack (shared connects environments to management by design)
    stack, reg, env = found
    others = reg.others(env.name)

    def foreign(value: object) -> list[str]:
        net = network(value)
        if net is None or net.prefixlen == 0 or net.version != 4:
            return []
        return [o.name for o in others if net.overlaps(o.cidr)]  # type: ignore[arg-type]

    for rule in stack.of_type(*RULES):
        for name in foreign(get(rule.props, "cidrIpv4")):
            report(f"{_describe(rule)} in the {env.name} stack admits {get(rule.props, 'cidrIpv4')}, which is environment {name}'s. "
                   "Fix: environments never reach each other; remove the rule", rule.urn)  # fmt: skip
        for prop in ("securityGroupId", "referencedSecurityGroupId"):
            for ref in Stack.fed_by(rule, prop):
                target = str(get(ref.props, "name") or "")
                if ref.resource_type == STACK_REFERENCE and target.rsplit("/", 1)[-1] in reg.environments:
                    report(f"{_describe(rule)} in the {env.name} stack takes a security group from stack {target}. Fix: an "
                           "environment may only reference its own groups and the shared management group", rule.urn)  # fmt: skip
    for entry in stack.of_type(NACL_RULE):
        if get(entry.props, "ruleAction") == "allow":
            for name in foreign(get(entry.props, "cidrBlock")):
                report(f"NACL entry {entry.name} in the {env.name} stack allows {get(entry.props, 'cidrBlock')}, environment {name}'s. "
                       "Fix: remove it; the NACL must deny other environments", entry.urn)  # fmt: skip
    for sg in stack.of_type(SG):
        for inline in (get(sg.props, "ingress") or []) + (get(sg.props, "egress") or []):
            for cidr in get(inline, "cidrBlocks") or []:
                for name in foreign(cidr):
                    report(
                        f"security group {sg.name} has an inline rule for {cidr}, environment {name}'s. Fix: remove it", sg.urn
                    )


def _no_all_protocols(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    for rule in stack.of_type(*RULES):
        if get(rule.props, "ipProtocol") not in ("-1", "all"):
            continue
        sg, peer = _group(rule, "securityGroupId"), _group(rule, "referencedSecurityGroupId")
        if sg is not None and peer is not None and sg.urn == peer.urn and _role(sg) == "workers":
            continue
        report(f"{_describe(rule)} allows every protocol. Only a workers group referencing itself may. "
               "Fix: list the protocols and ports (the UCP port table has them)", rule.urn)  # fmt: skip


def _descriptions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in (SG, *RULES):
        description = get(args.props, "description")
        if description is UNKNOWN:
            return
        if not description or description == "Managed by Pulumi":
            report(f"{args.name} has no description. Fix: say what it admits and why (auditors and CKV_AWS_23 ask)")


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
    for acl in acls:
        entries = [e for e in stack.of_type(NACL_RULE) if any(r.urn == acl.urn for r in Stack.fed_by(e, "networkAclId"))]
        for egress in (False, True):
            direction = [e for e in entries if bool(get(e.props, "egress")) == egress]
            way = "outbound" if egress else "inbound"
            if len(direction) > reg.nacl_quota:
                report(
                    f"NACL {acl.name} has {len(direction)} {way} entries, over the quota of {reg.nacl_quota}. Fix: merge entries",
                    acl.urn,
                )
            for other in reg.others(env.name):
                denies = [
                    number(get(e.props, "ruleNumber")) or 0
                    for e in direction
                    if get(e.props, "ruleAction") == "deny"
                    and get(e.props, "protocol") in ("-1", "all")
                    and (n := network(get(e.props, "cidrBlock"))) is not None
                    and n.version == 4
                    and other.cidr.subnet_of(n)
                ]  # type: ignore[arg-type]
                if not denies:
                    report(f"NACL {acl.name} of {env.name} has no {way} deny for environment {other.name} ({other.cidr}). "
                           "Fix: deny it, numbered before every allow", acl.urn)  # fmt: skip
                    continue
                first_deny = min(denies)
                for e in direction:
                    n = network(get(e.props, "cidrBlock"))
                    number_ = number(get(e.props, "ruleNumber")) or 0
                    if (
                        get(e.props, "ruleAction") == "allow"
                        and n is not None
                        and n.version == 4
                        and n.overlaps(other.cidr)
                        and number_ < first_deny
                    ):  # type: ignore[arg-type]
                        report(f"NACL entry {e.name} (rule {number_}) allows {n} before the deny of {other.name} (rule {first_deny}). "
                               "Fix: number the denies first", e.urn)  # fmt: skip


def _lb_ports(args: StackValidationArgs, report: ReportViolation) -> None:
    found = environment_stack(args, report)
    if found is None:
        return  # not an environment's stack (shared connects environments to management by design)
    stack, _, env = found
    expected = {443: env.https_port, 80: env.http_port}
    for listener in stack.of_type(LISTENER):
        port = number(get(listener.props, "port"))
        groups = [r for r in Stack.fed_by(listener, "defaultActions") if r.resource_type == TARGET_GROUP]
        if port not in expected:
            report(
                f"listener {listener.name} of {env.name} listens on {port}; the environment's load balancer has 443 and 80 only. Fix: remove it",
                listener.urn,
            )
            continue
        for tg in groups:
            if number(get(tg.props, "port")) != expected[port]:
                report(f"listener {listener.name} forwards {port} to target port {number(get(tg.props, 'port'))}, but {env.name}'s Interlock "
                       f"{'HTTPS' if port == 443 else 'HTTP'} port is {expected[port]}. Fix: forward {port} to {expected[port]}", listener.urn)  # fmt: skip
    nodes = {i for n in stack.of_type(NODE_LABELS) for i in (get(n.props, "instanceIds") or []) if i is not UNKNOWN}
    for attachment in stack.of_type(ATTACHMENT):
        target = get(attachment.props, "targetId")
        if target is UNKNOWN:
            continue
        if target not in nodes:
            report(f"{attachment.name} targets {target}, which is not one of {env.name}'s ingress nodes ({', '.join(sorted(nodes)) or 'none labelled'}). "
                   "Fix: target only the nodes that run this environment's proxies", attachment.urn)  # fmt: skip
        tg = next((r for r in Stack.fed_by(attachment, "targetGroupArn") if r.resource_type == TARGET_GROUP), None)
        if tg is not None and number(get(attachment.props, "port")) not in (None, number(get(tg.props, "port"))):
            report(
                f"{attachment.name} sends to port {number(get(attachment.props, 'port'))}, not its target group's {number(get(tg.props, 'port'))}",
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
        defaults = on_vpc("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
        if not defaults or any(get(d.props, "ingress") or get(d.props, "egress") for d in defaults):
            report(f"VPC {vpc.name}'s default security group is not locked to no rules. Fix: adopt it with aws.ec2.DefaultSecurityGroup "
                   "and empty ingress and egress (CKV2_AWS_12)", vpc.urn)  # fmt: skip
    for subnet in stack.of_type("aws:ec2/subnet:Subnet"):
        if (
            get(subnet.props, "tags", "tier") in ("management", "application")
            and get(subnet.props, "mapPublicIpOnLaunch") is True
        ):
            report(
                f"VLAN subnet {subnet.name} gives its instances public IPs. Fix: map_public_ip_on_launch=False (CKV_AWS_130)",
                subnet.urn,
            )


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
    _stack("sg-encapsulation-scoped", "IP protocols 4 and 50 flow only between the management VLAN and an environment's workers.", _encapsulation_scoped, True),
    _stack("sg-no-cross-environment", "Nothing in an environment's stack admits another environment's CIDR or security groups.", _no_cross_environment, True),
    _stack("sg-no-all-protocols", "No all-protocols (-1) rule, except a workers security group referencing itself.", _no_all_protocols),
    ResourceValidationPolicy(name="sg-descriptions", description="Every security group and rule says what it is for.", validate=_descriptions,
                             enforcement_level=EnforcementLevel.ADVISORY),
    _stack("nacl-environment-isolation", "An environment's NACL denies every other environment first and stays within the quota.", _nacl_isolation, True),
    _stack("lb-ports-match-service-cluster", "443 forwards to the environment's HTTPS proxy port, 80 to its HTTP port, to its ingress nodes only.", _lb_ports, True),
    _stack("vpc-baseline", "Flow logs on, the default security group empty, VLAN subnets without public IPs.", _vpc_baseline),
    ResourceValidationPolicy(name="tags-present", description="AWS resources carry the environment and managed-by tags.", validate=_tags,
                             enforcement_level=EnforcementLevel.ADVISORY),
]  # fmt: skip
