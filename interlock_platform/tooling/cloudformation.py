"""Every AWS resource a stack registers, as its CloudFormation equivalent: the template that
cfn-lint, Checkov and cfn-guard (AWS Control Tower's proactive rules) read. Those tools cannot
read a Pulumi program; security teams already keep their guardrails in them.

The rendering is one resource per registration, named by a logical id made from the Pulumi name
and carrying the URN in its Metadata, so every finding leads back to the program. References
between resources (the mock runtime's `<name>-id` ids and ARNs) become `Ref`, `Fn::GetAtt` or
`Fn::Sub`; ids that another stack owns (the shared VPC, subnets and management security group,
read by StackReference) become typed Parameters.

A registered type with no CloudFormation resource of its own is either folded into one
(`aws:lb/targetGroupAttachment` -> the target group's `Targets`) or has none at all
(`aws:ec2/defaultSecurityGroup`: CloudFormation cannot manage a VPC's default group), and is
listed in the template's Metadata with the reason. A type in neither table stops the rendering
(`UnrenderedType`); a test holds every type the program registers to be covered.

Suppressions of scanner findings live in one file, scanners/suppressions.yaml, each with its
reason; they are written into the Metadata where cfn-lint and Checkov read them.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from interlock_platform.tooling.mock_runtime import Registration
from interlock_platform.tooling.stack_files import ROOT

SUPPRESSIONS = ROOT / "scanners" / "suppressions.yaml"
Resource = dict[str, Any]


class UnrenderedType(Exception):
    """A registered AWS type that the rendering does not cover: scanners would not see it."""


# Registered types that have no CloudFormation resource of their own, and why.
FOLDED = {
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": "rendered as an entry of its target group's Targets",
}
NO_EQUIVALENT = {
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": (
        "CloudFormation cannot manage a VPC's default security group; the program empties it of rules "
        "(the policy pack's vpc-baseline checks that)"
    ),
}
# Ids of other stacks' resources, by the type that owns them: the Parameter type cfn-lint checks Refs against.
PARAMETER_TYPES = {
    "aws:ec2/vpc:Vpc": "AWS::EC2::VPC::Id",
    "aws:ec2/subnet:Subnet": "AWS::EC2::Subnet::Id",
    "aws:ec2/securityGroup:SecurityGroup": "AWS::EC2::SecurityGroup::Id",
}
# Which type an input that takes another stack's id refers to (mock ids repeat across types)
INPUT_TYPES = {
    "vpcId": "aws:ec2/vpc:Vpc", "subnetId": "aws:ec2/subnet:Subnet", "subnets": "aws:ec2/subnet:Subnet",
    "subnetIds": "aws:ec2/subnet:Subnet", "natGatewayId": "aws:ec2/natGateway:NatGateway",
    "gatewayId": "aws:ec2/internetGateway:InternetGateway", "securityGroupId": "aws:ec2/securityGroup:SecurityGroup",
    "securityGroups": "aws:ec2/securityGroup:SecurityGroup", "referencedSecurityGroupId": "aws:ec2/securityGroup:SecurityGroup",
    "securityGroupIds": "aws:ec2/securityGroup:SecurityGroup",
}  # fmt: skip
IP_PROTOCOL_NUMBERS = {"-1": -1, "all": -1, "tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


def logical_id(name: str) -> str:
    """CloudFormation logical ids are alphanumeric: `dev-fw-workers-in-tcp-179` -> `DevFwWorkersInTcp179`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Resource"


def type_suffix(type_: str) -> str:
    """`aws:ec2/routeTableAssociation:RouteTableAssociation` -> `RouteTableAssociation`."""
    return type_.rsplit(":", 1)[-1]


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _tags(inputs: Mapping[str, Any]) -> list[dict[str, str]] | None:
    tags = inputs.get("tags")
    return [{"Key": k, "Value": str(v)} for k, v in tags.items()] if tags else None


def _without_none(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if v is not None and v != []}


