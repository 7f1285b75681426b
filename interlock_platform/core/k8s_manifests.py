"""Team on-boarding as Kubernetes manifests: pure data, no Pulumi.

The runbook applies three NetworkPolicies by hand. Its step 2 claims a policy listing only
`Ingress` re-opens egress; it does not (deny-all still isolates egress), so its pods cannot
reach each other or DNS. Here every namespace gets deny-all, then explicit allows: its own
pods both ways (namespaceSelector AND podSelector in one `from` item, never the widening
two-item form), DNS, the team's egress allow-list, and per app the ingress controller on the
app's ports. The team's Role manages workloads but not policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from interlock_platform.core import labels

Manifest = dict[str, Any]
MANAGER = "interlock-platform"

# Who may do what in a team namespace, per environment (docs/kubernetes.md has the matrix).
# People get `develop` (dev and test by default) or `view` (prod by default); the pipeline
# identity (ServiceAccount `deployer`, and the team's `pipelineGroups`) gets `deploy` everywhere.
# No role ever names networkpolicies, roles, rolebindings, resourcequotas, limitranges or
# namespaces: policy stays with the platform. No role names `serviceaccounts/token` (CIS 5.1.13):
# a rule on `serviceaccounts` does not reach its subresources. `view` and `deploy` give no verb at
# all on pods/exec, pods/attach or pods/portforward: a WebSocket request for them starts as an HTTP
# GET, which API servers before 1.35 authorize with `get` alone (kubernetes/kubernetes#134577).
Rules = tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]  # (apiGroups, resources, verbs)
READ = ("get", "list", "watch")
WRITE = ("get", "list", "watch", "create", "update", "patch", "delete")
WORKLOADS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("apps",), ("deployments", "statefulsets", "replicasets", "daemonsets")),
    (("batch",), ("jobs", "cronjobs")),
    (("networking.k8s.io",), ("ingresses",)),
    (("autoscaling",), ("horizontalpodautoscalers",)),
    # an app's route to its environment's Gateway (docs/gateway.md); the route-hostnames admission
    # policy holds their hostnames to the domain. Never gateways, referencegrants or tlsroutes: a
    # Gateway, a grant across namespaces and TLS passthrough stay with the platform.
    (("gateway.networking.k8s.io",), ("httproutes", "grpcroutes")),
)
ACCESS_RULES: dict[str, Rules] = {
    # what developers need: workloads, their secrets, and a shell, a debugger and a tunnel into them
    "develop": (
        (("",), ("pods", "pods/exec", "pods/attach", "pods/portforward", "services", "configmaps", "secrets",
                 "persistentvolumeclaims", "serviceaccounts"), WRITE),
        (("",), ("pods/log", "events"), READ),
        *((g, r, WRITE) for g, r in WORKLOADS),
    ),
    # people in prod: see what runs and read its logs; no secrets, no way into a pod, no changes
    "view": (
        (("",), ("pods", "pods/log", "services", "endpoints", "configmaps", "persistentvolumeclaims", "serviceaccounts",
                 "events"), READ),
        *((g, r, READ) for g, r in WORKLOADS),
    ),
    # the pipeline: applies the team's manifests (secrets included) and restarts pods; it creates
    # no bare pods (CIS 5.1.4: its controllers do) and has no way into one
    "deploy": (
        (("",), ("services", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts"), WRITE),
        (("",), ("pods",), ("get", "list", "watch", "delete")),
        (("",), ("pods/log", "events"), READ),
        *((g, r, WRITE) for g, r in WORKLOADS),
    ),
}  # fmt: skip
PEOPLE_ACCESS = ("develop", "view")  # what `kubernetes.teamAccess` may say
PIPELINE_ACCOUNT = "deployer"  # the pipeline's ServiceAccount in every team namespace


@dataclass(frozen=True)
class Port:
    port: int
    protocol: str = "TCP"

    def manifest(self) -> Manifest:
        return {"protocol": self.protocol, "port": self.port}


@dataclass(frozen=True)
class AppSpec:
    name: str
    pod_selector: Mapping[str, str]
    ports: tuple[Port, ...]
    ingress: bool  # takes traffic from the ingress controller


@dataclass(frozen=True)
class EgressTarget:
    """Where a team's pods may connect: a CIDR, or another namespace (by its ns-id)."""

    cidr: str | None = None
    namespace: str | None = None
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True)
class TeamSpec:
    name: str
    namespace: str
    groups: tuple[str, ...]
    apps: tuple[AppSpec, ...] = ()
    dns: bool = True
    egress: tuple[EgressTarget, ...] = ()
    os: str | None = None  # the nodes' OS its pods run on (kubernetes.io/os); None: not pinned (no Windows nodes)
    pipeline_groups: tuple[str, ...] = ()  # besides the `deployer` ServiceAccount, who deploys (deploy rights)
    ucp_grants: tuple[Any, ...] = ()  # ucp_grants.UcpGrantSpec: the team's Swarm rights, built by the Swarm layer


