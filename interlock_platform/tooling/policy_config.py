"""The policy pack's config, from the shared stack's outputs: the environment registry and
the management CIDRs every registry-aware rule needs.

    python -m interlock_platform policy-config > policy-config.json                  # from the shared stack's config file
    pulumi stack output --json -s shared | python -m interlock_platform policy-config -   # from the deployed shared stack
    pulumi preview -s dev --policy-pack policy --policy-pack-config policy-config.json

Add `"<policy>": {"enforcementLevel": "advisory"}` entries to change a rule's level.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.model import EnvironmentTopology
from interlock_platform.core.topology import parse_environment, parse_shared
from interlock_platform.tooling.stack_files import (
    FileProblem,
    InvalidProjectFiles,
    offline_config,
    program_config,
    require_platform,
)

# The levels `pulumi preview --policy-pack-config` accepts (pulumi/pulumi apitype.EnforcementLevel)
ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")

REGISTRY_POLICIES = (
    "sg-encapsulation-scoped", "sg-no-cross-environment", "nacl-environment-isolation", "lb-ports-match-service-cluster",
    "swarm-network-in-collection", "interlock-cluster-consistent", "k8s-namespace-in-collection", "subnet-no-public-addresses",
    "swarm-service-in-collection", "k8s-no-cross-environment", "group-flows-declared", "instances-in-environment",
    "k8s-own-namespaces", "k8s-pod-on-own-nodes", "k8s-selectors-in-environment", "k8s-calico-policy-scoped", "vpc-endpoints-scoped", "swarm-ucp-grants-in-collection",
    "k8s-service-cluster-ip", "k8s-routes-own-gateway", "k8s-reference-grant-in-environment", "k8s-gateway-own-domain",
    "k8s-envoy-proxy-in-environment",
)  # fmt: skip


def from_shared_outputs(
    outputs: Mapping[str, Any],
    encrypted: tuple[str, ...] = ("prod",),
    group_layouts: Mapping[str, Any] | None = None,
    owned: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """`group_layouts`: the application groups of the environments that isolate them; `owned`: the
    names each environment's config gives it. By default both are read from the env stacks' config
    files here (`offline_topologies`)."""
    envs = {name: {**e, "encryptedOverlays": name in encrypted} for name, e in outputs["environments"].items()}
    topologies = offline_topologies(outputs) if group_layouts is None or owned is None else {}
    if group_layouts is None:
        group_layouts = {env: group_layout(t) for env, t in topologies.items() if t.isolation == "applicationGroup"}
    registry = {
        "environments": envs,
        "managementCidrs": list(outputs["managementCidrs"]),
        "naclRulesPerDirection": int(outputs.get("awsQuotas", {}).get("naclRulesPerDirection", 20)),
        "managementSecurityGroupId": outputs.get("managementSecurityGroupId"),
        "vpcEndpointSecurityGroupIds": sorted((outputs.get("vpcEndpointSecurityGroupIds") or {}).values()),
        "managementPeersSecurityGroupId": outputs.get("managementPeersSecurityGroupId"),
        # present in the deployed shared stack's outputs (and the offline preview's), not in its config file
        "sharedSubnetIds": [*outputs.get("managementSubnetIds", ()), *outputs.get("edgeSubnetIds", ())],
        "applicationGroups": dict(group_layouts),
        "owned": dict({env: owned_names(t) for env, t in topologies.items()} if owned is None else owned),
    }
    return {name: {"enforcementLevel": "mandatory", **registry} for name in REGISTRY_POLICIES}


def group_layout(topo: EnvironmentTopology) -> dict[str, Any]:
    """What the pack needs of an environment with isolation: applicationGroup: each group's
    subnets, the flows its config declares, and the groups its ingress nodes sit in."""
    subnets = {g.name: [str(s.cidr) for s in g.subnets] for g in topo.application_groups}
    holding = {
        g.name
        for g in topo.application_groups
        for node in topo.ingress_nodes
        if node.address is not None and any(node.address in s.cidr for s in g.subnets)
    }
    flows = [
        {"from": f.group, "to": g.name, "protocol": f.protocol.value, "ports": list(f.ports)}
        for g in topo.application_groups
        for f in g.allow_from
    ]
    return {"groups": subnets, "flows": flows, "ingressGroups": sorted(holding)}


def owned_names(topo: EnvironmentTopology) -> dict[str, list[str]]:
    """What an environment's config gives it and no other environment may name: its team
    namespaces, overlay networks and ingress nodes; and the cluster namespaces (DNS, the ingress
    controller, the Gateway's proxies') its NetworkPolicies select."""
    platform = topo.kubernetes.cluster_namespaces if topo.kubernetes is not None else ()
    if topo.gateway is not None:  # the Envoy Gateway controller's, where its Gateway's proxies run
        platform = (*platform, topo.gateway.proxy_namespace)
    gateway_keys: dict[str, Any] = {}
    if topo.gateway is not None:  # where its EnvoyProxy lives, and the NodePorts no team Service may take
        gateway_keys = {"gatewayNamespace": topo.gateway.namespace,
                   "gatewayNodePorts": [topo.gateway.http_node_port, topo.gateway.https_node_port]}  # fmt: skip
    if topo.gateway is not None and topo.gateway.load_balancer:  # the cut-over: 443 and 80 go to the Gateway
        gateway_keys["loadBalancerTargets"] = {"443": topo.gateway.https_node_port, "80": topo.gateway.http_node_port}
    return {
        "namespaces": sorted(t.namespace for t in topo.teams),
        "networks": list(topo.overlay.all),
        "nodes": [n.hostname for n in topo.ingress_nodes],
        "instanceIds": [n.instance_id for n in topo.ingress_nodes],
        "platformNamespaces": sorted(platform),
        "serviceTypes": sorted(set(topo.kubernetes.service_types) - {"ClusterIP"}) if topo.kubernetes is not None else [],
        **gateway_keys,
    }


def offline_topologies(outputs: Mapping[str, Any]) -> dict[str, EnvironmentTopology]:
    """The registered environments whose stack file is here, as the program reads them. A stack
    file that is missing or invalid adds nothing: its own preview refuses it."""
    topologies = {}
    for env in outputs["environments"]:
        try:
            topologies[env] = parse_environment(env, program_config(offline_config(env)[0]), dict(outputs))
        except (InvalidProjectFiles, InvalidConfig, OSError, TypeError, ValueError):
            continue
    return topologies


def offline_group_layouts(outputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The group layouts of the registered environments whose stack file is here and sets
    isolation: applicationGroup."""
    return {env: group_layout(t) for env, t in offline_topologies(outputs).items() if t.isolation == "applicationGroup"}


