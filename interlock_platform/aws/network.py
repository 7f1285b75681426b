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
) -> tuple[aws.ec2.Subnet, aws.ec2.RouteTable]:
    """A subnet with no public IPs and its own route table, whose default route leaves through
    the zone's NAT gateway. `tag` gives the tags for a resource name. The route table is returned
    for the S3 gateway endpoint, which attaches to route tables."""
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
    return subnet, rt


def s3_gateway_endpoint(
    label: str,
    vpc_id: pulumi.Input[str],
    region: str,
    route_tables: list[aws.ec2.RouteTable],
    tag: dict[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.VpcEndpoint:
    """S3 through its gateway endpoint on these route tables: image layers (ECR keeps them in S3)
    without the internet. Each stack attaches its own route tables with its own endpoint, so a
    destroy detaches exactly those; AWS allows several S3 gateway endpoints in a VPC."""
    return aws.ec2.VpcEndpoint(
        label, vpc_id=vpc_id, service_name=f"com.amazonaws.{region}.s3", vpc_endpoint_type="Gateway",
        route_table_ids=[rt.id for rt in route_tables], tags=tag, opts=pulumi.ResourceOptions(parent=parent),
    )  # fmt: skip