# Kubernetes sets `kubernetes.io/metadata.name` on every namespace, and no one can change it, from 1.21.
METADATA_NAME_SINCE = (1, 21)
# A peer of namespaceSelector AND podSelector (pods of other namespaces), from 1.11.
NAMESPACE_AND_POD_PEERS_SINCE = (1, 11)
# Pod Security admission (the pod-security.kubernetes.io/* namespace labels): GA and on in 1.25.
POD_SECURITY_SINCE = (1, 25)
# ValidatingAdmissionPolicy and its binding in admissionregistration.k8s.io/v1: GA in 1.30.
ADMISSION_POLICY_SINCE = (1, 30)
POD_SECURITY_LEVELS = ("baseline", "restricted")  # what `kubernetes.podSecurity` may say: never `privileged`
# What `kubernetes.serviceTypes` may grant. Never ExternalName: a DNS alias to any name, in a
# cluster whose ingress controller every environment shares.
GRANTABLE_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
# Server-side apply, which pulumi-kubernetes's Patch resources need: on by default from 1.16 (beta),
# supported by pulumi-kubernetes from 1.18 (its server-side apply guide).
SERVER_SIDE_APPLY_SINCE = (1, 18)


def namespace_selector(name: str, kubernetes_version: tuple[int, int]) -> dict[str, str]:
    """Labels that select namespace `name`. From 1.21 the name Kubernetes itself sets on every
    namespace, which no one can set on another: nothing to apply, and no namespace passes for
    another. Before 1.21 the platform's own `ns-id` (on team namespaces, and put on kube-system
    and the ingress controller's namespace by the platform or, before server-side apply, by an
    admin once)."""
    if kubernetes_version >= METADATA_NAME_SINCE:
        return {labels.K8S_NAMESPACE_NAME: name}
    return {labels.NS_ID: name}


@dataclass(frozen=True)
class KubernetesSettings:
    ingress_namespace: str = "ingress-nginx"  # the ingress controller's namespace
    dns_namespace: str = "kube-system"  # where the cluster DNS pods run
    kubernetes_version: tuple[int, int] = (1, 14)  # what the UCP release ships (UCP 3.2: 1.14)
    resource_quota: Mapping[str, Any] | None = None  # a ResourceQuota spec
    limit_range: Mapping[str, Any] | None = None  # a LimitRange spec
    environment: str = "dev"
    domain: str = ""  # the environment's domain: team hostnames are <name>.<domain> (admission needs it)
    team_access: str = "develop"  # what people get (ACCESS_RULES): develop, or view (prod's default)
    pod_security: str = "baseline"  # the Pod Security level enforced on team namespaces (restricted in prod)
    service_types: tuple[str, ...] = ("ClusterIP",)  # the Service types teams may create (admission)
    # every environment's Gateway NodePorts the stack knows (the registry's defaults, its own
    # configured ones): a NodePort is the cluster's, so no team Service may ask for one (admission)
    gateway_node_ports: tuple[int, ...] = ()

    @property
    def ingress_selector(self) -> dict[str, str]:
        return namespace_selector(self.ingress_namespace, self.kubernetes_version)

    @property
    def dns_selector(self) -> dict[str, str]:
        return namespace_selector(self.dns_namespace, self.kubernetes_version)

    @property
    def server_side_apply(self) -> bool:
        return self.kubernetes_version >= SERVER_SIDE_APPLY_SINCE

    @property
    def pod_security_enforced(self) -> bool:
        return self.kubernetes_version >= POD_SECURITY_SINCE

    @property
    def admission_policies(self) -> bool:
        return self.kubernetes_version >= ADMISSION_POLICY_SINCE

    @property
    def cluster_namespaces(self) -> tuple[str, ...]:
        """The cluster's namespaces that team policies select (DNS, the ingress controller): no
        team may own one, whatever the release."""
        return tuple(dict.fromkeys((self.dns_namespace, self.ingress_namespace)))

    @property
    def platform_namespaces(self) -> tuple[str, ...]:
        """Namespaces the platform labels but does not own: none from Kubernetes 1.21, where the
        selectors use the name label the API server sets."""
        if self.kubernetes_version >= METADATA_NAME_SINCE:
            return ()
        return self.cluster_namespaces


