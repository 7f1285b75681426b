"""docs/iam-policy.json: the IAM policy of the role that runs `pulumi up` and `pulumi destroy`
for this project's stacks, generated from what the program registers.

The program runs under the SDK's mocks (interlock_platform/tooling/mock_runtime.py) for every stack file; each `aws:*`
resource type it registers and each `aws:*` function it invokes is looked up in ACTIONS, the one
table from a type token to the IAM actions the AWS provider (pulumi-aws, which bridges the
Terraform AWS provider) calls to create, read, update and delete it. The policy is the union:
nothing for a type the program does not register, every action listed by name (no `ec2:*`,
no `ec2:Describe*`).

python -m tools.iam_policy --write   # regenerate docs/iam-policy.json after changing the program
python -m tools.iam_policy --check   # exit 1 when the file is out of step (a test runs this)

Sources for the table: the AWS Service Authorization Reference, which names each action and the
resources and condition keys it takes
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html;
per service: list_amazonec2.html, list_awselasticloadbalancingv2.html,
list_awsidentityandaccessmanagementiam.html, list_awskeymanagementservice.html,
list_amazoncloudwatchlogs.html, list_amazonroute53.html, list_awssecuritytokenservice.html), and
the API calls each resource of hashicorp/terraform-provider-aws makes (internal/service/<service>/
<resource>.go: its Create, Read, Update and Delete functions, and the waiters they call).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interlock_platform.core.config_keys import PROJECT
from interlock_platform.core.tagging import MANAGED_BY
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor, run_program
from interlock_platform.tooling.shared_state import shared_state
from interlock_platform.tooling.stack_files import ROOT, offline_config, stack_names

POLICY_FILE = ROOT / "docs" / "iam-policy.json"


@dataclass(frozen=True)
class Actions:
    """What the provider calls for one resource type (or function), by operation."""

    create: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()

    def all(self) -> set[str]:
        return {*self.create, *self.read, *self.update, *self.delete}


EC2_TAGS = ("ec2:CreateTags",)  # tags on create (TagSpecifications) need CreateTags too, with ec2:CreateAction
EC2_RETAG = ("ec2:CreateTags", "ec2:DeleteTags")
ELB_TAGS = ("elasticloadbalancing:AddTags",)  # tags on create need AddTags (list_awselasticloadbalancingv2.html)
ELB_RETAG = ("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags")

# The one table. Keys are Pulumi type tokens (resources) and function tokens (invokes).
# fmt: off
ACTIONS: dict[str, Actions] = {
    # --- EC2 / VPC (list_amazonec2.html; terraform-provider-aws internal/service/ec2) ---
    "aws:ec2/vpc:Vpc": Actions(  # vpc_.go: the default NACL, route table and security group are read after create
        create=("ec2:CreateVpc", "ec2:ModifyVpcAttribute", *EC2_TAGS),
        read=("ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeNetworkAcls", "ec2:DescribeRouteTables",
              "ec2:DescribeSecurityGroups"),
        update=("ec2:ModifyVpcAttribute", *EC2_RETAG),
        delete=("ec2:DeleteVpc",),
    ),
    "aws:ec2/subnet:Subnet": Actions(  # vpc_subnet.go: delete looks for lingering network interfaces
        create=("ec2:CreateSubnet", "ec2:ModifySubnetAttribute", *EC2_TAGS),
        read=("ec2:DescribeSubnets",),
        update=("ec2:ModifySubnetAttribute", *EC2_RETAG),
        delete=("ec2:DeleteSubnet", "ec2:DescribeNetworkInterfaces"),
    ),
    "aws:ec2/internetGateway:InternetGateway": Actions(  # vpc_internet_gateway.go
        create=("ec2:CreateInternetGateway", "ec2:AttachInternetGateway", *EC2_TAGS),
        read=("ec2:DescribeInternetGateways",),
        update=("ec2:AttachInternetGateway", "ec2:DetachInternetGateway", *EC2_RETAG),
        delete=("ec2:DetachInternetGateway", "ec2:DeleteInternetGateway"),
    ),
    "aws:ec2/eip:Eip": Actions(  # eip.go: read includes the address's PTR record (DescribeAddressesAttribute)
        create=("ec2:AllocateAddress", *EC2_TAGS),
        read=("ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"),
        update=EC2_RETAG,
        delete=("ec2:DisassociateAddress", "ec2:ReleaseAddress"),
    ),
    "aws:ec2/natGateway:NatGateway": Actions(  # vpc_nat_gateway.go
        create=("ec2:CreateNatGateway", *EC2_TAGS),
        read=("ec2:DescribeNatGateways",),
        update=EC2_RETAG,
        delete=("ec2:DeleteNatGateway",),
    ),
    "aws:ec2/routeTable:RouteTable": Actions(  # vpc_route_table.go: inline routes are created and replaced in place
        create=("ec2:CreateRouteTable", "ec2:CreateRoute", *EC2_TAGS),
        read=("ec2:DescribeRouteTables",),
        update=("ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", *EC2_RETAG),
        delete=("ec2:DeleteRouteTable",),
    ),
    "aws:ec2/route:Route": Actions(  # vpc_route.go
        create=("ec2:CreateRoute",),
        read=("ec2:DescribeRouteTables",),
        update=("ec2:ReplaceRoute",),
        delete=("ec2:DeleteRoute",),
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": Actions(  # vpc_route_table_association.go
        create=("ec2:AssociateRouteTable",),
        read=("ec2:DescribeRouteTables",),
        update=("ec2:ReplaceRouteTableAssociation",),
        delete=("ec2:DisassociateRouteTable",),
    ),
    "aws:ec2/networkAcl:NetworkAcl": Actions(  # vpc_network_acl.go: delete moves its subnets back to the default NACL
        create=("ec2:CreateNetworkAcl", "ec2:ReplaceNetworkAclAssociation", *EC2_TAGS),
        read=("ec2:DescribeNetworkAcls",),
        update=("ec2:ReplaceNetworkAclAssociation", *EC2_RETAG),
        delete=("ec2:DeleteNetworkAcl", "ec2:ReplaceNetworkAclAssociation"),
    ),
    "aws:ec2/networkAclRule:NetworkAclRule": Actions(  # vpc_network_acl_rule.go
        create=("ec2:CreateNetworkAclEntry",),
        read=("ec2:DescribeNetworkAcls",),
        delete=("ec2:DeleteNetworkAclEntry",),
    ),
    "aws:ec2/networkAclAssociation:NetworkAclAssociation": Actions(  # vpc_network_acl_association.go
        create=("ec2:ReplaceNetworkAclAssociation",),
        read=("ec2:DescribeNetworkAcls",),
        delete=("ec2:ReplaceNetworkAclAssociation",),
    ),
    "aws:ec2/securityGroup:SecurityGroup": Actions(  # vpc_security_group.go: create revokes AWS's default egress rule
        create=("ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupEgress",
                "ec2:AuthorizeSecurityGroupIngress", *EC2_TAGS),
        read=("ec2:DescribeSecurityGroups",),
        update=("ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
                "ec2:UpdateSecurityGroupRuleDescriptionsEgress", *EC2_RETAG),
        delete=("ec2:DeleteSecurityGroup", "ec2:DescribeNetworkInterfaces"),
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": Actions(  # default_security_group.go: adopts and empties it
        create=("ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", *EC2_TAGS),
        read=("ec2:DescribeSecurityGroups",),
        update=("ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress", *EC2_RETAG),
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": Actions(  # vpc/security_group_ingress_rule.go
        create=("ec2:AuthorizeSecurityGroupIngress", *EC2_TAGS),
        read=("ec2:DescribeSecurityGroupRules",),
        update=("ec2:ModifySecurityGroupRules", *EC2_RETAG),
        delete=("ec2:RevokeSecurityGroupIngress",),
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": Actions(  # vpc/security_group_egress_rule.go
        create=("ec2:AuthorizeSecurityGroupEgress", *EC2_TAGS),
        read=("ec2:DescribeSecurityGroupRules",),
        update=("ec2:ModifySecurityGroupRules", *EC2_RETAG),
        delete=("ec2:RevokeSecurityGroupEgress",),
    ),
    # vpc_endpoint.go: a gateway endpoint's prefix list is read; an interface endpoint with private
    # DNS needs route53:AssociateVPCWithHostedZone (a dependent action of CreateVpcEndpoint)
    "aws:ec2/vpcEndpoint:VpcEndpoint": Actions(
        create=("ec2:CreateVpcEndpoint", "route53:AssociateVPCWithHostedZone", *EC2_TAGS),
        read=("ec2:DescribeVpcEndpoints", "ec2:DescribePrefixLists"),
        update=("ec2:ModifyVpcEndpoint", "route53:AssociateVPCWithHostedZone", *EC2_RETAG),
        delete=("ec2:DeleteVpcEndpoints",),
    ),
    # vpc_flow_log.go: passes the delivery role to the flow-logs service (to CloudWatch Logs, the
    # logs:*LogDelivery actions are not needed: they are for S3 and Firehose destinations)
    "aws:ec2/flowLog:FlowLog": Actions(
        create=("ec2:CreateFlowLogs", "iam:PassRole", *EC2_TAGS),
        read=("ec2:DescribeFlowLogs",),
        update=EC2_RETAG,
        delete=("ec2:DeleteFlowLogs",),
    ),
    # an ingress node's instance, read at preview (stack_config.py); data_source_instance.go
    "aws:ec2/getInstance:getInstance": Actions(
        read=("ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "ec2:DescribeInstanceCreditSpecifications",
              "ec2:DescribeVolumes"),
    ),
    # --- Elastic Load Balancing v2 (list_awselasticloadbalancingv2.html; internal/service/elbv2) ---
    # load_balancer.go: ELB creates its service-linked role on an account's first load balancer;
    # delete waits for the load balancer's network interfaces to go
    "aws:lb/loadBalancer:LoadBalancer": Actions(
        create=("elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "iam:CreateServiceLinkedRole", *ELB_TAGS),
        read=("elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
              "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeCapacityReservation"),
        update=("elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetIpAddressType", *ELB_RETAG),
        delete=("elasticloadbalancing:DeleteLoadBalancer", "ec2:DescribeNetworkInterfaces"),
    ),
    "aws:lb/targetGroup:TargetGroup": Actions(  # target_group.go
        create=("elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes", *ELB_TAGS),
        read=("elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
              "elasticloadbalancing:DescribeTags"),
        update=("elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes", *ELB_RETAG),
        delete=("elasticloadbalancing:DeleteTargetGroup",),
    ),
    "aws:lb/listener:Listener": Actions(  # listener.go: a TCP listener's attributes (idle timeout) are read and set
        create=("elasticloadbalancing:CreateListener", "elasticloadbalancing:ModifyListenerAttributes", *ELB_TAGS),
        read=("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerAttributes",
              "elasticloadbalancing:DescribeTags"),
        update=("elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyListenerAttributes", *ELB_RETAG),
        delete=("elasticloadbalancing:DeleteListener",),
    ),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": Actions(  # target_group_attachment.go
        create=("elasticloadbalancing:RegisterTargets",),
        read=("elasticloadbalancing:DescribeTargetHealth",),
        delete=("elasticloadbalancing:DeregisterTargets",),
    ),
    # --- Route 53 (list_amazonroute53.html; internal/service/route53/record.go) ---
    "aws:route53/record:Record": Actions(
        create=("route53:ChangeResourceRecordSets", "route53:GetChange", "route53:GetHostedZone"),
        read=("route53:ListResourceRecordSets", "route53:GetHostedZone"),
        update=("route53:ChangeResourceRecordSets", "route53:GetChange"),
        delete=("route53:ChangeResourceRecordSets", "route53:GetChange"),
    ),
    # --- CloudWatch Logs (list_amazoncloudwatchlogs.html; internal/service/logs/group.go) ---
    "aws:cloudwatch/logGroup:LogGroup": Actions(  # kept on destroy (retainOnDelete): no DeleteLogGroup
        create=("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"),
        read=("logs:DescribeLogGroups", "logs:ListTagsForResource"),
        update=("logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
                "logs:TagResource", "logs:UntagResource"),
    ),
    # --- KMS (list_awskeymanagementservice.html; internal/service/kms/key.go) ---
    "aws:kms/key:Key": Actions(  # kept on destroy (retainOnDelete): no ScheduleKeyDeletion
        create=("kms:CreateKey", "kms:EnableKeyRotation", "kms:PutKeyPolicy", "kms:TagResource"),
        read=("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
        update=("kms:PutKeyPolicy", "kms:UpdateKeyDescription", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
                "kms:TagResource", "kms:UntagResource"),
    ),
    # --- IAM (list_awsidentityandaccessmanagementiam.html; internal/service/iam) ---
    "aws:iam/role:Role": Actions(  # role.go: delete first removes it from instance profiles and its inline policies
        create=("iam:CreateRole", "iam:TagRole"),
        read=("iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies"),
        update=("iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole"),
        delete=("iam:DeleteRole", "iam:ListInstanceProfilesForRole", "iam:DeleteRolePolicy"),
    ),
    "aws:iam/rolePolicy:RolePolicy": Actions(  # role_policy.go
        create=("iam:PutRolePolicy",),
        read=("iam:GetRolePolicy",),
        update=("iam:PutRolePolicy",),
        delete=("iam:DeleteRolePolicy",),
    ),
    # --- functions answered from the credentials: no permission needed ---
    "aws:index/getCallerIdentity:getCallerIdentity": Actions(),  # sts:GetCallerIdentity needs none (list_awssecuritytokenservice.html)
    "aws:index/getPartition:getPartition": Actions(),  # computed by the provider, no API call
}
# fmt: on

# Actions that must not run on every resource: where, and under what condition.
ROLE_ARN = "arn:aws:iam::*:role/{name}-*"  # Pulumi names a role `<resource name>-<random suffix>`
SCOPED: dict[str, tuple[list[str] | str, dict[str, Any] | None]] = {
    # only the flow-log delivery role, and only to the flow-logs service
    "iam:PassRole": ("roles", {"StringEquals": {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}}),
    # only ELB's own service-linked role
    "iam:CreateServiceLinkedRole": (
        "arn:aws:iam::*:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
        {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
    ),
}
ROUTE53_RESOURCES = {  # the record actions take a hosted zone; GetChange takes a change
    "route53:GetChange": "arn:aws:route53:::change/*",
}


@dataclass(frozen=True)
class Registered:
    """What the program registers and invokes across the stack files."""

    types: dict[str, list[str]]  # aws type or function token -> the stacks that use it
    role_names: list[str]  # the resource names of the IAM roles it creates


class _InvokeRecorder(RecordingMonitor):
    def __init__(self) -> None:
        super().__init__(PlatformMocks({}))  # run_program puts in its own mocks
        self.invokes: set[str] = set()

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        self.invokes.add(request.tok)
        return super().Invoke(request)


def registered(root: Path = ROOT) -> Registered:
    """Run the program under the mocks for every stack file, as the offline preview does."""
    types: dict[str, set[str]] = {}
    roles: set[str] = set()
    for stack in stack_names(root):
        config, secrets, _ = offline_config(stack, root)
        references = {}
        if config.get(f"{PROJECT}:role") == "environment":
            qualified = str(config[f"{PROJECT}:sharedStack"])
            shared = qualified.rsplit("/", 1)[-1]
            references[qualified] = shared_state(shared, offline_config(shared, root)[0])
        monitor = _InvokeRecorder()
        run = run_program(
            stack, config, {n: r.outputs for n, r in references.items()}, monitor=monitor, secret_keys=secrets,
            secret_outputs={n: r.secret_outputs for n, r in references.items()},
        )  # fmt: skip
        for token in {r.type for r in run.resources} | monitor.invokes:
            if token.startswith("aws:"):
                types.setdefault(token, set()).add(stack)
        roles.update(r.name for r in run.resources if r.type == "aws:iam/role:Role")
    return Registered({t: sorted(s) for t, s in sorted(types.items())}, sorted(roles))


class UnmappedType(Exception):
    pass


def policy(found: Registered) -> dict[str, Any]:
    """The IAM policy document for what `found` registers: one statement per service (every
    resource), and the scoped actions in statements of their own."""
    unmapped = [t for t in found.types if t not in ACTIONS]
    if unmapped:
        raise UnmappedType(f"no IAM actions for {', '.join(unmapped)}: add them to ACTIONS in tools/iam_policy.py")
    actions = sorted(set().union(*(ACTIONS[t].all() for t in found.types)))
    role_arns = [ROLE_ARN.format(name=name) for name in found.role_names]
    statements: list[dict[str, Any]] = []
    by_service: dict[str, list[str]] = {}
    for action in actions:
        if action in SCOPED or action in ROUTE53_RESOURCES:
            continue
        by_service.setdefault(action.split(":")[0], []).append(action)
    for service, listed in by_service.items():
        if service == "kms":  # keys: only the platform's own, by the tag it gives them at creation
            statements += _kms_statements(listed)
            continue
        if service == "iam":
            resource: Any = role_arns  # the roles the stacks create, by name
        elif service == "route53":
            resource = "arn:aws:route53:::hostedzone/*"
        else:
            resource = "*"  # these actions take no resource, or the resources do not exist before the call
        statements.append({"Sid": _sid(service), "Effect": "Allow", "Action": listed, "Resource": resource})
    for action in sorted(a for a in actions if a in ROUTE53_RESOURCES):
        statements.append({"Sid": _sid(action), "Effect": "Allow", "Action": [action], "Resource": ROUTE53_RESOURCES[action]})
    for action in sorted(a for a in actions if a in SCOPED):
        where, condition = SCOPED[action]
        statement = {
            "Sid": _sid(action),
            "Effect": "Allow",
            "Action": [action],
            "Resource": role_arns if where == "roles" else where,
        }
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


# KMS authorizes by the key's tags (aws:ResourceTag) and, for CreateKey, by the tags in the request
# (aws:RequestTag): list_awskeymanagementservice.html. The program tags its key at creation.
PLATFORM_TAG = {"aws:ResourceTag/managed-by": MANAGED_BY}


def _kms_statements(listed: list[str]) -> list[dict[str, Any]]:
    """Key management (PutKeyPolicy, DisableKeyRotation...) on the platform's own keys only, never
    on another key of the account (a secrets provider's, say); a key is created only with the tag."""
    create = [a for a in listed if a == "kms:CreateKey"]
    on_keys = [a for a in listed if a != "kms:CreateKey"]
    statements: list[dict[str, Any]] = []
    if create:
        statements.append({"Sid": "KmsCreateKey", "Effect": "Allow", "Action": create, "Resource": "*",
                           "Condition": {"StringEquals": {"aws:RequestTag/managed-by": MANAGED_BY}}})  # fmt: skip
    if on_keys:
        statements.append({"Sid": "Kms", "Effect": "Allow", "Action": on_keys, "Resource": "arn:aws:kms:*:*:key/*",
                           "Condition": {"StringEquals": PLATFORM_TAG}})  # fmt: skip
    return statements


def _sid(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(":", " ").replace("-", " ").split())


def render(found: Registered | None = None) -> str:
    return json.dumps(policy(found or registered()), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.iam_policy", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="regenerate docs/iam-policy.json")
    group.add_argument("--check", action="store_true", help="exit 1 when docs/iam-policy.json is out of step")
    args = parser.parse_args(argv)
    try:
        wanted = render()
    except UnmappedType as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    current = POLICY_FILE.read_text() if POLICY_FILE.exists() else ""
    if args.write:
        if current != wanted:
            POLICY_FILE.write_text(wanted)
        return 0
    if current != wanted:
        print(
            f"{POLICY_FILE.relative_to(ROOT)} is out of step with the program: run python -m tools.iam_policy --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
