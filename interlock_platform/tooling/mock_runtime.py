"""Runs the Pulumi program under the SDK's own mock runtime (pulumi.runtime.set_mocks), with
no CLI and no cloud, and records every registration as the engine would see it.

Used by the offline preview and the tests. The mocks answer like the providers would for what
the program reads back: ids, ARNs and the load balancer's DNS name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import os
import pickle
import runpy
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from interlock_platform.tooling.stack_files import ROOT, engine_config_value, fleet_configs, project_file

STACK_REFERENCE = "pulumi:pulumi:StackReference"
MOCK_ACCOUNT = "123456789012"
# The engine's wire marks for special values (pulumi/sdk/go/common/resource/sig): a secret arrives as
# {SIG_KEY: SECRET_SIG, "value": ...}
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # the AWS account the offline preview pretends to deploy into


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    id: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    additional_secret_outputs: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)  # the inputs whose changes the engine ignores
    # the provider reference the engine would use ("<provider urn>::<provider id>"), "" for the default one
    provider: str = ""

    def __post_init__(self) -> None:
        # one written by hand (a test's) has no answer from the mocks: they answer with the inputs
        if not self.state and self.inputs:
            self.state = dict(self.inputs)

    def with_inputs(self, inputs: dict[str, Any], **changes: Any) -> Registration:
        """This registration as if the program had registered `inputs`: the mocks answer with the
        inputs and what they add (ids, ARNs), so the outputs change with them."""
        added = {k: v for k, v in self.state.items() if k not in self.inputs}
        return dataclasses.replace(self, inputs=inputs, state={**inputs, **added}, **changes)

    @property
    def outputs(self) -> dict[str, Any]:
        """The resource's outputs as the engine keeps them in state: what the provider (here the
        mocks) returned, with the additional secret outputs marked secret (a secret input stays
        one: the mocks return the inputs with their marks)."""
        secret = set(self.additional_secret_outputs)
        return {
            k: v if k not in secret or pulumi.runtime.rpc.is_rpc_secret(v) else {SIG_KEY: SECRET_SIG, "value": v}
            for k, v in self.state.items()
        }


@dataclass
class ProgramRun:
    """What a program registered. `resources` come by URN, not in the order of registration: the
    SDK registers from several threads, so that order varies from run to run, and what is derived
    from a run (the CloudFormation template, the security matrix, the order of the pack's answers)
    must not. `on_register` (run_program) sees the order of registration."""

    project: str
    stack: str
    resources: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def __post_init__(self) -> None:
        self.resources = sorted(self.resources, key=lambda r: r.urn)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def by_id(self) -> dict[str, Registration]:
        return {r.id: r for r in self.resources if r.id}


def as_engine_state(outputs: Mapping[str, Any], secret: Iterable[str]) -> tuple[dict[str, Any], set[str]]:
    """A stack's outputs as the engine keeps them and hands them to a StackReference: through a
    protobuf Struct, the `secret` ones marked, so numbers are floats and maps come in the Struct's
    order. Returns (outputs, the secret ones)."""
    struct = struct_pb2.Struct()
    struct.update({k: {SIG_KEY: SECRET_SIG, "value": v} if k in set(secret) else v for k, v in outputs.items()})
    return _stack_outputs(struct)


def _stack_outputs(struct: Any) -> tuple[dict[str, Any], set[str]]:
    outputs: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in pulumi.runtime.rpc.deserialize_properties(struct, keep_internal=True).items():
        if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:  # a secret output: the engine keeps the mark
            secret.add(key)
            value = value["value"]
        outputs[key] = value
    return outputs, secret


def mock_id(name: str) -> str:
    """The id a resource named `name` gets offline."""
    return f"{name}-id"


INGRESS_NODES = "interlock-platform:ingressNodes"
GET_INSTANCE = "aws:ec2/getInstance:getInstance"


def _ingress_nodes(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    nodes = config.get(INGRESS_NODES)
    if isinstance(nodes, str):
        try:
            nodes = json.loads(nodes)
        except json.JSONDecodeError:
            return []
    return [n for n in nodes if isinstance(n, dict) and isinstance(n.get("instanceId"), str)] if isinstance(nodes, list) else []


def _as_instance(node: Mapping[str, Any]) -> dict[str, Any]:
    """An ingress node as EC2's DescribeInstances would give it back through `aws.ec2.get_instance`:
    at the address its EC2 hostname (ip-a-b-c-d.<region>.compute.internal) carries. A hostname
    that carries none gives no address: offline, nothing says where that instance is."""
    hostname = str(node.get("hostname", ""))
    parts = hostname.split(".", 1)[0].removeprefix("ip-").split("-")
    try:
        address = str(ipaddress.IPv4Address(".".join(parts))) if hostname.startswith("ip-") and len(parts) == 4 else ""
    except ValueError:
        address = ""
    return {"id": node["instanceId"], "instanceId": node["instanceId"], "privateIp": address, "privateDns": hostname,
            "availabilityZone": str(node.get("availabilityZone", ""))}  # fmt: skip


def _fleet_instances() -> list[tuple[str, str, dict[str, Any]]]:
    """(stack, instance id, instance) for every ingress node of the repository's stack files."""
    return [(stack, n["instanceId"], _as_instance(n)) for stack, config in fleet_configs().items() for n in _ingress_nodes(config)]


def offline_instances(stack: str, config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The EC2 instances the offline preview stands in for the cloud with: where the repository's
    other stack files place them, and then, for ids no other file lists, where `stack`'s own
    config does. So an id that another environment's stack file lists is answered with that
    environment's address, as EC2 would answer, whatever `stack` claims for it."""
    others = {iid: instance for owner, iid, instance in _fleet_instances() if owner != stack}
    own = {n["instanceId"]: _as_instance(n) for n in _ingress_nodes(config)}
    return {**own, **others}


class PlatformMocks(pulumi_mocks.Mocks):
    def __init__(
        self,
        stack_outputs: Mapping[str, Mapping[str, Any]],
        secret_outputs: Mapping[str, Iterable[str]] | None = None,
        instances: Mapping[str, Mapping[str, Any]] | None = None,
        preview: bool = False,
        own_stack: str = "",
    ) -> None:
        """`instances`: what `aws.ec2.get_instance` answers, by instance id (EC2 stood in for);
        an id not among them is refused as EC2 refuses an unknown one. `preview`: answer as a
        provider answers a create during `pulumi preview`: no id, and no output beyond the inputs
        (the SDK then makes both unknown, and so every input that depends on them). `own_stack`:
        the running stack's fully qualified name; a reference to it reads its last update, which
        offline is none (a new stack) unless `stack_outputs` gives one."""
        self.stack_outputs = stack_outputs
        self.own_stack = own_stack
        self.secret_outputs = secret_outputs or {}
        self.instances = instances or {}
        self.preview = preview

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            target = args.inputs.get("name") or args.resource_id or args.name
            if target == self.own_stack and target not in self.stack_outputs:
                return target, {"name": target, "outputs": {}, "secretOutputNames": []}
            if target not in self.stack_outputs:
                raise LookupError(
                    f"stack reference {target!r} is not available offline (known: {', '.join(self.stack_outputs) or 'none'})"
                )
            secret = sorted(self.secret_outputs.get(target, ()))  # as the engine reads them from the stack's state
            return target, {"name": target, "outputs": dict(self.stack_outputs[target]), "secretOutputNames": secret}
        if self.preview:
            return "", dict(args.inputs)
        rid = mock_id(args.name)
        state = dict(args.inputs)
        state.setdefault("arn", f"arn:aws:mock:::{args.typ.split(':')[-1].lower()}/{args.name}")
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            state.update(dnsName=f"{args.name}.elb.mock.amazonaws.com", zoneId="ZMOCKELBZONE")
        if args.typ == "aws:ec2/vpcEndpoint:VpcEndpoint" and args.inputs.get("vpcEndpointType") == "Gateway":
            # AWS's prefix list of the service in the region (S3's is the same for every gateway endpoint of it)
            state.setdefault("prefixListId", f"pl-{hashlib.sha256(args.inputs['serviceName'].encode()).hexdigest()[:17]}")
        return rid, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # what the provider answers without a cloud call: the account and partition of the credentials
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": MOCK_ACCOUNT,
                "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/offline",
                "userId": "OFFLINE",
                "id": MOCK_ACCOUNT,
            }, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if args.token == GET_INSTANCE:
            instance = self.instances.get(str(args.args.get("instanceId")))
            if instance is None:  # the provider's own words for an id EC2 does not know
                return {}, [("instanceId", "Your query returned no results. Please change your search criteria and try again.")]
            return dict(instance), []
        return {}, []


def _sentinels(value: Any) -> Any:
    """`value` with each of the SDK's unknowns (a preview's) as the wire's unknown sentinel."""
    if isinstance(value, Unknown):
        return pulumi.runtime.rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _sentinels(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sentinels(v) for v in value]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping what the engine would get: parents and dependencies."""

    def __init__(self, mocks: pulumi_mocks.Mocks, on_register: Callable[[Registration], None] | None = None) -> None:
        """`on_register` sees each registration as it happens, as the engine's analyzers do."""
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.on_register = on_register
        self.stack_urn = ""
        self.stack_outputs: Any = None  # the Struct the stack registers its outputs with, as the engine gets it
        self._in_order = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
        else:
            state = self.resources[response.urn]
            # unknowns as the engine passes them on to a policy pack (the SDK's sentinel), not as None
            inputs = _sentinels(pulumi.runtime.rpc.deserialize_properties(request.object, keep_unknowns=True))
            registration = Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                inputs=inputs,
                id=state.id or "",
                state=dict(inputs) if self.mocks.preview else dict(state.state or {}),  # a create's outputs in a preview: its inputs
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                additional_secret_outputs=list(request.additionalSecretOutputs),
                delete_before_replace=bool(request.deleteBeforeReplace),
                retain_on_delete=bool(request.retainOnDelete),
                ignore_changes=list(request.ignoreChanges),
                provider=request.provider,
            )
            with self._in_order:  # the SDK registers from several threads: `on_register` sees this list's order
                self.registrations.append(registration)
                if self.on_register is not None:
                    self.on_register(registration)
        return response


    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        if request.urn == self.stack_urn:
            self.stack_outputs = request.outputs
        return super().RegisterResourceOutputs(request)