def _meta(name: str, namespace: str | None = None, **extra: Any) -> Manifest:
    meta: Manifest = {"name": name, "labels": {labels.K8S_MANAGED_BY: MANAGER}}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def _policy(name: str, namespace: str, spec: Manifest) -> Manifest:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(name, namespace), "spec": spec}


def pod_security_labels(settings: KubernetesSettings) -> dict[str, str]:
    """Pod Security admission on a team namespace: the environment's level enforced, and
    `restricted` warned and audited everywhere, so dev shows what prod refuses. Pinned to the
    cluster's Kubernetes, so an upgrade does not change the rules unannounced. Nothing before
    1.25, where the labels would be enforced by nothing."""
    if not settings.pod_security_enforced:
        return {}
    version = "v{}.{}".format(*settings.kubernetes_version)
    out = {}
    for mode, level in (("enforce", settings.pod_security), ("warn", "restricted"), ("audit", "restricted")):
        out[f"{labels.POD_SECURITY}/{mode}"] = level
        out[f"{labels.POD_SECURITY}/{mode}-version"] = version
    return out


def namespace(team: TeamSpec, environment: str, node_selector: str, settings: KubernetesSettings | None = None) -> Manifest:
    meta = _meta(team.namespace)
    meta["labels"].update({labels.TEAM: team.name, labels.ENVIRONMENT: environment, labels.NS_ID: team.namespace})
    meta["labels"].update(pod_security_labels(settings or KubernetesSettings()))
    # Pins every pod of the namespace to its collection's nodes (PodNodeSelector), and where the
    # environment has Windows workers to its OS too: PodNodeSelector refuses a pod whose own
    # nodeSelector conflicts, so a team cannot move its pods to the other OS's nodes.
    selector = node_selector if team.os is None else f"{node_selector},{labels.K8S_OS}={team.os}"
    meta["annotations"] = {labels.NODE_SELECTOR_ANNOTATION: selector}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def label_command(name: str) -> str:
    """What a cluster admin runs once where the platform cannot patch (Kubernetes before 1.18)."""
    return f"kubectl label namespace {name} {labels.NS_ID}={name} --overwrite"


def platform_label(name: str) -> Manifest:
    """The label the platform puts on a namespace it does not own (kube-system, the ingress
    controller's), so team policies can select it before Kubernetes 1.21 (1.18 to 1.20: no UCP /
    MKE release of the port table ships those; before 1.18 an admin applies it). Applied as a patch:
    the namespace and its other labels stay as they are."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {labels.NS_ID: name}}}


def own_namespace_peer() -> Manifest:
    # A podSelector alone means "pods of the policy's own namespace", on every Kubernetes
    # version, and no other namespace can pass for it by copying labels. (The runbook's form,
    # namespaceSelector by ns-id AND podSelector, admits any namespace wearing the label; and
    # written as two items, a stray '-', it means OR and widens access further.)
    return {"podSelector": {}}


def deny_all(ns: str) -> Manifest:
    return _policy("deny-all", ns, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_internal(ns: str) -> Manifest:
    peer = own_namespace_peer()
    return _policy("allow-internal", ns, {
        "podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{"from": [peer]}], "egress": [{"to": [peer]}],
    })  # fmt: skip


def allow_dns_egress(ns: str, settings: KubernetesSettings) -> Manifest:
    peer = {
        "namespaceSelector": {"matchLabels": settings.dns_selector},
        "podSelector": {"matchLabels": dict(labels.DNS_POD)},
    }
    ports = [Port(53, "UDP").manifest(), Port(53, "TCP").manifest()]
    return _policy(
        "allow-dns-egress", ns, {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [peer], "ports": ports}]}
    )


def allow_egress(team: TeamSpec, settings: KubernetesSettings) -> Manifest | None:
    """The team's egress allow-list; None when it has none beyond DNS."""
    rules = []
    for target in team.egress:
        peer = (
            {"ipBlock": {"cidr": target.cidr}}
            if target.cidr
            else {"namespaceSelector": {"matchLabels": namespace_selector(str(target.namespace), settings.kubernetes_version)}}
        )
        rule: Manifest = {"to": [peer]}
        if target.ports:
            rule["ports"] = [p.manifest() for p in target.ports]
        rules.append(rule)
    if not rules:
        return None
    return _policy("allow-egress", team.namespace, {"podSelector": {}, "policyTypes": ["Egress"], "egress": rules})


