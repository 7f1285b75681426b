"""The labels an app team's Swarm service needs to be routed by its environment's Interlock
service cluster, and the checks that refuse a spec before anything is created. Pure: the
values come from the env stack's outputs (docs/stack-outputs.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from interlock_platform.core import labels

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
BACKEND_MODES = ("task", "vip")  # Interlock's com.docker.lb.backend_mode; task is its default
# Where an app runs: a Swarm service routed by Interlock (the default), or a Kubernetes Deployment
# routed by its environment's Gateway (core/app_routes.py)
SWARM, KUBERNETES = "swarm", "kubernetes"
RUNTIMES = (SWARM, KUBERNETES)
# A path of unreserved characters: nothing nginx would read as syntax (';', '{', quotes, spaces)
CONTEXT_ROOT = re.compile(r"^(/[A-Za-z0-9._~%-]+)+$")
# Interlock renders every com.docker.lb.* value into the nginx config that all of an environment's
# apps share, so each value must be one word to nginx: no ';', braces, quotes, '$', '#' or space.
# A websocket endpoint: an absolute URL path of RFC 3986 unreserved characters and %XX escapes
# (its sub-delims ';', '$', quotes, ',' and '=' are nginx or label syntax).
URL_PATH = re.compile(r"^/(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2}|/){0,255}$")
# A cookie name: an RFC 6265 token (4.1.1), narrowed to the characters nginx reads as part of a word
# (the token's others, such as $ ' # ! |, are nginx syntax or end a $cookie_ variable).
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# A Swarm secret or network name as Docker accepts it
SWARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
    ssl_passthrough: bool = False  # the proxy forwards TLS untouched; the app terminates it (mutual TLS end to end)
    backend_mode: str = "task"  # "vip": the proxy targets the service's VIP, so app updates do not reconfigure it
    redirects: tuple[tuple[str, str], ...] = ()  # (source URL, target URL), e.g. ("http://old.<domain>", "https://new.<domain>")
    context_root: str | None = None  # serve the app under this path, e.g. "/shop"
    context_root_rewrite: bool = False  # strip the context root before the request reaches the app
    runtime: str = SWARM  # "kubernetes": a Deployment, a Service and an HTTPRoute to the environment's Gateway


@dataclass(frozen=True)
class GatewayBackend:
    """A team app the environment's Gateway proxies may reach: its `allow-gateway-<app>` policy
    admits them to the pods with these labels, on these ports."""

    pod_selector: Mapping[str, str]
    ports: tuple[int, ...]


@dataclass(frozen=True)
class GatewayContract:
    """The env stack's `gateway` output: its Gateway, the listeners a route names, and each
    team's apps the proxies may reach."""

    name: str
    namespace: str
    http_listener: str
    https_listener: str | None  # None: the environment has no wildcard certificate, so no HTTPS listener
    team_apps: Mapping[str, Mapping[str, GatewayBackend]] = field(default_factory=dict)

    @classmethod
    def from_output(cls, value: Any) -> GatewayContract | None:
        """None for a Gateway that is off (the stack exports no `gateway`); AppSpecError for a malformed one."""
        if value is None:
            return None
        try:
            team_apps = {
                team: {
                    app: GatewayBackend(
                        {str(k): str(v) for k, v in backend["podSelector"].items()}, tuple(int(p) for p in backend["ports"])
                    )
                    for app, backend in apps.items()
                }
                for team, apps in value.get("teamApps", {}).items()
            }
            https = value.get("httpsListener")
            return cls(str(value["name"]), str(value["namespace"]), str(value["httpListener"]),
                       None if https is None else str(https), team_apps)  # fmt: skip
        except (AttributeError, KeyError, TypeError, ValueError):
            raise AppSpecError([
                f"the environment stack exports gateway as {value!r:.120}, not the Gateway's {{name, namespace, httpListener, "
                "httpsListener, teamApps}; redeploy the platform's env stack with this release"
            ]) from None  # fmt: skip


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
    https_only: bool = False  # every app's HTTP host redirects to HTTPS
    gateway: GatewayContract | None = None  # the environment's Gateway API Gateway; None when it is off (or predates the output)

    REQUIRED_OUTPUTS: ClassVar[tuple[str, ...]] = (
        "environment", "collection", "domain", "ingressNetwork", "overlayNetworks", "interlockPublishMode",
    )  # fmt: skip
    # httpsOnly is optional: env stacks deployed before it was exported are not HTTPS-only
    # gateway too: only a runtime kubernetes app needs it, and says so when it is missing
    OUTPUTS: ClassVar[tuple[str, ...]] = (
        *REQUIRED_OUTPUTS, "tlsCertificateSecretName", "tlsKeySecretName", "httpsOnly", "gateway",
    )  # fmt: skip

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> EnvironmentContract:
        missing = [k for k in cls.REQUIRED_OUTPUTS if k not in outputs]
        if missing:
            raise AppSpecError(
                [f"the environment stack does not export {', '.join(missing)}; deploy the platform's env stack first"]
            )
        https_only = outputs.get("httpsOnly", False)
        if not isinstance(https_only, bool):  # read as true/false only: a string "false" must not pass for either
            raise AppSpecError(
                [
                    f"the environment stack exports httpsOnly as {https_only!r}, not true or false; redeploy the platform's env stack"
                ]
            )
        return cls(
            outputs["environment"], outputs["collection"], outputs["domain"], outputs["ingressNetwork"], tuple(outputs["overlayNetworks"]),
            outputs["interlockPublishMode"], outputs.get("tlsCertificateSecretName"), outputs.get("tlsKeySecretName"),
            https_only=https_only, gateway=GatewayContract.from_output(outputs.get("gateway")),
        )  # fmt: skip


