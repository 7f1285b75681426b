"""The derived model: what a validated stack is, as frozen dataclasses the plans and components read.
Built by `topology.parse_shared` / `parse_environment`; never from raw config."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from interlock_platform.core import ports

WORLD = "0.0.0.0/0"


ISOLATION_MODES = ("environment", "applicationGroup")

# The AWS services the nodes call, as VPC endpoints (`vpcEndpoints`): image pulls (ECR's API, its
# registry, and S3, where ECR keeps the layers), CloudWatch Logs (the awslogs log driver) and STS
# (IAM roles). S3 is a gateway endpoint, which each stack attaches to its own route tables; the
# others are interface endpoints in the management subnets, each behind its own security group.
VPC_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "s3", "logs", "sts")
GATEWAY_ENDPOINT_SERVICES = ("s3",)
HTTPS = 443


def endpoint_sg(service: str) -> str:
    """The firewall plan's name for an interface endpoint's security group."""
    return f"endpoint:{service}"


@dataclass(frozen=True)
class Quotas:
    security_group_rules_per_direction: int = 60
    nacl_rules_per_direction: int = 20
    subnets_per_vpc: int = 200


@dataclass(frozen=True)
class EnvironmentSpec:
    """One row of the environment registry that the shared stack owns."""

    name: str
    cidr: ipaddress.IPv4Network
    collection: str
    http_port: int
    https_port: int
    collection_node_selector: str
    max_subnets: int
    allow_esp: bool = True  # IP protocol 50 between the VLANs, for encrypted overlay networks
    domain: str = ""  # its apps are <name>.<domain>; no other environment's domain is it, above it or under it

    def to_output(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "cidr": str(self.cidr),
            "collection": self.collection,
            "httpPort": self.http_port,
            "httpsPort": self.https_port,
            "collectionNodeSelector": self.collection_node_selector,
            "maxSubnets": self.max_subnets,
            "allowEsp": self.allow_esp,
        }


@dataclass(frozen=True)
class UcpConnection:
    """Where the stack reaches UCP. The client bundle's keys stay in the stack's secrets."""

    host: str

    @property
    def uses_tls(self) -> bool:
        return not self.host.startswith("unix://")


@dataclass(frozen=True)
class InterlockSettings:
    """The shared stack's cluster-wide Interlock settings."""

    retire_default_extension: bool = False
    template: str = "default"
    keep_configs: int = 3
    # How long Interlock must run a new config without failing before a rotation reports success
    health_seconds: int = 20
    # Turn Layer 7 routing on (adopting an Interlock already on) and keep its images on the release
    enable_layer7_routing: bool = False
    layer7_http_port: int = 8080
    layer7_https_port: int = 8443


@dataclass(frozen=True)
class SharedTopology:
    stack: str
    vpc_cidr: ipaddress.IPv4Network
    availability_zones: tuple[str, ...]
    management_cidrs: tuple[ipaddress.IPv4Network, ...]
    edge_cidrs: tuple[ipaddress.IPv4Network, ...]
    admin_cidrs: tuple[ipaddress.IPv4Network, ...]
    ucp_version: str
    calico_ip_in_ip: bool
    nat_gateways: str
    flow_log_retention_days: int
    quotas: Quotas
    environments: Mapping[str, EnvironmentSpec]
    interlock: InterlockSettings = InterlockSettings()
    ucp: UcpConnection | None = None  # None when read back from the shared stack's outputs
    flow_log_kms_key_arn: str | None = None  # None: the stack creates the key
    vpc_endpoints: tuple[str, ...] = ()  # of VPC_ENDPOINT_SERVICES, in that order
    management_internet_egress: bool = True  # managers reach any internet address on TCP 443
    proxy: EgressRule | None = None  # the managers' corporate proxy

    @property
    def interface_endpoints(self) -> tuple[str, ...]:
        return tuple(s for s in self.vpc_endpoints if s not in GATEWAY_ENDPOINT_SERVICES)

    @property
    def s3_gateway(self) -> bool:
        return "s3" in self.vpc_endpoints

    @property
    def management_block(self) -> ipaddress.IPv4Network:
        return covering_block(self.management_cidrs)

    @property
    def edge_block(self) -> ipaddress.IPv4Network:
        return covering_block(self.edge_cidrs)

    @property
    def shared_subnet_count(self) -> int:
        return len(self.management_cidrs) + len(self.edge_cidrs)

    def to_outputs(self) -> dict[str, Any]:
        """The registry and settings, under the same names as the config keys, for env stacks
        (the keys are REGISTRY_OUTPUTS)."""
        return {
            "vpcCidr": str(self.vpc_cidr),
            "availabilityZones": list(self.availability_zones),
            "managementCidrs": [str(c) for c in self.management_cidrs],
            "edgeCidrs": [str(c) for c in self.edge_cidrs],
            "adminCidrs": [str(c) for c in self.admin_cidrs],
            "ucpVersion": self.ucp_version,
            "calicoIpInIp": self.calico_ip_in_ip,
            "awsQuotas": {
                "securityGroupRulesPerDirection": self.quotas.security_group_rules_per_direction,
                "naclRulesPerDirection": self.quotas.nacl_rules_per_direction,
                "subnetsPerVpc": self.quotas.subnets_per_vpc,
            },
            "environments": {name: env.to_output() for name, env in self.environments.items()},
            "vpcEndpoints": list(self.vpc_endpoints),
            "interlock": {
                "retireDefaultExtension": self.interlock.retire_default_extension,
                "template": self.interlock.template,
                "keepConfigs": self.interlock.keep_configs,
                "healthSeconds": self.interlock.health_seconds,
                "enableLayer7Routing": self.interlock.enable_layer7_routing,
                "layer7HttpPort": self.interlock.layer7_http_port,
                "layer7HttpsPort": self.interlock.layer7_https_port,
            },
        }