def app_ingress_policy(ns: str, app: AppSpec, ingress_namespace_selector: Mapping[str, str]) -> Manifest:
    """`allow-ingress-<app>`: the ingress controller's namespace to this app's pods, on its ports only.
    The selector may be a Pulumi Output (the env stack's `ingressControllerNamespaceSelector`)."""
    selector = dict(ingress_namespace_selector) if isinstance(ingress_namespace_selector, Mapping) else ingress_namespace_selector
    return _policy(f"allow-ingress-{app.name}", ns, {
        "podSelector": {"matchLabels": dict(app.pod_selector)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": selector}}], "ports": [p.manifest() for p in app.ports]}],
    })  # fmt: skip


def _role(name: str, ns: str, rules: Rules) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(name, ns),
        "rules": [{"apiGroups": list(g), "resources": list(r), "verbs": list(v)} for g, r, v in rules],
    }  # fmt: skip


def _binding(name: str, ns: str, subjects: list[Manifest]) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(name, ns),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}, "subjects": subjects,
    }  # fmt: skip


def _groups(groups: tuple[str, ...]) -> list[Manifest]:
    return [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups]


def team_role(ns: str, access: str = "develop") -> Manifest:
    """`team-workloads`: what the team's people may do, by the environment's `teamAccess`."""
    return _role("team-workloads", ns, ACCESS_RULES[access])


def team_role_binding(ns: str, groups: tuple[str, ...]) -> Manifest:
    return _binding("team-workloads", ns, _groups(groups))


def pipeline_account(ns: str) -> Manifest:
    """The pipeline's identity in the namespace. Its token is never mounted into a pod; an admin
    (or the CI's own admin credentials) mints one with `kubectl create token deployer -n <ns>`:
    no person of the team can, in any environment (no `serviceaccounts/token`)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(PIPELINE_ACCOUNT, ns), "automountServiceAccountToken": False}


def pipeline_role(ns: str) -> Manifest:
    return _role("team-deploy", ns, ACCESS_RULES["deploy"])


def pipeline_role_binding(ns: str, groups: tuple[str, ...]) -> Manifest:
    account = {"kind": "ServiceAccount", "name": PIPELINE_ACCOUNT, "namespace": ns}
    return _binding("team-deploy", ns, [account, *_groups(groups)])


def resource_quota(ns: str, spec: Mapping[str, Any]) -> Manifest:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta("team-quota", ns), "spec": dict(spec)}


def limit_range(ns: str, spec: Mapping[str, Any]) -> Manifest:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta("team-limits", ns), "spec": dict(spec)}


def onboarding(team: TeamSpec, environment: str, node_selector: str, settings: KubernetesSettings) -> list[Manifest]:
    """Everything on-boarding creates for a team, the namespace first (app ingress policies are
    the pipeline's, see `app_ingress_policy`)."""
    ns = team.namespace
    out = [namespace(team, environment, node_selector, settings), deny_all(ns), allow_internal(ns)]
    if team.dns:
        out.append(allow_dns_egress(ns, settings))
    egress = allow_egress(team, settings)
    if egress is not None:
        out.append(egress)
    out += [team_role(ns, settings.team_access), team_role_binding(ns, team.groups)]
    out += [pipeline_account(ns), pipeline_role(ns), pipeline_role_binding(ns, team.pipeline_groups)]
    if settings.resource_quota:
        out.append(resource_quota(ns, settings.resource_quota))
    if settings.limit_range:
        out.append(limit_range(ns, settings.limit_range))
    return out
