"""The shared stack's state that an env stack's offline preview reads (interlock_platform/tooling/shared_state.py),
held to the shared program's own run under the SDK's mock runtime: every output, every secret
mark, every resource whose id it exports, for the stack file and for layouts it does not have."""

from __future__ import annotations

import json
from typing import Any

import pytest

from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.model import REGISTRY_OUTPUTS
from interlock_platform.core.topology import parse_shared
from interlock_platform.stack_config import InvalidStackConfig
from interlock_platform.tooling.mock_runtime import ProgramRun, run_program
from interlock_platform.tooling.preview import run_preview
from interlock_platform.tooling.shared_state import shared_state
from interlock_platform.tooling.stack_files import offline_config, program_config
from tests.conftest import SHARED_REF, assert_registry_is_the_config, full_config

THREE_ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def _program(config: dict[str, Any]) -> ProgramRun:
    return run_program("shared", config, secret_keys=offline_config("shared")[1])


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def _same_as_the_program(config: dict[str, Any]) -> None:
    program, state = _program(config), shared_state("shared", config)
    # both take the registry from the pure model: it is held to the config it came from, and the
    # rest (ids, the template) to the program's
    assert set(state.outputs) == set(program.outputs)
    topology = parse_shared("shared", program_config(config))
    assert_registry_is_the_config(program.outputs, topology)
    assert_registry_is_the_config(state.outputs, topology)
    assert _as_json({k: v for k, v in state.outputs.items() if k not in REGISTRY_OUTPUTS}) == _as_json(
        {k: v for k, v in program.outputs.items() if k not in REGISTRY_OUTPUTS}
    )
    assert state.secret_outputs == program.secret_outputs
    registered = {r.urn: r for r in program.resources}
    for exported in state.resources:
        assert exported.urn in registered, f"the shared program registers no {exported.urn}"
        real = registered[exported.urn]
        assert (exported.type, exported.name, exported.parent, exported.custom, exported.id) == (
            real.type, real.name, real.parent, real.custom, real.id,
        )  # fmt: skip
    ids = {v for v in program.outputs.values() if isinstance(v, str)}
    ids |= {
        i for v in program.outputs.values() if isinstance(v, list | dict) for i in (v.values() if isinstance(v, dict) else v) if isinstance(i, str)
    }
    ids &= {r.id for r in program.resources}
    assert ids == {r.id for r in state.resources}, "an exported id without its resource, or one too many"


def test_the_shared_stack_files_state_is_what_its_program_exports():
    _same_as_the_program(offline_config("shared")[0])


def test_a_two_zone_shared_stack_with_a_fourth_environment_too():
    """A layout the stack file does not have: two zones, four environments in another order. On
    MKE 3.9 each environment takes 16 of the management group's inbound rules, so four need the
    security-group rule quota raised (as AWS raises it on request)."""
    config = full_config(
        "shared",
        availabilityZones=THREE_ZONES[:2],
        managementCidrs=["10.40.0.0/24", "10.40.1.0/24"],
        edgeCidrs=["10.40.4.0/24", "10.40.5.0/24"],
        awsQuotas={"securityGroupRulesPerDirection": 100, "naclRulesPerDirection": 20, "subnetsPerVpc": 200},
    )
    envs = config["interlock-platform:environments"]
    envs = {"prod": envs["prod"], "staging": {**envs["test"], "cidr": "10.40.32.0/19", "collection": "/staging",
            "httpPort": 8083, "httpsPort": 8446, "collectionNodeSelector": "com.docker.ucp.collection.staging=true",
            "domain": "staging.apps.example.com"},
            "test": envs["test"], "dev": envs["dev"]}  # fmt: skip
    config["interlock-platform:environments"] = envs
    _same_as_the_program(config)


def test_one_nat_gateway_for_every_zone():
    """natGateways: single: one NAT gateway, in the first zone, that every zone's id names."""
    config = full_config("shared", natGateways="single")
    _same_as_the_program(config)
    nats = shared_state("shared", config).outputs["natGatewayIds"]
    assert set(nats) == set(THREE_ZONES) and len(set(nats.values())) == 1


def test_a_shared_config_the_program_refuses_is_refused_with_the_same_problems():
    """Values as a careless user writes them (a list where a string goes, a bool): refused in the
    program's words, which read the values as the engine hands them over (JSON text)."""
    config = full_config(
        "shared", vpcCidr="10.40.0.0/15", availabilityZones=["eu-west-1a", "us-east-1b", "eu-west-1c"], ucpVersion=True
    )
    config["aws:region"] = ["eu-west-1"]
    with pytest.raises(InvalidStackConfig) as program:
        _program(config)
    with pytest.raises(InvalidConfig) as state:
        shared_state("shared", config)
    assert [str(p) for p in state.value.problems] == [str(p) for p in program.value.problems]
    assert len(state.value.problems) >= 3


def test_an_env_stacks_sharedstack_naming_an_env_stack_is_refused():
    with pytest.raises(InvalidConfig, match=r"stack 'dev': interlock-platform:role: is 'environment'"):
        shared_state("dev", offline_config("dev")[0])


@pytest.mark.parametrize("env", ["dev", "test", "prod"])
def test_an_env_stack_registers_the_same_whatever_order_the_registry_arrives_in(env):
    """The engine hands a StackReference's maps over in a protobuf Struct's order, not the
    shared stack file's: an environment's NACL entries must not be numbered by it."""
    shared = shared_state("shared", offline_config("shared")[0])
    config, secrets, _ = offline_config(env)
    runs = []
    for order in (list, lambda keys: list(reversed(keys))):
        outputs = {**shared.outputs, "environments": {k: shared.outputs["environments"][k] for k in order(list(shared.outputs["environments"]))}}
        run = run_program(env, config, {SHARED_REF: outputs}, secret_keys=secrets, secret_outputs={SHARED_REF: shared.secret_outputs})
        runs.append(sorted((r.urn, json.dumps(r.inputs, sort_keys=True, default=str)) for r in run.resources))
    assert runs[0] == runs[1]


def test_an_env_preview_reads_the_state_not_the_shared_program(preview):
    """Its shared side is the state: the exported resources only, none of the shared program's
    rules or its iam, cloudwatch and kms resources; the shared stack's own preview is its run."""
    env = preview("dev")
    assert {r.type for r in env.shared.resources} == {
        "aws:ec2/vpc:Vpc", "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway",
    }  # fmt: skip
    assert preview("shared").shared is preview("shared").run
    assert run_preview("dev").shared.outputs == env.shared.outputs