# What an env stack reads from the shared stack before it registers anything: SharedTopology.to_outputs's keys
REGISTRY_OUTPUTS = (
    "vpcCidr", "availabilityZones", "managementCidrs", "edgeCidrs", "adminCidrs", "ucpVersion", "calicoIpInIp", "awsQuotas",
    "environments", "interlock", "vpcEndpoints",
)  # fmt: skip


@dataclass(frozen=True)
class Subnet:
    availability_zone: str
    cidr: ipaddress.IPv4Network


@dataclass(frozen=True)
class GroupFlow:
    """A declared flow into an application group: hosts of `group` may reach `ports` on it."""

    group: str
    protocol: ports.Protocol
    ports: tuple[int, ...]


@dataclass(frozen=True)
class ApplicationGroup:
    name: str
    prefix_length: int
    first_subnet: int
    subnets: tuple[Subnet, ...]
    allow_from: tuple[GroupFlow, ...] = ()  # read only with isolation: applicationGroup
    os: str = "linux"  # the workers' operating system: linux or windows

    @property
    def windows(self) -> bool:
        return self.os == "windows"


EC2_HOSTNAME_ADDRESS = re.compile(r"^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(\.|$)")


@dataclass(frozen=True)
class IngressNode:
    hostname: str
    instance_id: str
    availability_zone: str

    @property
    def address(self) -> ipaddress.IPv4Address | None:
        """The private address an EC2 hostname (ip-a-b-c-d...) carries; None for any other name."""
        m = EC2_HOSTNAME_ADDRESS.match(self.hostname)
        if not m:
            return None
        try:
            return ipaddress.IPv4Address(".".join(m.groups()[:4]))
        except ValueError:
            return None


@dataclass(frozen=True)
class InstanceFacts:
    """What EC2 says of an ingress node's instance id (`aws.ec2.get_instance`), read at preview."""

    instance_id: str
    private_ip: str
    availability_zone: str


@dataclass(frozen=True)
class LoadBalancerOptions:
    internal: bool
    client_cidrs: tuple[ipaddress.IPv4Network, ...]
    deletion_protection: bool


@dataclass(frozen=True)
class EgressRule:
    description: str
    cidr: ipaddress.IPv4Network
    protocol: ports.Protocol
    from_port: int
    to_port: int


@dataclass(frozen=True)
class OverlayNetworks:
    ingress: str  # the network Interlock's proxies use to reach the apps (com.docker.lb.network)
    additional: tuple[str, ...]
    encrypted: bool

    @property
    def all(self) -> tuple[str, ...]:
        return (self.ingress, *self.additional)


@dataclass(frozen=True)
class EnvironmentTopology:
    stack: str
    shared_stack: str
    shared: SharedTopology
    env: EnvironmentSpec
    domain: str
    hosted_zone_id: str | None
    application_groups: tuple[ApplicationGroup, ...]
    ingress_nodes: tuple[IngressNode, ...]
    load_balancer: LoadBalancerOptions
    egress: tuple[EgressRule, ...] = field(default_factory=tuple)
    ucp: UcpConnection = UcpConnection("unix:///var/run/docker.sock")
    proxy_replicas: int = 2
    overlay: OverlayNetworks = field(default_factory=lambda: OverlayNetworks("ingress", (), False))
    tls: bool = False
    teams: tuple[Any, ...] = ()  # k8s_manifests.TeamSpec
    kubernetes: Any = None  # k8s_manifests.KubernetesSettings
    isolation: str = "environment"  # or "applicationGroup": a firewall per group (ISOLATION_MODES)
    https_only: bool = False  # every app's HTTP host redirects to HTTPS
    gateway: Any = None  # gateway.GatewaySpec: the environment's own Gateway API Gateway, when enabled
    network_only: bool = False  # the first pass: only the network and firewall, before the nodes exist (networkOnly)

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def other_environments(self) -> tuple[EnvironmentSpec, ...]:
        """In address order. An env stack reads the registry through a StackReference, whose map
        order is the transport's (a protobuf Struct's), and NACL entries are numbered in this
        order: a number that moved would replace an entry AWS keeps by number."""
        others = (e for n, e in self.shared.environments.items() if n != self.env.name)
        return tuple(sorted(others, key=lambda e: (e.cidr.network_address, e.cidr.prefixlen, e.name)))

    @property
    def proxy_ports(self) -> tuple[tuple[int, str, str], ...]:
        """(port, HTTP or HTTPS, whose: Interlock or Gateway) the load balancer's 80 and 443 forward
        to on the ingress nodes: Interlock's proxy ports, or the Gateway's NodePorts once it takes
        the load balancer (gateway.loadBalancer)."""
        if self.gateway is not None and self.gateway.load_balancer:
            return ((self.gateway.http_node_port, "HTTP", "Gateway"), (self.gateway.https_node_port, "HTTPS", "Gateway"))
        return ((self.env.http_port, "HTTP", "Interlock"), (self.env.https_port, "HTTPS", "Interlock"))

    @property
    def subnets(self) -> tuple[tuple[ApplicationGroup, Subnet], ...]:
        return tuple((g, s) for g in self.application_groups for s in g.subnets)

    @property
    def has_windows(self) -> bool:
        """Some application group runs Windows workers."""
        return any(g.windows for g in self.application_groups)


def covering_block(cidrs: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """The smallest single prefix that holds every CIDR: one NACL entry for a whole VLAN."""
    nets = list(cidrs)
    lo = min(int(n.network_address) for n in nets)
    hi = max(int(n.broadcast_address) for n in nets)
    prefix = 32 - (lo ^ hi).bit_length()
    return ipaddress.ip_network((lo, prefix), strict=False)
