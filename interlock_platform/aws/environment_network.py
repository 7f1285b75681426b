"""An environment's VLANs: one subnet per application group per zone, each with its route
table, behind the environment's NACL (or, with isolation: applicationGroup, its group's NACL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from interlock_platform.aws.network import private_subnet, s3_gateway_endpoint
from interlock_platform.aws.rules import network_acl
from interlock_platform.core import firewall_plan
from interlock_platform.core.model import EnvironmentTopology
from interlock_platform.core.tagging import tags


@dataclass
class EnvironmentNetworkArgs:
    topology: EnvironmentTopology
    vpc_id: pulumi.Input[str]
    nat_gateway_ids: Mapping[str, pulumi.Input[str]]  # by availability zone


class EnvironmentNetwork(pulumi.ComponentResource):
    subnet_ids: dict[str, list[pulumi.Output[str]]]  # by application group, in zone order
    nacl: aws.ec2.NetworkAcl | None  # the environment's, with isolation: environment
    group_nacls: dict[str, aws.ec2.NetworkAcl]  # by application group, with isolation: applicationGroup
    s3_prefix_list_id: pulumi.Output[str] | None  # with the shared stack's vpcEndpoints holding s3

    def __init__(self, name: str, args: EnvironmentNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:network:EnvironmentNetwork", name, None, opts)
        topo = args.topology
        env, stack = topo.name, topo.stack
        self.subnet_ids = {}
        by_key: dict[str, pulumi.Output[str]] = {}
        by_group: dict[str, dict[str, pulumi.Output[str]]] = {}
        route_tables = []
        for group, subnet in topo.subnets:
            az = subnet.availability_zone
            key = f"{group.name}-{az}"
            label = f"{name}-{key}"
            extra = {"application-group": group.name, "tier": "application", "collection": topo.env.collection}
            sn, rt = private_subnet(
                label,
                args.vpc_id,
                str(subnet.cidr),
                az,
                args.nat_gateway_ids[az],
                lambda n, extra=extra: tags(stack, env, n, **extra),
                self,
            )
            self.subnet_ids.setdefault(group.name, []).append(sn.id)
            by_key[key] = sn.id
            by_group.setdefault(group.name, {})[key] = sn.id
            route_tables.append(rt)
        self.s3_prefix_list_id = None
        if topo.shared.s3_gateway:
            region = topo.shared.availability_zones[0][:-1]
            s3 = s3_gateway_endpoint(f"{name}-s3", args.vpc_id, region, route_tables, tags(stack, env, f"{name}-s3"), self)
            self.s3_prefix_list_id = s3.prefix_list_id
        self.nacl, self.group_nacls = None, {}
        if not firewall_plan.isolates_groups(topo):
            self.nacl = network_acl(name, args.vpc_id, firewall_plan.environment_nacl(topo), by_key, stack, env, self)
            self.register_outputs({"subnetIds": self.subnet_ids, "naclId": self.nacl.id})
            return
        for group, entries in firewall_plan.group_nacls(topo).items():
            self.group_nacls[group] = network_acl(f"{name}-{group}", args.vpc_id, entries, by_group[group], stack, env, self)
        self.register_outputs({"subnetIds": self.subnet_ids, "naclIds": {g: acl.id for g, acl in self.group_nacls.items()}})