@contextmanager
def _pickler_as_found() -> Iterator[None]:
    """Put back what the SDK's dynamic-provider serialization leaves patched on the pure-Python
    pickler. pulumi.dynamic's serialize_provider wraps `pickle._Pickler._batch_setitems` in a
    sorting wrapper on every call and never restores it, so each dynamic resource adds one frame
    to every dict it pickles from then on. One `pulumi up` is one process with a few dynamic
    resources; a test session runs hundreds of programs in one process, and after about a
    thousand wrappers every dynamic resource fails with RecursionError."""
    batch_setitems, save_dict = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict  # type: ignore[attr-defined]
    try:
        yield
    finally:
        pickle._Pickler._batch_setitems = batch_setitems  # type: ignore[attr-defined]
        pickle._Pickler.save_dict = save_dict  # type: ignore[attr-defined]


def run_program(
    stack: str,
    config: Mapping[str, Any],
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    program: Path = ROOT / "__main__.py",
    monitor: RecordingMonitor | None = None,
    secret_keys: list[str] | None = None,
    on_register: Callable[[Registration], None] | None = None,
    secret_outputs: Mapping[str, Iterable[str]] | None = None,
    instances: Mapping[str, Mapping[str, Any]] | None = None,
    preview: bool = False,
    project_root: Path | None = None,
) -> ProgramRun:
    """Run `program` as stack `stack` of the project at `project_root` (default: the program's
    folder; Pulumi.yaml's `main:` may put the program elsewhere). Raises what the program raises (InvalidStackConfig...);
    pass a `monitor` to see what was registered before that, or `on_register` to see each
    registration as it happens. `instances`: EC2 as `aws.ec2.get_instance` reads it (default:
    `offline_instances`, the repository's stack files). `preview`: the SDK's preview mode (`pulumi
    preview` of a stack not yet created): ids and outputs unknown, as the SDK makes them."""
    project = project_file(project_root or program.parent)["name"]
    # the org the stack lives in: the shared stack's (the CLI's own in a real run), "organization" on
    # a self-managed backend; a stack's reference to itself reads its last update, none offline
    shared_stack = str(config.get("interlock-platform:sharedStack") or "")
    organization = shared_stack.split("/")[0] if shared_stack.count("/") == 2 else "organization"
    mocks = PlatformMocks(
        stack_outputs or {}, secret_outputs, offline_instances(stack, config) if instances is None else instances, preview,
        own_stack=f"{organization}/{project}/{stack}",
    )  # fmt: skip
    monitor = monitor or RecordingMonitor(mocks, on_register)
    monitor.mocks = mocks
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor, organization=organization)
    # The config as the language host hands it over: the whole map in PULUMI_CONFIG (which the
    # program lists its keys from), and the same through the SDK's config store.
    values, secrets = {k: engine_config_value(v) for k, v in config.items()}, list(secret_keys or [])
    os.environ["PULUMI_CONFIG"] = json.dumps(values)
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secrets)
    pulumi.runtime.set_all_config(values, secrets)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    # As the language host runs a program: in a new stack resource, awaiting what `pulumi.run` registered
    pulumi_settings.ROOT.set(None)
    with _pickler_as_found():
        _sync_await(run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))

    outputs, secret = _stack_outputs(monitor.stack_outputs)
    return ProgramRun(project, stack, list(monitor.registrations), outputs, secret)