@dataclass
class Renderer:
    """One stack's template. `resources` are its registrations; `foreign` those of the stacks
    it reads by StackReference (only their types are used, for Parameter types)."""

    resources: list[Registration]
    foreign: list[Registration] = field(default_factory=list)
    template: dict[str, Any] = field(default_factory=dict)
    _ids: dict[str, Any] = field(default_factory=dict)  # a mock id or ARN -> the CloudFormation expression
    _logical: dict[str, str] = field(default_factory=dict)  # urn -> logical id
    _foreign_ids: dict[str, list[Registration]] = field(default_factory=dict)
    _by_urn: dict[str, Registration] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        self.template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "The AWS resources of one interlock-platform stack, rendered from its offline preview for scanners.",
            "Metadata": {"interlock-platform": {"folded": [], "notRendered": []}},
            "Parameters": {},
            "Resources": {},
        }
        aws = [r for r in self.resources if r.type.startswith("aws:") and r.custom]
        for r in aws:
            if r.type not in RENDERERS and r.type not in FOLDED and r.type not in NO_EQUIVALENT:
                raise UnrenderedType(f"{r.type} ({r.name}) has no CloudFormation rendering: add it to interlock_platform/tooling/cloudformation.py")
        # Names repeat across types (a subnet and its route table association): those get their
        # type in the logical id, all of them, so ids do not depend on registration order.
        shared_names = {n for n, count in Counter(r.name for r in aws).items() if count > 1}
        used: set[str] = set()
        for r in aws:
            lid = logical_id(r.name) + (type_suffix(r.type) if r.name in shared_names else "")
            while lid in used:
                lid += "X"
            used.add(lid)
            self._logical[r.urn] = lid
            self._by_urn[r.urn] = r
            for value, expression in self._expressions(r).items():
                # a value two resources share (mock ids are `<name>-id`) is resolved through the
                # engine's propertyDependencies only
                self._ids[value] = None if value in self._ids else expression
        for r in self.foreign:
            if r.id and r.type.startswith("aws:"):
                self._foreign_ids.setdefault(r.id, []).append(r)
        meta = self.template["Metadata"]["interlock-platform"]
        for r in aws:
            if r.type in FOLDED:
                meta["folded"].append({"urn": r.urn, "into": FOLDED[r.type]})
                continue
            if r.type in NO_EQUIVALENT:
                meta["notRendered"].append({"urn": r.urn, "reason": NO_EQUIVALENT[r.type]})
                continue
            for lid, resource in RENDERERS[r.type](self, r):
                resource.setdefault("Metadata", {})["pulumi"] = {"urn": r.urn, "type": r.type}
                if r.retain_on_delete:  # Pulumi's retainOnDelete is CloudFormation's Retain, on delete and on replace
                    resource.update(DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
                self.template["Resources"][lid] = resource
        if not self.template["Parameters"]:
            del self.template["Parameters"]
        return self.template

    # --- values -----------------------------------------------------------------------------

    def _expressions(self, r: Registration) -> dict[str, Any]:
        """What of `r` other resources can refer to (its id, ARN and attributes) -> the expression."""
        lid, attribute, out = self._logical[r.urn], ATTRIBUTES.get(r.type, {}), {}
        if r.id:
            out[r.id] = {"Fn::GetAtt": [lid, attribute["id"]]} if "id" in attribute else {"Ref": lid}
        arn = r.state.get("arn")
        if isinstance(arn, str):
            out[arn] = {"Ref": lid} if attribute.get("arn") == "Ref" else {"Fn::GetAtt": [lid, attribute.get("arn", "Arn")]}
        for key, att in attribute.get("state", {}).items():
            if isinstance(r.state.get(key), str):
                out[r.state[key]] = {"Fn::GetAtt": [lid, att]}
        return out

    def ref(self, value: Any, of: Registration | None = None, prop: str | None = None) -> Any:
        """A value that is another resource's id, ARN or attribute, as the expression that yields
        it in CloudFormation. `of` and `prop` name the input it is, whose propertyDependencies
        say which resource feeds it."""
        if isinstance(value, list):
            return [self.ref(v, of, prop) for v in value]
        if not isinstance(value, str):
            return value
        feeders = [self._by_urn[u] for u in (of.property_dependencies.get(prop, []) if of and prop else []) if u in self._by_urn]
        for feeder in feeders:
            expression = self._match(self._expressions(feeder), value)
            if expression is not None:
                return expression
        expression = self._match({k: v for k, v in self._ids.items() if v is not None}, value)
        if expression is not None:
            return expression
        owners = self._foreign_ids.get(value)
        if owners:  # another stack's resource, read by StackReference; names repeat across types
            wanted = INPUT_TYPES.get(prop or "")
            owner = next((o for o in owners if o.type == wanted), owners[0])
            name = logical_id(owner.name)
            self.template["Parameters"].setdefault(
                name, {"Type": PARAMETER_TYPES.get(owner.type, "String"), "Description": f"from {owner.urn}"}
            )
            return {"Ref": name}
        return value

    @staticmethod
    def _match(expressions: Mapping[str, Any], value: str) -> Any:
        if value in expressions:
            return expressions[value]
        for known, expression in expressions.items():  # e.g. "<log group arn>:*" in a policy
            if known.startswith("arn:") and value.startswith(known):
                target = expression.get("Fn::GetAtt") or [expression["Ref"]]
                return {"Fn::Sub": "${" + ".".join(target) + "}" + value[len(known) :]}
        return None

    def logical(self, r: Registration) -> str:
        return self._logical[r.urn]

    def attachments_of(self, target_group_arn: str) -> Iterable[Registration]:
        return (
            r
            for r in self.resources
            if r.type == "aws:lb/targetGroupAttachment:TargetGroupAttachment"
            and r.inputs.get("targetGroupArn") == target_group_arn
        )


# How each type's id and ARN are obtained in CloudFormation (default: Ref for the id, GetAtt Arn for the ARN)
ATTRIBUTES: dict[str, dict[str, Any]] = {
    "aws:ec2/eip:Eip": {"id": "AllocationId"},
    "aws:lb/loadBalancer:LoadBalancer": {"arn": "Ref", "state": {"dnsName": "DNSName", "zoneId": "CanonicalHostedZoneID"}},
    "aws:lb/targetGroup:TargetGroup": {"arn": "Ref"},
    "aws:lb/listener:Listener": {"arn": "Ref"},
    "aws:ec2/securityGroup:SecurityGroup": {"id": "GroupId"},
}


def _one(kind: str, props: Mapping[str, Any]) -> Resource:
    return {"Type": kind, "Properties": _without_none(props)}


def _vpc(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::EC2::VPC", {
        "CidrBlock": i.get("cidrBlock"), "EnableDnsSupport": i.get("enableDnsSupport"),
        "EnableDnsHostnames": i.get("enableDnsHostnames"), "InstanceTenancy": i.get("instanceTenancy"), "Tags": _tags(i),
    }))]  # fmt: skip


