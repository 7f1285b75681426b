"""Kubernetes rules: default deny, no wide peers, namespaces pinned to their collection, and
policy that teams cannot edit."""

from __future__ import annotations

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
    Stack,
    get,
    items,
    kind,
    network,
    overlaps,
    registry,
    resource_environment,
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
    env = resource_environment(args, report)
    if env is None:
        return
    reg = registry(args.get_config())
    for direction, i, _, peers in _policy_rules(args.props):
        for peer in peers:
            net = network(get(peer, "ipBlock", "cidr")) if peer is not UNKNOWN else None
            if net is None or net.prefixlen == 0:
                continue  # the world itself is k8s-no-wide-peers'
            for other in reg.others(env.name) if reg else []:
                if overlaps(net, other.cidr):
                    report(f"{direction}[{i}] of NetworkPolicy {args.name} in {env.name} reaches {net}, which holds (part of) environment "
                           f"{other.name}'s range {other.cidr}. Fix: environments never reach each other; remove the peer")  # fmt: skip


def _namespace_in_collection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NAMESPACE:
        return
    env = resource_environment(args, report)
    if env is None:
        return
    selector = get(args.props, "metadata", "annotations", NODE_SELECTOR)
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
    elif _is(args.resource_type, BINDING_KINDS):
        ref = get(args.props, "roleRef")
        ref_kind, ref_name = get(ref, "kind"), get(ref, "name")
        if ref_kind == "ClusterRole" and ref_name in POWERFUL_CLUSTER_ROLES:
            report(
                f"{what} {args.name} grants ClusterRole {ref_name}, which can edit NetworkPolicies. Fix: bind the team-workloads Role"
            )
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


POLICIES = [
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
