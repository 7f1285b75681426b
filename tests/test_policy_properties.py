"""The pack never crashes on a valid resource: property-based tests over the engine's protocol.

Values come from the SDKs' own argument types: each resource's `<Resource>Args` class and the
input types it nests (`SecurityGroupIngressArgs`, `NetworkPolicyPeerArgs`, ...) are read through
their type hints, so every field, inline forms included, is what the SDK accepts. The resources
are registered by the real SDK under Pulumi's mocks (so wire names and shapes are the SDK's),
some values are then made unknown as in a real preview, some properties are said to depend on
the other generated resources, and the lot is analyzed by the pack over gRPC as the dev stack.
Any pack error fails the test."""

from __future__ import annotations

import collections.abc
import enum
import inspect
import random
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_kubernetes as k8s
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from interlock_platform.tooling.mock_runtime import Registration, run_program
from interlock_platform.tooling.policy_config import from_shared_outputs
from interlock_platform.tooling.policy_harness import UNKNOWN, PolicyPackProcess
from tests.conftest import shared_outputs

# Every resource type that can open traffic or grant rights, and what they reference
RESOURCES: dict[str, list[type[pulumi.CustomResource]]] = {
    "security groups": [aws.ec2.SecurityGroup, aws.ec2.DefaultSecurityGroup, aws.vpc.SecurityGroupIngressRule,
                        aws.vpc.SecurityGroupEgressRule, aws.ec2.SecurityGroupRule, aws.ec2.ManagedPrefixList],
    "nacls and subnets": [aws.ec2.NetworkAcl, aws.ec2.DefaultNetworkAcl, aws.ec2.NetworkAclRule, aws.ec2.Subnet],
    "load balancers": [aws.lb.LoadBalancer, aws.lb.Listener, aws.lb.TargetGroup, aws.lb.TargetGroupAttachment,
                       aws.alb.Listener, aws.alb.TargetGroup, aws.alb.TargetGroupAttachment],
    "swarm": [docker.Service, docker.Network, docker.Container],
    "kubernetes": [k8s.networking.v1.NetworkPolicy, k8s.networking.v1.NetworkPolicyPatch, k8s.rbac.v1.Role, k8s.rbac.v1.ClusterRole,
                   k8s.rbac.v1.RoleBinding, k8s.rbac.v1.ClusterRoleBinding, k8s.core.v1.Namespace],
}  # fmt: skip

# Strings the rules decide on, mixed with arbitrary text: CIDRs (the registry's, sub- and
# super-ranges, the world, IPv6, malformed), protocols, actions, verbs, kinds, label keys
STRINGS = [
    "0.0.0.0/0", "::/0", "0.0.0.0/1", "2000::/3", "10.40.192.0/18", "10.40.200.0/24", "10.40.0.0/16", "10.40.64.0/24",
    "10.0.0.0/8", "192.0.2.0/26", "::ffff:10.40.192.0/120", "2001:db8::/64", "10.40.192.10", "not-a-cidr", "300.1.1.1/8",
    "tcp", "udp", "icmp", "-1", "all", "4", "50", "6", "allow", "deny", "ingress", "egress", "host", "overlay", "bridge",
    "*", "create", "escalate", "bind", "networkpolicies", "roles", "namespaces", "ClusterRole", "Role", "cluster-admin",
    "edit", "system:authenticated", "Exists", "NotIn", "com.docker.ucp.access.label", "/dev", "/prod", "dev", "prod",
    "com.docker.lb.service_cluster", "node.labels.com.docker.ucp.collection.prod==true", "ns-id", "ledger-dev", "Ingress",
    "Egress", "ALL", "TCP", "forward", "sg-0123456789abcdef0", "acl-0123456789abcdef0", "i-0a1b2c3d4e5f6a001",
]  # fmt: skip
PORTS = [0, 22, 80, 443, 2377, 8080, 8082, 8443, 8445, 10250, 32768, 65535, -1]
MAX_DEPTH = 3  # nested input types below this get only their required fields


def _module_namespace(cls: type) -> dict[str, Any]:
    return vars(sys.modules[cls.__module__])


def _resolve(hint: Any, ns: dict[str, Any]) -> Any:
    if isinstance(hint, typing.ForwardRef):
        hint = hint.__forward_arg__
    if isinstance(hint, str):
        if hint.startswith("Output["):
            return None  # the SDK's Output: a value we give as plain
        return eval(hint, ns)  # a type name from the SDK's own annotations
    return hint


def _plain_options(hint: Any, ns: dict[str, Any]) -> list[Any]:
    """`pulumi.Input[X]` is Union[X, Awaitable[X], Output[X]]: the plain X, resolved."""
    hint = _resolve(hint, ns)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(hint):
            arg = _resolve(arg, ns)
            if arg is None or arg is type(None) or typing.get_origin(arg) is collections.abc.Awaitable:
                continue
            out += _plain_options(arg, ns)
        return out
    return [hint]