def read_overrides(path: Path) -> dict[str, Any]:
    """A policy-config file (`--policy-pack-config`): policy name -> level, or -> {enforcementLevel,
    ...properties}; InvalidProjectFiles naming the line and the fix when it is not one."""
    where = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise InvalidProjectFiles(
            [FileProblem(where, None, f"--policy-config: cannot be read ({err.strerror})", "give a JSON file")]
        ) from None
    except UnicodeDecodeError:
        raise InvalidProjectFiles(
            [FileProblem(where, None, "--policy-config: is not UTF-8 text", "save it as UTF-8 JSON")]
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidProjectFiles([
            FileProblem(where, err.lineno, f"--policy-config: is not JSON (column {err.colno}: {err.msg})", 'write {"<policy>": {"enforcementLevel": "advisory"}}')
        ]) from None  # fmt: skip
    if not isinstance(doc, dict):
        raise InvalidProjectFiles(
            [
                FileProblem(
                    where, 1, "--policy-config: is not a JSON object", 'write {"<policy>": {"enforcementLevel": "advisory"}}'
                )
            ]
        )
    problems = []
    for name, entry in doc.items():
        level = entry.get("enforcementLevel", "mandatory") if isinstance(entry, dict) else entry
        if not isinstance(entry, (dict, str)):
            problems.append(
                FileProblem(
                    where,
                    None,
                    f"--policy-config: {name}: is {type(entry).__name__}",
                    'give a level or {"enforcementLevel": ...}',
                )
            )
        elif level not in ENFORCEMENT_LEVELS:
            problems.append(
                FileProblem(
                    where,
                    None,
                    f"--policy-config: {name}: {level!r} is not an enforcement level",
                    f"use one of {', '.join(ENFORCEMENT_LEVELS)}",
                )
            )
    if problems:
        raise InvalidProjectFiles(problems)
    return doc


def offline_shared_outputs() -> dict[str, Any]:
    """The registry and settings the shared stack exports, from its config file through the pure
    model: the same values the engine would read from its state after `pulumi up`."""
    return parse_shared("shared", program_config(offline_config("shared")[0])).to_outputs()


class SharedOutputsError(ValueError):
    """What stdin held is not the shared stack's outputs; the message says what and how to get them."""


SHARED_OUTPUTS_FIX = "pipe the shared stack's outputs: `pulumi stack output --json -s <org>/interlock-platform/shared | ... policy-config -`"


def _shared_outputs_from(text: str) -> dict[str, Any]:
    """The shared stack's outputs as `pulumi stack output --json` prints them, or a clear refusal:
    an empty pipe (the stack output command failed), another stack's outputs, or not JSON."""
    if not text.strip():
        raise SharedOutputsError(f"stdin is empty (did `pulumi stack output` fail?). Fix: {SHARED_OUTPUTS_FIX}")
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as err:
        raise SharedOutputsError(f"stdin is not JSON ({err.msg}, line {err.lineno}). Fix: {SHARED_OUTPUTS_FIX}") from None
    missing = [k for k in ("environments", "managementCidrs") if not isinstance(outputs, dict) or k not in outputs]
    if missing:
        what = "an env stack's outputs" if isinstance(outputs, dict) and "environment" in outputs else "not the shared stack's outputs"
        raise SharedOutputsError(f"stdin holds {what}: no {' or '.join(missing)}. Fix: {SHARED_OUTPUTS_FIX}")
    return outputs


def main(argv: list[str] | None = None, prog: str = "interlock-platform policy-config") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "source", nargs="?", choices=["-"],
        help="-: read the shared stack's outputs (`pulumi stack output --json -s <org>/shared`) from stdin; "
        "without it, from the shared stack's file",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.source == "-":
            outputs = _shared_outputs_from(sys.stdin.read())
        else:
            require_platform("the policy config from the shared stack's file")
            outputs = offline_shared_outputs()
    except (InvalidProjectFiles, InvalidConfig, SharedOutputsError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    print(json.dumps(from_shared_outputs(outputs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