class AppSpecError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _is_dns_name(host: str) -> bool:
    return len(host) <= 253 and all(DNS_LABEL.match(part) for part in host.split("."))


def _in_domain(host: str, env: EnvironmentContract) -> bool:
    return _is_dns_name(host) and host.endswith("." + env.domain.lower())


@dataclass(frozen=True)
class _Url:
    scheme: str
    host: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}"


def _parse_url(url: object) -> _Url | str:
    """A redirect's end as Interlock's label takes it (`http://old.example.com`): a scheme and a
    host, nothing else. The reason it is not, otherwise."""
    if not isinstance(url, str) or not url:
        return "is not a URL; write http://<host> or https://<host>"
    if any(c.isspace() for c in url) or "," in url or ";" in url:
        return "holds a space, ',' or ';', which split Interlock's redirects label; write http(s)://<host>"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "does not start with http:// or https://; write http(s)://<host>"
    if "@" in parts.netloc:  # http://dev.apps.example.com@evil.com goes to evil.com
        return "has a user part ('...@'); a browser goes to the host after '@': write http(s)://<host>"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None:
        return "names a port; the environment's load balancer serves 80 (http) and 443 (https): drop the port"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "has a path, query or fragment; Interlock's redirects go host to host: write http(s)://<host>"
    host = (parts.hostname or "").lower()
    if not _is_dns_name(host):
        return f"host {host!r} is not a DNS name"
    return _Url(parts.scheme, host)


def parsed_redirects(spec: AppServiceSpec) -> list[tuple[_Url, _Url]]:
    out = []
    for source, target in spec.redirects:
        parsed_source, parsed_target = _parse_url(source), _parse_url(target)
        if isinstance(parsed_source, _Url) and isinstance(parsed_target, _Url):
            out.append((parsed_source, parsed_target))
    return out


def hosts(spec: AppServiceSpec, env: EnvironmentContract) -> tuple[str, ...]:
    """The hosts Interlock routes to the app: its own, then each redirect's source (Interlock
    answers a redirect only for a host in com.docker.lb.hosts). Lower case: DNS names are."""
    own = [h.lower() for h in spec.hosts] or [f"{spec.host_prefix or spec.name}.{env.domain}".lower()]
    return tuple(dict.fromkeys([*own, *(source.host for source, _ in parsed_redirects(spec))]))


def redirects(spec: AppServiceSpec, env: EnvironmentContract) -> tuple[tuple[str, str], ...]:
    """The app's redirects, then, in an HTTPS-only environment, http://<host> -> https://<host>
    for each host no redirect of its own starts from. None for TLS passthrough: Interlock's
    redirects do not work with it."""
    own = [(str(source), str(target)) for source, target in parsed_redirects(spec)]
    if env.https_only and not spec.ssl_passthrough:
        taken = {source for source, _ in own}
        own += [(f"http://{h}", f"https://{h}") for h in hosts(spec, env) if f"http://{h}" not in taken]
    return tuple(own)


