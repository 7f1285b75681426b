"""An app team's app with `runtime: kubernetes`: a Deployment, a Service and an HTTPRoute in the
team's namespace, routed by its environment's Gateway API Gateway instead of Interlock. The same
app spec (`AppServiceSpec`), the same environment contract and the same checks as Interlock's
(`app_labels`), plus the refusals of what Gateway API's standard channel has no equivalent for.
Pure: manifests as dicts, no Pulumi.

The Gateway is the env stack's `gateway` output (`GatewayContract`): its name and namespace, its
listeners, and per team the apps whose `allow-gateway-<app>` NetworkPolicy admits the Gateway's
proxies, with the pod labels and ports it admits them to. A Deployment gets exactly those labels,
so the proxies reach its pods and nothing else changes in the namespace's policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from interlock_platform.core import app_labels
from interlock_platform.core.app_labels import (
    KUBERNETES,
    AppServiceSpec,
    AppSpecError,
    EnvironmentContract,
    GatewayBackend,
    GatewayContract,
)

Manifest = dict[str, Any]
GATEWAY_API = "gateway.networking.k8s.io/v1"
# The Gateway API release whose standard channel routes are held to (tests/fixtures/gateway-api,
# tools/gateway_api.py). Its HTTPRoute has no `sessionPersistence` (experimental channel only); its
# TLSRoute is standard (v1), but the environment's Gateway has no TLS passthrough listener and team
# namespaces may not create TLSRoutes (k8s_manifests.WORKLOADS). A test reads the vendored CRDs
# to hold both facts to the release.
STANDARD_CHANNEL = "v1.6.1"
APP_NAME_LABEL = "app.kubernetes.io/name"
# Interlock's redirects carry no status; a temporary one, which browsers do not cache for good
REDIRECT_STATUS = 302


def own_hosts(spec: AppServiceSpec, env: EnvironmentContract) -> tuple[str, ...]:
    """The hosts the app serves (redirect sources are routed separately: `redirect_routes`)."""
    return tuple(dict.fromkeys(h.lower() for h in spec.hosts)) or (f"{spec.host_prefix or spec.name}.{env.domain}".lower(),)


def listener(spec: AppServiceSpec, gateway: GatewayContract) -> str:
    """TLS apps (every app of an HTTPS-only environment is one) on the HTTPS listener, the others
    on the HTTP one."""
    return gateway.https_listener if spec.tls and gateway.https_listener else gateway.http_listener


def _unsupported(spec: AppServiceSpec, env: EnvironmentContract, app: str) -> list[str]:
    """The fields Gateway API's standard channel has no equivalent for, each with why and the fix."""
    keep = "or keep the app on runtime: swarm (Interlock)"
    problems = []
    if spec.ip_hash:
        problems.append(
            f"{app}: ip_hash has no Gateway API equivalent (an HTTPRoute of the standard channel {STANDARD_CHANNEL} has no "
            f"affinity by client address); drop ip_hash, {keep}"
        )
    if spec.backend_mode == "vip":
        problems.append(
            f"{app}: backend_mode 'vip' has no Gateway API equivalent: the Gateway sends to the Service's pods and follows "
            f"them as they change without reconfiguring anything; drop backend_mode, {keep}"
        )
    if spec.ssl_passthrough:
        problems.append(
            f"{app}: ssl_passthrough needs a TLSRoute on a TLS passthrough listener; {env.environment}'s Gateway has none "
            "(its listeners are HTTP and HTTPS terminating with the environment's certificate) and team namespaces may "
            f"not create TLSRoutes; use tls: true (the Gateway terminates TLS), {keep}"
        )
    if spec.networks:
        problems.append(
            f"{app}: networks are Swarm overlay networks; on Kubernetes the team namespace's NetworkPolicies decide what "
            f"its pods reach (the platform's teams config); drop networks, {keep}"
        )
    if spec.sticky_session_cookie:
        problems.append(
            f"{app}: sticky_session_cookie needs an HTTPRoute's sessionPersistence, which Gateway API {STANDARD_CHANNEL} "
            "has in its experimental channel only, not in the standard channel the platform holds routes to; drop "
            f"sticky_session_cookie (keep sessions in a store every replica reads), {keep}"
        )
    return problems


