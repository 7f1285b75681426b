"""The shared stack's firewall: the management SG (managers, DTR), its peers SG, and the
management VLAN's NACL. The env stacks add their own holes to the management SG."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from interlock_platform.aws.rules import network_acl, prefix_list, security_group_rules
from interlock_platform.core import firewall_plan
from interlock_platform.core.model import SharedTopology, endpoint_sg
from interlock_platform.core.tagging import tags


@dataclass
class ManagementFirewallArgs:
    topology: SharedTopology
    vpc_id: pulumi.Input[str]
    management_subnet_ids: dict[str, pulumi.Output[str]]
    endpoint_security_group_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # by service
    s3_prefix_list_id: pulumi.Input[str] | None = None  # with an S3 gateway endpoint


class ManagementFirewall(pulumi.ComponentResource):
    security_group: aws.ec2.SecurityGroup
    peers_security_group: aws.ec2.SecurityGroup
    nacl: aws.ec2.NetworkAcl

    def __init__(self, name: str, args: ManagementFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:firewall:ManagementFirewall", name, None, opts)
        topo = args.topology
        child = pulumi.ResourceOptions(parent=self)
        # revoke_rules_on_delete: env stacks hang rules on this SG; deleting it must not wait on them.
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-management",
            vpc_id=args.vpc_id,
            revoke_rules_on_delete=True,
            description="UCP managers and DTR: admins on 443 and 6443; the rules of each environment are owned by its stack",
            tags=tags(topo.stack, "shared", f"{name}-management", role="management"),
            opts=child,
        )
        self.peers_security_group = aws.ec2.SecurityGroup(
            f"{name}-management-peers",
            vpc_id=args.vpc_id,
            description="UCP managers and DTR among themselves, on the UCP manager ports",
            tags=tags(topo.stack, "shared", f"{name}-management-peers", role="management-peers"),
            opts=child,
        )
        groups = {
            "management": self.security_group.id,
            "management-peers": self.peers_security_group.id,
            **{endpoint_sg(s): sg for s, sg in args.endpoint_security_group_ids.items()},
            **({prefix_list("s3"): args.s3_prefix_list_id} if args.s3_prefix_list_id is not None else {}),
        }
        rules = firewall_plan.management_sg_rules(topo) + firewall_plan.management_peer_rules(topo)
        rules += [r for rs in firewall_plan.endpoint_sg_rules(topo).values() for r in rs]
        security_group_rules(name, rules, groups, topo.stack, "shared", self)
        self.nacl = network_acl(
            f"{name}-management",
            args.vpc_id,
            firewall_plan.management_nacl(topo),
            {f"mgmt-{az}": sid for az, sid in args.management_subnet_ids.items()},
            topo.stack,
            "shared",
            self,
        )
        self.register_outputs(
            {"managementSecurityGroupId": self.security_group.id, "managementPeersSecurityGroupId": self.peers_security_group.id}
        )