def _strategy(hint: Any, ns: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    options = _plain_options(hint, ns)
    strategies = [_one(option, ns, depth) for option in options]
    return st.one_of(strategies) if strategies else st.none()


def _one(hint: Any, ns: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (collections.abc.Sequence, list):
        return st.lists(_strategy(args[0], ns, depth + 1), max_size=3)
    if origin in (collections.abc.Mapping, dict):
        return st.dictionaries(st.sampled_from(STRINGS), _strategy(args[1], ns, depth + 1), max_size=3)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.one_of(st.sampled_from(PORTS), st.integers(-2, 70000))
    if hint is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if hint is str:
        return st.one_of(st.sampled_from(STRINGS), st.text(max_size=10))
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):  # the SDK's string enums (aws ProtocolType)
        return st.sampled_from(list(hint))
    if hint is Any or hint is object:
        return st.sampled_from(STRINGS)
    if inspect.isclass(hint) and "__init__" in vars(hint):
        return input_type(hint, depth)
    raise TypeError(f"no strategy for the SDK type {hint!r}")  # a type this test does not know must not pass silently


def input_type(cls: type, depth: int = 0) -> st.SearchStrategy[Any]:
    """An instance of an SDK input type: every required field, and optional ones while not too deep."""
    ns = _module_namespace(cls)
    fields = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "__self__", "opts", "resource_name") or param.kind is not param.KEYWORD_ONLY:
            continue
        value = _strategy(param.annotation, ns, depth)
        if param.default is inspect.Parameter.empty:
            fields[name] = value
        elif depth < MAX_DEPTH:
            fields[name] = st.one_of(st.none(), value)
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**{k: v for k, v in kw.items() if v is not None}))


def args_class(resource: type) -> type:
    """The resource's own args class (the Kubernetes SDK calls it `<Kind>InitArgs`: `<Kind>Args` is the nested object)."""
    module = sys.modules[resource.__module__]
    return getattr(module, f"{resource.__name__}InitArgs", None) or getattr(module, f"{resource.__name__}Args")


# --------------------------------------------------------------------------------------------

PROGRAM = """from tests.test_policy_properties import BATCH
for i, (cls, args) in enumerate(BATCH):
    cls(f"generated-{i}", args)
"""
BATCH: list[tuple[type, Any]] = []  # read by PROGRAM, which runs in this process under the mocks


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    (root / "Pulumi.yaml").write_text("name: interlock-platform\nruntime: python\n")
    (root / "__main__.py").write_text(PROGRAM)
    return root / "__main__.py"


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        process.configure(from_shared_outputs(shared_outputs()))
        yield process


def _register(program: Path, batch: list[tuple[type, Any]]) -> list[Registration]:
    BATCH[:] = batch
    try:
        run = run_program("dev", {}, program=program)
    except Exception:  # the SDK refused the generated value: not a valid resource
        reject()
    return [r for r in run.resources if r.name.startswith("generated-")]  # not the default providers, registered once


def _unknowns(value: Any, rng: random.Random) -> Any:
    """`value` with some of its leaves, lists and objects unknown, as a preview sends them."""
    if rng.random() < 0.1:
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns(v, rng) for v in value]
    return value


@st.composite
def _stack(draw: st.DrawFn, program: Path, types_: list[type]) -> list[Registration]:
    chosen = draw(st.lists(st.sampled_from(types_), min_size=1, max_size=4))
    batch = [(cls, draw(input_type(args_class(cls)))) for cls in chosen]
    # What is done to the registrations is drawn before them, so that hypothesis's draws never
    # depend on what the SDK registered
    rng = random.Random(draw(st.integers(0, 2**32)))
    registered = _register(program, batch)
    out = []
    for r in registered:
        inputs = {k: _unknowns(v, rng) for k, v in r.inputs.items()} if rng.random() < 0.5 else r.inputs
        # some properties fed by the other generated resources, as the engine says with propertyDependencies
        feeds = {k: [o.urn for o in registered if o is not r and rng.random() < 0.5] for k in inputs if rng.random() < 0.3}
        out.append(r.with_inputs(inputs, property_dependencies=feeds))
    return out


@pytest.mark.parametrize("group", sorted(RESOURCES))
def test_the_pack_answers_every_valid_resource(pack: PolicyPackProcess, program: Path, group: str) -> None:
    seen: set[str] = set()

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        resources = data.draw(_stack(program, RESOURCES[group]))
        violations = pack.analyze(resources)  # PolicyPackError when a rule raised or the pack died
        assert all(v["enforcement"] in ("advisory", "mandatory") and v["message"] for v in violations)
        seen.update(r.type for r in resources)

    check()
    wanted = {cls.pulumi_type for cls in RESOURCES[group]}  # type: ignore[attr-defined]
    assert wanted <= seen, f"never generated: {wanted - seen}"  # every type was fed, not only the easy ones


def test_a_security_group_with_inline_rules_is_judged(pack: PolicyPackProcess, program: Path) -> None:
    """The input that crashed the pack (preview exit 3): a security group with inline ingress and egress."""
    args = aws.ec2.SecurityGroupArgs(
        vpc_id="vpc-0a1b2c3d",
        ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=22, to_port=22, cidr_blocks=["0.0.0.0/0"])],
        egress=[aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=5432, to_port=5432, cidr_blocks=["10.40.192.0/24"])],
    )
    resources = _register(program, [(aws.ec2.SecurityGroup, args)])
    found = {(v["policy"], v["enforcement"]) for v in pack.analyze(resources) if v["urn"] == resources[0].urn}
    assert {("sg-no-world-ingress", "mandatory"), ("sg-no-cross-environment", "mandatory")} <= found