def _gateway_problems(spec: AppServiceSpec, env: EnvironmentContract, team: str | None, app: str) -> list[str]:
    gw = env.gateway
    if gw is None:
        return [
            f"{app}: runtime kubernetes routes through {env.environment}'s Gateway, but the environment stack exports no "
            f"gateway (its Gateway is off, or the stack predates the output); turn on interlock-platform:gateway "
            f"(enabled: true) in the platform's {env.environment} stack and `pulumi up` it, or keep runtime: swarm"
        ]
    problems = []
    if spec.tls and gw.https_listener is None and env.tls_certificate_secret:
        problems.append(
            f"{app}: tls is on, but {env.environment}'s Gateway has no HTTPS listener; `pulumi up` the platform's "
            f"{env.environment} stack (its Gateway listens on HTTPS with the environment's certificate), or drop tls"
        )
    if team is None:
        problems.append(f"{app}: runtime kubernetes needs the team whose namespace runs it; give validate() team=")
        return problems
    backends = gw.team_apps.get(team, {})
    backend = backends.get(spec.name)
    if backend is None:
        known = ", ".join(sorted(backends)) or "none yet"
        problems.append(
            f"{app}: team {team} has no ingress app '{spec.name}' in {env.environment}'s platform config, so no "
            f"allow-gateway-{spec.name} policy admits the Gateway's proxies to its pods; name the app after one of "
            f"the team's ingress apps ({known}), or ask the platform team to add "
            f"{{name: {spec.name}, podSelector: {{app: {spec.name}}}, ports: [{spec.port}], ingress: true}} to team {team} "
            f"in interlock-platform:teams of its {env.environment} stack"
        )
    elif spec.port not in backend.ports:
        problems.append(
            f"{app}: port {spec.port} is not one allow-gateway-{spec.name} admits the Gateway's proxies to "
            f"({', '.join(map(str, backend.ports))}); use one of them, or ask the platform team to add {spec.port} to "
            f"app {spec.name}'s ports of team {team}"
        )
    return problems


def _redirect_problems(spec: AppServiceSpec, env: EnvironmentContract, app: str) -> list[str]:
    gw = env.gateway
    if gw is None:
        return []
    problems = []
    served = {(listener(spec, gw), h) for h in own_hosts(spec, env)}
    for source, _ in app_labels.parsed_redirects(spec):
        if source.scheme == "https" and gw.https_listener is None:
            problems.append(
                f"{app}: redirect source {source} is HTTPS, but {env.environment}'s Gateway has no HTTPS listener (no "
                "wildcard certificate); write the source as http://"
            )
        elif source.scheme == "http" and env.https_only:
            problems.append(
                f"{app}: redirect source {source} is plain HTTP, but {env.environment} is HTTPS-only: its Gateway sends every "
                f"http:// request to https:// first; write the source as https://{source.host}"
            )
        elif (_scheme_listener(source.scheme, gw), source.host) in served:
            problems.append(
                f"{app}: redirect source {source} is a host the app itself serves on that listener; the Gateway cannot both "
                "serve and redirect it: drop the redirect, or the host"
            )
    return problems


def _scheme_listener(scheme: str, gw: GatewayContract) -> str:
    return (gw.https_listener or gw.http_listener) if scheme == "https" else gw.http_listener


def problems(spec: AppServiceSpec, env: EnvironmentContract, team: str | None) -> list[str]:
    """Every problem of one runtime kubernetes app: what Gateway API lacks, the Gateway and the
    team's backend, and Interlock's own checks of the fields both share (hosts in the domain,
    redirects within it, context roots, TLS, HTTPS-only), run on the app without the refused
    fields so each problem is said once."""
    app = f"app '{spec.name}'"
    found = _unsupported(spec, env, app) + _gateway_problems(spec, env, team, app)
    shared = dataclasses.replace(
        spec, ip_hash=False, backend_mode="task", ssl_passthrough=False, networks=(), sticky_session_cookie=None
    )
    try:
        app_labels.check(shared, env)
    except AppSpecError as err:
        found += err.problems
    if not found:
        found += _redirect_problems(spec, env, app)
    return found


def check_all(specs: Iterable[AppServiceSpec], env: EnvironmentContract, team: str | None = None) -> None:
    """Every app of a program, whatever its runtime: Interlock's checks for the Swarm ones
    (`app_labels.check_all`), these for the Kubernetes ones, and between Kubernetes apps two
    routes for one host and path, which the Gateway would give to the older route alone."""
    specs = list(specs)
    found = []
    try:
        app_labels.check_all(specs, env)
    except AppSpecError as err:
        found += err.problems
    on_gateway = [s for s in specs if s.runtime == KUBERNETES]
    for spec in on_gateway:
        found += problems(spec, env, team)
    by_route: dict[tuple[str, str], list[str]] = {}
    for spec in on_gateway:
        for host in own_hosts(spec, env):
            by_route.setdefault((host, spec.context_root or "/"), []).append(spec.name)
    for (host, path), names in by_route.items():
        if len(names) > 1:
            listed = " and ".join(f"'{n}'" for n in names)
            found.append(
                f"apps {listed} both route {host}{path} on the Gateway, which serves it from the older route only; "
                "give each its own host or contextRoot"
            )
    if found:
        raise AppSpecError(found)


