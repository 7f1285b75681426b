"""The shared stack's network: VPC, edge and management VLAN subnets, NAT, routes, flow logs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from interlock_platform.aws.network import private_subnet, s3_gateway_endpoint
from interlock_platform.core.model import SharedTopology
from interlock_platform.core.tagging import tags


@dataclass
class SharedNetworkArgs:
    topology: SharedTopology


class SharedNetwork(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    edge_subnet_ids: dict[str, pulumi.Output[str]]
    management_subnet_ids: dict[str, pulumi.Output[str]]
    nat_gateway_ids: dict[str, pulumi.Output[str]]
    s3_prefix_list_id: pulumi.Output[str] | None  # with vpcEndpoints holding s3: what the SGs admit for S3

    def __init__(self, name: str, args: SharedNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:network:SharedNetwork", name, None, opts)
        topo = args.topology
        stack = topo.stack
        child = pulumi.ResourceOptions(parent=self)

        def t(suffix: str, **extra: str) -> dict[str, str]:
            return tags(stack, "shared", f"{name}-{suffix}", **extra)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(topo.vpc_cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=t("vpc"),
            opts=child,
        )
        vpc_id = self.vpc.id
        # Adopting the default SG with no rules empties it: nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc_id, ingress=[], egress=[], tags=t("default-sg-locked"), opts=child
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc_id, tags=t("igw"), opts=child)

        edge_rt = aws.ec2.RouteTable(f"{name}-edge-rt", vpc_id=vpc_id, tags=t("edge-rt", tier="edge"), opts=child)
        aws.ec2.Route(
            f"{name}-edge-default",
            route_table_id=edge_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=pulumi.ResourceOptions(parent=edge_rt),
        )
        self.edge_subnet_ids = {}
        for az, cidr in zip(topo.availability_zones, topo.edge_cidrs, strict=True):
            # No auto-assigned public IPs even at the edge: only the NLB and NAT live here.
            subnet = aws.ec2.Subnet(
                f"{name}-edge-{az}",
                vpc_id=vpc_id,
                cidr_block=str(cidr),
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=t(f"edge-{az}", tier="edge"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-edge-{az}", subnet_id=subnet.id, route_table_id=edge_rt.id, opts=pulumi.ResourceOptions(parent=subnet)
            )
            self.edge_subnet_ids[az] = subnet.id

        nat_zones = topo.availability_zones if topo.nat_gateways == "perAz" else topo.availability_zones[:1]
        nats: dict[str, pulumi.Output[str]] = {}
        for az in nat_zones:
            eip = aws.ec2.Eip(f"{name}-nat-{az}", domain="vpc", tags=t(f"nat-{az}"), opts=child)
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{az}",
                allocation_id=eip.id,
                subnet_id=self.edge_subnet_ids[az],
                tags=t(f"nat-{az}"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nats[az] = nat.id
        # Each zone egresses through its own NAT, or all through the single one.
        self.nat_gateway_ids = {az: nats.get(az, nats[nat_zones[0]]) for az in topo.availability_zones}

        self.management_subnet_ids = {}
        route_tables = []
        for az, cidr in zip(topo.availability_zones, topo.management_cidrs, strict=True):
            label = f"{name}-mgmt-{az}"
            subnet, rt = private_subnet(
                label,
                vpc_id,
                str(cidr),
                az,
                self.nat_gateway_ids[az],
                lambda n: t(n.removeprefix(f"{name}-"), tier="management"),
                self,
            )
            self.management_subnet_ids[az] = subnet.id
            route_tables.append(rt)
        self.s3_prefix_list_id = None
        if topo.s3_gateway:
            region = topo.availability_zones[0][:-1]
            s3 = s3_gateway_endpoint(f"{name}-s3", vpc_id, region, route_tables, t("s3", tier="management"), self)
            self.s3_prefix_list_id = s3.prefix_list_id

        self._flow_logs(name, topo, t, child)
        self.register_outputs(
            {
                "vpcId": vpc_id,
                "edgeSubnetIds": self.edge_subnet_ids,
                "managementSubnetIds": self.management_subnet_ids,
                "natGatewayIds": self.nat_gateway_ids,
            }
        )

    def _flow_log_key(self, name: str, region: str, t, child: pulumi.ResourceOptions) -> aws.kms.Key:  # noqa: ANN001
        """A customer-managed key for the flow logs: the account administers it; CloudWatch Logs of
        this region may use it only for log groups of this account (AWS's documented key policy)."""
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        def policy(args: list[str]) -> str:
            part, acct = args
            reg = region
            return json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:{part}:iam::{acct}:root"},
                     "Action": "kms:*", "Resource": "*"},
                    {"Sid": "CloudWatchLogsEncrypts", "Effect": "Allow", "Principal": {"Service": f"logs.{reg}.amazonaws.com"},
                     "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                     "Resource": "*",
                     "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{part}:logs:{reg}:{acct}:log-group:*"}}},
                    # Grants only for AWS services acting on AWS resources (Control Tower CT.KMS.PR.3)
                    {"Sid": "GrantsOnlyForAwsServices", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:CreateGrant",
                     "Resource": "*",
                     "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}}},
                ],
            })  # fmt: skip

        return aws.kms.Key(
            f"{name}-flow-logs",
            description="Encrypts the VPC flow log group of interlock-platform",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(partition, account).apply(policy),
            tags=t("flow-logs-key"),
            # the flow logs it encrypts are the audit trail: a destroyed stack leaves both behind
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True)),
        )

    def _flow_logs(self, name: str, topo: SharedTopology, t, child: pulumi.ResourceOptions) -> None:  # noqa: ANN001
        region = topo.availability_zones[0][:-1]  # validation holds aws:region to the zones
        key_arn = topo.flow_log_kms_key_arn or self._flow_log_key(name, region, t, child).arn
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=topo.flow_log_retention_days,
            kms_key_id=key_arn,
            tags=t("flow-logs"),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True)),  # the audit trail outlives the stack
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
            tags=t("flow-logs-role"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogGroups",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.ec2.FlowLog(
            f"{name}-vpc-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=t("vpc-flow-log"),
            opts=child,
        )
