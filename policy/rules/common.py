"""What the rules share: reading properties that may be unknown during a preview, the
environment registry from policy config, and the resource graph of a stack.

The pack does not import the program: it is the independent check on it. It learns the
environments from its config (generate it with `python -m interlock_platform policy-config`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, Secret
from pulumi_policy.proxy import UnknownValueError

UNKNOWN = object()  # a value the engine does not know yet (a real preview of new resources)
WORLD = ("0.0.0.0/0", "::/0")
STACK_REFERENCE = "pulumi:pulumi:StackReference"

REGISTRY_SCHEMA = PolicyConfigSchema(
    properties={
        "environments": {
            "type": "object",
            "description": "name -> {cidr, collection, httpPort, httpsPort, collectionNodeSelector, encryptedOverlays}",
        },
        "managementCidrs": {"type": "array", "items": {"type": "string"}},
        "naclRulesPerDirection": {"type": "integer", "default": 20},
        "managementSecurityGroupId": {"type": ["string", "null"], "description": "the shared stack's management security group"},
        "vpcEndpointSecurityGroupIds": {
            "type": "array", "items": {"type": "string"},
            "description": "the shared stack's VPC endpoint security groups: on the endpoints' interfaces, never on a worker",
        },
        "applicationGroups": {
            "type": "object",
            "description": "environment -> {groups: {name: [cidrs]}, flows: [{from, to, protocol, ports}], ingressGroups: [names]}, "
            "for the environments with isolation: applicationGroup (from their stack config)",
        },
        "managementPeersSecurityGroupId": {"type": ["string", "null"], "description": "the shared stack's managers-and-DTR group"},
        "sharedSubnetIds": {
            "type": "array", "items": {"type": "string"},
            "description": "the shared stack's management and edge subnet ids: no environment places anything in them",
        },
        "owned": {
            "type": "object",
            "description": "environment -> {namespaces, networks, nodes, instanceIds, platformNamespaces, serviceTypes, "
            "loadBalancerTargets, gatewayNamespace, gatewayNodePorts}: the names each environment's stack config gives it (its team namespaces, overlay networks, "
            "ingress nodes' hostnames and instance ids), the cluster namespaces its policies may select (DNS, the ingress "
            "controller, its Gateway's proxies'), the Service types it grants, and where its load balancer's 443 and 80 "
            "forward when its Gateway has taken them ({\"443\": port, \"80\": port}; absent: Interlock's proxy ports), and, with "
            "its Gateway on, the Gateway's namespace and its HTTP and HTTPS NodePorts",
        },
    }
)  # fmt: skip


def get(props: Any, *path: str) -> Any:
    """`props[a][b]...`, None when absent, UNKNOWN when the engine does not know it yet."""
    node = props
    try:
        for key in path:
            if isinstance(node, Secret):
                node = node.value
            if node is None or not hasattr(node, "get"):
                return None
            node = node.get(key)
        return node
    except UnknownValueError:
        return UNKNOWN


def plain(value: Any) -> Any:
    return value.value if isinstance(value, Secret) else value


def items(value: Any) -> list[Any]:
    """The elements of a list property, each UNKNOWN where the engine does not know it yet; [] for
    an absent, unknown or non-list value. The SDK's list proxy is no `list` (it cannot be added
    to one) and raises on an unknown element, so rules iterate through this."""
    value = plain(value)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return []
    out = []
    for i in range(len(value)):
        try:
            out.append(plain(value[i]))
        except UnknownValueError:
            out.append(UNKNOWN)
    return out


def number(value: Any) -> int | None:
    """Protobuf hands integers over as floats; a port may also be written as a string."""
    value = plain(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value == value else None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def network(value: Any) -> Network | None:
    """A CIDR or address; an IPv4-mapped IPv6 range is read as the IPv4 range it is."""
    value = plain(value)
    if not isinstance(value, str):
        return None
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None and net.prefixlen >= 96:
        return ipaddress.ip_network((net.network_address.ipv4_mapped, net.prefixlen - 96), strict=False)
    return net


# Wider than one regional registry's allocation (an IPv4 /8, an IPv6 /32 is an ISP's minimum):
# a rule that wide is open to the internet, whether it says 0.0.0.0/0 or two /1 halves.
WIDEST_NON_WORLD = {4: 8, 6: 32}


def world_like(net: Network | None) -> bool:
    if net is None:
        return False
    if net.prefixlen == 0:
        return True
    return net.prefixlen < WIDEST_NON_WORLD[net.version] and not net.is_private


def overlaps(net: Network | None, other: Network) -> bool:
    """Overlap, not equality: any part of another range counts as that range."""
    return net is not None and net.version == other.version and net.overlaps(other)  # type: ignore[arg-type]


PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "all": "-1"}


def protocol(value: Any) -> Any:
    """An IP protocol as AWS reads it, by number: "tcp", "6" and 6.0 are the same; "-1" is all.
    UNKNOWN stays UNKNOWN, an absent one is None."""
    value = plain(value)
    if value is None or value is UNKNOWN:
        return value
    n = number(value)
    if n is not None:
        return str(n)
    text = str(value).strip().lower()
    return PROTOCOL_NUMBERS.get(text, text)


def kind(resource_type: str) -> str:
    """`kubernetes:<group>/<version>:<Kind>` as `<group>:<Kind>`, whatever the API version (a
    v1beta1 Role on an old cluster is a Role), a `Patch` form read as the object it patches."""
    if not resource_type.startswith("kubernetes:"):
        return resource_type
    _, module, name = [*resource_type.split(":", 2), "", ""][:3]
    group = module.rsplit("/", 1)[0] if "/" in module else module
    return f"{group}:{name.removesuffix('Patch')}"


def stack_of(urn: str) -> str:
    return urn.split("::")[0].removeprefix("urn:pulumi:")


@dataclass(frozen=True)
class Environment:
    name: str
    cidr: ipaddress.IPv4Network
    collection: str
    http_port: int
    https_port: int
    node_selector: str
    encrypted_overlays: bool
    domain: str = ""  # its DNS domain (the registry's): its hostnames are within it


@dataclass(frozen=True)
class GroupLayout:
    """An environment whose application groups each have a firewall: their ranges, the flows its
    config declares between them, and the groups that hold its ingress nodes."""

    groups: Mapping[str, tuple[Network, ...]]
    flows: Mapping[tuple[str, str, str], frozenset[int]]  # (from, to, protocol number) -> ports
    ingress_groups: frozenset[str]

    def groups_in(self, net: Network) -> set[str]:
        return {g for g, cidrs in self.groups.items() if any(overlaps(net, c) for c in cidrs)}

    def declared(self, src: str, dst: str, proto: str, lo: int, hi: int) -> bool:
        ports = self.flows.get((src, dst, proto), frozenset())
        return hi - lo < 65536 and all(p in ports for p in range(lo, hi + 1))


def group_layout(value: Any) -> GroupLayout:
    groups = {name: tuple(ipaddress.ip_network(c) for c in cidrs) for name, cidrs in (value.get("groups") or {}).items()}
    flows: dict[tuple[str, str, str], frozenset[int]] = {}
    for f in value.get("flows") or ():
        key = (f["from"], f["to"], protocol(f.get("protocol", "tcp")))
        flows[key] = flows.get(key, frozenset()) | frozenset(int(p) for p in f["ports"])
    return GroupLayout(groups, flows, frozenset(value.get("ingressGroups") or ()))


@dataclass(frozen=True)
class Owned:
    """The names one environment's stack config gives it: what no other environment may name."""

    namespaces: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()
    instance_ids: frozenset[str] = frozenset()
    platform_namespaces: frozenset[str] = frozenset()  # cluster namespaces its policies may select: DNS, the ingress controller, the Gateway's proxies'
    service_types: frozenset[str] = frozenset()  # Service types its config grants beyond ClusterIP (kubernetes.serviceTypes)
    load_balancer_targets: Mapping[int, int] | None = None  # 443/80 -> the Gateway's NodePorts, once it has the load balancer
    gateway_namespace: str | None = None  # its Gateway's namespace, where the Gateway is on (else gateway-<env>)
    gateway_node_ports: tuple[int, ...] = ()  # its Gateway's HTTP and HTTPS NodePorts, where the Gateway is on