def _meta(name: str, namespace: str, app: str) -> Manifest:
    return {"name": name, "namespace": namespace, "labels": {APP_NAME_LABEL: app}}


def http_route(spec: AppServiceSpec, env: EnvironmentContract, namespace: str) -> Manifest:
    """The app's route: its hosts on its listener of the environment's Gateway, to its Service;
    under its context root (PathPrefix), which the rewrite replaces with '/'."""
    gw = _gateway(env)
    rule: Manifest = {"backendRefs": [{"name": spec.name, "port": spec.port}]}
    if spec.context_root:
        rule["matches"] = [{"path": {"type": "PathPrefix", "value": spec.context_root}}]
        if spec.context_root_rewrite:
            rule["filters"] = [
                {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}
            ]
    return {
        "apiVersion": GATEWAY_API, "kind": "HTTPRoute", "metadata": _meta(spec.name, namespace, spec.name),
        "spec": {
            "parentRefs": [{"name": gw.name, "namespace": gw.namespace, "sectionName": listener(spec, gw)}],
            "hostnames": list(own_hosts(spec, env)),
            "rules": [rule],
        },
    }  # fmt: skip


def redirect_routes(spec: AppServiceSpec, env: EnvironmentContract, namespace: str) -> list[Manifest]:
    """One route per redirect: its source host, on the listener of its scheme, answered with a
    redirect to the target's scheme and host (an HTTPRoute's hostnames hold for all its rules, so a
    source host needs a route of its own). The platform's own http -> https redirect of an
    HTTPS-only environment is the Gateway's (core/gateway.redirect_route), not the app's."""
    gw = _gateway(env)
    out = []
    for i, (source, target) in enumerate(app_labels.parsed_redirects(spec)):
        redirect = {"scheme": target.scheme, "hostname": target.host, "statusCode": REDIRECT_STATUS}
        out.append({
            "apiVersion": GATEWAY_API, "kind": "HTTPRoute", "metadata": _meta(f"{spec.name}-redirect-{i}", namespace, spec.name),
            "spec": {
                "parentRefs": [{"name": gw.name, "namespace": gw.namespace, "sectionName": _scheme_listener(source.scheme, gw)}],
                "hostnames": [source.host],
                "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]}],
            },
        })  # fmt: skip
    return out


def backend(spec: AppServiceSpec, env: EnvironmentContract, team: str) -> GatewayBackend:
    gw = _gateway(env)
    try:
        return gw.team_apps[team][spec.name]
    except KeyError:
        raise AppSpecError(problems(spec, env, team)) from None


def deployment(spec: AppServiceSpec, env: EnvironmentContract, team: str, namespace: str) -> Manifest:
    """The app's pods, with the labels its `allow-gateway-<app>` admits the Gateway's proxies to,
    held to the restricted Pod Security level (what prod's team namespaces enforce, and dev's warn
    about): not root, no privilege escalation, no capabilities, the runtime's seccomp profile.
    The namespace's PodNodeSelector keeps them on the environment's nodes."""
    pods = dict(backend(spec, env, team).pod_selector)
    container = {
        "name": spec.name, "image": spec.image, "ports": [{"containerPort": spec.port, "protocol": "TCP"}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True},
    }  # fmt: skip
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(spec.name, namespace, spec.name),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": pods},
            "template": {
                "metadata": {"labels": pods},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                },
            },
        },
    }  # fmt: skip


def service(spec: AppServiceSpec, env: EnvironmentContract, team: str, namespace: str) -> Manifest:
    """ClusterIP, the route's backend: the Gateway's proxies reach the pods through it."""
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": _meta(spec.name, namespace, spec.name),
        "spec": {
            "type": "ClusterIP", "selector": dict(backend(spec, env, team).pod_selector),
            "ports": [{"name": "http", "port": spec.port, "targetPort": spec.port, "protocol": "TCP"}],
        },
    }  # fmt: skip


def manifests(spec: AppServiceSpec, env: EnvironmentContract, team: str, namespace: str) -> list[Manifest]:
    """Deployment, Service, the route and its redirects, each before what names it; AppSpecError
    (every problem) for a spec `problems` refuses."""
    found = problems(spec, env, team)
    if found:
        raise AppSpecError(found)
    return [
        deployment(spec, env, team, namespace), service(spec, env, team, namespace), http_route(spec, env, namespace),
        *redirect_routes(spec, env, namespace),
    ]  # fmt: skip


def _gateway(env: EnvironmentContract) -> GatewayContract:
    if env.gateway is None:
        raise AppSpecError([f"{env.environment}'s Gateway is off; turn on interlock-platform:gateway in its env stack"])
    return env.gateway

