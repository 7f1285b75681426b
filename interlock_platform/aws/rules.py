"""Turns firewall-plan rows into AWS rule resources: one resource per rule, so each stack owns
exactly its rules and a destroy removes only them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from interlock_platform.core.firewall_plan import ALL, NaclEntry, SgRule
from interlock_platform.core.tagging import tags


def prefix_list(service: str) -> str:
    """The key of a service's prefix list id in the `groups` map of security_group_rules."""
    return f"prefix-list:{service}"


def security_group_rules(
    prefix: str,
    rules: Sequence[SgRule],
    groups: Mapping[str, pulumi.Input[str]],
    stack: str,
    environment: str,
    parent: pulumi.Resource,
) -> list[pulumi.CustomResource]:
    """`groups` maps the plan's security-group roles to their IDs (and prefix_list(service) to a prefix list's)."""
    created: list[pulumi.CustomResource] = []
    for rule in rules:
        name = f"{prefix}-{rule.security_group}-{rule.slug}".replace(":", "-")
        peer: dict[str, pulumi.Input[str]]
        if rule.peer.kind == "cidr":
            peer = {"cidr_ipv4": rule.peer.value}
        elif rule.peer.kind == "prefixList":
            peer = {"prefix_list_id": groups[prefix_list(rule.peer.value)]}
        else:
            peer = {"referenced_security_group_id": groups[rule.peer.value]}
        # IP protocols 4 and 50 carry ports 0..0; "-1" carries none (AWS rejects ports with it).
        port_args = {} if rule.protocol == ALL else {"from_port": rule.from_port, "to_port": rule.to_port}
        cls = aws.vpc.SecurityGroupIngressRule if rule.direction == "ingress" else aws.vpc.SecurityGroupEgressRule
        created.append(
            cls(
                name,
                security_group_id=groups[rule.security_group],
                ip_protocol=rule.protocol,
                description=rule.description,
                tags=tags(stack, environment, name),
                opts=pulumi.ResourceOptions(parent=parent),
                **port_args,
                **peer,
            )
        )
    return created


def network_acl(
    prefix: str,
    vpc_id: pulumi.Input[str],
    entries: Sequence[NaclEntry],
    subnet_ids: Mapping[str, pulumi.Input[str]],
    stack: str,
    environment: str,
    parent: pulumi.Resource,
) -> aws.ec2.NetworkAcl:
    opts = pulumi.ResourceOptions(parent=parent)
    acl = aws.ec2.NetworkAcl(f"{prefix}-nacl", vpc_id=vpc_id, tags=tags(stack, environment, f"{prefix}-nacl"), opts=opts)
    for e in entries:
        aws.ec2.NetworkAclRule(
            f"{prefix}-nacl-{e.slug}",
            network_acl_id=acl.id,
            rule_number=e.rule_number,
            egress=e.egress,
            protocol=e.protocol,
            rule_action=e.action,
            cidr_block=e.cidr,
            from_port=e.from_port,
            to_port=e.to_port,
            # AWS keys an entry by its number: a changed entry is replaced, and a replacement
            # created first collides with the old one (NetworkAclEntryAlreadyExists, pulumi-aws#3244)
            opts=pulumi.ResourceOptions(parent=acl, delete_before_replace=True),
        )
    for key, subnet_id in subnet_ids.items():
        aws.ec2.NetworkAclAssociation(
            f"{prefix}-nacl-{key}", network_acl_id=acl.id, subnet_id=subnet_id, opts=pulumi.ResourceOptions(parent=acl)
        )
    return acl