def owned(value: Any) -> Owned:
    def names(key: str) -> frozenset[str]:
        return frozenset(str(v) for v in (value.get(key) or ()))

    targets, gateway_ns = value.get("loadBalancerTargets"), value.get("gatewayNamespace")
    return Owned(
        names("namespaces"), names("networks"), names("nodes"), names("instanceIds"), names("platformNamespaces"), names("serviceTypes"),
        {int(k): int(v) for k, v in targets.items()} if isinstance(targets, Mapping) else None,
        str(gateway_ns) if gateway_ns else None, tuple(int(p) for p in value.get("gatewayNodePorts") or ()),
    )  # fmt: skip


@dataclass(frozen=True)
class Registry:
    environments: Mapping[str, Environment]
    management_cidrs: tuple[ipaddress.IPv4Network, ...]
    nacl_quota: int
    group_layouts: Mapping[str, GroupLayout] = field(default_factory=dict)
    management_security_group_id: str | None = None
    management_peers_security_group_id: str | None = None
    shared_subnet_ids: frozenset[str] = frozenset()
    owned: Mapping[str, Owned] = field(default_factory=dict)
    endpoint_security_group_ids: frozenset[str] = frozenset()  # the shared stack's VPC endpoints' groups

    def others(self, env: str) -> list[Environment]:
        return [e for n, e in self.environments.items() if n != env]

    @property
    def management_group_ids(self) -> set[str]:
        return {g for g in (self.management_security_group_id, self.management_peers_security_group_id) if g}

    def owns(self, env: str) -> Owned:
        return self.owned.get(env) or Owned()

    def owner(self, what: str, name: Any) -> str | None:
        """The environment whose config gives it `name` (`what`: "namespaces", "networks", "nodes",
        "instance_ids"), None when none does."""
        return next((e for e, o in self.owned.items() if name in getattr(o, what)), None)

    def node_owner(self, hostname: str) -> str | None:
        """The environment a node belongs to: its stack config lists it, or the private address an
        EC2 hostname carries (ip-a-b-c-d...) lies in its range; "management" for the managers' VLAN."""
        listed = self.owner("nodes", hostname)
        if listed is not None:
            return listed
        address = ec2_hostname_address(hostname)
        if address is None:
            return None
        for e in self.environments.values():
            if address in e.cidr:
                return e.name
        return "management" if any(address in c for c in self.management_cidrs) else None

    @property
    def management_block(self) -> ipaddress.IPv4Network | None:
        if not self.management_cidrs:
            return None
        lo = min(int(n.network_address) for n in self.management_cidrs)
        hi = max(int(n.broadcast_address) for n in self.management_cidrs)
        return ipaddress.ip_network((lo, 32 - (lo ^ hi).bit_length()), strict=False)  # type: ignore[return-value]