def check(spec: AppServiceSpec, env: EnvironmentContract) -> None:
    """Every problem at once, each saying how to fix it."""
    problems = []
    app = f"app '{spec.name}'"
    if spec.runtime not in RUNTIMES:
        problems.append(f"{app}: runtime {spec.runtime!r} is not one of {', '.join(RUNTIMES)}; use swarm (Interlock, the default) or kubernetes")
    if not DNS_LABEL.match(spec.name):
        problems.append(f"{app}: the name is not a DNS label; use lower-case letters, digits and '-'")
    if spec.host_prefix is not None and not all(DNS_LABEL.match(part) for part in spec.host_prefix.split(".")):
        problems.append(f"{app}: host prefix {spec.host_prefix!r} is not a DNS name; it is served as <prefix>.{env.domain}")
    proxy = "Interlock" if spec.runtime != KUBERNETES else "its Gateway"
    for host in hosts(spec, env):
        if not _is_dns_name(host):
            problems.append(f"{app}: host {host!r} is not a DNS name; use letters, digits, '-' and '.' (e.g. shop.{env.domain})")
        elif not host.endswith("." + env.domain.lower()):
            problems.append(
                f"{app}: host {host} is outside {env.environment}'s domain {env.domain}; {proxy} there routes only *.{env.domain}"
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
    problems += _backend_mode_problems(spec, app)
    problems += _passthrough_problems(spec, app)
    problems += _context_root_problems(spec, app)
    problems += _websocket_problems(spec, app)
    problems += _cookie_problems(spec, app)
    problems += _redirect_problems(spec, env, app)
    if env.https_only and not (spec.tls or spec.ssl_passthrough):
        problems.append(
            f"{app}: {env.environment} is HTTPS-only (httpsOnly), and the app serves no HTTPS; set tls: true "
            "(the proxy terminates TLS with the environment's certificate) or ssl_passthrough: true (the app terminates it)"
        )
    if not problems:  # every field passed: the labels they make must then be in nginx's grammar too
        problems += label_problems(_labels(spec, env), app)
    if problems:
        raise AppSpecError(problems)


def _websocket_problems(spec: AppServiceSpec, app: str) -> list[str]:
    problems = []
    for path in spec.websocket_endpoints:
        if not isinstance(path, str) or not URL_PATH.match(path):
            problems.append(
                f"{app}: websocket endpoint {path!r} is not a URL path of letters, digits, '/', . _ ~ - and %XX escapes "
                "(Interlock writes it into nginx's config, where ';', braces, quotes, '$', ',' and spaces are syntax); e.g. '/ws'"
            )
    if len(set(spec.websocket_endpoints)) < len(spec.websocket_endpoints):
        problems.append(f"{app}: a websocket endpoint is listed twice; list each path once")
    return problems


def _cookie_problems(spec: AppServiceSpec, app: str) -> list[str]:
    cookie = spec.sticky_session_cookie
    if cookie is None or (isinstance(cookie, str) and COOKIE_NAME.match(cookie)):
        return []
    return [
        f"{app}: sticky session cookie {cookie!r} is not a cookie name of letters, digits, '_', '.' and '-' (an RFC 6265 token "
        "without the characters nginx reads as syntax: Interlock writes it into nginx's config); e.g. 'JSESSIONID' or 'session'"
    ]


def _dns_names(value: str) -> bool:
    return all(_is_dns_name(h) and "." in h for h in value.split(","))


def _redirect_pairs(value: str) -> bool:
    pairs = [pair.split(",") for pair in value.split(";")]
    return all(len(p) == 2 and all(isinstance(_parse_url(u), _Url) for u in p) for p in pairs)


# The grammar of every label the platform sets, the one table `label_problems` holds the labels to:
# the last guard between an app spec (or an env stack's outputs) and the nginx config Interlock writes.
LABEL_GRAMMAR: dict[str, Any] = {
    labels.LB_HOSTS: _dns_names,
    labels.LB_PORT: re.compile(r"^[1-9][0-9]{0,4}$").match,
    labels.LB_NETWORK: SWARM_NAME.match,
    labels.LB_SERVICE_CLUSTER: DNS_LABEL.match,
    labels.UCP_ACCESS: re.compile(r"^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$").match,
    labels.LB_SSL_CERT: SWARM_NAME.match,
    labels.LB_SSL_KEY: SWARM_NAME.match,
    labels.LB_SSL_PASSTHROUGH: {"true"}.__contains__,
    labels.LB_BACKEND_MODE: set(BACKEND_MODES).__contains__,
    labels.LB_CONTEXT_ROOT: CONTEXT_ROOT.match,
    labels.LB_CONTEXT_ROOT_REWRITE: {"true"}.__contains__,
    labels.LB_REDIRECTS: _redirect_pairs,
    labels.LB_WEBSOCKETS: lambda v: all(URL_PATH.match(p) for p in v.split(",")),
    labels.LB_STICKY_COOKIE: COOKIE_NAME.match,
    labels.LB_IP_HASH: {"true"}.__contains__,
}


def label_problems(service: Mapping[str, str], app: str) -> list[str]:
    """A problem for each label outside its grammar (or without one): nothing reaches Interlock
    that nginx could read as syntax, whichever field or output it came from."""
    problems = []
    for key, value in service.items():
        grammar = LABEL_GRAMMAR.get(key)
        if grammar is None or not grammar(value):
            problems.append(
                f"{app}: label {key}={value!r} is not in the grammar Interlock's nginx config can hold; "
                "check the app's fields and the environment stack's outputs (domain, ingressNetwork, collection, secret names)"
            )
    return problems


def _backend_mode_problems(spec: AppServiceSpec, app: str) -> list[str]:
    if spec.backend_mode not in BACKEND_MODES:
        return [f"{app}: backend_mode {spec.backend_mode!r} is not one of Interlock's; use 'task' (the default) or 'vip'"]
    if spec.backend_mode != "vip":
        return []
    # Interlock's VIP mode routes to the service's VIP, not to its tasks: what picks a task is gone
    unsupported = [
        ("sticky_session_cookie", bool(spec.sticky_session_cookie), "sticky sessions"),
        ("ip_hash", spec.ip_hash, "sticky sessions by client address"),
        ("websocket_endpoints", bool(spec.websocket_endpoints), "websockets"),
    ]
    return [
        f"{app}: backend_mode 'vip' does not support {what} (Interlock routes to the service VIP, not to a task); "
        f"drop {name}, or use backend_mode 'task'"
        for name, on, what in unsupported
        if on
    ]


def _passthrough_problems(spec: AppServiceSpec, app: str) -> list[str]:
    if not spec.ssl_passthrough:
        return []
    problems = []
    if spec.tls:
        problems.append(
            f"{app}: tls and ssl_passthrough both on; tls terminates TLS at the proxy, ssl_passthrough leaves it to the app: choose one"
        )
    # the proxy forwards the encrypted stream by its SNI name: it reads no path, cookie or header
    blind = [
        ("context_root", bool(spec.context_root), "a path"),
        ("sticky_session_cookie", bool(spec.sticky_session_cookie), "a cookie"),
        ("websocket_endpoints", bool(spec.websocket_endpoints), "a websocket path (the stream passes through as it is)"),
    ]
    problems += [
        f"{app}: with ssl_passthrough the proxy never decrypts, so it cannot route on {what}; drop {name}, or use tls instead"
        for name, on, what in blind
        if on
    ]
    if spec.redirects:
        problems.append(
            f"{app}: Interlock's redirects do not work for a service in TLS passthrough (Interlock's documented limitation); "
            "drop redirects, or redirect from a separate app"
        )
    return problems


def _context_root_problems(spec: AppServiceSpec, app: str) -> list[str]:
    root = spec.context_root
    if root is None:
        if spec.context_root_rewrite:
            return [
                f"{app}: context_root_rewrite is on, but there is no context_root to strip; set context_root (e.g. '/shop') or drop it"
            ]
        return []
    if not root.startswith("/"):
        return [f"{app}: context root {root!r} does not start with '/'; write '/{root.strip('/')}'"]
    if root == "/":
        return [f"{app}: context root '/' is the whole host; drop context_root"]
    if root.endswith("/"):
        return [f"{app}: context root {root!r} ends with '/'; write {root.rstrip('/')!r}"]
    if not CONTEXT_ROOT.match(root):
        return [
            f"{app}: context root {root!r} has a character other than letters, digits and . _ ~ % - between its '/'s; e.g. '/shop'"
        ]
    return []


def _redirect_problems(spec: AppServiceSpec, env: EnvironmentContract, app: str) -> list[str]:
    problems = []
    sources: set[str] = set()
    for source, target in spec.redirects:
        parsed = {}
        for end, url in (("source", source), ("target", target)):
            got = _parse_url(url)
            if isinstance(got, str):
                problems.append(f"{app}: redirect {end} {url!r} {got}")
            else:
                parsed[end] = got
        if len(parsed) < 2:
            continue
        src, tgt = parsed["source"], parsed["target"]
        if str(src) == str(tgt):
            problems.append(f"{app}: redirect {src} -> {tgt} points at itself; a browser would loop: drop it")
        if str(src) in sources:
            problems.append(f"{app}: two redirects start from {src}; keep one")
        sources.add(str(src))
        if not _in_domain(tgt.host, env):
            problems.append(
                f"{app}: redirect target {tgt} is outside {env.environment}'s domain {env.domain}; "
                f"redirect only to hosts under .{env.domain} (an open redirect sends users anywhere)"
            )
        if env.https_only and tgt.scheme == "http":
            problems.append(
                f"{app}: redirect target {tgt} is plain HTTP, but {env.environment} is HTTPS-only; write https://{tgt.host}"
            )
    return problems


def check_all(specs: Iterable[AppServiceSpec], env: EnvironmentContract) -> None:
    """Each Swarm spec's problems, and those between apps of one program: apps that share a host are
    Interlock's canary (traffic split by task count), which VIP mode does not support, and
    Interlock routes one path per host in a service cluster. Apps of runtime kubernetes are
    checked by `app_routes.check_all`, which checks every runtime (and calls this); here they only
    count for names."""
    every = list(specs)
    specs = [s for s in every if s.runtime != KUBERNETES]
    problems = []
    for spec in specs:
        try:
            check(spec, env)
        except AppSpecError as err:
            problems += err.problems
    names = [s.name for s in every]
    problems += [
        f"app '{n}': two apps are named {n}; their services would be one; rename one"
        for n in sorted(set(names))
        if names.count(n) > 1
    ]
    by_host: dict[str, list[AppServiceSpec]] = {}
    for spec in specs:
        for host in hosts(spec, env):
            by_host.setdefault(host, []).append(spec)
    for host, sharing in by_host.items():
        if len(sharing) < 2:
            continue
        listed = " and ".join(f"'{s.name}'" for s in sharing)
        vip = [s.name for s in sharing if s.backend_mode == "vip"]
        if vip:
            problems.append(
                f"apps {listed} share host {host}, a canary (Interlock splits its traffic by task count), which backend_mode 'vip' "
                f"({', '.join(vip)}) does not support; give them backend_mode 'task', or each its own host"
            )
        if len({s.context_root for s in sharing}) > 1:
            problems.append(
                f"apps {listed} share host {host} with different context roots; Interlock routes one path per host in a "
                "service cluster: give each app its own host"
            )
    if problems:
        raise AppSpecError(problems)


def service_labels(spec: AppServiceSpec, env: EnvironmentContract) -> dict[str, str]:
    """What the runbook's compose file sets by hand, derived so a typo cannot route a dev app
    through prod's proxies. AppSpecError if a label would leave its grammar (`check` says why
    first, field by field)."""
    out = _labels(spec, env)
    problems = label_problems(out, f"app '{spec.name}'")
    if problems:
        raise AppSpecError(problems)
    return out


def _labels(spec: AppServiceSpec, env: EnvironmentContract) -> dict[str, str]:
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
    if spec.ssl_passthrough:
        out[labels.LB_SSL_PASSTHROUGH] = "true"
    if spec.backend_mode == "vip":  # task is Interlock's default: no label, as the runbook writes it
        out[labels.LB_BACKEND_MODE] = "vip"
    if spec.context_root:
        out[labels.LB_CONTEXT_ROOT] = spec.context_root
        if spec.context_root_rewrite:
            out[labels.LB_CONTEXT_ROOT_REWRITE] = "true"
    redirect_pairs = redirects(spec, env)
    if redirect_pairs:  # Interlock's format: <source>,<target> pairs separated by ';'
        out[labels.LB_REDIRECTS] = ";".join(f"{source},{target}" for source, target in redirect_pairs)
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
