"""An environment's own Gateway API ingress, as Kubernetes manifests: pure data, no Pulumi.

MKE 3.9 ships Envoy Gateway as its Gateway API controller (GatewayClass `envoy-gatewayingress`,
Mirantis' "Envoy Gateway Controller" page); MKE 4 supports only Gateway API, through the same
controller. One controller serves the cluster; each environment gets its own Gateway, so the
isolation Interlock's service clusters give (an environment's proxies, on its ingress nodes, for
its domain) carries over:

- the Gateway lives in its environment's namespace (`gateway-<env>`), whose pods PodNodeSelector
  pins to the environment's collection like a team namespace's;
- its Envoy proxies (an EnvoyProxy the Gateway names in `infrastructure.parametersRef`, as Mirantis'
  "Create an EnvoyProxy" and Envoy Gateway's "Customize EnvoyProxy" pages show) run as a DaemonSet
  on the environment's ingress nodes only, behind a NodePort Service on fixed ports, with
  `externalTrafficPolicy: Local`, so a node answers only with its own proxy;
- it listens for `*.<domain>` only: HTTP on 80, and HTTPS on 443 terminating TLS with the
  environment's wildcard certificate (a kubernetes.io/tls Secret in its namespace) where the
  environment has one;
- it admits routes only from the environment's team namespaces, by the name the API server sets on
  every namespace (`kubernetes.io/metadata.name`, from 1.21), never `All`; in an HTTPS-only
  environment its HTTP listener admits only the platform's own redirect to HTTPS, from its
  namespace.

Team namespaces admit the proxies of their environment's Gateway, and no other's, on their apps'
ports: `app_gateway_policy`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from interlock_platform.core import labels
from interlock_platform.core.k8s_manifests import AppSpec, TeamSpec, deny_all

Manifest = dict[str, Any]
MANAGER = "interlock-platform"
GATEWAY_API = "gateway.networking.k8s.io/v1"
ENVOY_PROXY_API = "gateway.envoyproxy.io/v1alpha1"
MKE_GATEWAY_CLASS = "envoy-gatewayingress"  # MKE 3.9's default GatewayClass (Mirantis' Envoy Gateway Controller page)
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"  # where Envoy Gateway runs the proxies (its default, ControllerNamespace mode)
# pulumi-kubernetes (4.18 and later) waits on create and update until the object has this condition:
# after the cut-over the load balancer's target groups wait for the Gateway's proxies to be programmed
PULUMI_WAIT_FOR = "pulumi.com/waitFor"
GATEWAY_READY = "condition=Programmed"
GATEWAY_RELEASES = ("3.9",)  # the ucpVersion values whose MKE ships a Gateway API controller (Envoy Gateway)
# Kubernetes NodePorts on MKE: the range MKE configures (32768-35535, Mirantis' "Port ranges" page),
# less the two MKE's own ingress controller takes (33000 HTTP, 33001 HTTPS).
NODE_PORT_RANGE = (32768, 35535)
HTTP_LISTENER, HTTPS_LISTENER = "http", "https"  # the Gateway's listeners: what a route's parentRefs sectionName names
RESERVED_NODE_PORTS = (33000, 33001)


def static_band(low: int = NODE_PORT_RANGE[0], high: int = NODE_PORT_RANGE[1]) -> range:
    """The NodePorts the API server hands out automatically only when the rest of the range is
    full (KEP-3668, on from Kubernetes 1.29): min(max(16, size / 32), 128) ports from the range's
    start. A fixed NodePort elsewhere in the range can be taken first by any Service in the cluster
    that asks for none; 32768-32853 (86 ports) on MKE."""
    size = high - low + 1
    return range(low, low + min(max(16, size // 32), 128))


STATIC_BAND = static_band()


def default_node_port(interlock_port: int) -> int:
    """The static band's start plus the Interlock port modulo the band's size (8445 -> 32785,
    8082 -> 32852): every environment's Interlock ports are distinct in the registry, and so are
    these while no two of them differ by a multiple of the band's size (the stack checks)."""
    return STATIC_BAND.start + interlock_port % len(STATIC_BAND)


def every_gateway_node_port(interlock_ports: Iterable[tuple[int, int]], own: GatewaySpec | None) -> tuple[int, ...]:
    """The NodePorts every environment's Gateway takes or will take, as far as one stack sees:
    each registered environment's defaults (from its Interlock HTTP and HTTPS ports; its own too,
    configured over or not, as the policy pack's set) and its own Gateway's. Another environment's
    configured ones are in no registry."""
    ports = {default_node_port(port) for pair in interlock_ports for port in pair}
    # both listeners', as the pack's config lists them: the HTTPS one opens when tls is set
    return tuple(sorted(ports | ({own.http_node_port, own.https_node_port} if own else set())))


