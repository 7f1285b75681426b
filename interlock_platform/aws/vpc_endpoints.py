"""The shared stack's interface VPC endpoints (`vpcEndpoints`): ECR's API and registry, CloudWatch
Logs, STS, each in the management subnets with private DNS and its own security group. Private
DNS answers the service's name for the whole VPC, so one stack, the one that owns the VPC, owns
them; the firewall components hang the rules on their groups (the managers' here, each
environment's in its own stack)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from interlock_platform.core.model import SharedTopology
from interlock_platform.core.tagging import tags


@dataclass
class VpcEndpointsArgs:
    topology: SharedTopology
    vpc_id: pulumi.Input[str]
    management_subnet_ids: Mapping[str, pulumi.Input[str]]  # by availability zone


class VpcEndpoints(pulumi.ComponentResource):
    security_groups: dict[str, aws.ec2.SecurityGroup]  # by service (ecr.api, ...)
    endpoints: dict[str, aws.ec2.VpcEndpoint]

    def __init__(self, name: str, args: VpcEndpointsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:network:VpcEndpoints", name, None, opts)
        topo = args.topology
        region = topo.availability_zones[0][:-1]
        child = pulumi.ResourceOptions(parent=self)
        self.security_groups, self.endpoints = {}, {}
        for service in topo.interface_endpoints:
            label = f"{name}-{service.replace('.', '-')}"
            # revoke_rules_on_delete: env stacks hang rules on it, as on the management group
            sg = aws.ec2.SecurityGroup(
                f"{label}-sg",
                vpc_id=args.vpc_id,
                revoke_rules_on_delete=True,
                description=f"The {service} VPC endpoint: TCP 443 from the managers and from the workers of each environment",
                tags=tags(topo.stack, "shared", f"{label}-sg", role="vpc-endpoint", service=service),
                opts=child,
            )
            self.security_groups[service] = sg
            self.endpoints[service] = aws.ec2.VpcEndpoint(
                label,
                vpc_id=args.vpc_id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=list(args.management_subnet_ids.values()),
                security_group_ids=[sg.id],
                tags=tags(topo.stack, "shared", label, service=service),
                opts=child,
            )
        self.register_outputs({"vpcEndpointSecurityGroupIds": {s: sg.id for s, sg in self.security_groups.items()}})
