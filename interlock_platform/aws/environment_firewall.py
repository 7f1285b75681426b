"""An environment's security groups: its workers, its load balancer, and the holes it owns in
the management SG (so `pulumi destroy -s <env>` closes exactly those). With isolation:
applicationGroup, also one SG per application group, which each worker carries besides `workers`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from interlock_platform.aws.rules import prefix_list, security_group_rules
from interlock_platform.core import firewall_plan
from interlock_platform.core.model import EnvironmentTopology, endpoint_sg
from interlock_platform.core.tagging import tags


@dataclass
class EnvironmentFirewallArgs:
    topology: EnvironmentTopology
    vpc_id: pulumi.Input[str]
    management_security_group_id: pulumi.Input[str]
    endpoint_security_group_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # the shared stack's, by service
    s3_prefix_list_id: pulumi.Input[str] | None = None  # of this stack's S3 gateway endpoint


class EnvironmentFirewall(pulumi.ComponentResource):
    workers: aws.ec2.SecurityGroup
    load_balancer: aws.ec2.SecurityGroup | None  # None in the network pass (networkOnly)
    group_security_groups: dict[str, aws.ec2.SecurityGroup]  # by application group (isolation: applicationGroup)

    def __init__(self, name: str, args: EnvironmentFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:firewall:EnvironmentFirewall", name, None, opts)
        topo = args.topology
        env, stack = topo.name, topo.stack
        child = pulumi.ResourceOptions(parent=self)
        self.workers = aws.ec2.SecurityGroup(
            f"{name}-workers",
            vpc_id=args.vpc_id,
            description=f"{env} workers: UCP worker ports from managers, proxy ports from the {env} load balancer",
            tags=tags(stack, env, f"{name}-workers", collection=topo.env.collection, role="workers"),
            opts=child,
        )
        self.load_balancer = None  # the network pass has no load balancer, and no group for one
        if not topo.network_only:
            self.load_balancer = aws.ec2.SecurityGroup(
                f"{name}-lb",
                vpc_id=args.vpc_id,
                description=f"{env} network load balancer: clients on 80/443, out to the {env} Interlock proxies",
                tags=tags(stack, env, f"{name}-lb", role="load-balancer"),
                opts=child,
            )
        self.group_security_groups = {}
        if firewall_plan.isolates_groups(topo):
            for g in topo.application_groups:
                label = f"{name}-group-{g.name}"
                # A description is fixed for a group's life (AWS replaces a group to change it, and a
                # group attached to running nodes cannot be replaced), so it says nothing that moves:
                # which groups hold ingress nodes changes from the network pass to the full one, and
                # whenever nodes move. Groups made by a release that said it keep their description.
                self.group_security_groups[g.name] = aws.ec2.SecurityGroup(
                    label,
                    vpc_id=args.vpc_id,
                    description=f"{env} application group {g.name}: all within the group, declared flows from other groups, "
                    "proxy ports from the load balancer where the group holds ingress nodes",
                    tags=tags(stack, env, label, collection=topo.env.collection, role="workers", **{"application-group": g.name}),
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["description"])),
                )
        groups = {
            **{firewall_plan.group_sg(g): sg.id for g, sg in self.group_security_groups.items()},
            "workers": self.workers.id,
            f"workers:{env}": self.workers.id,
            **({"loadBalancer": self.load_balancer.id} if self.load_balancer is not None else {}),
            "management": args.management_security_group_id,
            **{endpoint_sg(s): sg for s, sg in args.endpoint_security_group_ids.items()},
            **({prefix_list("s3"): args.s3_prefix_list_id} if args.s3_prefix_list_id is not None else {}),
        }
        rules = [r for rs in firewall_plan.environment_security_groups(topo).values() for r in rs]
        security_group_rules(name, rules, groups, stack, env, self)
        outputs = {"workerSecurityGroupId": self.workers.id}
        if self.load_balancer is not None:
            outputs["loadBalancerSecurityGroupId"] = self.load_balancer.id
        if self.group_security_groups:
            outputs["applicationGroupSecurityGroupIds"] = {g: sg.id for g, sg in self.group_security_groups.items()}
        self.register_outputs(outputs)
