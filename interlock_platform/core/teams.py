"""The env stacks' Kubernetes config: teams, their apps and egress, and cluster settings. Their
shapes are the models in `config_models`; this module holds the checks between values (unique
names and namespaces, label selectors, egress that would reach another environment). Pure;
called by topology.parse_environment so its problems are listed with all the others."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Collection, Mapping

from interlock_platform.core import config_models as cm
from interlock_platform.core import names as owners
from interlock_platform.core import ucp_grants as grants
from interlock_platform.core.config_reader import LABEL_KEY_RE, LABEL_VALUE_RE, Problems
from interlock_platform.core.k8s_manifests import AppSpec, EgressTarget, KubernetesSettings, Port, TeamSpec


def _selector(p: Problems, key: str, selector: Mapping[str, object], fix: str) -> dict[str, str] | None:
    if not selector:
        p.add(key, "is empty, which selects everything", fix)
        return None
    for k, v in selector.items():
        if not LABEL_KEY_RE.match(k) or not isinstance(v, str) or not LABEL_VALUE_RE.match(v):
            p.add(f"{key}.{k}", f"{k}={cm.show(v)} is not a valid Kubernetes label (values are strings without '/')", fix)
            return None
    return {str(k): str(v) for k, v in selector.items()}


def _ports(specs: list[int | cm.PortSpec]) -> tuple[Port, ...]:
    return tuple(Port(s) if isinstance(s, int) else Port(s.port, s.protocol) for s in specs)


def check_kubernetes(
    p: Problems,
    cfg: cm.Kubernetes | None,
    kubernetes_version: tuple[int, int] | None,
    env_name: str | None = None,
    registered: Collection[str] = (),
    domain: str | None = None,
) -> KubernetesSettings:
    """`kubernetes_version`: what the shared stack's UCP release ships (None when unknown).
    `registered`: the registry's environment names; the namespaces every environment's team
    policies select (DNS, the ingress controller) cannot be one that an environment owns.
    Prod's people get `view` and its namespaces `restricted` unless the stack says otherwise."""
    default = KubernetesSettings()
    cfg = cfg or cm.Kubernetes()
    prod = env_name == "prod"
    for key, ns in (("ingressControllerNamespace", cfg.ingress_controller_namespace), ("dnsNamespace", cfg.dns_namespace)):
        owner = owners.namespace_owner(ns, {*registered, *([env_name] if env_name else [])})
        if owner is not None and owners.reserved_namespace(ns) is None:  # kube-system is the cluster's, whatever env names
            p.add(
                f"kubernetes.{key}",
                f"{ns} is a team namespace of environment '{owner}' (it ends in -{owner}), not one the cluster runs for every "
                "environment: every environment's team policies select it, and would admit its pods",
                "give the namespace the cluster's ingress controller or DNS runs in, e.g. ingress-nginx or kube-system",
            )
    return KubernetesSettings(
        cfg.ingress_controller_namespace,
        cfg.dns_namespace,
        kubernetes_version or default.kubernetes_version,
        cfg.resource_quota.model_dump(by_alias=True, exclude_unset=True) if cfg.resource_quota else None,
        cfg.limit_range.model_dump(by_alias=True, exclude_unset=True) if cfg.limit_range else None,
        environment=env_name or default.environment,
        domain=domain or "",
        team_access=cfg.team_access or ("view" if prod else "develop"),
        pod_security=cfg.pod_security or ("restricted" if prod else "baseline"),
        service_types=tuple(dict.fromkeys(("ClusterIP", *cfg.service_types))),
    )


