"""The shared stack as an env stack's offline preview reads it, without running the shared program.

The engine gives an env stack the shared stack's outputs from the shared stack's state, written
by its last `pulumi up`. Offline there is no state: the outputs are the pure model's
(`SharedTopology.to_outputs`, the registry and settings the shared program exports), and the
ids are the ones the mock runtime gives the resources the shared program exports the ids of
(`<name>-id`). Running the shared program under mocks instead would cost an env preview about
0.25 s and load the iam, cloudwatch and kms SDKs for resources the env stack never reads.

With those ids an env preview's resources, reports and CloudFormation rendering are the same as
when it ran the shared program: tests/test_shared_state.py holds every output, secret mark and
exported resource here to the shared program's own run under the SDK's mocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlock_platform.core.config_reader import InvalidConfig, Problem
from interlock_platform.core.topology import PROJECT, parse_shared, stack_role
from interlock_platform.stack_config import aws_region_or_environment
from interlock_platform.tooling.mock_runtime import ProgramRun, Registration, as_engine_state, mock_id
from interlock_platform.tooling.stack_files import engine_config_value, program_config

# The components of the shared program whose resources an env stack reads, as __main__.py names them
SHARED_NETWORK = ("interlock-platform:network:SharedNetwork", "shared")
MANAGEMENT_FIREWALL = ("interlock-platform:firewall:ManagementFirewall", "shared-fw")
VPC_ENDPOINTS = ("interlock-platform:network:VpcEndpoints", "shared-endpoints")
VPC, SUBNET, NAT_GATEWAY = "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECRET_OUTPUTS = {"interlockTemplate"}  # the captured template: a mock run captures nothing, so None


def shared_state(stack: str, config: Mapping[str, Any]) -> ProgramRun:
    """The shared stack `stack` as its state would hold it after `pulumi up` with `config` (its
    stack file's config, keys qualified): its outputs, which ones are secret, and the resources
    whose ids it exports. Raises InvalidConfig, naming the stack, for config the shared program
    would refuse (the same problems: the same parse)."""
    raw = program_config(config)
    if stack_role(stack, raw) != "shared":
        raise InvalidConfig([Problem(
            stack, "role", "is 'environment', but an env stack's sharedStack names this stack",
            "set that env stack's sharedStack to the stack whose role is 'shared'",
        )])  # fmt: skip
    topo = parse_shared(stack, raw, aws_region=aws_region_or_environment(engine_config_value(config["aws:region"]) if "aws:region" in config else None))
    zones = topo.availability_zones

    resources: list[Registration] = []

    def exported(component: tuple[str, str], type_: str, name: str) -> str:
        parent_type, parent_name = component
        resources.append(
            Registration(
                urn=f"urn:pulumi:{stack}::{PROJECT}::{parent_type}${type_}::{name}",
                type=type_,
                name=name,
                parent=f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack${parent_type}::{parent_name}",
                custom=True,
                inputs={},
                id=mock_id(name),
            )
        )
        return mock_id(name)

    network, firewall = SHARED_NETWORK[1], MANAGEMENT_FIREWALL[1]
    nat_zones = zones if topo.nat_gateways == "perAz" else zones[:1]
    nats = {az: exported(SHARED_NETWORK, NAT_GATEWAY, f"{network}-nat-{az}") for az in nat_zones}
    outputs: dict[str, Any] = {
        "vpcId": exported(SHARED_NETWORK, VPC, f"{network}-vpc"),
        "managementSecurityGroupId": exported(MANAGEMENT_FIREWALL, SECURITY_GROUP, f"{firewall}-management"),
        "managementPeersSecurityGroupId": exported(MANAGEMENT_FIREWALL, SECURITY_GROUP, f"{firewall}-management-peers"),
        "managementSubnetIds": [exported(SHARED_NETWORK, SUBNET, f"{network}-mgmt-{az}") for az in zones],
        "edgeSubnetIds": [exported(SHARED_NETWORK, SUBNET, f"{network}-edge-{az}") for az in zones],
        "natGatewayIds": {az: nats.get(az, nats[nat_zones[0]]) for az in zones},  # the single one serves every zone
        "vpcEndpointSecurityGroupIds": {
            s: exported(VPC_ENDPOINTS, SECURITY_GROUP, f"{VPC_ENDPOINTS[1]}-{s.replace('.', '-')}-sg") for s in topo.interface_endpoints
        },
        "interlockTemplate": None,
        **topo.to_outputs(),
    }
    return ProgramRun(PROJECT, stack, resources, *as_engine_state(outputs, SECRET_OUTPUTS))
