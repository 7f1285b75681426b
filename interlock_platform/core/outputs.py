"""Every stack output, declared once, as pydantic models: `SharedOutputs` for the shared stack,
`EnvironmentOutputs` for dev, test and prod. Each field is an output: its type (the annotation),
what it means (the description), whether app teams may build on it (`stable`) and whether only
some config exports it (`optional`). docs/stack-outputs.md is generated from them (`python -m
interlock_platform project-file --write`); tests hold the stacks' exports, names and values, to them. The
values the env stacks read back (the registry) are the config models' own. Pure; no Pulumi."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from interlock_platform.core.config_keys import ENVIRONMENT, SHARED
from interlock_platform.core.config_models import AwsQuotas, Flag, RegistryEntry, SharedInterlock, Whole, metadata, unwrap


def output(
    meaning: str,
    *,
    stable: bool = True,
    only_with: str = "",
    keys: str = "string",
    secret: bool = False,
    network_pass: bool = False,
) -> Any:
    """An output's field. `only_with`: the config without which the stack does not export it;
    `keys`: what a map's keys are (zones, groups, teams); `network_pass`: an env stack's network
    pass (networkOnly: true, before its nodes exist) exports it too."""
    optional = bool(only_with)
    extra = {"stable": stable, "onlyWith": only_with, "keys": keys, "secret": secret, "networkPass": network_pass}
    return (
        Field(None, description=meaning, json_schema_extra=extra)
        if optional
        else Field(description=meaning, json_schema_extra=extra)
    )


class Outputs(BaseModel):
    # Built only when a test validates a stack's exports against it: the program never does.
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True, defer_build=True)


class SharedOutputs(Outputs):
    vpc_id: str = output("the VPC")
    vpc_cidr: str = output("the VPC's block")
    availability_zones: list[str] = output("the zones the platform spans, in order")
    management_security_group_id: str = output("the managers' security group; env stacks attach their rules to it")
    management_peers_security_group_id: str = output("managers and DTR among themselves")
    management_cidrs: list[str] = output("management VLAN subnets, in zone order")
    management_subnet_ids: list[str] = output("management VLAN subnet ids, in zone order")
    edge_cidrs: list[str] = output("edge (public) subnets, in zone order")
    edge_subnet_ids: list[str] = output("edge subnet ids, in zone order")
    nat_gateway_ids: dict[str, str] = output("the NAT gateway each zone's private subnets leave through", keys="zone")
    admin_cidrs: list[str] = output("who may reach UCP 443 and Kubernetes 6443")
    vpc_endpoints: list[str] = output("the AWS services reached through VPC endpoints (`vpcEndpoints`)")
    vpc_endpoint_security_group_ids: dict[str, str] = output(
        "each interface endpoint's security group; env stacks admit their workers to it on TCP 443", keys="service"
    )
    ucp_version: str = output("the UCP / MKE release whose port table applies")
    calico_ip_in_ip: Flag = output("whether IP protocol 4 is open between the VLANs")
    aws_quotas: AwsQuotas = output("`{securityGroupRulesPerDirection, naclRulesPerDirection, subnetsPerVpc}` validation uses")
    environments: dict[str, RegistryEntry] = output(
        "the registry: `{cidr, collection, httpPort, httpsPort, collectionNodeSelector, domain, maxSubnets, allowEsp}`",
        keys="name",
    )
    interlock: SharedInterlock = output(
        "`{retireDefaultExtension, template, keepConfigs, healthSeconds, enableLayer7Routing, layer7HttpPort, layer7HttpsPort}`"
    )
    interlock_template: str | None = output(
        "the template extension (TOML) captured before `[Extensions.default]` was retired; a secret, since it may hold "
        "Interlock credentials",
        stable=False, secret=True,
    )  # fmt: skip


class GatewayBackendOutput(Outputs):
    pod_selector: dict[str, str]  # the labels its `allow-gateway-<app>` admits the proxies to
    ports: list[Whole]  # and the ports


class GatewayOutput(Outputs):
    """The environment's Gateway, as a team's HTTPRoute names it (core/gateway.contract_output)."""

    name: str
    namespace: str
    http_listener: str
    https_listener: str | None = None  # absent (null) without the wildcard certificate (tls: false)
    team_apps: dict[str, dict[str, GatewayBackendOutput]]  # team -> app -> what the proxies may reach


class EnvironmentOutputs(Outputs):
    environment: str = output("the environment's name", network_pass=True)
    service_cluster: str = output("its Interlock service cluster (`com.docker.lb.service_cluster`)", network_pass=True)
    collection: str = output("its UCP collection (`com.docker.ucp.access.label`)", network_pass=True)
    collection_node_selector: str = output("the collection's node label, `key=value`", network_pass=True)
    http_port: Whole = output("its Interlock proxy ports (what its load balancer forwards 80 and 443 to)", network_pass=True)
    https_port: Whole = output("its Interlock proxy ports (what its load balancer forwards 80 and 443 to)", network_pass=True)
    interlock_publish_mode: str = output("how its proxies publish their ports: `host`")
    interlock_proxy_service: str = output("its proxy service, `ucp-interlock-proxy-<env>`")
    domain: str = output("apps are served as `<name>.<domain>`", network_pass=True)
    https_only: Flag = output(
        "whether every app's HTTP host must redirect to HTTPS (`InterlockService` adds the redirect)", network_pass=True
    )
    isolation: str = output(
        "`environment` or `applicationGroup`: whether its application groups have a firewall each", network_pass=True
    )
    network_only: Flag = output(
        "whether this was the network pass (`networkOnly: true`): only the environment's network and firewall exist, so an "
        "app team cannot deploy yet",
        network_pass=True,
    )
    load_balancer_dns_name: str = output("its network load balancer")
    ingress_network: str = output("the overlay network apps join and name in `com.docker.lb.network`")
    overlay_networks: list[str] = output("all of its overlay networks, the ingress network first")
    ingress_nodes: list[str] = output("hostnames of the nodes running its proxies", stable=False)
    application_group_subnet_ids: dict[str, list[str]] = output(
        "subnet ids per application group, in zone order", keys="group", network_pass=True
    )
    worker_security_group_id: str = output("its workers' security group", network_pass=True)
    application_group_security_group_ids: dict[str, str] | None = output(
        "with `isolation: applicationGroup`: the security group of each application group; every worker of the group carries it "
        "besides the workers group",
        only_with="isolation: applicationGroup", keys="group", network_pass=True,
    )  # fmt: skip
    load_balancer_security_group_id: str = output("its load balancer's security group")
    team_namespaces: dict[str, str] = output("the Kubernetes namespace of each on-boarded team", keys="team")
    ingress_controller_namespace_selector: dict[str, str] = output(
        "the labels that select the ingress controller's namespace on this cluster's Kubernetes, for an app's ingress NetworkPolicy"
    )
    gateway: GatewayOutput | None = output(
        "its Gateway API Gateway: `{name, namespace, httpListener, httpsListener, teamApps}`, "
        "the `parentRefs` of a team's HTTPRoute (`httpsListener` null without `tls: true`) and, per team and app, the "
        "`{podSelector, ports}` its `allow-gateway-<app>` policy admits the proxies to (`GatewayApp`)",
        only_with="gateway.enabled: true",
    )
    tls_certificate_secret_name: str | None = output(
        "with `tls: true`: the Swarm secrets for `com.docker.lb.ssl_cert` / `ssl_key`", only_with="tls: true"
    )
    tls_key_secret_name: str | None = output(
        "with `tls: true`: the Swarm secrets for `com.docker.lb.ssl_cert` / `ssl_key`", only_with="tls: true"
    )


MODELS: dict[str, type[Outputs]] = {SHARED: SharedOutputs, ENVIRONMENT: EnvironmentOutputs}


def type_text(annotation: Any, keys: str = "string") -> str:
    """An output's type as docs/stack-outputs.md says it: string, int, list of strings, map zone -> string."""
    tp, _ = unwrap(annotation)
    if get_origin(tp) is list:
        return f"list of {type_text(get_args(tp)[0])}s"
    if get_origin(tp) is dict:
        return f"map {keys} -> {type_text(get_args(tp)[1])}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "object"
    return {bool: "bool", int: "int"}.get(tp, "string")


@dataclass(frozen=True)
class StackOutput:
    name: str
    role: str  # SHARED or ENVIRONMENT
    type: str
    meaning: str
    stable: bool = True  # False: informational, may change with any release
    optional: bool = False  # exported only with some config: only_with
    only_with: str = ""  # that config, e.g. tls: true
    network_pass: bool = False  # the network pass (networkOnly: true) exports it too


def _declared(role: str, name: str, info: Any) -> StackOutput:
    kind = type_text(info.annotation, metadata(info, "keys"))
    if metadata(info, "secret"):
        kind = f"secret {kind} or null"
    only_with = str(metadata(info, "onlyWith"))
    return StackOutput(
        name, role, kind, str(info.description), bool(metadata(info, "stable")), bool(only_with), only_with,
        bool(metadata(info, "networkPass")),
    )  # fmt: skip


OUTPUTS: tuple[StackOutput, ...] = tuple(
    _declared(role, info.alias or name, info) for role, model in MODELS.items() for name, info in model.model_fields.items()
)
BY_ROLE = {role: tuple(o for o in OUTPUTS if o.role == role) for role in (SHARED, ENVIRONMENT)}
