"""Kubernetes rules: default deny, no wide peers, namespaces pinned to their collection, and
policy that teams cannot edit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    REGISTRY_SCHEMA,
    UNKNOWN,
    Environment,
    Registry,
    Stack,
    env_of,
    environment_resource,
    get,
    items,
    kind,
    network,
    number,
    overlaps,
    plain,
    registry,
    registry_or_report,
    resource_environment,
    stack_of,
    world_like,
)

NAMESPACE = "kubernetes:core/v1:Namespace"
NAMESPACE_PATCH = "kubernetes:core/v1:NamespacePatch"
# The platform's namespace identity: team policies select namespaces by it where Kubernetes
# (before 1.21) sets no name label of its own.
NS_ID = "ns-id"
# Kinds by API group, whatever the version (a v1beta1 Role on UCP 3.0's Kubernetes is a Role) or Patch form
POLICY_KINDS = {"networking.k8s.io:NetworkPolicy", "extensions:NetworkPolicy"}
RBAC = "rbac.authorization.k8s.io"
ROLE_KINDS = {f"{RBAC}:Role", f"{RBAC}:ClusterRole"}
BINDING_KINDS = {f"{RBAC}:RoleBinding", f"{RBAC}:ClusterRoleBinding"}
NODE_SELECTOR = "scheduler.alpha.kubernetes.io/node-selector"
K8S_OS = "kubernetes.io/os"  # the kubelet's node label
OPERATING_SYSTEMS = ("linux", "windows")
WRITE = {"create", "update", "patch", "delete", "deletecollection", "*", "escalate", "bind", "impersonate"}
# What isolation is made of, in any API group (Calico's own policies included): whoever may write
# these can undo it. Namespaces are in it because their labels are what policies select.
GUARDED_RESOURCES = {
    "networkpolicies", "globalnetworkpolicies", "stagednetworkpolicies", "roles", "rolebindings", "clusterroles",
    "clusterrolebindings", "namespaces", "nodes", "*",
}  # fmt: skip
POWERFUL_CLUSTER_ROLES = {"edit", "admin", "cluster-admin"}  # `edit` may change NetworkPolicies
READ_ONLY_CLUSTER_ROLES = {"view"}
EVERYONE = {"system:authenticated", "system:unauthenticated", "system:serviceaccounts", "system:anonymous"}
OPEN_OPERATORS = {"Exists", "DoesNotExist", "NotIn"}  # select every namespace but a few: no allow-list


def _empty_selector(sel: object) -> bool:
    return isinstance(sel, Mapping) and not get(sel, "matchLabels") and not get(sel, "matchExpressions")


def _open_selector(sel: object) -> bool:
    """Empty, or only open-ended expressions (`ns-id Exists` is every platform namespace)."""
    if not isinstance(sel, Mapping) or get(sel, "matchLabels") or get(sel, "matchLabels") is UNKNOWN:
        return False
    exprs = items(get(sel, "matchExpressions"))
    return UNKNOWN not in exprs and all(get(e, "operator") in OPEN_OPERATORS for e in exprs)


def _is(resource: object, kinds: set[str]) -> bool:
    return kind(str(getattr(resource, "resource_type", resource))) in kinds


def _default_deny(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    policies = [r for r in stack.resources if _is(r, POLICY_KINDS)]
    for ns in stack.of_type(NAMESPACE):
        name = get(ns.props, "metadata", "name")
        if name is UNKNOWN:
            continue
        covering = [
            p for p in policies
            if get(p.props, "metadata", "namespace") == name and _empty_selector(get(p.props, "spec", "podSelector"))
            and {"Ingress", "Egress"} <= set(items(get(p.props, "spec", "policyTypes")))
            and not items(get(p.props, "spec", "ingress")) and not items(get(p.props, "spec", "egress"))
        ]  # fmt: skip
        if not covering:
            report(f"namespace {name} ({ns.name}) has no deny-all NetworkPolicy (all pods, Ingress and Egress, no rules). "
                   "Fix: on-board it with TeamNamespace, which creates deny-all first", ns.urn)  # fmt: skip


def _policy_rules(props: object) -> list[tuple[str, int, Any, list[Any]]]:
    """(direction, index, rule, peers) for every ingress and egress rule with known peers."""
    out = []
    spec = get(props, "spec")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(items(get(spec, direction))):
            if rule is UNKNOWN or get(rule, peers_key) is UNKNOWN:
                continue
            out.append((direction, i, rule, items(get(rule, peers_key))))
    return out


def _no_wide_peers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args.resource_type, POLICY_KINDS):
        return
    for direction, i, _, peers in _policy_rules(args.props):
        where = f"{direction}[{i}] of NetworkPolicy {args.name}"
        if not peers:
            report(f"{where} lists no {'sources' if direction == 'ingress' else 'destinations'}, which means all of them: every "
                   f"namespace and the internet. Fix: list the peers ({'from' if direction == 'ingress' else 'to'})")  # fmt: skip
        for peer in peers:
            if peer is UNKNOWN:
                continue
            ns = get(peer, "namespaceSelector")
            if ns is not None and ns is not UNKNOWN and _open_selector(ns):
                report(
                    f"{where} selects every namespace (an empty or open-ended namespaceSelector). Fix: select the namespaces by label"
                )
            net = network(get(peer, "ipBlock", "cidr"))
            if world_like(net):
                report(f"{where} {'admits' if direction == 'ingress' else 'sends to'} {net}, the internet and every environment's range. "
                       f"Fix: {'admit traffic through the ingress controller' if direction == 'ingress' else 'send to the ranges the pods need'}")  # fmt: skip
        only_ns = [
            p for p in peers if p is not UNKNOWN and get(p, "namespaceSelector") is not None and get(p, "podSelector") is None
        ]
        only_pods = [
            p for p in peers if p is not UNKNOWN and get(p, "podSelector") is not None and get(p, "namespaceSelector") is None
        ]
        if only_ns and only_pods:
            report(f"{where} lists namespaceSelector and podSelector as two items, which means OR and widens access. "
                   "Fix: put both selectors in one item (AND)")  # fmt: skip


def _no_cross_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args.resource_type, POLICY_KINDS):
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    for direction, i, _, peers in _policy_rules(args.props):
        for peer in peers:
            net = network(get(peer, "ipBlock", "cidr")) if peer is not UNKNOWN else None
            if net is None or net.prefixlen == 0:
                continue  # the world itself is k8s-no-wide-peers'
            for other in reg.others(env.name):
                if overlaps(net, other.cidr):
                    report(f"{direction}[{i}] of NetworkPolicy {args.name} in {env.name} reaches {net}, which holds (part of) environment "
                           f"{other.name}'s range {other.cidr}. Fix: environments never reach each other; remove the peer")  # fmt: skip


def _namespace_in_collection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (NAMESPACE, NAMESPACE_PATCH):
        return
    env = resource_environment(args, report)
    if env is None:
        return
    selector = get(args.props, "metadata", "annotations", NODE_SELECTOR)
    if args.resource_type == NAMESPACE_PATCH and selector is None:
        return  # a patch that leaves the annotation alone leaves the namespace where it is
    # The collection's label, and where Windows workers share it, the nodes' OS (kubernetes.io/os)
    if selector is not UNKNOWN and selector not in (env.node_selector, *(f"{env.node_selector},{K8S_OS}={os}" for os in OPERATING_SYSTEMS)):
        report(f"namespace {args.name} is pinned to {selector!r}, not {env.name}'s collection ({env.node_selector}). "
               f"Fix: annotate it {NODE_SELECTOR}: {env.node_selector}, so its pods run only on the collection's nodes")  # fmt: skip


def _namespace_identity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (NAMESPACE, NAMESPACE_PATCH):
        return
    name = get(args.props, "metadata", "name")
    value = get(args.props, "metadata", "labels", NS_ID)
    if value is None or UNKNOWN in (name, value):
        return
    if value != name:
        report(f"namespace {name} is labelled {NS_ID}={value}: policies that select {value} would admit it. "
               f"Fix: label a namespace {NS_ID}=<its own name> only")  # fmt: skip


def _grants(rules: object) -> list[tuple[int, str]]:
    """(index, what) for every rule that lets its holder change isolation or give itself more."""
    out = []
    for i, rule in enumerate(items(rules)):
        if rule is UNKNOWN:
            continue
        resources = {str(r).split("/")[0] for r in items(get(rule, "resources")) if r is not UNKNOWN}
        verbs = {str(v) for v in items(get(rule, "verbs")) if v is not UNKNOWN}
        if verbs & {"*", "escalate", "bind", "impersonate"}:
            out.append((i, f"the verbs {sorted(verbs & {'*', 'escalate', 'bind', 'impersonate'})}"))
        elif verbs & WRITE and resources & GUARDED_RESOURCES:
            out.append((i, f"write on {sorted(resources & GUARDED_RESOURCES)}"))
    return out


def _team_cannot_edit_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    what = kind(args.resource_type).split(":")[-1]
    if _is(args.resource_type, ROLE_KINDS):
        for i, grant in _grants(get(args.props, "rules")):
            report(f"rules[{i}] of {what} {args.name} grants {grant}, with which its holders can undo isolation. "
                   "Fix: policy and RBAC stay with the platform; grant the workload verbs on workload resources only")  # fmt: skip
        labels = get(args.props, "metadata", "labels")
        into = sorted(str(k)[len(AGGREGATE_TO):] for k in (labels if isinstance(labels, Mapping) else {}) if str(k).startswith(AGGREGATE_TO))
        if into:
            report(f"{what} {args.name} is labelled to aggregate into the {', '.join(into)} ClusterRole(s): its rules then reach everyone "
                   "bound to them, in every namespace of every environment. Fix: remove the aggregate-to label; bind the role itself")  # fmt: skip
        if get(args.props, "aggregationRule") not in (None, UNKNOWN):
            report(f"{what} {args.name} has an aggregationRule: it grants whatever any ClusterRole with the selected labels grants, "
                   "now or later. Fix: list its rules")  # fmt: skip
    elif _is(args.resource_type, BINDING_KINDS):
        ref = get(args.props, "roleRef")
        ref_kind, ref_name = get(ref, "kind"), get(ref, "name")
        if ref_kind == "ClusterRole" and ref_name in POWERFUL_CLUSTER_ROLES:
            report(
                f"{what} {args.name} grants ClusterRole {ref_name}, which can edit NetworkPolicies. Fix: bind the team-workloads Role"
            )
        elif ref_kind == "ClusterRole" and isinstance(ref_name, str) and ref_name.startswith("system:"):
            report(f"{what} {args.name} grants ClusterRole {ref_name}, one of the cluster's own roles (the aggregate-to ones make "
                   "up admin and edit). Fix: bind the team-workloads Role, or view")  # fmt: skip
        elif (
            what == "ClusterRoleBinding"
            and ref_kind is not UNKNOWN
            and ref_name is not UNKNOWN
            and ref_name not in READ_ONLY_CLUSTER_ROLES
        ):
            report(f"ClusterRoleBinding {args.name} grants {ref_kind} {ref_name} in every namespace, every environment's included. "
                   "Fix: bind it per namespace with a RoleBinding")  # fmt: skip
        everyone = [get(s, "name") for s in items(get(args.props, "subjects")) if s is not UNKNOWN and get(s, "name") in EVERYONE]
        if everyone:
            report(f"{what} {args.name} binds {', '.join(map(str, everyone))}: everyone who can reach the API server. "
                   "Fix: bind the team's groups")  # fmt: skip


# ------------------------------------------------------------------------------------------------
# What a change can reach beyond its own namespace: Services that open node ports or addresses,
# pods that reach the node, objects in another environment's namespace, selectors and Calico
# policies that reach other environments' pods.

ENV_LABEL = "interlock-platform/environment"  # the platform's label on team namespaces
NAME_LABELS = (NS_ID, "kubernetes.io/metadata.name", "projectcalico.org/name")  # select one namespace by its name
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
CALICO_GROUPS = ("crd.projectcalico.org", "projectcalico.org")
CALICO_CLUSTER_WIDE = {"GlobalNetworkPolicy", "StagedGlobalNetworkPolicy", "GlobalNetworkSet", "HostEndpoint", "Tier"}
# Kinds without a namespace: the rest of what a stack creates in Kubernetes lives in one
CLUSTER_SCOPED = {
    "core:Namespace", "core:Node", "core:PersistentVolume", f"{RBAC}:ClusterRole", f"{RBAC}:ClusterRoleBinding",
    "apiextensions.k8s.io:CustomResourceDefinition", "storage.k8s.io:StorageClass", "scheduling.k8s.io:PriorityClass",
    "admissionregistration.k8s.io:ValidatingWebhookConfiguration", "admissionregistration.k8s.io:MutatingWebhookConfiguration",
    "admissionregistration.k8s.io:ValidatingAdmissionPolicy", "admissionregistration.k8s.io:ValidatingAdmissionPolicyBinding",
    "policy:PodSecurityPolicy", "networking.k8s.io:IngressClass", "apiregistration.k8s.io:APIService",
    *(f"{g}:{k}" for g in CALICO_GROUPS for k in CALICO_CLUSTER_WIDE),
}  # fmt: skip
# Kinds known to live in a namespace (one without it lands in the provider's default); a custom
# kind is judged by the namespace it names, since it may be cluster-scoped
NAMESPACED_GROUPS = {"core", "apps", "batch", "autoscaling", "policy", "discovery.k8s.io", "coordination.k8s.io", "extensions"}
NAMESPACED_KINDS = {
    f"{RBAC}:Role", f"{RBAC}:RoleBinding", "networking.k8s.io:NetworkPolicy", "networking.k8s.io:Ingress",
    *(f"{g}:NetworkPolicy" for g in ("crd.projectcalico.org", "projectcalico.org")),
}  # fmt: skip
# Where each kind keeps its pod spec
POD_SPEC_PATHS = {
    "Pod": ("spec",), "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"), "Job": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}  # fmt: skip
# Capabilities that give a container the node: any of them undoes the pod's isolation
NODE_CAPABILITIES = {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH", "BPF"}
EXPOSED_SERVICE_TYPES = {"NodePort", "LoadBalancer"}


def _k8s_kind(resource_type: str) -> tuple[str, str]:
    """(API group, kind) of a `kubernetes:` type, a Patch read as what it patches."""
    group, _, name = kind(resource_type).partition(":")
    return group, name


def _own_namespaces(stack: Stack, reg: Registry, env: Environment) -> set[str]:
    """The namespaces an environment's objects may live in: its teams' (config) and those the stack creates."""
    made = {get(n.props, "metadata", "name") for n in stack.of_type(NAMESPACE)}
    return set(reg.owns(env.name).namespaces) | {n for n in made if isinstance(n, str)}


def _whose(reg: Registry, env: Environment, namespace: str) -> str:
    owner = reg.owner("namespaces", namespace)
    if owner is not None and owner != env.name:
        return f"environment {owner}'s namespace {namespace}"
    return f"namespace {namespace}, which is not one of {env.name}'s"


# The cluster's own namespaces: Kubernetes' (kube-*), the provider's default, the ingress
# controllers' and Envoy Gateway's, which every environment's pods reach or run beside
CLUSTER_NAMESPACES = {"default", "ingress-nginx", "envoy-gateway-system", "envoy-gateway"}


def _not_named_for(ns: str, env: Environment, reg: Registry) -> str | None:
    """Why namespace `ns` is not one `env` may create, or None. A namespace carries its
    environment as its last `-` part (the longest registered name wins: ledger-eu-prod is eu-prod's)."""
    if ns in CLUSTER_NAMESPACES or ns.startswith("kube-") or ns in reg.owns(env.name).platform_namespaces:
        return "one of the cluster's own namespaces"
    suffixed = [e for e in reg.environments if ns.endswith(f"-{e}")]
    owner = max(suffixed, key=len) if suffixed else None
    if owner != env.name:
        return f"which is named for environment {owner}" if owner else f"which does not end in -{env.name}"
    return None


def _own_namespaces_only(args: StackValidationArgs, report: Any) -> None:
    reg = registry_or_report(args, report)
    if reg is None:
        return
    stack = Stack(args.resources)
    env = env_of(stack.name, reg)
    if env is None:
        return
    own = _own_namespaces(stack, reg, env)
    for r in stack.resources:
        if not r.resource_type.startswith("kubernetes:") or r.resource_type.startswith("kubernetes:yaml"):
            continue
        group, name = _k8s_kind(r.resource_type)
        what = f"{name} {r.name}"
        if f"{group}:{name}" == "core:Namespace":
            ns = get(r.props, "metadata", "name")
            owner = reg.owner("namespaces", ns)
            if isinstance(ns, str) and owner not in (None, env.name):
                report(f"{what} of {env.name} takes namespace {ns}, which environment {owner}'s config on-boards. "
                       f"Fix: name {env.name}'s namespaces for {env.name} (a team's default is <team>-{env.name})", r.urn)  # fmt: skip
            elif isinstance(ns, str) and (why := _not_named_for(ns, env, reg)):
                report(f"{what} of {env.name} creates namespace {ns}, {why}: whoever creates it first owns it for every "
                       f"environment. Fix: name {env.name}'s namespaces <team>-{env.name}", r.urn)  # fmt: skip
            continue
        if f"{group}:{name}" in CLUSTER_SCOPED or not group:
            continue
        ns = get(r.props, "metadata", "namespace")
        if ns is UNKNOWN:
            continue
        if not ns and (group in NAMESPACED_GROUPS or f"{group}:{name}" in NAMESPACED_KINDS):
            report(f"{what} of {env.name} names no namespace, so it lands in the provider's default namespace (`default`, shared "
                   f"by every environment). Fix: set metadata.namespace to one of {env.name}'s ({', '.join(sorted(own)) or 'none'})", r.urn)  # fmt: skip
        elif ns and ns not in own:
            report(f"{what} of {env.name} is created in {_whose(reg, env, str(ns))}: what it runs or grants there reaches that "
                   f"namespace's pods and secrets. Fix: create it in one of {env.name}'s namespaces ({', '.join(sorted(own)) or 'none'})", r.urn)  # fmt: skip


def _service_exposure(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if _k8s_kind(args.resource_type) != ("core", "Service"):
        return
    spec = get(args.props, "spec")
    kind_ = get(spec, "type")
    reg = registry(args.get_config())
    env = env_of(stack_of(args.urn), reg) if reg is not None else None
    granted = reg.owns(env.name).service_types if reg is not None and env is not None else frozenset()
    if kind_ in EXPOSED_SERVICE_TYPES and kind_ not in granted:  # kubernetes.serviceTypes grants one; externalIPs never
        report(f"Service {args.name} is of type {kind_}: it opens a port on every node of the cluster{' and an external load balancer' if kind_ == 'LoadBalancer' else ''}, "
               "every environment's nodes included, past the namespace's NetworkPolicies' ipBlocks. Fix: type ClusterIP, "
               "and reach it through the ingress controller")  # fmt: skip
    external = [ip for ip in items(get(spec, "externalIPs")) if ip is not UNKNOWN]
    if external:
        report(f"Service {args.name} claims externalIPs {', '.join(map(str, external))}: every node then captures traffic to those "
               "addresses, whoever's they are (CVE-2020-8554). Fix: remove externalIPs")  # fmt: skip
    if get(spec, "type") not in EXPOSED_SERVICE_TYPES:
        for i, port in enumerate(items(get(spec, "ports"))):
            if port is not UNKNOWN and number(get(port, "nodePort")) and kind_ is not UNKNOWN:
                report(f"Service {args.name}'s ports[{i}] asks for nodePort {number(get(port, 'nodePort'))}. Fix: remove it; type ClusterIP")
    elif env is not None and reg is not None:
        gateways = _gateway_node_ports(reg)
        # healthCheckNodePort (a LoadBalancer with externalTrafficPolicy: Local) comes from the same range
        asked = [(f"ports[{i}] asks for nodePort", number(get(port, "nodePort")) if port is not UNKNOWN else None)
                 for i, port in enumerate(items(get(spec, "ports")))]
        asked.append(("healthCheckNodePort is", number(get(spec, "healthCheckNodePort"))))
        for where, wanted in asked:
            if wanted in gateways:
                report(f"Service {args.name}'s {where} {wanted}, environment {gateways[wanted]}'s Gateway NodePort: "
                       "whoever takes a NodePort first holds it on every node of the cluster, so that Gateway could not open it. "
                       f"Fix: leave it out (the API server picks a free one) or take one outside the Gateways' "
                       f"{', '.join(map(str, sorted(gateways)))}")  # fmt: skip


def _pod_spec(resource_type: str, props: Any) -> Any:
    path = POD_SPEC_PATHS.get(_k8s_kind(resource_type)[1])
    return get(props, *path) if path else None


def _containers(spec: Any) -> list[tuple[str, Any]]:
    return [
        (f"{key}[{i}]", c)
        for key in ("initContainers", "containers", "ephemeralContainers")
        for i, c in enumerate(items(get(spec, key)))
        if c is not UNKNOWN
    ]


def _capability(value: Any) -> str:
    return str(plain(value)).upper().removeprefix("CAP_")


def _pod_reaches_node(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod_spec(args.resource_type, args.props)
    if spec is None or spec is UNKNOWN:
        return
    what = f"{_k8s_kind(args.resource_type)[1]} {args.name}"
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if get(spec, key) is True:
            problems.append(f"{key}: true shares the node's {key[4:].lower()} namespace with every pod and process on it")
    for i, volume in enumerate(items(get(spec, "volumes"))):
        path = get(volume, "hostPath", "path") if volume is not UNKNOWN else None
        if path is not None and path is not UNKNOWN:
            problems.append(f"volumes[{i}] mounts the node's {path} (hostPath): the node's files, and other pods', are not the namespace's")
    for where, c in _containers(spec):
        ctx = get(c, "securityContext")
        if get(ctx, "privileged") is True:
            problems.append(f"{where} is privileged: it has every device and capability of the node")
        added = sorted({_capability(a) for a in items(get(ctx, "capabilities", "add")) if a is not UNKNOWN} & NODE_CAPABILITIES)
        if added:
            problems.append(f"{where} adds the capabilities {', '.join(added)}, with which it can leave its container")
        for j, port in enumerate(items(get(c, "ports"))):
            if port is not UNKNOWN and number(get(port, "hostPort")):
                problems.append(f"{where}.ports[{j}] binds hostPort {number(get(port, 'hostPort'))} on the node, outside NetworkPolicy")
    for problem in problems:
        report(f"{what}: {problem}. Fix: remove it; a team's pods keep to their namespace (the Pod Security 'baseline' level)")


def _pods_stay_on_own_nodes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _pod_spec(args.resource_type, args.props)
    if spec is None or spec is UNKNOWN:
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    what = f"{_k8s_kind(args.resource_type)[1]} {args.name}"
    node = get(spec, "nodeName")
    if isinstance(node, str) and reg.node_owner(node) != env.name:
        owner = reg.node_owner(node)
        whose = f"environment {owner}'s" if owner else f"not one of {env.name}'s nodes"
        report(f"{what} of {env.name} is bound to node {node} ({whose}), "
               f"past the scheduler and the namespace's node selector. Fix: remove nodeName; the namespace pins its pods to {env.node_selector}")  # fmt: skip
    selector = get(spec, "nodeSelector")
    if isinstance(selector, Mapping):
        for other in reg.others(env.name):
            key = other.node_selector.partition("=")[0]
            if key in selector:
                report(f"{what} of {env.name} selects nodes by {key}, environment {other.name}'s collection. Fix: remove the nodeSelector")


# Gateway API (gateway.networking.k8s.io): routes attach to Gateways, Gateways listen for hostnames,
# ReferenceGrants let another namespace's routes reach a namespace's Services.
GATEWAY_API = "gateway.networking.k8s.io"
ROUTE_KINDS = {f"{GATEWAY_API}:{k}" for k in ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")}
HOSTNAME_PROTOCOLS = {"HTTP", "HTTPS", "TLS"}  # the listener protocols that match on a hostname
K8S_NAMESPACE_NAME = "kubernetes.io/metadata.name"  # the API server sets it on every namespace, to its name


def _namespace_environment(reg: Any, ns: str) -> str | None:
    """The environment a namespace carries (its last `-` part; the longest registered name wins)."""
    suffixed = [e for e in reg.environments if ns.endswith(f"-{e}") and len(ns) > len(e) + 1]
    return max(suffixed, key=len) if suffixed else None


def _host_environment(reg: Any, host: str) -> str | None:
    """The environment whose domain holds `host` (a `*.` wildcard too); the longest domain wins."""
    name = host.removeprefix("*.") if host.startswith("*.") else host
    holding = [e for e in reg.environments.values() if e.domain and (name == e.domain or name.endswith(f".{e.domain}"))]
    return max(holding, key=lambda e: len(e.domain)).name if holding else None


def _routes_attach_in_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args.resource_type, ROUTE_KINDS):
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    what = f"{_k8s_kind(args.resource_type)[1]} {args.name}"
    own_ns = get(args.props, "metadata", "namespace")
    for i, ref in enumerate(items(get(args.props, "spec", "parentRefs"))):
        ns, name = get(ref, "namespace"), get(ref, "name")
        ns = own_ns if ns is None else ns
        if UNKNOWN in (ns, name) or not isinstance(ns, str):
            continue
        owner = _namespace_environment(reg, ns)
        if owner != env.name:
            whose = f"environment {owner}'s namespace {ns}" if owner else f"namespace {ns}, which is not {env.name}'s"
            report(f"{what} of {env.name} attaches (parentRefs[{i}]) to {get(ref, 'kind') or 'Gateway'} {name} in {whose}: another "
                   f"environment's Gateway would serve it. Fix: attach to {env.name}'s Gateway ({env.name} in gateway-{env.name})")  # fmt: skip
    for host in items(get(args.props, "spec", "hostnames")):
        if host is UNKNOWN or not isinstance(host, str):
            continue
        owner = _host_environment(reg, host)
        if owner != env.name:
            whose = f"environment {owner}'s domain" if owner else f"outside {env.name}'s domain {env.domain}"
            report(f"{what} of {env.name} claims hostname {host}, {whose}. Fix: use names under {env.domain}")


def _reference_grants_in_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind(args.resource_type) != f"{GATEWAY_API}:ReferenceGrant":
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    for i, src in enumerate(items(get(args.props, "spec", "from"))):
        ns = get(src, "namespace")
        if ns is UNKNOWN or not isinstance(ns, str):
            continue
        owner = _namespace_environment(reg, ns)
        if owner != env.name:
            whose = f"environment {owner}'s namespace {ns}" if owner else f"namespace {ns}, which is not {env.name}'s"
            report(f"ReferenceGrant {args.name} of {env.name} lets {get(src, 'kind')} objects of {whose} (from[{i}]) reach its "
                   f"namespace. Fix: grant only {env.name}'s own namespaces")  # fmt: skip


def _gateways_listen_for_own_domain(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind(args.resource_type) not in (f"{GATEWAY_API}:Gateway", f"{GATEWAY_API}:ListenerSet"):
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    what = f"{_k8s_kind(args.resource_type)[1]} {args.name}"
    for listener in items(get(args.props, "spec", "listeners")):
        protocol, host, name = get(listener, "protocol"), get(listener, "hostname"), get(listener, "name")
        if UNKNOWN in (protocol, host) or protocol not in HOSTNAME_PROTOCOLS:
            continue  # TCP and UDP listeners take no hostname: they listen on a port
        if host is None or host == "":
            report(f"{what} of {env.name}: listener {name} has no hostname, so it listens for every host, other environments' "
                   f"domains too. Fix: hostname: '*.{env.domain}'")  # fmt: skip
            continue
        owner = _host_environment(reg, host)
        if owner != env.name:
            whose = f"environment {owner}'s domain" if owner else f"outside {env.name}'s domain {env.domain}"
            report(f"{what} of {env.name}: listener {name} listens for {host}, {whose}. Fix: hostname: '*.{env.domain}'")
    own = set(reg.owns(env.name).namespaces)
    fix = (f"Fix: allowedRoutes.namespaces from: Selector, selector matchExpressions [{{key: {K8S_NAMESPACE_NAME}, operator: In, "
           f"values: [{', '.join(sorted(own)) or '<its team namespaces>'}]}}], or from: Same")  # fmt: skip
    for listener in items(get(args.props, "spec", "listeners")):
        name, namespaces = get(listener, "name"), get(listener, "allowedRoutes", "namespaces")
        source = get(namespaces, "from")
        if source == "All":
            report(f"{what} of {env.name}: listener {name} admits routes from every namespace (from: All), other environments' too: "
                   f"their routes would be served under {env.name}'s domain. {fix}")  # fmt: skip
        elif source == "Selector" and (why := _route_selector_problem(get(namespaces, "selector"), own)):
            report(f"{what} of {env.name}: listener {name} admits routes from namespaces {why}. {fix}")


def _route_selector_problem(sel: Any, own: set[str]) -> str | None:
    """Why a listener's namespace selector may admit a namespace that is not one of `own` (the
    environment's team namespaces), or None. Only the name the API server sets pins a namespace:
    a tenant sets any other label on its own namespaces, in every environment."""
    labels, exprs = get(sel, "matchLabels"), get(sel, "matchExpressions")
    if UNKNOWN in (sel, labels, exprs):
        return None
    named: set[str] = set()
    for key, value in (labels or {}).items():
        if key != K8S_NAMESPACE_NAME:
            return f"by the label {key}={plain(value)}, which any namespace may carry"
        named.add(str(plain(value)))
    for e in items(exprs):
        if e is UNKNOWN:
            return None
        key, operator = get(e, "key"), get(e, "operator")
        if key != K8S_NAMESPACE_NAME or operator != "In":
            return f"by {key} {operator}, which does not name them"
        named |= {str(v) for v in items(get(e, "values"))}
    if not named:
        return "of every name (an empty selector)"
    foreign = sorted(named - own)
    teams = ", ".join(sorted(own)) or "none"
    return f"{', '.join(foreign)}, not among its team namespaces ({teams})" if foreign else None


# ------------------------------------------------------------------------------------------------
# Envoy Gateway's EnvoyProxy: the controller turns it into the proxies' DaemonSet or Deployment and
# their Service in its own namespace (envoy-gateway-system), outside the team namespaces' node
# pinning, Pod Security and the pod rules above. So the EnvoyProxy itself is held to what the
# platform's (interlock_platform/core/gateway.py) sets: a DaemonSet pinned to the environment's
# collection (and its ingress nodes), no patch, the controller's image, a NodePort Service on the
# environment's own Gateway ports with externalTrafficPolicy: Local.
ENVOY_PROXY = "gateway.envoyproxy.io:EnvoyProxy"
ENVOY_WORKLOADS = ("envoyDaemonSet", "envoyDeployment")
K8S_HOSTNAME = "kubernetes.io/hostname"
SERVICE_PATCH_PORT_KEYS = {"name", "port", "protocol", "nodePort"}  # what the platform's Service patch may set of a port


# The static band of MKE's NodePort range 32768-35535 (KEP-3668): min(max(16, size / 32), 128) ports
GATEWAY_NODE_PORT_BAND = (32768, 86)


def _default_gateway_node_ports(env: Environment) -> tuple[int, int]:
    """The NodePorts an environment's Gateway takes unless its config says otherwise: the static
    band's start plus its Interlock HTTP and HTTPS ports modulo the band's size (the program's
    rule, core/gateway.py default_node_port, restated: the pack does not import the program;
    tests/test_policy.py holds the two to each other)."""
    start, size = GATEWAY_NODE_PORT_BAND
    return start + env.http_port % size, start + env.https_port % size


def _own_gateway_node_ports(reg: Registry, env: Environment) -> tuple[int, ...]:
    return reg.owns(env.name).gateway_node_ports or _default_gateway_node_ports(env)


def _gateway_node_ports(reg: Registry, but: str | None = None) -> dict[int, str]:
    """Every environment's Gateway NodePorts (its config's, which no other env stack can see: the
    pack's config is read from every stack file; and the defaults, which the program keeps from
    every other environment) -> the environment. `but`: leave that environment out."""
    out: dict[int, str] = {}
    for e in reg.others(but) if but else reg.environments.values():
        for port in (*_default_gateway_node_ports(e), *reg.owns(e.name).gateway_node_ports):
            out.setdefault(port, e.name)
    return out


def _node_terms(pod: Any) -> list[Any] | None:
    terms = get(pod, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    return None if terms is UNKNOWN else items(terms)


def _placement_problems(pod: Any, reg: Registry, env: Environment) -> list[str]:
    """Where a proxy pod may run that is not the environment's: another environment's collection or
    node named, or no pin to its own collection (the proxies' namespace pins nothing)."""
    own_key, _, own_value = env.node_selector.partition("=")
    others = {o.node_selector.partition("=")[0]: o.name for o in reg.others(env.name)}
    problems: list[str] = []

    def foreign(key: Any, values: list[Any]) -> None:
        if key in others:
            problems.append(f"selects nodes by {key}, environment {others[key]}'s collection")
        elif key in (K8S_HOSTNAME, "metadata.name"):
            for node in values:
                if isinstance(node, str) and reg.node_owner(node) != env.name:
                    problems.append(f"selects node {node}, which is not one of {env.name}'s")

    selector = get(pod, "nodeSelector")
    pinned = False
    if isinstance(selector, Mapping):
        for key in selector:
            foreign(key, [plain(get(selector, key))])
        pinned = get(selector, own_key) == own_value
    terms = _node_terms(pod)
    if terms is None or UNKNOWN in (selector, *terms):
        return problems
    exprs = [e for term in terms for e in (*items(get(term, "matchExpressions")), *items(get(term, "matchFields")))]
    for e in exprs:
        if e is not UNKNOWN and get(e, "operator") == "In":
            foreign(get(e, "key"), items(get(e, "values")))
    if UNKNOWN in exprs or (isinstance(selector, Mapping) and UNKNOWN in [get(selector, k) for k in selector]):
        return problems  # whether it is pinned is not known yet
    in_collection = [
        any(get(e, "key") == own_key and get(e, "operator") == "In" and items(get(e, "values")) == [own_value]
            for e in items(get(t, "matchExpressions")))
        for t in terms
    ]  # fmt: skip
    if not pinned and not (in_collection and all(in_collection)):  # terms are ORed: each must pin
        problems.append(f"is not pinned to {env.name}'s collection ({env.node_selector}), so its proxies may run on any node, "
                        "other environments' included")  # fmt: skip
    return problems


def _proxy_workload_problems(key: str, workload: Any, reg: Registry, env: Environment) -> list[str]:
    pod, container = get(workload, "pod"), get(workload, "container")
    problems = [f"{key}.pod {p}" for p in _placement_problems(pod, reg, env)]
    for i, volume in enumerate(items(get(pod, "volumes"))):
        path = get(volume, "hostPath", "path") if volume is not UNKNOWN else None
        if path is not None and path is not UNKNOWN:
            problems.append(f"{key}.pod.volumes[{i}] mounts the node's {path} (hostPath)")
    for field in ("image", "imageRepository"):
        if get(container, field) not in (None, UNKNOWN):
            problems.append(f"{key}.container.{field} runs {get(container, field)} in place of the controller's Envoy image")
    ctx = get(container, "securityContext")
    if get(ctx, "privileged") is True:
        problems.append(f"{key}.container is privileged: it has every device and capability of the node")
    added = sorted({_capability(a) for a in items(get(ctx, "capabilities", "add")) if a is not UNKNOWN} & NODE_CAPABILITIES)
    if added:
        problems.append(f"{key}.container adds the capabilities {', '.join(added)}")
    if items(get(workload, "initContainers")):
        problems.append(f"{key}.initContainers runs containers of its own choosing beside the proxies")
    if get(workload, "patch") not in (None, UNKNOWN):
        problems.append(f"{key}.patch rewrites the proxies' pods as it likes (hostNetwork, hostPID, privileged, other nodes)")
    return problems


def _proxy_service_problems(service: Any, own_ports: tuple[int, ...], others: Mapping[int, str]) -> list[str]:
    if service is UNKNOWN:
        return []
    type_ = get(service, "type") or "LoadBalancer"  # Envoy Gateway's default
    problems: list[str] = []
    if type_ == "LoadBalancer":
        problems.append("envoyService is of type LoadBalancer (Envoy Gateway's default when type is not set): an external address, "
                        "and a NodePort on every node of the cluster")  # fmt: skip
    if type_ == "NodePort" and get(service, "externalTrafficPolicy") not in ("Local", UNKNOWN):
        problems.append("envoyService's externalTrafficPolicy is not Local: every node of the cluster, other environments' too, "
                        "forwards its NodePorts to the proxies")  # fmt: skip
    value = get(service, "patch", "value")
    if value is UNKNOWN:
        return problems
    spec = get(value, "spec")
    beyond = sorted({f"{k}" for k in (value or {}) if k != "spec"} | {f"spec.{k}" for k in (spec if isinstance(spec, Mapping) else {}) if k != "ports"})
    if "spec.externalIPs" in beyond:
        problems.append("envoyService.patch claims externalIPs: every node then captures traffic to them, whoever's they are (CVE-2020-8554)")
    if beyond:
        problems.append(f"envoyService.patch sets {', '.join(beyond)}, beyond the ports the platform sets")
    chosen = []
    for i, port in enumerate(items(get(spec, "ports"))):
        if port is UNKNOWN or not isinstance(port, Mapping):
            continue
        extra = sorted(set(port) - SERVICE_PATCH_PORT_KEYS)
        if extra:
            problems.append(f"envoyService.patch's ports[{i}] sets {', '.join(extra)}")
        node_port = number(get(port, "nodePort"))
        if node_port is not None:
            chosen.append(node_port)
            if node_port not in own_ports:
                problems.append(f"envoyService.patch's ports[{i}] takes nodePort {node_port}, not one of its Gateway's "
                                f"({', '.join(map(str, own_ports))})")  # fmt: skip
            elif node_port in others:  # two stack files gave two Gateways one port: the second cannot open it
                problems.append(f"envoyService.patch's ports[{i}] takes nodePort {node_port}, environment {others[node_port]}'s "
                                "Gateway NodePort too (a NodePort is unique in the cluster)")  # fmt: skip
    if type_ == "NodePort" and not chosen:
        problems.append("envoyService is a NodePort Service that names no nodePort: the API server picks any free one, another "
                        "environment's Gateway's among them")  # fmt: skip
    return problems


def _envoy_proxy_in_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind(args.resource_type) != ENVOY_PROXY:
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    what = f"EnvoyProxy {args.name} of {env.name}"
    home = reg.owns(env.name).gateway_namespace or f"gateway-{env.name}"
    ns = get(args.props, "metadata", "namespace")
    if ns is not UNKNOWN and ns != home:
        report(f"{what} is in namespace {ns or 'default'}, not {env.name}'s Gateway namespace {home}: only a Gateway there, or a "
               f"GatewayClass (every environment's Gateways), can name it. Fix: create it in {home}, beside {env.name}'s Gateway")  # fmt: skip
    spec = get(args.props, "spec")
    if get(spec, "mergeGateways") is True:
        report(f"{what} sets mergeGateways: true: the Gateways of its class, every environment's, would share one set of proxies. "
               "Fix: remove mergeGateways")  # fmt: skip
    k8s = get(spec, "provider", "kubernetes")
    if k8s is UNKNOWN:
        return
    problems: list[str] = []
    workloads = [(key, get(k8s, key)) for key in ENVOY_WORKLOADS if get(k8s, key) is not None]
    if not workloads:
        problems.append("names no envoyDaemonSet: Envoy Gateway's default Deployment runs its proxies on any node of the cluster, "
                        "other environments' included")  # fmt: skip
    for key, workload in workloads:
        if workload is not UNKNOWN:
            problems += _proxy_workload_problems(key, workload, reg, env)
    problems += _proxy_service_problems(get(k8s, "envoyService"), _own_gateway_node_ports(reg, env), _gateway_node_ports(reg, but=env.name))
    for problem in problems:
        report(f"{what}: {problem}. Fix: keep to what the platform sets (interlock-platform:gateway): a DaemonSet pinned by node "
               f"affinity to {env.name}'s collection ({env.node_selector}) and ingress nodes, the controller's image, no patch or "
               f"hostPath, a NodePort Service with externalTrafficPolicy: Local on its Gateway's NodePorts "
               f"({', '.join(map(str, _own_gateway_node_ports(reg, env)))})")  # fmt: skip


def _selector_pins(reg: Registry, env: Environment, own: set[str], pairs: list[tuple[str, set[str]]]) -> tuple[bool, list[str]]:
    """Whether label constraints (key, allowed values) select only namespaces of `env` (or the
    cluster namespaces it may select), and which other environments' namespaces they name."""
    allowed = own | set(reg.owns(env.name).platform_namespaces)
    foreign = sorted({f"{reg.owner('namespaces', v)}'s {v}" for _, vs in pairs for v in vs if reg.owner("namespaces", v) not in (None, env.name)})
    foreign += sorted({f"{v} (the {ENV_LABEL} label)" for k, vs in pairs if k == ENV_LABEL for v in vs if v != env.name})
    pinned = any((k in NAME_LABELS and vs and vs <= allowed) or (k == ENV_LABEL and vs == {env.name}) for k, vs in pairs)
    return pinned, foreign


def _label_constraints(sel: Any) -> list[tuple[str, set[str]]] | None:
    """A label selector as (key, values it admits) for its equality parts; None while unknown."""
    labels, exprs = get(sel, "matchLabels"), get(sel, "matchExpressions")
    if UNKNOWN in (labels, exprs):
        return None
    pairs = [(str(k), {str(plain(v))}) for k, v in (labels or {}).items()]
    for e in items(exprs):
        if e is UNKNOWN:
            return None
        if get(e, "operator") == "In":
            pairs.append((str(get(e, "key")), {str(v) for v in items(get(e, "values"))}))
    return pairs


def _selectors_stay_in_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _is(args.resource_type, POLICY_KINDS):
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    own = set(reg.owns(env.name).namespaces)
    for direction, i, _, peers in _policy_rules(args.props):
        for peer in peers:
            sel = get(peer, "namespaceSelector") if peer is not UNKNOWN else None
            if sel is None or sel is UNKNOWN or _open_selector(sel):
                continue  # no namespaceSelector: the policy's own namespace; an open one is k8s-no-wide-peers'
            pairs = _label_constraints(sel)
            if pairs is None:
                continue
            pinned, foreign = _selector_pins(reg, env, own, pairs)
            where = f"{direction}[{i}] of NetworkPolicy {args.name} in {env.name}"
            if foreign:
                report(f"{where} selects {', '.join(foreign)}: another environment's pods. Fix: environments never reach each other")
            elif not pinned:
                shown = ", ".join(f"{k} in {sorted(v)}" for k, v in pairs)
                report(f"{where} selects namespaces by {shown}, which names no namespace of {env.name}: the same labels can sit on other "
                       f"environments' namespaces (a team's label is on its namespace in every environment). Fix: select by {NS_ID} "
                       f"(one of {', '.join(sorted(own | set(reg.owns(env.name).platform_namespaces)))}) or add {ENV_LABEL}: {env.name}")  # fmt: skip


CALICO_PAIR = re.compile(r"([A-Za-z0-9_./-]+)\s*(==|in)\s*(?:'([^']*)'|\"([^\"]*)\"|\{([^}]*)\})")


def _calico_pairs(expr: str) -> tuple[list[tuple[str, set[str]]], bool]:
    """The equality and `in` parts of a Calico selector expression, and whether it is open
    (`all()`, `global()`, a negation or an OR lets it reach beyond them)."""
    pairs = []
    for key, _, one, two, many in CALICO_PAIR.findall(expr):
        values = {v.strip().strip("'\"") for v in many.split(",")} if many else {one or two}
        pairs.append((key, values))
    open_ = any(t in expr for t in ("all()", "global()", "||", "!", "has(")) or not pairs
    return pairs, open_


def _calico_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    group, name = _k8s_kind(args.resource_type)
    if group not in CALICO_GROUPS or not name.endswith(("NetworkPolicy", "NetworkSet", "HostEndpoint", "Tier")):
        return
    found = environment_resource(args, report)
    if found is None:
        return
    reg, env = found
    if name in CALICO_CLUSTER_WIDE:
        report(f"Calico {name} {args.name} in {env.name}'s stack applies to the whole cluster: every environment's pods and nodes, "
               "ahead of their namespaces' NetworkPolicies. Fix: cluster-wide policy stays with the platform; use a NetworkPolicy "
               "in one of the team's namespaces")  # fmt: skip
        return
    own = set(reg.owns(env.name).namespaces)
    spec = get(args.props, "spec")
    for direction, side in (("ingress", "source"), ("egress", "destination")):
        for i, rule in enumerate(items(get(spec, direction))):
            if rule is UNKNOWN or get(rule, "action") not in ("Allow", "Pass"):
                continue
            where = f"{direction}[{i}] of Calico {name} {args.name} in {env.name}"
            peer = get(rule, side)
            if peer is UNKNOWN:
                continue
            keys = [k for k in ("nets", "selector", "namespaceSelector", "serviceAccounts", "services") if get(peer, k) not in (None, [], "")]
            if not keys:
                report(f"{where} allows every {side} (it names no nets, selector or namespaceSelector): every namespace of every "
                       "environment, and the internet. Fix: name the peers")  # fmt: skip
                continue
            for cidr in items(get(peer, "nets")):
                net = network(cidr)
                if world_like(net):
                    report(f"{where} allows {net}, the internet and every environment's range. Fix: name the ranges the pods need")
                for other in reg.others(env.name):
                    if net is not None and net.prefixlen and overlaps(net, other.cidr):
                        report(f"{where} allows {net}, which holds (part of) environment {other.name}'s range {other.cidr}. "
                               "Fix: environments never reach each other; remove it")  # fmt: skip
            expr = get(peer, "namespaceSelector")
            if isinstance(expr, str):
                pairs, open_ = _calico_pairs(expr)
                pinned, foreign = _selector_pins(reg, env, own, pairs)
                if foreign:
                    report(f"{where} selects {', '.join(foreign)}: another environment's pods. Fix: environments never reach each other")
                elif open_ or not pinned:
                    report(f"{where} has namespaceSelector {expr!r}, which does not pin it to {env.name}'s namespaces: it may select "
                           f"every environment's. Fix: select \"{NS_ID} == '<namespace>'\" for one of {', '.join(sorted(own))}")  # fmt: skip


POLICIES = [
    ResourceValidationPolicy(name="k8s-routes-own-gateway", description="Gateway API routes (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, "
                             "UDPRoute) attach only to their own environment's Gateway, with hostnames within its domain.",
                             validate=_routes_attach_in_environment, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-reference-grant-in-environment", description="No ReferenceGrant admits objects of another "
                             "environment's namespaces.", validate=_reference_grants_in_environment, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-gateway-own-domain", description="A Gateway's HTTP, HTTPS and TLS listeners listen for hostnames "
                             "within its environment's domain only, never for every host, and admit routes from its team namespaces only "
                             "(never from: All; a Selector by kubernetes.io/metadata.name).",
                             validate=_gateways_listen_for_own_domain, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-envoy-proxy-in-environment", description="An EnvoyProxy lives in its environment's Gateway "
                             "namespace and runs its proxies as the platform's does: on the environment's collection, the controller's "
                             "image, no hostPath, privilege or patch, a NodePort Service (Local) on the environment's own Gateway ports.",
                             validate=_envoy_proxy_in_environment, config_schema=REGISTRY_SCHEMA),
    StackValidationPolicy(name="k8s-own-namespaces", description="An environment's namespaced objects live in its own namespaces, and it "
                          "creates no namespace another environment's config on-boards.", validate=_own_namespaces_only,
                          config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-service-cluster-ip", description="Services are ClusterIP, or a type the environment's "
                             "kubernetes.serviceTypes grants; never externalIPs.", validate=_service_exposure, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-pod-keeps-to-namespace", description="Pod specs of every workload kind use no host network, PID or "
                             "IPC, hostPath, hostPort, privileged containers or node capabilities.", validate=_pod_reaches_node),
    ResourceValidationPolicy(name="k8s-pod-on-own-nodes", description="Pod specs name no node of another environment (nodeName) and no "
                             "other collection's node selector.", validate=_pods_stay_on_own_nodes, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-selectors-in-environment", description="A NetworkPolicy's namespaceSelector names namespaces of its "
                             "environment (or DNS and the ingress controller's), never another's.",
                             validate=_selectors_stay_in_environment, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-calico-policy-scoped", description="No cluster-wide Calico policy in an environment's stack; a Calico "
                             "NetworkPolicy allows only named peers of its environment.", validate=_calico_policy, config_schema=REGISTRY_SCHEMA),
    StackValidationPolicy(name="k8s-namespace-default-deny", description="Every Namespace has a deny-all NetworkPolicy covering Ingress and Egress.",
                          validate=_default_deny),
    ResourceValidationPolicy(name="k8s-no-wide-peers", description="No ingress or egress rule is open to all peers, selects all namespaces, reaches "
                             "0.0.0.0/0 or ::/0, or splits namespace and pod selectors.",
                             validate=_no_wide_peers),
    ResourceValidationPolicy(name="k8s-namespace-in-collection", description="Every team namespace is pinned to its environment's collection.",
                             validate=_namespace_in_collection, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-namespace-identity", description="A namespace's ns-id label is its own name: no namespace passes for another.",
                             validate=_namespace_identity),
    ResourceValidationPolicy(name="k8s-no-cross-environment", description="No NetworkPolicy in an environment's stack reaches another environment's range.",
                             validate=_no_cross_environment, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-team-cannot-edit-policy", description="No Role, ClusterRole or binding grants write on policy, RBAC or namespaces, "
                             "wildcard or escalating verbs, edit/admin/cluster-admin, cluster-wide rights, or rights to everyone.",
                             validate=_team_cannot_edit_policy),
]  # fmt: skip
