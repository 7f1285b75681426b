"""The labels an app team's Swarm service needs to be routed by its environment's Interlock
service cluster, and the checks that refuse a spec before anything is created. Pure: the
values come from the env stack's outputs (docs/stack-outputs.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from interlock_platform.core import labels

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class AppServiceSpec:
    name: str
    image: str
    port: int  # where the service listens inside its containers
    host_prefix: str | None = None  # served as <host_prefix>.<domain> (default: the name)
    hosts: tuple[str, ...] = ()  # or full host names, each under the environment's domain
    replicas: int = 2
    tls: bool = False  # terminate TLS at the proxy with the environment's wildcard certificate
    websocket_endpoints: tuple[str, ...] = ()
    sticky_session_cookie: str | None = None
    ip_hash: bool = False  # sticky by client address: needs proxies in host mode
    networks: tuple[str, ...] = ()  # further overlay networks of the same environment


@dataclass(frozen=True)
class EnvironmentContract:
    """What an app needs from its env stack's outputs."""

    environment: str
    collection: str
    domain: str
    ingress_network: str
    overlay_networks: tuple[str, ...]
    publish_mode: str
    tls_certificate_secret: str | None = None
    tls_key_secret: str | None = None
    others: Mapping[str, str] = field(default_factory=dict)  # network name -> environment, for clear refusals

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> EnvironmentContract:
        missing = [
            k
            for k in ("environment", "collection", "domain", "ingressNetwork", "overlayNetworks", "interlockPublishMode")
            if k not in outputs
        ]
        if missing:
            raise AppSpecError(
                [f"the environment stack does not export {', '.join(missing)}; deploy the platform's env stack first"]
            )
        return cls(
            outputs["environment"], outputs["collection"], outputs["domain"], outputs["ingressNetwork"], tuple(outputs["overlayNetworks"]),
            outputs["interlockPublishMode"], outputs.get("tlsCertificateSecretName"), outputs.get("tlsKeySecretName"),
        )  # fmt: skip


class AppSpecError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def hosts(spec: AppServiceSpec, env: EnvironmentContract) -> tuple[str, ...]:
    return spec.hosts or (f"{spec.host_prefix or spec.name}.{env.domain}",)


def check(spec: AppServiceSpec, env: EnvironmentContract) -> None:
    """Every problem at once, each saying how to fix it."""
    problems = []
    app = f"app '{spec.name}'"
    if not DNS_LABEL.match(spec.name):
        problems.append(f"{app}: the name is not a DNS label; use lower-case letters, digits and '-'")
    if spec.host_prefix is not None and not all(DNS_LABEL.match(part) for part in spec.host_prefix.split(".")):
        problems.append(f"{app}: host prefix {spec.host_prefix!r} is not a DNS name; it is served as <prefix>.{env.domain}")
    for host in hosts(spec, env):
        if not host.endswith("." + env.domain):
            problems.append(
                f"{app}: host {host} is outside {env.environment}'s domain {env.domain}; Interlock there routes only *.{env.domain}"
            )
    if not 1 <= spec.port <= 65535:
        problems.append(f"{app}: port {spec.port} is out of range; give the port the containers listen on (1-65535)")
    if spec.replicas < 1:
        problems.append(f"{app}: replicas is {spec.replicas}; run at least one")
    if spec.ip_hash and env.publish_mode != "host":
        problems.append(
            f"{app}: ip_hash needs the proxies in host publish mode, but {env.environment}'s publish in {env.publish_mode} mode; use sticky_session_cookie"
        )
    if spec.ip_hash and spec.sticky_session_cookie:
        problems.append(f"{app}: choose ip_hash or sticky_session_cookie, not both")
    for net in spec.networks:
        if net not in env.overlay_networks:
            owner = env.others.get(net)
            where = (
                f"it belongs to environment {owner}"
                if owner
                else f"{env.environment}'s networks are {', '.join(env.overlay_networks)}"
            )
            problems.append(f"{app}: network {net} is not one of {env.environment}'s; {where}")
    if spec.tls and not (env.tls_certificate_secret and env.tls_key_secret):
        problems.append(
            f"{app}: tls is on, but {env.environment} stores no wildcard certificate; set tls: true in the platform's {env.environment} stack"
        )
    if problems:
        raise AppSpecError(problems)


def service_labels(spec: AppServiceSpec, env: EnvironmentContract) -> dict[str, str]:
    """What the runbook's compose file sets by hand, derived so a typo cannot route a dev app
    through prod's proxies."""
    out = {
        labels.LB_HOSTS: ",".join(hosts(spec, env)),
        labels.LB_PORT: str(spec.port),
        labels.LB_NETWORK: env.ingress_network,
        labels.LB_SERVICE_CLUSTER: env.environment,
        labels.UCP_ACCESS: env.collection,
    }
    if spec.tls:
        out[labels.LB_SSL_CERT] = str(env.tls_certificate_secret)
        out[labels.LB_SSL_KEY] = str(env.tls_key_secret)
    if spec.websocket_endpoints:
        out[labels.LB_WEBSOCKETS] = ",".join(spec.websocket_endpoints)
    if spec.sticky_session_cookie:
        out[labels.LB_STICKY_COOKIE] = spec.sticky_session_cookie
    if spec.ip_hash:
        out[labels.LB_IP_HASH] = "true"
    return out


def placement_constraints(env: EnvironmentContract) -> list[str]:
    """Tasks run only on the environment's collection's nodes."""
    return [f"node.labels.{labels.UCP_ACCESS}=={env.collection}"]


def networks(spec: AppServiceSpec, env: EnvironmentContract) -> list[str]:
    return [env.ingress_network, *(n for n in spec.networks if n != env.ingress_network)]
