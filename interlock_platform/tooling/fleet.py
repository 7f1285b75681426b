"""The offline preview's second layer: names one env stack file claims that another stack file
of the repository claims too (ingress node hostnames and instance ids, team namespaces, overlay
networks, configured Gateway NodePorts). Never the only layer: a real `pulumi up -s dev` cannot read prod's stack file, so the
program's own rules (docs/isolation.md, "Names that environments share") hold without it; this
layer also catches what those rules cannot see from one stack, such as one custom hostname
listed as an ingress node by two environments."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from interlock_platform.core import config_models as cm
from interlock_platform.core.config_reader import PROJECT, InvalidConfig, Problem
from interlock_platform.core.gateway import STATIC_BAND
from interlock_platform.tooling.stack_files import fleet_configs, stack_file


def _value(config: Mapping[str, Any], key: str) -> Any:
    value = config.get(f"{PROJECT}:{key}")
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _list(config: Mapping[str, Any], key: str) -> list[Any]:
    value = _value(config, key)
    return value if isinstance(value, list) else []


FIXES = {
    "Gateway NodePort": f"give each environment's Gateway its own port in the static band {STATIC_BAND.start}-"
    f"{STATIC_BAND[-1]} (or leave it at its default): a NodePort is unique in the cluster, so the second Gateway to "
    "open it would be refused at `pulumi up`",
}


def claimed_names(config: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(what, name, key) for every shared name an env stack's config claims, as the program
    reads it (defaults included). Another stack file may be malformed (its own preview refuses
    it): only the names it spells as strings count."""
    env = _value(config, "environment")
    for i, node in enumerate(_list(config, "ingressNodes")):
        for field in ("hostname", "instanceId"):
            if isinstance(node, dict) and isinstance(node.get(field), str):
                yield f"ingress node {field}", node[field], f"ingressNodes[{i}].{field}"
    for i, team in enumerate(_list(config, "teams")):
        if isinstance(team, dict) and isinstance(team.get("name"), str):
            namespace = team.get("namespace") or f"{team['name']}-{env}"
            if isinstance(namespace, str):
                yield "team namespace", namespace, f"teams[{i}].namespace"
    overlay = _value(config, "overlayNetworks")
    if isinstance(overlay, dict):
        ingress = overlay.get("ingress") or f"ingress_{env}"
        if isinstance(ingress, str):
            yield "overlay network", ingress, "overlayNetworks.ingress"
        additional = overlay.get("additional")
        for i, net in enumerate(additional if isinstance(additional, list) else []):
            if isinstance(net, str):
                yield "overlay network", net, f"overlayNetworks.additional[{i}]"
    # a NodePort is the whole cluster's; a configured one is in no registry (the defaults derive
    # from the Interlock ports the registry holds, and the program refuses another's default)
    try:  # as the program reads it ("true", "32800"...); a gateway it would refuse is its own preview's to report
        gateway = cm.Gateway.model_validate(_value(config, "gateway") or {})
    except ValidationError:
        return
    if gateway.enabled:  # both listeners' ports: an HTTPS listener comes with tls: true, whenever that is set
        for field, port in (("httpNodePort", gateway.http_node_port), ("httpsNodePort", gateway.https_node_port)):
            if port is not None:
                yield "Gateway NodePort", str(port), f"gateway.{field}"


def fleet_problems(stack: str, config: Mapping[str, Any]) -> list[Problem]:
    """This env stack's shared names that another env stack file of the repository claims too."""
    if _value(config, "role") != "environment":
        return []
    others: dict[tuple[str, str], str] = {}
    for other, other_config in fleet_configs().items():
        if other != stack and _value(other_config, "role") == "environment":
            for what, name, _key in claimed_names(other_config):
                others.setdefault((what, name), other)
    return [
        Problem(
            stack,
            key,
            f"{name} is also a{'n' if what[0] in 'io' else ''} {what} of stack '{owner}' ({stack_file(owner).name})",
            FIXES.get(what, "give each environment its own: a name, a node or an instance belongs to one environment"),
        )
        for what, name, key in claimed_names(config)
        if (owner := others.get((what, name))) is not None
    ]


def check_fleet(stack: str, config: Mapping[str, Any]) -> None:
    problems = fleet_problems(stack, config)
    if problems:
        raise InvalidConfig(problems)
