"""Swarm rules: overlay networks stay in their collection, Interlock service clusters match
their environment."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import NOT_CONFIGURED, REGISTRY_SCHEMA, UNKNOWN, Stack, env_of, get, number, registry, resource_environment, stack_of

NETWORK = "docker:index/network:Network"
SERVICE_CLUSTER = "pulumi-python:dynamic/interlock:ServiceCluster"
ACCESS_LABEL = "com.docker.ucp.access.label"
NODE_LABEL = "com.docker.interlock.service.cluster"


def _labels(props: object) -> dict[str, object]:
    return {get(item, "label"): get(item, "value") for item in (get(props, "labels") or [])}


def _network_in_collection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NETWORK:
        return
    if registry(args.get_config()) is None:
        report(NOT_CONFIGURED)
        return
    env = resource_environment(args, report)
    if env is None:
        report(
            f"overlay network {args.name} is in stack {stack_of(args.urn)}, which is no environment. Fix: create networks in their environment's stack"
        )
        return
    label = _labels(args.props).get(ACCESS_LABEL)
    if label is not UNKNOWN and label != env.collection:
        report(f"overlay network {args.name} carries {ACCESS_LABEL}={label}, not {env.name}'s collection {env.collection}. "
               f"Fix: label it {ACCESS_LABEL}={env.collection}, so only {env.name}'s services may attach")  # fmt: skip
    driver = get(args.props, "driver")
    if driver not in (UNKNOWN, "overlay"):
        report(f"network {args.name} uses driver {driver}; environment networks are overlays. Fix: driver=overlay")
    options = get(args.props, "options")
    if env.encrypted_overlays and options is not UNKNOWN and "encrypted" not in (options or {}):
        report(
            f"overlay network {args.name} of {env.name} is not encrypted. Fix: options={{'encrypted': 'true'}} (the firewall opens ESP for it)"
        )


def _cluster_consistent(args: StackValidationArgs, report: ReportViolation) -> None:
    reg = registry(args.get_config())
    if reg is None:
        report(NOT_CONFIGURED, None)
        return
    stack = Stack(args.resources)
    env = env_of(stack.name, reg)
    for cluster in stack.of_type(SERVICE_CLUSTER):
        p = cluster.props
        if env is None:
            report(f"service cluster {cluster.name} is in stack {stack.name}, which is no environment", cluster.urn)
            continue
        problems = []
        for key in ("environment", "serviceCluster"):
            if get(p, key) not in (UNKNOWN, env.name):
                problems.append(f"{key} is {get(p, key)}, not {env.name}")
        for key, want in (("httpPort", env.http_port), ("httpsPort", env.https_port)):
            if get(p, key) is not UNKNOWN and number(get(p, key)) != want:
                problems.append(f"{key} is {number(get(p, key))}, not the registry's {want}")
        if get(p, "publishMode") not in (UNKNOWN, "host"):
            problems.append(f"PublishMode is {get(p, 'publishMode')}, not host")
        want_constraint = f"node.labels.{NODE_LABEL}=={env.name}"
        if get(p, "constraint") not in (UNKNOWN, want_constraint):
            problems.append(f"the proxies are constrained by {get(p, 'constraint')}, not {want_constraint}")
        network = get(p, "network")
        own = {get(n.props, "name"): _labels(n.props).get(ACCESS_LABEL) for n in stack.of_type(NETWORK)}
        if network is not UNKNOWN and own.get(network) != env.collection:
            problems.append(f"its network {network} is not one of {env.name}'s overlay networks labelled {env.collection}")
        for problem in problems:
            report(
                f"Interlock service cluster {cluster.name}: {problem}. Fix: derive it from the environment registry", cluster.urn
            )


POLICIES = [
    ResourceValidationPolicy(
        name="swarm-network-in-collection",
        description="Every overlay network carries its environment's collection label; prod networks are encrypted.",
        validate=_network_in_collection, config_schema=REGISTRY_SCHEMA,
    ),
    StackValidationPolicy(
        name="interlock-cluster-consistent",
        description="The service cluster's name, ports, host publish mode, constraint and network match its environment.",
        validate=_cluster_consistent, config_schema=REGISTRY_SCHEMA,
    ),
]  # fmt: skip