def _subnet(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::EC2::Subnet", {
        "VpcId": c.ref(i.get("vpcId"), r, "vpcId"), "CidrBlock": i.get("cidrBlock"), "Ipv6CidrBlock": i.get("ipv6CidrBlock"),
        "AvailabilityZone": i.get("availabilityZone"), "MapPublicIpOnLaunch": i.get("mapPublicIpOnLaunch"),
        "AssignIpv6AddressOnCreation": i.get("assignIpv6AddressOnCreation"), "Tags": _tags(i),
    }))]  # fmt: skip


def _internet_gateway(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    lid, i = c.logical(r), r.inputs
    out = [(lid, _one("AWS::EC2::InternetGateway", {"Tags": _tags(i)}))]
    if i.get("vpcId"):  # a Pulumi internet gateway with a vpcId is also attached
        out.append(
            (
                lid + "Attachment",
                _one(
                    "AWS::EC2::VPCGatewayAttachment", {"VpcId": c.ref(i["vpcId"], r, "vpcId"), "InternetGatewayId": {"Ref": lid}}
                ),
            )
        )
    return out


def _eip(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    return [(c.logical(r), _one("AWS::EC2::EIP", {"Domain": r.inputs.get("domain"), "Tags": _tags(r.inputs)}))]


def _nat_gateway(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::EC2::NatGateway", {
        "SubnetId": c.ref(i.get("subnetId"), r, "subnetId"), "AllocationId": c.ref(i.get("allocationId"), r, "allocationId"),
        "ConnectivityType": i.get("connectivityType"), "Tags": _tags(i),
    }))]  # fmt: skip


