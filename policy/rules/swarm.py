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

from .common import (
    NOT_CONFIGURED,
    REGISTRY_SCHEMA,
    UNKNOWN,
    Stack,
    env_of,
    get,
    items,
    number,
    registry,
    registry_or_report,
    resource_environment,
    stack_of,
)

NETWORK = "docker:index/network:Network"
SERVICE = "docker:index/service:Service"
CONTAINER = "docker:index/container:Container"
SERVICE_CLUSTER = "pulumi-python:dynamic/interlock:ServiceCluster"
NODE_LABELS = "pulumi-python:dynamic/swarm:NodeLabels"
LB_SERVICE_CLUSTER = "com.docker.lb.service_cluster"  # which Interlock service cluster routes a service
LB_NETWORK = "com.docker.lb.network"
ACCESS_LABEL = "com.docker.ucp.access.label"
NODE_LABEL = "com.docker.interlock.service.cluster"


def _labels(props: object) -> dict[str, object]:
    return {get(item, "label"): get(item, "value") for item in items(get(props, "labels")) if item is not UNKNOWN}


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
    if get(args.props, "ingress") is True:
        report(f"network {args.name} is an ingress (routing-mesh) network: its published ports open on every node of the Swarm, "
               "every collection's included. Fix: ingress=False; Interlock publishes in host mode")  # fmt: skip
    driver = get(args.props, "driver")
    if driver not in (UNKNOWN, "overlay"):
        report(f"network {args.name} uses driver {driver}; environment networks are overlays. Fix: driver=overlay")
    options = get(args.props, "options")
    if env.encrypted_overlays and options is not UNKNOWN and "encrypted" not in (options or {}):
        report(
            f"overlay network {args.name} of {env.name} is not encrypted. Fix: options={{'encrypted': 'true'}} (the firewall opens ESP for it)"
        )


def _cluster_consistent(args: StackValidationArgs, report: ReportViolation) -> None:
    reg = registry_or_report(args, report)
    if reg is None:
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
    for nodes in stack.of_type(
        NODE_LABELS
    ):  # the label Interlock's proxies are constrained by: on another's nodes, they serve it
        if env is None:
            continue
        for key, want in (("labelValue", env.name), ("environment", env.name), ("collection", env.collection)):
            value = get(nodes.props, key)
            if value not in (None, UNKNOWN, want):
                report(f"node labels {nodes.name}: {key} is {value}, not {want}, which would put another environment's proxies on "
                       f"{env.name}'s nodes. Fix: derive it from the environment registry", nodes.urn)  # fmt: skip


