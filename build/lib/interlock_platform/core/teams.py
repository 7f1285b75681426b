"""The env stacks' Kubernetes config: teams, their apps and egress, and cluster settings.
Pure; called by topology.parse_environment so its problems are listed with all the others."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from interlock_platform.core.config_reader import LABEL_KEY_RE, LABEL_VALUE_RE, Problems, Reader
from interlock_platform.core.k8s_manifests import AppSpec, EgressTarget, KubernetesSettings, Port, TeamSpec

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
TEAM_FIELDS = ("name", "namespace", "groups", "apps", "egress")
APP_FIELDS = ("name", "podSelector", "ports", "ingress")
EGRESS_FIELDS = ("dns", "cidrs", "namespaces")
K8S_FIELDS = ("ingressControllerNamespace", "dnsNamespace", "resourceQuota", "limitRange")
PROTOCOLS = ("TCP", "UDP", "SCTP")


def _selector(p: Problems, r: Reader, key: str, value: Any, fix: str) -> dict[str, str] | None:
    sel = r.mapping(key, value, fix)
    if sel is None:
        return None
    if not sel:
        p.add(key, "is empty, which selects everything", fix)
        return None
    for k, v in sel.items():
        if not isinstance(k, str) or not LABEL_KEY_RE.match(k) or not isinstance(v, str) or not LABEL_VALUE_RE.match(v):
            p.add(f"{key}.{k}", f"{k}={v!r} is not a valid Kubernetes label (values are strings without '/')", fix)
            return None
    return {str(k): str(v) for k, v in sel.items()}


def _ports(p: Problems, r: Reader, key: str, value: Any, minimum: int) -> tuple[Port, ...]:
    items = r.listing(key, value, "list ports as numbers or {port, protocol}", minimum=minimum) or []
    out = []
    for i, item in enumerate(items):
        k = f"{key}[{i}]"
        spec = item if isinstance(item, dict) else {"port": item}
        port = r.integer(
            f"{k}.port" if isinstance(item, dict) else k, spec.get("port"), "use a port between 1 and 65535", 1, 65535
        )
        protocol = str(spec.get("protocol", "TCP")).upper()
        if protocol not in PROTOCOLS:
            p.add(f"{k}.protocol", f"{protocol!r} is not a Kubernetes protocol", "use TCP, UDP or SCTP")
        elif port is not None:
            out.append(Port(port, protocol))
    return tuple(out)


def parse_kubernetes(p: Problems, r: Reader, value: Any, kubernetes_version: tuple[int, int] | None) -> KubernetesSettings:
    """`kubernetes_version`: what the shared stack's UCP release ships (None when unknown)."""
    cfg = (
        r.mapping("kubernetes", value, "give {ingressControllerNamespace, dnsNamespace, resourceQuota, limitRange}")
        if value is not None
        else {}
    ) or {}
    for old, new in (("ingressNamespaceSelector", "ingressControllerNamespace"), ("dnsNamespaceSelector", "dnsNamespace")):
        if old in cfg:  # selectors by kubernetes.io/metadata.name matched nothing before Kubernetes 1.21
            p.add(
                f"kubernetes.{old}",
                "is replaced: the platform labels that namespace itself and derives the selector for the cluster's Kubernetes",
                f"write kubernetes.{new}: <the namespace's name>",
            )
    for key in cfg:
        if key not in K8S_FIELDS and key not in ("ingressNamespaceSelector", "dnsNamespaceSelector"):
            near = difflib.get_close_matches(key, K8S_FIELDS, n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"allowed keys are {', '.join(K8S_FIELDS)}"
            p.add(f"kubernetes.{key}", "is not a known setting", f"remove it ({hint})")
    default = KubernetesSettings()
    names = {}
    for key, fallback in (("ingressControllerNamespace", default.ingress_namespace), ("dnsNamespace", default.dns_namespace)):
        name = cfg.get(key, fallback)
        if not isinstance(name, str) or not DNS_1123_LABEL.match(name):
            p.add(
                f"kubernetes.{key}", f"{name!r} is not a Kubernetes namespace name", "give the namespace's name, e.g. " + fallback
            )
            name = fallback
        names[key] = name
    quota = _resource_quota(p, r, cfg["resourceQuota"]) if "resourceQuota" in cfg else None
    limits = _limit_range(p, r, cfg["limitRange"]) if "limitRange" in cfg else None
    return KubernetesSettings(
        names["ingressControllerNamespace"],
        names["dnsNamespace"],
        kubernetes_version or default.kubernetes_version,
        quota,
        limits,
    )


# A Kubernetes quantity (k8s.io/apimachinery resource.Quantity): 500m, 16Gi, 2, 1.5
QUANTITY_RE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
LIMIT_TYPES = ("Container", "Pod", "PersistentVolumeClaim")
LIMIT_FIELDS = ("type", "max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


def _quantities(p: Problems, key: str, value: Any) -> bool:
    """A map of resource name -> quantity, as ResourceQuota's `hard` and LimitRange's limits take."""
    if not isinstance(value, dict):
        p.add(key, f"must be a map of resource -> quantity, got {value!r}", "write e.g. {cpu: 500m, memory: 512Mi}")
        return False
    ok = True
    for name, quantity in value.items():
        text = str(quantity) if isinstance(quantity, (int, float)) and not isinstance(quantity, bool) else quantity
        if not isinstance(name, str) or not isinstance(text, str) or not QUANTITY_RE.match(text):
            p.add(
                f"{key}.{name}",
                f"{quantity!r} is not a Kubernetes quantity",
                "write a number with an optional unit, e.g. 8, 500m, 16Gi",
            )
            ok = False
    return ok


def _resource_quota(p: Problems, r: Reader, value: Any) -> dict[str, Any] | None:
    spec = r.mapping(
        "kubernetes.resourceQuota", value, "give a ResourceQuota spec, e.g. {hard: {pods: '50'}}", ("hard", "scopes")
    )
    if spec is None:
        return None
    ok = _quantities(p, "kubernetes.resourceQuota.hard", spec.get("hard", {}))
    scopes = spec.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
        p.add("kubernetes.resourceQuota.scopes", f"{scopes!r} is not a list of scope names", "write e.g. [NotTerminating]")
        ok = False
    return spec if ok else None


def _limit_range(p: Problems, r: Reader, value: Any) -> dict[str, Any] | None:
    spec = r.mapping(
        "kubernetes.limitRange", value, "give a LimitRange spec, e.g. {limits: [{type: Container, ...}]}", ("limits",)
    )
    if spec is None:
        return None
    items = r.listing("kubernetes.limitRange.limits", spec.get("limits"), "list [{type: Container, default: {...}}]")
    ok = items is not None
    for i, item in enumerate(items or []):
        key = f"kubernetes.limitRange.limits[{i}]"
        limit = r.mapping(key, item, "give {type, max, min, default, defaultRequest, maxLimitRequestRatio}", LIMIT_FIELDS)
        if limit is None:
            ok = False
            continue
        if limit.get("type") not in LIMIT_TYPES:
            p.add(f"{key}.type", f"{limit.get('type')!r} is not a LimitRange type", f"use one of {', '.join(LIMIT_TYPES)}")
            ok = False
        for field_name in LIMIT_FIELDS[1:]:
            if field_name in limit:
                ok = _quantities(p, f"{key}.{field_name}", limit[field_name]) and ok
    return spec if ok else None


def parse_teams(
    p: Problems,
    r: Reader,
    value: Any,
    env_name: str | None,
    others: Mapping[str, ipaddress.IPv4Network],
) -> tuple[TeamSpec, ...]:
    items = (
        r.listing("teams", value if value is not None else [], "list the teams on-boarded in this environment", minimum=0) or []
    )
    teams: list[TeamSpec] = []
    names: dict[str, int] = {}
    namespaces: dict[str, int] = {}
    raw_egress: list[tuple[int, list[Any]]] = []
    for i, item in enumerate(items):
        key = f"teams[{i}]"
        t = r.mapping(key, item, "give {name, namespace, groups, apps, egress}", TEAM_FIELDS)
        if t is None:
            continue
        name = r.string(f"{key}.name", t.get("name"), "name the team, e.g. payments")
        if name is not None and not DNS_1123_LABEL.match(name):
            p.add(f"{key}.name", f"'{name}' is not a usable team name", "use lower-case letters, digits and '-'")
            name = None
        elif name is not None:
            if name in names:
                p.add(f"{key}.name", f"'{name}' is already teams[{names[name]}]", "list each team once")
            names[name] = i
        ns = t.get("namespace", f"{name}-{env_name}" if name else None)
        if ns is not None and (not isinstance(ns, str) or not DNS_1123_LABEL.match(ns)):
            p.add(
                f"{key}.namespace",
                f"{ns!r} is not a Kubernetes namespace name",
                "use at most 63 lower-case letters, digits and '-'",
            )
            ns = None
        elif ns is not None:
            if ns in namespaces:
                p.add(
                    f"{key}.namespace",
                    f"namespace {ns} is already the namespace of teams[{namespaces[ns]}]",
                    "give every team its own namespace",
                )
            namespaces[ns] = i
        groups = r.listing(f"{key}.groups", t.get("groups"), "list the UCP / LDAP groups that get access to the namespace") or []
        if any(not isinstance(g, str) or not g.strip() for g in groups):
            p.add(f"{key}.groups", "has an empty or non-string group", "list group names")
        apps = _parse_apps(p, r, f"{key}.apps", t.get("apps", []))
        egress = r.mapping(f"{key}.egress", t.get("egress", {}), "give {dns, cidrs, namespaces}", EGRESS_FIELDS) or {}
        dns = r.boolean(f"{key}.egress.dns", egress.get("dns", True), "set false only for pods that resolve nothing")
        targets = _parse_cidr_egress(p, r, f"{key}.egress.cidrs", egress.get("cidrs", []), others)
        raw_egress.append(
            (i, r.listing(f"{key}.egress.namespaces", egress.get("namespaces", []), "list [{namespace, ports}]", minimum=0) or [])
        )
        if name and ns:
            teams.append(TeamSpec(name, ns, tuple(str(g) for g in groups), apps, dns is not False, targets))
    # Namespace egress can only name this environment's team namespaces: never another environment's.
    by_index = {namespaces[t.namespace]: t for t in teams}
    for i, entries in raw_egress:
        extra = []
        for j, entry in enumerate(entries):
            k = f"teams[{i}].egress.namespaces[{j}]"
            e = r.mapping(k, entry, "give {namespace, ports}", ("namespace", "ports"))
            if e is None:
                continue
            target = e.get("namespace")
            if target not in namespaces:
                p.add(
                    f"{k}.namespace",
                    f"{target!r} is not a team namespace of this environment ({', '.join(namespaces) or 'none'})",
                    "name a namespace on-boarded here",
                )
                continue
            extra.append(EgressTarget(namespace=str(target), ports=_ports(p, r, f"{k}.ports", e.get("ports", []), 0)))
        if i in by_index and extra:
            team = by_index[i]
            by_index[i] = TeamSpec(team.name, team.namespace, team.groups, team.apps, team.dns, (*team.egress, *extra))
    return tuple(by_index[i] for i in sorted(by_index))


def _parse_apps(p: Problems, r: Reader, key: str, value: Any) -> tuple[AppSpec, ...]:
    items = r.listing(key, value, "list [{name, podSelector, ports, ingress}]", minimum=0) or []
    apps, seen = [], set()
    for i, item in enumerate(items):
        k = f"{key}[{i}]"
        a = r.mapping(k, item, "give {name, podSelector, ports, ingress}", APP_FIELDS)
        if a is None:
            continue
        name = r.string(f"{k}.name", a.get("name"), "name the app, e.g. web")
        if name is not None and (not DNS_1123_LABEL.match(name) or name in seen):
            p.add(f"{k}.name", f"'{name}' is not a usable app name or is listed twice", "use a unique lower-case name")
            name = None
        selector = _selector(
            p, r, f"{k}.podSelector", a.get("podSelector"), "give the labels of the app's pods, e.g. {app: payments-web}"
        )
        ports = _ports(p, r, f"{k}.ports", a.get("ports"), 1)
        ingress = r.boolean(f"{k}.ingress", a.get("ingress", False), "set true when the ingress controller routes to the app")
        if name and selector and ports:
            seen.add(name)
            apps.append(AppSpec(name, selector, ports, bool(ingress)))
    return tuple(apps)


def _parse_cidr_egress(
    p: Problems, r: Reader, key: str, value: Any, others: Mapping[str, ipaddress.IPv4Network]
) -> tuple[EgressTarget, ...]:
    items = r.listing(key, value, "list [{cidr, ports}]", minimum=0) or []
    out = []
    for i, item in enumerate(items):
        k = f"{key}[{i}]"
        e = r.mapping(k, item, "give {cidr, ports}", ("cidr", "ports"))
        if e is None:
            continue
        cidr = r.cidr(f"{k}.cidr", e.get("cidr"), "give the destination block")
        if cidr is None:
            continue
        for other, ocidr in others.items():
            if cidr.overlaps(ocidr) and cidr.prefixlen > 0:
                p.add(
                    f"{k}.cidr",
                    f"{cidr} reaches environment '{other}' ({ocidr})",
                    "environments must not reach each other; remove it",
                )
        if cidr.prefixlen == 0 and not e.get("ports"):
            p.add(f"{k}.ports", "0.0.0.0/0 on every port opens the whole internet", "list the ports the team needs")
        out.append(EgressTarget(cidr=str(cidr), ports=_ports(p, r, f"{k}.ports", e.get("ports", []), 0)))
    return tuple(out)