def _route_table(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    lid, i = c.logical(r), r.inputs
    out = [(lid, _one("AWS::EC2::RouteTable", {"VpcId": c.ref(i.get("vpcId"), r, "vpcId"), "Tags": _tags(i)}))]
    for n, route in enumerate(i.get("routes") or []):  # inline routes
        out.append((f"{lid}Route{n}", _route_props(c, r, route, {"Ref": lid}, inline="routes")))
    return out


def _route_props(c: Renderer, r: Registration, i: Mapping[str, Any], table: Any, inline: str | None = None) -> Resource:
    def ref(value: Any, prop: str) -> Any:
        return c.ref(value, r, inline or prop)

    return _one("AWS::EC2::Route", {
        "RouteTableId": table, "DestinationCidrBlock": i.get("destinationCidrBlock") or i.get("cidrBlock"),
        "DestinationIpv6CidrBlock": i.get("destinationIpv6CidrBlock") or i.get("ipv6CidrBlock"),
        "GatewayId": ref(i.get("gatewayId"), "gatewayId"), "NatGatewayId": ref(i.get("natGatewayId"), "natGatewayId"),
        "TransitGatewayId": ref(i.get("transitGatewayId"), "transitGatewayId"), "VpcPeeringConnectionId": ref(i.get("vpcPeeringConnectionId"), "vpcPeeringConnectionId"),
        "NetworkInterfaceId": ref(i.get("networkInterfaceId"), "networkInterfaceId"),
    })  # fmt: skip


def _route(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    return [(c.logical(r), _route_props(c, r, r.inputs, c.ref(r.inputs.get("routeTableId"), r, "routeTableId")))]


def _association(kind: str, target_key: str, target_input: str) -> Callable[[Renderer, Registration], list[tuple[str, Resource]]]:
    """A subnet's association with a route table or a NACL."""

    def render(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
        i = r.inputs
        props = {"SubnetId": c.ref(i.get("subnetId"), r, "subnetId"), target_key: c.ref(i.get(target_input), r, target_input)}
        return [(c.logical(r), _one(kind, props))]

    return render


_route_table_association = _association("AWS::EC2::SubnetRouteTableAssociation", "RouteTableId", "routeTableId")
_network_acl_association = _association("AWS::EC2::SubnetNetworkAclAssociation", "NetworkAclId", "networkAclId")


def _protocol_number(protocol: Any) -> Any:
    text = str(_int(protocol)).lower()
    return IP_PROTOCOL_NUMBERS.get(text, int(text) if text.lstrip("-").isdigit() else text)


def _nacl_entry(c: Renderer, acl: Any, i: Mapping[str, Any], egress: bool) -> Resource:
    protocol = _protocol_number(i.get("protocol"))
    ports = None
    if protocol in (6, 17):
        ports = {"From": _int(i.get("fromPort")), "To": _int(i.get("toPort"))}
    icmp = {"Code": _int(i.get("icmpCode", -1)), "Type": _int(i.get("icmpType", -1))} if protocol in (1, 58) else None
    return _one("AWS::EC2::NetworkAclEntry", {
        "NetworkAclId": acl, "RuleNumber": _int(i.get("ruleNumber", i.get("ruleNo"))), "Protocol": protocol,
        "RuleAction": i.get("ruleAction", i.get("action")), "Egress": egress, "CidrBlock": i.get("cidrBlock"),
        "Ipv6CidrBlock": i.get("ipv6CidrBlock"), "PortRange": ports, "Icmp": icmp,
    })  # fmt: skip


def _network_acl(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    lid, i = c.logical(r), r.inputs
    out = [(lid, _one("AWS::EC2::NetworkAcl", {"VpcId": c.ref(i.get("vpcId"), r, "vpcId"), "Tags": _tags(i)}))]
    for direction in ("ingress", "egress"):  # inline entries
        for n, entry in enumerate(i.get(direction) or []):
            out.append((f"{lid}{direction.capitalize()}{n}", _nacl_entry(c, {"Ref": lid}, entry, direction == "egress")))
    for n, subnet in enumerate(i.get("subnetIds") or []):
        out.append(
            (
                f"{lid}Subnet{n}",
                _one(
                    "AWS::EC2::SubnetNetworkAclAssociation",
                    {"SubnetId": c.ref(subnet, r, "subnetIds"), "NetworkAclId": {"Ref": lid}},
                ),
            )
        )
    return out


def _network_acl_rule(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    return [
        (
            c.logical(r),
            _nacl_entry(c, c.ref(r.inputs.get("networkAclId"), r, "networkAclId"), r.inputs, bool(r.inputs.get("egress"))),
        )
    ]


def _sg_rule_props(c: Renderer, i: Mapping[str, Any], egress: bool, inline: bool = False) -> dict[str, Any]:
    """An SG rule in any of its Pulumi forms (aws.vpc rule, aws.ec2 rule, inline) as CloudFormation properties."""
    protocol = str(_int(i.get("ipProtocol", i.get("protocol", "-1")))).lower()
    protocol = "-1" if protocol == "all" else protocol
    ports = protocol in ("tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58")
    peer = "Destination" if egress else "Source"
    cidrs = i.get("cidrBlocks") or ([i["cidrIpv4"]] if i.get("cidrIpv4") else [])
    cidrs6 = i.get("ipv6CidrBlocks") or ([i["cidrIpv6"]] if i.get("cidrIpv6") else [])
    groups = i.get("securityGroups") or (
        [i.get("referencedSecurityGroupId") or i.get("sourceSecurityGroupId")]
        if i.get("referencedSecurityGroupId") or i.get("sourceSecurityGroupId")
        else []
    )
    if i.get("self"):
        groups = [*groups, "self"]
    prefix_lists = i.get("prefixListIds") or ([i["prefixListId"]] if i.get("prefixListId") else [])
    base = {
        "IpProtocol": protocol, "FromPort": _int(i.get("fromPort")) if ports else None,
        "ToPort": _int(i.get("toPort")) if ports else None, "Description": i.get("description"),
    }  # fmt: skip
    # CloudFormation has one peer per rule; a Pulumi rule with several becomes several rules.
    peers = (
        [{"CidrIp": x} for x in cidrs]
        + [{"CidrIpv6": x} for x in cidrs6]
        + [{f"{peer}SecurityGroupId": x} for x in groups]
        + [{f"{peer}PrefixListId": x} for x in prefix_lists]
    )
    return {"base": base, "peers": peers}


# Which input of a rule resource holds each CloudFormation peer (for its propertyDependencies)
_PEER_INPUTS = {
    "CidrIp": "cidrIpv4", "CidrIpv6": "cidrIpv6", "SourceSecurityGroupId": "referencedSecurityGroupId",
    "DestinationSecurityGroupId": "referencedSecurityGroupId", "SourcePrefixListId": "prefixListId", "DestinationPrefixListId": "prefixListId",
}  # fmt: skip


def _security_group(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    lid, i = c.logical(r), r.inputs
    props: dict[str, Any] = {
        "GroupDescription": i.get("description", "Managed by Pulumi"),
        "VpcId": c.ref(i.get("vpcId"), r, "vpcId"),
        "Tags": _tags(i),
    }
    for direction, key in (("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress")):
        rules = []
        for rule in i.get(direction) or []:
            parts = _sg_rule_props(c, rule, direction == "egress", inline=True)
            for peer in parts["peers"]:
                peer = {k: ({"Fn::GetAtt": [lid, "GroupId"]} if v == "self" else c.ref(v, r, direction)) for k, v in peer.items()}
                rules.append(_without_none({**parts["base"], **peer}))
        props[key] = rules
    if not props["SecurityGroupEgress"]:
        # Pulumi (like Terraform) removes the allow-all egress rule AWS gives a new group;
        # CloudFormation keeps it unless egress is given, so the template says "none" the way
        # CloudFormation users do. Egress rules of their own resources follow below.
        props["SecurityGroupEgress"] = [
            {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "No default egress: the allow-all rule is removed"}
        ]
    return [(lid, _one("AWS::EC2::SecurityGroup", props))]


def _sg_rule_resources(c: Renderer, r: Registration, egress: bool, group: Any) -> list[tuple[str, Resource]]:
    parts = _sg_rule_props(c, r.inputs, egress)
    kind = "AWS::EC2::SecurityGroupEgress" if egress else "AWS::EC2::SecurityGroupIngress"
    out = []
    for n, peer in enumerate(parts["peers"]):
        peer = {k: (group if v == "self" else c.ref(v, r, _PEER_INPUTS.get(k))) for k, v in peer.items()}
        out.append((c.logical(r) + (str(n) if n else ""), _one(kind, {"GroupId": group, **parts["base"], **peer})))
    return out


def _vpc_ingress_rule(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    return _sg_rule_resources(c, r, False, c.ref(r.inputs.get("securityGroupId"), r, "securityGroupId"))


def _vpc_egress_rule(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    return _sg_rule_resources(c, r, True, c.ref(r.inputs.get("securityGroupId"), r, "securityGroupId"))


def _ec2_sg_rule(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    return _sg_rule_resources(
        c, r, r.inputs.get("type") == "egress", c.ref(r.inputs.get("securityGroupId"), r, "securityGroupId")
    )


def _flow_log(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    target = next((i[k] for k in ("vpcId", "subnetId", "eniId", "transitGatewayId") if i.get(k)), None)
    kind = {"vpcId": "VPC", "subnetId": "Subnet", "eniId": "NetworkInterface", "transitGatewayId": "TransitGateway"}
    resource_type = next((kind[k] for k in kind if i.get(k)), None)
    return [(c.logical(r), _one("AWS::EC2::FlowLog", {
        "ResourceId": c.ref(target, r, next(k for k in ("vpcId", "subnetId", "eniId", "transitGatewayId") if i.get(k))), "ResourceType": resource_type, "TrafficType": i.get("trafficType"),
        "LogDestinationType": i.get("logDestinationType"), "LogDestination": c.ref(i.get("logDestination"), r, "logDestination"),
        "DeliverLogsPermissionArn": c.ref(i.get("iamRoleArn"), r, "iamRoleArn"), "MaxAggregationInterval": _int(i.get("maxAggregationInterval")),
        "LogFormat": i.get("logFormat"), "Tags": _tags(i),
    }))]  # fmt: skip


def _log_group(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::Logs::LogGroup", {
        "LogGroupName": i.get("name"), "RetentionInDays": _int(i.get("retentionInDays")), "KmsKeyId": c.ref(i.get("kmsKeyId"), r, "kmsKeyId"), "Tags": _tags(i),
    }))]  # fmt: skip


def _policy_document(c: Renderer, r: Registration, prop: str) -> Any:
    value = r.inputs.get(prop)
    doc = json.loads(value) if isinstance(value, str) else value
    return _refs_in(c, r, prop, doc)


def _refs_in(c: Renderer, r: Registration, prop: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _refs_in(c, r, prop, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_refs_in(c, r, prop, v) for v in value]
    return c.ref(value, r, prop)


def _role(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::IAM::Role", {
        "AssumeRolePolicyDocument": _policy_document(c, r, "assumeRolePolicy"), "Description": i.get("description"),
        "ManagedPolicyArns": i.get("managedPolicyArns"), "Path": i.get("path"), "Tags": _tags(i),
    }))]  # fmt: skip


def _role_policy(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::IAM::RolePolicy", {
        "PolicyName": i.get("name") or r.name, "PolicyDocument": _policy_document(c, r, "policy"), "RoleName": c.ref(i.get("role"), r, "role"),
    }))]  # fmt: skip


def _vpc_endpoint(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::EC2::VPCEndpoint", {
        "VpcId": c.ref(i.get("vpcId"), r, "vpcId"), "ServiceName": i.get("serviceName"),
        "VpcEndpointType": i.get("vpcEndpointType"), "PrivateDnsEnabled": i.get("privateDnsEnabled"),
        "SubnetIds": [c.ref(x, r, "subnetIds") for x in i["subnetIds"]] if i.get("subnetIds") else None,
        "SecurityGroupIds": [c.ref(x, r, "securityGroupIds") for x in i["securityGroupIds"]] if i.get("securityGroupIds") else None,
        "RouteTableIds": [c.ref(x, r, "routeTableIds") for x in i["routeTableIds"]] if i.get("routeTableIds") else None,
        "PolicyDocument": _policy_document(c, r, "policy") if i.get("policy") else None,
        "Tags": _tags(i),
    }))]  # fmt: skip


