"""Swarm rules: overlay networks stay in their collection, Interlock service clusters match
their environment."""

from __future__ import annotations

import posixpath
import re
from typing import Any

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
    Environment,
    Registry,
    Stack,
    env_of,
    get,
    items,
    number,
    plain,
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
UCP_GRANTS = "pulumi-python:dynamic/swarm:UcpGrants"
# Docker's built-in role that lets a grantee mount node paths, exec and run privileged: the one
# Restricted Control exists to withhold (Docker's UCP "roles" page)
FULL_CONTROL = "fullcontrol"
LB_SERVICE_CLUSTER = "com.docker.lb.service_cluster"  # which Interlock service cluster routes a service
LB_NETWORK = "com.docker.lb.network"
ACCESS_LABEL = "com.docker.ucp.access.label"
NODE_LABEL = "com.docker.interlock.service.cluster"
SECRET = "docker:index/secret:Secret"
ROUTING_MESH = "ingress"  # Swarm's own network: every node, every collection
CONSTRAINT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|!=)\s*(.+?)\s*$")
# Host paths that hold the node: the engine's socket (which is root on every node of the Swarm
# through UCP's scheduling), its state, the kernel's interfaces and the host's configuration
HOST_PATHS = (
    "/var/run/docker.sock", "/run/docker.sock", "/var/run/docker", "/run/containerd", "/var/lib/docker", "/var/lib/containerd",
    "/var/lib/kubelet", "/etc", "/root", "/proc", "/sys", "/dev", "/boot", "/var/run", "/run", "/usr", "/lib", "/bin", "/sbin",
)  # fmt: skip
NODE_CAPABILITIES = {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH", "BPF"}


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
    own |= set(reg.owns(env.name).networks) if env else set()
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
            fed = [n for n in Stack.fed_by(r, "taskSpec") if n.resource_type == NETWORK]
            for constraint in items(get(r.props, "taskSpec", "placement", "constraints")):
                for o in others:
                    if isinstance(constraint, str) and (
                        o.node_selector.split("=")[0] in constraint or constraint.endswith(f"=={o.name}")
                    ):
                        problems.append(f"its placement constraint {constraint!r} puts it on environment {o.name}'s nodes. "
                                        f"Fix: constrain it to {env.node_selector}")  # fmt: skip
                problems += _placement(constraint, reg, env)
            problems += _secrets(r, stack, reg, env)
        else:
            if items(get(r.props, "ports")) or get(r.props, "publishAllPorts") is True or get(r.props, "networkMode") == "host":
                problems.append("it publishes ports on its node (ports, publish_all_ports or the host network), outside Swarm "
                                "and its collections. Fix: run it as a Swarm service behind Interlock")  # fmt: skip
            networks = [get(n, "name") for n in items(get(r.props, "networksAdvanced")) if n is not UNKNOWN]
            fed = [n for n in Stack.fed_by(r, "networksAdvanced") if n.resource_type == NETWORK]
        # Each network this stack feeds in may stand for one entry written by id; it vouches for
        # that one, not for every other name the service lists beside it.
        spare = len([n for n in fed if get(n.props, "name") not in networks])
        for name in networks:
            if name is UNKNOWN or name in own:
                continue
            owner = reg.owner("networks", name)
            if name != ROUTING_MESH and owner is None and spare > 0:
                spare -= 1
                continue
            whose = f"environment {owner}'s" if owner else "Swarm's routing mesh" if name == ROUTING_MESH else f"not one of {env.name}'s overlay networks"
            problems.append(f"it attaches to network {name} ({whose}). "
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


def _placement(constraint: Any, reg: Registry, env: Environment) -> list[str]:
    """What a placement constraint reaches beyond the environment's nodes: the managers, a node
    of another environment by hostname, a node the registry cannot place by id."""
    m = CONSTRAINT.match(constraint) if isinstance(constraint, str) else None
    if not m:
        return []
    key, op, value = m.group(1).lower(), m.group(2), m.group(3).strip("'\"")
    fix = f"Fix: leave placement to {env.name}'s collection, or constrain it by node.labels.{env.node_selector.replace('=', '==')}"
    if key == "node.role" and (op, value) in (("==", "manager"), ("!=", "worker")):
        return [f"its placement constraint {constraint!r} puts it on the managers, which run UCP for every environment. {fix}"]
    if key == "node.hostname" and op == "==":
        owner = reg.node_owner(value)
        if owner != env.name:
            whose = f"environment {owner}'s node" if owner not in (None, "management") else "a manager" if owner else f"not a node of {env.name}"
            return [f"its placement constraint {constraint!r} pins it to {value} ({whose}). {fix}"]
    if key == "node.id" and op == "==":
        return [f"its placement constraint {constraint!r} pins it to a node by id, which cannot be told to be {env.name}'s. {fix}"]
    return []


def _env_tokens(name: str, reg: Registry) -> set[str]:
    """The environments a name carries as a word (prod_db_password, db-password-prod)."""
    return set(re.split(r"[^a-z0-9]+", name.lower())) & set(reg.environments)


def _secrets(service: Any, stack: Stack, reg: Registry, env: Environment) -> list[str]:
    own = {get(s.props, "name") for s in stack.of_type(SECRET)} - {None, UNKNOWN}
    out = []
    for i, secret in enumerate(items(get(service.props, "taskSpec", "containerSpec", "secrets"))):
        if secret is UNKNOWN:
            continue
        for key in ("secretName", "secretId"):
            name = get(secret, key)
            if not isinstance(name, str) or name in own:
                continue
            foreign = sorted(_env_tokens(name, reg) - {env.name})
            if foreign:
                out.append(f"containerSpec.secrets[{i}] uses secret {name}, environment {foreign[0]}'s. "
                           f"Fix: create {env.name}'s own secret in this stack and use it")  # fmt: skip
                break
    for secret in stack.of_type(SECRET):
        label = _labels(secret.props).get(ACCESS_LABEL)
        if label not in (None, UNKNOWN, env.collection) and any(r.urn == secret.urn for r in Stack.fed_by(service, "taskSpec")):
            out.append(f"it uses secret {secret.name}, labelled for collection {label}. Fix: label it {ACCESS_LABEL}={env.collection}")
    return out


def _host_path(path: Any) -> bool:
    """A host path that holds the node: one of HOST_PATHS, beneath one, or a parent of one."""
    if not isinstance(path, str) or not path.startswith("/"):
        return False
    path = posixpath.normpath(path)
    return any(path == h or path.startswith(h + "/") or h.startswith(path.rstrip("/") + "/") for h in HOST_PATHS)


def _capabilities(values: Any) -> list[str]:
    return sorted({str(plain(v)).upper().removeprefix("CAP_") for v in items(values) if v is not UNKNOWN} & NODE_CAPABILITIES)


def _no_host_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (SERVICE, CONTAINER):
        return
    service = args.resource_type == SERVICE
    spec = get(args.props, "taskSpec", "containerSpec") if service else args.props
    what = f"Swarm service {args.name}" if service else f"container {args.name}"
    problems = []
    for i, mount in enumerate(items(get(spec, "mounts"))):
        if mount is not UNKNOWN and get(mount, "type") == "bind" and _host_path(get(mount, "source")):
            problems.append(f"mounts[{i}] binds the node's {get(mount, 'source')}")
    for i, volume in enumerate(items(get(spec, "volumes"))):
        if volume is not UNKNOWN and _host_path(get(volume, "hostPath")):
            problems.append(f"volumes[{i}] binds the node's {get(volume, 'hostPath')}")
    if get(spec, "privileged") is True:
        problems.append("it is privileged: every device and capability of the node")
    added = _capabilities(get(spec, "capAdds") if service else get(spec, "capabilities", "adds"))
    if added:
        problems.append(f"it adds the capabilities {', '.join(added)}, with which it can leave its container")
    for key in ("pidMode", "ipcMode", "usernsMode", "cgroupnsMode"):
        if get(spec, key) == "host":
            problems.append(f"{key} is host: it shares the node's namespace")
    for opt in items(get(spec, "securityOpts")):
        if isinstance(opt, str) and re.search(r"(seccomp|apparmor)[=:]unconfined|label[=:]disable", opt):
            problems.append(f"security_opts {opt!r} lifts the container's confinement")
    for problem in problems:
        report(f"{what}: {problem}. The node runs other services of its collection, and its engine is root on it. "
               "Fix: remove it; keep state in named volumes and secrets")  # fmt: skip


def _within(collection: str, root: str) -> bool:
    collection = posixpath.normpath(collection or "/")
    return collection == root or collection.startswith(root.rstrip("/") + "/")


def _grants_in_collection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """UCP grants of an env stack stay in its environment's collection, whatever the program's
    validation said: a change that writes the resource by hand reaches UCP through the same provider."""
    if args.resource_type != UCP_GRANTS:
        return
    env = resource_environment(args, report)
    if env is None:
        return
    claimed = get(args.props, "environment")
    if claimed not in (UNKNOWN, None) and claimed != env.name:
        report(f"UCP grants {args.name} in the {env.name} stack are for environment {claimed}. Fix: grant in {claimed}'s own stack")
    for what, collection in [("collection", get(args.props, "collection"))] + [
        (f"grants[{i}]", get(g, "collection")) for i, g in enumerate(items(get(args.props, "grants")))
    ]:
        if collection in (UNKNOWN, None):
            continue
        if _within(str(collection), "/Shared") or not _within(str(collection), env.collection):
            report(f"UCP grants {args.name}: {what} is {collection}, outside {env.name}'s collection {env.collection}: a grant "
                   f"there lets the team deploy beside another environment's or every environment's services. Fix: grant "
                   f"{env.collection} or a collection under it")  # fmt: skip
    for i, g in enumerate(items(get(args.props, "grants"))):
        if str(plain(get(g, "role")) or "").lower() == FULL_CONTROL:
            report(f"UCP grants {args.name}: grants[{i}] gives {FULL_CONTROL}, which lets the team mount node paths, exec and run "
                   "privileged containers on its collection's nodes. Fix: grant restrictedcontrol (or viewonly)")  # fmt: skip


POLICIES = [
    ResourceValidationPolicy(
        name="swarm-ucp-grants-in-collection",
        description="A team's UCP grants stay in its environment's collection (never /Shared or another's) and never give fullcontrol.",
        validate=_grants_in_collection, config_schema=REGISTRY_SCHEMA,
    ),
    ResourceValidationPolicy(
        name="swarm-no-host-access",
        description="Swarm services and containers bind none of the node's own paths (the Docker socket, /, /etc...), are not "
        "privileged, add no node capabilities and share none of its namespaces.",
        validate=_no_host_access,
    ),
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
