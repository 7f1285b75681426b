"""Kubernetes rules: default deny, no wide peers, namespaces pinned to their collection, and
policy that teams cannot edit."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import REGISTRY_SCHEMA, UNKNOWN, WORLD, Stack, get, resource_environment

NAMESPACE = "kubernetes:core/v1:Namespace"
NAMESPACE_PATCH = "kubernetes:core/v1:NamespacePatch"
# The platform's namespace identity: team policies select namespaces by it where Kubernetes
# (before 1.21) sets no name label of its own.
NS_ID = "ns-id"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
NODE_SELECTOR = "scheduler.alpha.kubernetes.io/node-selector"
WRITE = {"create", "update", "patch", "delete", "deletecollection", "*", "escalate", "bind"}
POLICY_RESOURCES = {
    ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
}
POWERFUL_CLUSTER_ROLES = {"edit", "admin", "cluster-admin"}  # `edit` may change NetworkPolicies


def _empty_selector(sel: object) -> bool:
    return isinstance(sel, Mapping) and not get(sel, "matchLabels") and not get(sel, "matchExpressions")


def _default_deny(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = Stack(args.resources)
    policies = stack.of_type(POLICY)
    for ns in stack.of_type(NAMESPACE):
        name = get(ns.props, "metadata", "name")
        if name is UNKNOWN:
            continue
        covering = [
            p for p in policies
            if get(p.props, "metadata", "namespace") == name and _empty_selector(get(p.props, "spec", "podSelector"))
            and {"Ingress", "Egress"} <= set(get(p.props, "spec", "policyTypes") or [])
            and not get(p.props, "spec", "ingress") and not get(p.props, "spec", "egress")
        ]  # fmt: skip
        if not covering:
            report(f"namespace {name} has no deny-all NetworkPolicy (all pods, Ingress and Egress, no rules). "
                   "Fix: on-board it with TeamNamespace, which creates deny-all first", ns.urn)  # fmt: skip


def _no_wide_peers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != POLICY:
        return
    spec = get(args.props, "spec") or {}
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(get(spec, direction) or []):
            peers = get(rule, peers_key) or []
            if peers is UNKNOWN:
                continue
            for peer in peers:
                ns = get(peer, "namespaceSelector")
                if ns is not None and ns is not UNKNOWN and _empty_selector(ns):
                    report(f"{direction}[{i}] of {args.name} selects every namespace. Fix: select the namespaces by label")
                cidr = get(peer, "ipBlock", "cidr")
                if direction == "ingress" and cidr in WORLD:
                    report(f"ingress[{i}] of {args.name} admits {cidr}. Fix: admit traffic through the ingress controller")
            only_ns = [p for p in peers if get(p, "namespaceSelector") is not None and get(p, "podSelector") is None]
            only_pods = [p for p in peers if get(p, "podSelector") is not None and get(p, "namespaceSelector") is None]
            if only_ns and only_pods:
                report(f"{direction}[{i}] of {args.name} lists namespaceSelector and podSelector as two items, which means OR and widens access. "
                       "Fix: put both selectors in one item (AND)")  # fmt: skip


def _namespace_in_collection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NAMESPACE:
        return
    env = resource_environment(args, report)
    if env is None:
        return
    selector = get(args.props, "metadata", "annotations", NODE_SELECTOR)
    if selector is not UNKNOWN and selector != env.node_selector:
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


def _team_cannot_edit_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == ROLE:
        for i, rule in enumerate(get(args.props, "rules") or []):
            groups = set(get(rule, "apiGroups") or [])
            resources = set(get(rule, "resources") or [])
            verbs = set(get(rule, "verbs") or [])
            if not verbs & WRITE:
                continue
            for group, resource in POLICY_RESOURCES:
                if (group in groups or "*" in groups) and (resource in resources or "*" in resources):
                    report(
                        f"rules[{i}] of Role {args.name} lets its holders write {resource}. Fix: policy stays with the platform; remove it"
                    )
    elif args.resource_type == ROLE_BINDING:
        ref = get(args.props, "roleRef") or {}
        if get(ref, "kind") == "ClusterRole" and get(ref, "name") in POWERFUL_CLUSTER_ROLES:
            report(
                f"RoleBinding {args.name} grants ClusterRole {get(ref, 'name')}, which can edit NetworkPolicies. Fix: bind the team-workloads Role"
            )


POLICIES = [
    StackValidationPolicy(name="k8s-namespace-default-deny", description="Every Namespace has a deny-all NetworkPolicy covering Ingress and Egress.",
                          validate=_default_deny),
    ResourceValidationPolicy(name="k8s-no-wide-peers", description="No peer selects all namespaces, admits 0.0.0.0/0, or splits namespace and pod selectors.",
                             validate=_no_wide_peers),
    ResourceValidationPolicy(name="k8s-namespace-in-collection", description="Every team namespace is pinned to its environment's collection.",
                             validate=_namespace_in_collection, config_schema=REGISTRY_SCHEMA),
    ResourceValidationPolicy(name="k8s-namespace-identity", description="A namespace's ns-id label is its own name: no namespace passes for another.",
                             validate=_namespace_identity),
    ResourceValidationPolicy(name="k8s-team-cannot-edit-policy", description="No Role or RoleBinding in a team namespace grants write on NetworkPolicies.",
                             validate=_team_cannot_edit_policy),
]  # fmt: skip