def _kms_key(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::KMS::Key", {
        "Description": i.get("description"), "EnableKeyRotation": i.get("enableKeyRotation"),
        "KeyPolicy": _policy_document(c, r, "policy") if i.get("policy") else None,
        "PendingWindowInDays": _int(i.get("deletionWindowInDays")), "Tags": _tags(i),
    }))]  # fmt: skip


def _lb_attributes(i: Mapping[str, Any]) -> list[dict[str, str]]:
    pairs = {
        "deletion_protection.enabled": i.get("enableDeletionProtection"),
        "load_balancing.cross_zone.enabled": i.get("enableCrossZoneLoadBalancing"),
    }
    logs = i.get("accessLogs") or {}
    if logs:
        pairs.update(
            {
                "access_logs.s3.enabled": logs.get("enabled", True),
                "access_logs.s3.bucket": logs.get("bucket"),
                "access_logs.s3.prefix": logs.get("prefix"),
            }
        )
    return [{"Key": k, "Value": str(v).lower() if isinstance(v, bool) else str(v)} for k, v in pairs.items() if v is not None]


def _load_balancer(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    return [(c.logical(r), _one("AWS::ElasticLoadBalancingV2::LoadBalancer", {
        "Type": i.get("loadBalancerType", "application"), "Scheme": "internal" if i.get("internal") else "internet-facing",
        "Subnets": c.ref(i.get("subnets"), r, "subnets"), "SecurityGroups": c.ref(i.get("securityGroups"), r, "securityGroups"),
        "LoadBalancerAttributes": _lb_attributes(i), "Tags": _tags(i),
    }))]  # fmt: skip


def _target_group(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i, health = r.inputs, r.inputs.get("healthCheck") or {}
    attributes = []
    if i.get("preserveClientIp") is not None:
        attributes.append({"Key": "preserve_client_ip.enabled", "Value": str(i["preserveClientIp"]).lower()})
    if i.get("proxyProtocolV2") is not None:
        attributes.append({"Key": "proxy_protocol_v2.enabled", "Value": str(i["proxyProtocolV2"]).lower()})
    targets = [
        _without_none(
            {
                "Id": a.inputs.get("targetId"),
                "Port": _int(a.inputs.get("port")),
                "AvailabilityZone": a.inputs.get("availabilityZone"),
            }
        )
        for a in c.attachments_of(r.state.get("arn", ""))
    ]
    return [(c.logical(r), _one("AWS::ElasticLoadBalancingV2::TargetGroup", {
        "Protocol": i.get("protocol"), "Port": _int(i.get("port")), "VpcId": c.ref(i.get("vpcId"), r, "vpcId"), "TargetType": i.get("targetType"),
        "HealthCheckEnabled": health.get("enabled"), "HealthCheckProtocol": health.get("protocol"),
        "HealthCheckPort": None if health.get("port") is None else str(_int(health["port"])),
        "HealthCheckIntervalSeconds": _int(health.get("interval")), "HealthyThresholdCount": _int(health.get("healthyThreshold")),
        "UnhealthyThresholdCount": _int(health.get("unhealthyThreshold")), "HealthCheckPath": health.get("path"),
        "TargetGroupAttributes": attributes, "Targets": targets, "Tags": _tags(i),
    }))]  # fmt: skip


def _listener(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    actions = [
        _without_none(
            {
                "Type": a.get("type"),
                "TargetGroupArn": c.ref(a.get("targetGroupArn"), r, "defaultActions"),
                "Order": _int(a.get("order")),
            }
        )
        for a in i.get("defaultActions") or []
    ]
    certificates = [{"CertificateArn": c.ref(i["certificateArn"], r, "certificateArn")}] if i.get("certificateArn") else None
    return [(c.logical(r), _one("AWS::ElasticLoadBalancingV2::Listener", {
        "LoadBalancerArn": c.ref(i.get("loadBalancerArn"), r, "loadBalancerArn"), "Port": _int(i.get("port")), "Protocol": i.get("protocol"),
        "SslPolicy": i.get("sslPolicy"), "Certificates": certificates, "AlpnPolicy": [i["alpnPolicy"]] if i.get("alpnPolicy") else None,
        "DefaultActions": actions,
    }))]  # fmt: skip


def _record(c: Renderer, r: Registration) -> list[tuple[str, Resource]]:
    i = r.inputs
    aliases = i.get("aliases") or []
    alias = (
        {
            "DNSName": c.ref(aliases[0].get("name"), r, "aliases"),
            "HostedZoneId": c.ref(aliases[0].get("zoneId"), r, "aliases"),
            "EvaluateTargetHealth": aliases[0].get("evaluateTargetHealth"),
        }
        if aliases
        else None
    )
    return [(c.logical(r), _one("AWS::Route53::RecordSet", {
        "HostedZoneId": c.ref(i.get("zoneId"), r, "zoneId"), "Name": i.get("name"), "Type": i.get("type"), "AliasTarget": alias,
        "TTL": None if i.get("ttl") is None else str(_int(i["ttl"])), "ResourceRecords": i.get("records"),
    }))]  # fmt: skip


RENDERERS: dict[str, Callable[[Renderer, Registration], list[tuple[str, Resource]]]] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/internetGateway:InternetGateway": _internet_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/routeTable:RouteTable": _route_table,
    "aws:ec2/route:Route": _route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _route_table_association,
    "aws:ec2/networkAcl:NetworkAcl": _network_acl,
    "aws:ec2/networkAclRule:NetworkAclRule": _network_acl_rule,
    "aws:ec2/networkAclAssociation:NetworkAclAssociation": _network_acl_association,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _vpc_ingress_rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _vpc_egress_rule,
    "aws:ec2/securityGroupRule:SecurityGroupRule": _ec2_sg_rule,
    "aws:ec2/flowLog:FlowLog": _flow_log,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:kms/key:Key": _kms_key,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:route53/record:Record": _record,
}


# --------------------------------------------------------------------------------------------
# Suppressions: one file, each finding we do not fix with its reason


@dataclass(frozen=True)
class Suppression:
    tool: str  # cfn-lint, checkov or cfn-guard
    rule: str
    reason: str
    resource_type: str = "*"  # CloudFormation type
    name: str = "*"  # glob on the Pulumi resource name
    stacks: tuple[str, ...] = ()  # empty: every stack

    def matches(self, stack: str, cfn_type: str, pulumi_name: str) -> bool:
        return (
            (not self.stacks or stack in self.stacks)
            and fnmatch.fnmatchcase(cfn_type, self.resource_type)
            and fnmatch.fnmatchcase(pulumi_name, self.name)
        )


def load_suppressions(path: Path = SUPPRESSIONS) -> list[Suppression]:
    entries = yaml.safe_load(path.read_text()) or []
    out = []
    for n, e in enumerate(entries):
        if (
            not isinstance(e, dict)
            or not {"tool", "rule", "reason"} <= set(e)
            or e["tool"] not in ("cfn-lint", "checkov", "cfn-guard")
        ):
            raise ValueError(f"{path}: entry {n}: give tool (cfn-lint, checkov or cfn-guard), rule and reason")
        out.append(Suppression(
            e["tool"], str(e["rule"]), str(e["reason"]).strip(), e.get("type", "*"), e.get("name", "*"), tuple(e.get("stacks") or ()),
        ))  # fmt: skip
    return out


def apply_suppressions(template: dict[str, Any], stack: str, suppressions: list[Suppression]) -> None:
    """Write the suppressions into each resource's Metadata, where cfn-lint and Checkov read them
    (cfn-guard has no such field: interlock_platform/tooling/scan.py filters its findings from the same list)."""
    for resource in template["Resources"].values():
        name = resource["Metadata"]["pulumi"]["urn"].rsplit("::", 1)[-1]
        for s in suppressions:
            if not s.matches(stack, resource["Type"], name):
                continue
            meta = resource["Metadata"]
            if s.tool == "cfn-lint":
                meta.setdefault("cfn-lint", {"config": {"ignore_checks": []}})["config"]["ignore_checks"].append(s.rule)
            elif s.tool == "checkov":
                meta.setdefault("checkov", {"skip": []})["skip"].append({"id": s.rule, "comment": s.reason})
            else:
                meta.setdefault("guard", {"SuppressedRules": []})["SuppressedRules"].append(s.rule)


def render(
    stack: str, resources: list[Registration], foreign: list[Registration] = (), suppressions: list[Suppression] | None = None
) -> dict[str, Any]:  # type: ignore[assignment]
    template = Renderer(list(resources), list(foreign)).render()
    if suppressions is None:
        # the platform's own, from its checkout; an app team's repository (the installed package,
        # --platform-outputs) has none, and suppressing nothing only shows the scanners more
        suppressions = load_suppressions() if SUPPRESSIONS.is_file() else []
    apply_suppressions(template, stack, suppressions)
    return template