EC2_HOSTNAME = re.compile(r"^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(\.|$)")


def ec2_hostname_address(hostname: str) -> ipaddress.IPv4Address | None:
    """The private address an EC2 hostname (ip-10-40-64-10.eu-west-1.compute.internal) carries."""
    m = EC2_HOSTNAME.match(hostname.strip().lower())
    if not m:
        return None
    try:
        return ipaddress.IPv4Address(".".join(m.groups()[:4]))
    except ValueError:
        return None


NOT_CONFIGURED = (
    "the policy pack has no environment registry, so it cannot check isolation. Fix: generate the config from the shared stack "
    "(`python -m interlock_platform policy-config > policy-config.json`) and pass `--policy-pack-config policy-config.json`"
)


def registry(config: Mapping[str, Any]) -> Registry | None:
    envs = config.get("environments")
    if not envs:
        return None
    parsed = {}
    for name, e in envs.items():
        parsed[name] = Environment(
            name, ipaddress.ip_network(e["cidr"]), e["collection"], int(e["httpPort"]), int(e["httpsPort"]),
            e.get("collectionNodeSelector", ""), bool(e.get("encryptedOverlays", name == "prod")), str(e.get("domain") or ""),
        )  # fmt: skip
    mgmt = tuple(ipaddress.ip_network(c) for c in config.get("managementCidrs") or ())
    layouts = {env: group_layout(v) for env, v in (config.get("applicationGroups") or {}).items()}
    mgmt_sg, peers_sg = config.get("managementSecurityGroupId"), config.get("managementPeersSecurityGroupId")
    return Registry(
        parsed, mgmt, int(config.get("naclRulesPerDirection") or 20), layouts,  # type: ignore[arg-type]
        mgmt_sg if isinstance(mgmt_sg, str) else None, peers_sg if isinstance(peers_sg, str) else None,
        frozenset(str(s) for s in config.get("sharedSubnetIds") or ()),
        {env: owned(v) for env, v in (config.get("owned") or {}).items()},
        frozenset(str(i) for i in config.get("vpcEndpointSecurityGroupIds") or ()),
    )  # fmt: skip


class Stack:
    """A stack's resources with the lookups the rules need."""

    def __init__(self, resources: Iterable[PolicyResource]) -> None:
        self.resources = list(resources)
        self.name = stack_of(self.resources[0].urn) if self.resources else ""

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]

    @staticmethod
    def fed_by(resource: PolicyResource, prop: str) -> list[PolicyResource]:
        """The resources whose outputs feed `prop` (propertyDependencies: known even when the
        values themselves are not)."""
        return list((resource.property_dependencies or {}).get(prop) or [])


def env_of(stack: str, reg: Registry) -> Environment | None:
    """Env stacks are named after their environment (`pulumi up -s dev`)."""
    return reg.environments.get(stack)


def registry_or_report(args: Any, report: Any) -> Registry | None:
    """The registry from the pack's config; an unconfigured pack says so rather than pass."""
    reg = registry(args.get_config())
    if reg is None:
        report(NOT_CONFIGURED, None)
    return reg


def environment_stack(args: Any, report: Any) -> tuple[Stack, Registry, Environment] | None:
    """For stack policies about one environment: its resources, the registry and its entry.
    None for a stack that is no environment (shared); an unconfigured pack says so."""
    reg = registry_or_report(args, report)
    if reg is None:
        return None
    stack = Stack(args.resources)
    env = env_of(stack.name, reg)
    return (stack, reg, env) if env is not None else None


def environment_resource(args: Any, report: Any) -> tuple[Registry, Environment] | None:
    """For resource policies about one environment: the registry and the entry of the resource's
    stack, read once. None for a stack that is no environment (shared); an unconfigured pack says so."""
    reg = registry(args.get_config())
    if reg is None:
        report(NOT_CONFIGURED)
        return None
    env = env_of(stack_of(args.urn), reg)
    return (reg, env) if env is not None else None


def resource_environment(args: Any, report: Any) -> Environment | None:
    """For resource policies: the environment of the resource's stack (None for shared)."""
    found = environment_resource(args, report)
    return found[1] if found is not None else None