def node_port_problem(port: int) -> str | None:
    low, high = NODE_PORT_RANGE
    if not low <= port <= high:
        return f"{port} is outside MKE's NodePort range {low}-{high}"
    if port in RESERVED_NODE_PORTS:
        return f"{port} is the NodePort MKE's ingress controller takes"
    if port not in STATIC_BAND:
        return (
            f"{port} is outside the static band {STATIC_BAND.start}-{STATIC_BAND[-1]} of MKE's NodePort range, where any "
            "Service asking for no NodePort may be given it first (Kubernetes 1.29 and later)"
        )
    return None


@dataclass(frozen=True)
class GatewaySpec:
    environment: str
    domain: str
    namespace: str  # the Gateway's, its EnvoyProxy's, its certificate's and its redirect's
    class_name: str
    proxy_namespace: str  # where the controller runs the Envoy proxies
    http_node_port: int
    https_node_port: int
    ingress_hostnames: tuple[str, ...]  # the nodes its proxies run on (kubernetes.io/hostname)
    node_selector: str  # the environment's collection, key=value (PodNodeSelector on its namespace)
    team_namespaces: tuple[str, ...]  # whose routes it admits
    tls: bool  # the environment has its wildcard certificate: an HTTPS listener terminates with it
    https_only: bool  # HTTP only redirects to HTTPS
    load_balancer: bool = False  # the environment's load balancer forwards to the Gateway, not to Interlock
    proxy_image: str | None = None  # the Envoy image its proxies run (MKE's mirantis/ucp-envoy-proxy:<version>)

    @property
    def name(self) -> str:
        return self.environment

    @property
    def hostname(self) -> str:
        return f"*.{self.domain}"

    @property
    def certificate_secret(self) -> str:
        return f"{self.environment}-wildcard-tls"

    @property
    def proxy_config(self) -> str:
        return f"{self.environment}-proxy"

    @property
    def proxy_labels(self) -> dict[str, str]:
        """The labels Envoy Gateway puts on this Gateway's proxy pods (and selects them by)."""
        return {labels.ENVOY_OWNING_GATEWAY_NAME: self.name, labels.ENVOY_OWNING_GATEWAY_NAMESPACE: self.namespace}

    def node_ports(self) -> dict[int, int]:
        """Listener port -> NodePort, for the listeners the Gateway has."""
        return {80: self.http_node_port, **({443: self.https_node_port} if self.tls else {})}