def _service_in_collection(args: StackValidationArgs, report: ReportViolation) -> None:
    reg = registry_or_report(args, report)
    if reg is None:
        return
    stack = Stack(args.resources)
    env = env_of(stack.name, reg)
    own = {get(n.props, "name") for n in stack.of_type(NETWORK)} - {None, UNKNOWN}
    others = reg.others(env.name) if env else []
    other_ports = {p: o.name for o in others for p in (o.http_port, o.https_port)}
    for r in stack.of_type(SERVICE, CONTAINER):
        what = f"Swarm service {r.name}" if r.resource_type == SERVICE else f"container {r.name}"
        if env is None:
            report(
                f"{what} is in stack {stack.name}, which is no environment. Fix: run workloads in their environment's stack",
                r.urn,
            )
            continue
        problems: list[str] = []
        labels = _labels(r.props)
        if r.resource_type == SERVICE:
            if labels.get(ACCESS_LABEL) is not UNKNOWN and labels.get(ACCESS_LABEL) != env.collection:
                problems.append(f"it carries {ACCESS_LABEL}={labels.get(ACCESS_LABEL)}, not {env.collection}, so UCP schedules it outside "
                                f"{env.name}'s collection. Fix: label it {ACCESS_LABEL}={env.collection}")  # fmt: skip
            for i, port in enumerate(items(get(r.props, "endpointSpec", "ports"))):
                if port is UNKNOWN or get(port, "publishMode") is UNKNOWN:
                    continue
                mode = get(port, "publishMode") or "ingress"  # Docker's default
                published = number(get(port, "publishedPort"))
                if mode == "ingress":
                    problems.append(f"endpointSpec.ports[{i}] publishes {published or 'a random port'} in ingress mode, which opens it on "
                                    "every node of the Swarm, every environment's included. Fix: no published port; route through "
                                    f"{env.name}'s Interlock service cluster")  # fmt: skip
                elif published in other_ports:
                    problems.append(f"endpointSpec.ports[{i}] publishes {published}, environment {other_ports[published]}'s Interlock port. "
                                    "Fix: no published port; route through Interlock")  # fmt: skip
            networks = [get(n, "name") for n in items(get(r.props, "taskSpec", "networksAdvanceds")) if n is not UNKNOWN]
            fed = any(n.resource_type == NETWORK for n in Stack.fed_by(r, "taskSpec"))
            for constraint in items(get(r.props, "taskSpec", "placement", "constraints")):
                for o in others:
                    if isinstance(constraint, str) and (
                        o.node_selector.split("=")[0] in constraint or constraint.endswith(f"=={o.name}")
                    ):
                        problems.append(f"its placement constraint {constraint!r} puts it on environment {o.name}'s nodes. "
                                        f"Fix: constrain it to {env.node_selector}")  # fmt: skip
        else:
            if items(get(r.props, "ports")) or get(r.props, "publishAllPorts") is True or get(r.props, "networkMode") == "host":
                problems.append("it publishes ports on its node (ports, publish_all_ports or the host network), outside Swarm "
                                "and its collections. Fix: run it as a Swarm service behind Interlock")  # fmt: skip
            networks = [get(n, "name") for n in items(get(r.props, "networksAdvanced")) if n is not UNKNOWN]
            fed = any(n.resource_type == NETWORK for n in Stack.fed_by(r, "networksAdvanced"))
        for name in networks:
            if name is not UNKNOWN and name not in own and not fed:
                problems.append(f"it attaches to network {name}, which is not one of {env.name}'s overlay networks. "
                                f"Fix: attach it to a network of this stack ({', '.join(sorted(map(str, own))) or 'none'})")  # fmt: skip
        cluster = labels.get(LB_SERVICE_CLUSTER)
        if cluster not in (None, UNKNOWN, env.name):
            problems.append(
                f"its {LB_SERVICE_CLUSTER}={cluster} asks another environment's proxies to route it. Fix: {LB_SERVICE_CLUSTER}={env.name}"
            )
        lb_network = labels.get(LB_NETWORK)
        if lb_network not in (None, UNKNOWN) and lb_network not in own:
            problems.append(
                f"its {LB_NETWORK}={lb_network} is not one of {env.name}'s overlay networks. Fix: name one of {sorted(map(str, own))}"
            )
        for problem in problems:
            report(f"{what} of {env.name}: {problem}", r.urn)


POLICIES = [
    ResourceValidationPolicy(
        name="swarm-network-in-collection",
        description="Every overlay network carries its environment's collection label; prod networks are encrypted.",
        validate=_network_in_collection, config_schema=REGISTRY_SCHEMA,
    ),
    StackValidationPolicy(
        name="swarm-service-in-collection",
        description="Swarm services and containers of an environment stay in its collection, on its networks and nodes, publish no "
        "routing-mesh or foreign ports, and are routed by its own service cluster.",
        validate=_service_in_collection, config_schema=REGISTRY_SCHEMA,
    ),
    StackValidationPolicy(
        name="interlock-cluster-consistent",
        description="The service cluster's name, ports, host publish mode, constraint and network match its environment.",
        validate=_cluster_consistent, config_schema=REGISTRY_SCHEMA,
    ),
]  # fmt: skip