def check_teams(
    p: Problems,
    items: list[cm.Team | None] | None,
    env_name: str | None,
    others: Mapping[str, ipaddress.IPv4Network],
    cluster_namespaces: Collection[str] = (),
    windows_groups: bool = False,
    collections: Mapping[str, str] | None = None,
) -> tuple[TeamSpec, ...]:
    """`others`: the registry's other environments (their names own their namespaces too).
    `collections`: every registered environment's UCP collection, this one's among them (None:
    unknown, and UCP grants are then checked for their groups and roles only).
    `cluster_namespaces`: the ingress controller's and DNS namespaces, which no team may own.
    `windows_groups`: the environment has Windows workers, so every team namespace is pinned
    to its OS (kubernetes.io/os), Linux unless the team says windows."""
    teams: dict[int, TeamSpec] = {}
    names: dict[str, int] = {}
    namespaces: dict[str, int] = {}
    for i, t in enumerate(items or []):
        if t is None:  # malformed: reported, and the other teams are checked on
            continue
        key = f"teams[{i}]"
        if t.name in names:
            p.add(f"{key}.name", f"'{t.name}' is already teams[{names[t.name]}]", "list each team once")
        names[t.name] = i
        ns = t.namespace or f"{t.name}-{env_name}"
        if t.namespace is None and not cm.DNS_LABEL_RE.match(ns):
            p.add(
                f"{key}.namespace",
                f"the default namespace {cm.show(ns)} is not a Kubernetes namespace name",
                "set namespace to at most 63 lower-case letters, digits and '-'",
            )
            continue
        owned = owners.namespace_problem(ns, env_name, others, cluster_namespaces) if env_name else None
        if owned is not None:
            p.add(f"{key}.namespace", *owned)
            continue
        if ns in namespaces:
            p.add(
                f"{key}.namespace",
                f"namespace {ns} is already the namespace of teams[{namespaces[ns]}]",
                "give every team its own namespace",
            )
        namespaces[ns] = i
        apps = _check_apps(p, f"{key}.apps", t.apps)
        targets = _check_cidr_egress(p, f"{key}.egress.cidrs", t.egress.cidrs, others)
        if t.os == "windows" and not windows_groups:
            p.add(f"{key}.os", "is windows, and no application group of this environment has os: windows", "use linux, or add a Windows group")
        overlap = sorted(set(t.groups) & set(t.pipeline_groups))
        if overlap:
            p.add(
                f"{key}.pipelineGroups",
                f"{', '.join(overlap)} {'is' if len(overlap) == 1 else 'are'} also in groups: its people would get the "
                "pipeline's deploy rights (secrets included) wherever teamAccess keeps them out",
                "give the pipeline groups of its own that no person is a member of",
            )
        ucp = _check_ucp_grants(p, f"{key}.ucpGrants", t, env_name, collections)
        teams[i] = TeamSpec(
            t.name, ns, tuple(t.groups), apps, t.egress.dns, targets, t.os if windows_groups else None, tuple(t.pipeline_groups),
            ucp,
        )
    # Namespace egress can only name this environment's team namespaces: never another environment's.
    for i, t in enumerate(items or []):
        if t is None:
            continue
        extra = []
        for j, e in enumerate(t.egress.namespaces):
            if e.namespace not in namespaces:
                if None in items:  # a malformed team's namespace is unknown: do not call this one wrong
                    continue
                p.add(
                    f"teams[{i}].egress.namespaces[{j}].namespace",
                    f"{cm.show(e.namespace)} is not a team namespace of this environment ({', '.join(namespaces) or 'none'})",
                    "name a namespace on-boarded here",
                )
                continue
            extra.append(EgressTarget(namespace=e.namespace, ports=_ports(e.ports)))
        if i in teams and extra:
            team = teams[i]
            teams[i] = dataclasses.replace(team, egress=(*team.egress, *extra))
    return tuple(teams[i] for i in sorted(teams))


def _check_ucp_grants(
    p: Problems, key: str, team: cm.Team, env_name: str | None, collections: Mapping[str, str] | None
) -> tuple[grants.UcpGrantSpec, ...]:
    """Each grant names one of the team's groups, a role other than Full Control, and this
    environment's collection or one under it (`ucp_grants.collection_problem`)."""
    out: list[grants.UcpGrantSpec] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    env_collection = (collections or {}).get(env_name or "")
    for j, g in enumerate(team.ucp_grants):
        k = f"{key}[{j}]"
        if g.group not in team.groups and g.group not in team.pipeline_groups:
            p.add(
                f"{k}.group",
                f"{cm.show(g.group)} is not one of this team's groups or pipelineGroups ({', '.join([*team.groups, *team.pipeline_groups])})",
                "grant one of the team's own groups, or add the group to groups or pipelineGroups",
            )
            continue
        role = g.role or grants.default_role(env_name, people=g.group in team.groups)
        if role in grants.REFUSED_ROLES:
            p.add(
                f"{k}.role",
                f"{role} {grants.REFUSED_ROLES[role]}: that reaches past the collection to its nodes",
                "use restrictedcontrol (deploys without those), or viewonly",
            )
            continue
        if env_collection is None:  # the registry is unknown: reported where it is read
            continue
        collection = g.collection or env_collection
        problem = grants.collection_problem(collection, env_name or "", env_collection, collections or {})
        if problem is not None:
            p.add(f"{k}.collection", *problem)
            continue
        spec = grants.UcpGrantSpec(g.organization, g.group, role, collection)
        ident = (spec.organization, spec.team, spec.role, spec.collection)
        if ident in seen:
            p.add(k, f"is the same grant as {key}[{seen[ident]}]", "list each grant once")
            continue
        seen[ident] = j
        out.append(spec)
    return tuple(out)


def _check_apps(p: Problems, key: str, items: list[cm.App]) -> tuple[AppSpec, ...]:
    apps, seen = [], set()
    for i, a in enumerate(items):
        k = f"{key}[{i}]"
        if a.name in seen:
            p.add(f"{k}.name", f"'{a.name}' is listed twice", "give each app of the team its own name")
            continue
        seen.add(a.name)
        selector = _selector(p, f"{k}.podSelector", a.pod_selector, "give the labels of the app's pods, e.g. {app: payments-web}")
        if selector:
            apps.append(AppSpec(a.name, selector, _ports(a.ports), a.ingress))
    return tuple(apps)


def _check_cidr_egress(
    p: Problems, key: str, items: list[cm.CidrEgress], others: Mapping[str, ipaddress.IPv4Network]
) -> tuple[EgressTarget, ...]:
    out = []
    for i, e in enumerate(items):
        k = f"{key}[{i}]"
        for other, ocidr in others.items():
            if e.cidr.overlaps(ocidr) and e.cidr.prefixlen > 0:
                p.add(
                    f"{k}.cidr",
                    f"{e.cidr} reaches environment '{other}' ({ocidr})",
                    "environments must not reach each other; remove it",
                )
        if e.cidr.prefixlen == 0 and not e.ports:
            p.add(f"{k}.ports", "0.0.0.0/0 on every port opens the whole internet", "list the ports the team needs")
        out.append(EgressTarget(cidr=str(e.cidr), ports=_ports(e.ports)))
    return tuple(out)