def _meta(name: str, namespace: str | None = None) -> Manifest:
    meta: Manifest = {"name": name, "labels": {labels.K8S_MANAGED_BY: MANAGER}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def namespace(spec: GatewaySpec) -> Manifest:
    meta = _meta(spec.namespace)
    meta["labels"][labels.ENVIRONMENT] = spec.environment
    meta["annotations"] = {labels.NODE_SELECTOR_ANNOTATION: spec.node_selector}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def certificate_secret(spec: GatewaySpec, certificate: Any, key: Any) -> Manifest:
    """The wildcard certificate the HTTPS listener terminates with. `certificate` and `key` are the
    stack's secret config (Pulumi secrets in the program)."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": _meta(spec.certificate_secret, spec.namespace), "stringData": {"tls.crt": certificate, "tls.key": key},
    }  # fmt: skip


def envoy_proxy(spec: GatewaySpec) -> Manifest:
    """The proxies of this Gateway: one per ingress node (a DaemonSet held to those nodes, within
    the environment's collection), behind a NodePort Service on the environment's fixed ports."""
    collection_key, _, collection_value = spec.node_selector.partition("=")
    nodes = {"matchExpressions": [
        {"key": labels.K8S_HOSTNAME, "operator": "In", "values": sorted(spec.ingress_hostnames)},
        {"key": collection_key, "operator": "In", "values": [collection_value]},
        {"key": labels.K8S_OS, "operator": "In", "values": ["linux"]},  # Envoy's images are Linux's, as Interlock's proxies
    ]}  # fmt: skip
    ports = [{"port": listener, "nodePort": node_port} for listener, node_port in spec.node_ports().items()]
    daemon_set: Manifest = {"pod": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [nodes]}}}}}  # fmt: skip
    if spec.proxy_image is not None:
        daemon_set["container"] = {"image": spec.proxy_image}
    kubernetes = {
        "envoyDaemonSet": daemon_set,
        "envoyService": {
            "type": "NodePort", "externalTrafficPolicy": "Local",
            # the Service's ports are the listeners'; strategic merge keys them by port
            "patch": {"type": "StrategicMerge", "value": {"spec": {"ports": ports}}},
        },
    }  # fmt: skip
    return {
        "apiVersion": ENVOY_PROXY_API, "kind": "EnvoyProxy", "metadata": _meta(spec.proxy_config, spec.namespace),
        "spec": {
            # merged onto the GatewayClass's EnvoyProxy and Envoy Gateway's defaults (the cluster's
            # proxy image, logging, ...), which an unset mergeType would replace wholesale
            "mergeType": "StrategicMerge",
            "provider": {"type": "Kubernetes", "kubernetes": kubernetes},
        },
    }  # fmt: skip


def _team_routes(spec: GatewaySpec) -> Manifest:
    if not spec.team_namespaces:  # no team yet: routes only from the Gateway's own namespace, the platform's
        return {"namespaces": {"from": "Same"}}
    selector = {"matchExpressions": [
        {"key": labels.K8S_NAMESPACE_NAME, "operator": "In", "values": sorted(spec.team_namespaces)}
    ]}  # fmt: skip
    return {"namespaces": {"from": "Selector", "selector": selector}}


def gateway(spec: GatewaySpec) -> Manifest:
    http_routes = {"namespaces": {"from": "Same"}} if spec.https_only else _team_routes(spec)
    listeners: list[Manifest] = [
        {"name": HTTP_LISTENER, "protocol": "HTTP", "port": 80, "hostname": spec.hostname, "allowedRoutes": http_routes}
    ]
    if spec.tls:
        listeners.append({
            "name": HTTPS_LISTENER, "protocol": "HTTPS", "port": 443, "hostname": spec.hostname,
            "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": spec.certificate_secret}]},
            "allowedRoutes": _team_routes(spec),
        })  # fmt: skip
    meta = _meta(spec.name, spec.namespace)
    if spec.load_balancer:  # `pulumi up` holds the load balancer until the Gateway can take its traffic
        meta["annotations"] = {PULUMI_WAIT_FOR: GATEWAY_READY}
    return {
        "apiVersion": GATEWAY_API, "kind": "Gateway", "metadata": meta,
        "spec": {
            "gatewayClassName": spec.class_name,
            "infrastructure": {"parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": spec.proxy_config}},
            "listeners": listeners,
        },
    }  # fmt: skip


def redirect_route(spec: GatewaySpec) -> Manifest:
    """HTTPS-only: every http:// request under the domain is sent to https:// (301)."""
    return {
        "apiVersion": GATEWAY_API, "kind": "HTTPRoute", "metadata": _meta(f"{spec.name}-https-redirect", spec.namespace),
        "spec": {
            "parentRefs": [{"name": spec.name, "sectionName": HTTP_LISTENER}],
            "hostnames": [spec.hostname],
            "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
        },
    }  # fmt: skip


def manifests(spec: GatewaySpec) -> list[Manifest]:
    """Everything but the certificate (`certificate_secret`), the namespace first, each before
    what names it. The namespace holds configuration only (the proxies run in the controller's):
    deny-all, like every namespace the platform makes."""
    out = [namespace(spec), deny_all(spec.namespace), envoy_proxy(spec), gateway(spec)]
    if spec.https_only:
        out.append(redirect_route(spec))
    return out


def app_gateway_policy(ns: str, app: AppSpec, spec: GatewaySpec) -> Manifest:
    """`allow-gateway-<app>` in a team namespace: the proxies of its environment's Gateway to the
    app's pods, on its ports only. The proxies are known by their namespace (by the name the API
    server sets) AND the labels Envoy Gateway gives them, which name their Gateway: another
    environment's proxies, in the same namespace, do not match, and no team can create a pod in
    the proxies' namespace."""
    peer = {
        "namespaceSelector": {"matchLabels": {labels.K8S_NAMESPACE_NAME: spec.proxy_namespace}},
        "podSelector": {"matchLabels": spec.proxy_labels},
    }
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(f"allow-gateway-{app.name}", ns),
        "spec": {"podSelector": {"matchLabels": dict(app.pod_selector)}, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [peer], "ports": [p.manifest() for p in app.ports]}]},
    }  # fmt: skip


def contract_output(spec: GatewaySpec, teams: tuple[TeamSpec, ...]) -> Manifest:
    """The env stack's `gateway` output (docs/stack-outputs.md; not exported when the Gateway is off):
    what a team's HTTPRoute names in its `parentRefs`, and per team the apps whose
    `allow-gateway-<app>` admits the proxies, with the pod labels and ports it admits them to, so
    an app team's Deployment (`GatewayApp`) carries exactly those labels."""
    return {
        "name": spec.name,
        "namespace": spec.namespace,
        "httpListener": HTTP_LISTENER,
        "httpsListener": HTTPS_LISTENER if spec.tls else None,
        "teamApps": {
            team.name: {
                app.name: {"podSelector": dict(app.pod_selector), "ports": [p.port for p in app.ports if p.protocol == "TCP"]}
                for app in team.apps
                if app.ingress
            }
            for team in teams
        },
    }
