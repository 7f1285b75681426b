"""The one shape every VLAN subnet has, in the shared stack and the env stacks alike."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws


def private_subnet(
    label: str,
    vpc_id: pulumi.Input[str],
    cidr: str,
    availability_zone: str,
    nat_gateway_id: pulumi.Input[str],
    tag: Callable[[str], dict[str, str]],
    parent: pulumi.Resource,
) -> aws.ec2.Subnet:
    """A subnet with no public IPs and its own route table, whose default route leaves through
    the zone's NAT gateway. `tag` gives the tags for a resource name."""
    subnet = aws.ec2.Subnet(
        label, vpc_id=vpc_id, cidr_block=cidr, availability_zone=availability_zone, map_public_ip_on_launch=False,
        tags=tag(label), opts=pulumi.ResourceOptions(parent=parent),
    )  # fmt: skip
    rt = aws.ec2.RouteTable(label, vpc_id=vpc_id, tags=tag(f"{label}-rt"), opts=pulumi.ResourceOptions(parent=parent))
    aws.ec2.Route(
        f"{label}-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat_gateway_id,
        opts=pulumi.ResourceOptions(parent=rt),
    )  # fmt: skip
    aws.ec2.RouteTableAssociation(label, subnet_id=subnet.id, route_table_id=rt.id, opts=pulumi.ResourceOptions(parent=subnet))
    return subnet
