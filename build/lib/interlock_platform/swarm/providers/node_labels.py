"""`swarm:NodeLabels`: the service-cluster label on an environment's ingress nodes (runbook
steps 1 and 3, automated). Before labelling it checks that every node exists, is ready and
active, and sits in the environment's collection. It merges with labels it does not own, writes
with the node's version index (retrying on conflict), and deletes only its own keys."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi.dynamic as dyn

from interlock_platform.core import labels
from interlock_platform.swarm.providers.engine import SwarmProvider

if TYPE_CHECKING:
    import docker  # imported where the engine is called: see interlock_platform/swarm/providers/engine.py

RETRIES = 5


class NodeLabelError(RuntimeError):
    pass


def _nodes_by_hostname(client: docker.DockerClient) -> dict[str, dict[str, Any]]:
    return {n["Description"]["Hostname"]: n for n in client.api.nodes()}


def verify(client: docker.DockerClient, hostnames: list[str], collection: str) -> dict[str, dict[str, Any]]:
    """Every node exists, is ready and active, and belongs to `collection`; all problems at once."""
    nodes = _nodes_by_hostname(client)
    problems = []
    for host in hostnames:
        node = nodes.get(host)
        if node is None:
            problems.append(f"node {host} is not in the swarm (it has {', '.join(sorted(nodes)) or 'no nodes'})")
            continue
        state, availability = node["Status"]["State"], node["Spec"]["Availability"]
        if state != "ready" or availability != "active":
            problems.append(f"node {host} is {state} and {availability}; it must be ready and active to run proxies")
        actual = (node["Spec"].get("Labels") or {}).get(labels.UCP_ACCESS)
        if actual != collection:
            problems.append(
                f"node {host} is in collection {actual or '(none)'!s}, not {collection} ({labels.UCP_ACCESS}); "
                f"move it to {collection} in UCP, or take it out of ingressNodes"
            )
    if problems:
        raise NodeLabelError("refusing to label ingress nodes:\n  " + "\n  ".join(problems))
    return {h: nodes[h] for h in hostnames}


def _edit(client: docker.DockerClient, node_id: str, change: dict[str, str | None], collection: str | None = None) -> None:
    """Set (or, with None, remove) label keys, leaving every other label as it is. With
    `collection`, the write holds only while the node is still in it: the check and the write
    read the same version index, so a node moved in between makes the write out of sequence,
    and the retry sees the move and refuses."""
    from docker.errors import APIError

    for attempt in range(RETRIES):
        node = client.api.inspect_node(node_id)
        spec = node["Spec"]
        current = dict(spec.get("Labels") or {})
        if collection is not None and current.get(labels.UCP_ACCESS) != collection:
            host = node.get("Description", {}).get("Hostname", node_id)
            raise NodeLabelError(
                f"node {host} left collection {collection} (it is in {current.get(labels.UCP_ACCESS) or '(none)'}) while it was "
                f"being labelled; move it back in UCP, or take it out of ingressNodes"
            )
        wanted = dict(current)
        for key, value in change.items():
            if value is None:
                wanted.pop(key, None)
            else:
                wanted[key] = value
        if wanted == current:
            return
        try:
            client.api.update_node(node_id, node["Version"]["Index"], {**spec, "Labels": wanted})
            return
        except APIError as err:
            if "update out of sequence" not in str(err) or attempt == RETRIES - 1:
                raise NodeLabelError(
                    f"node {node_id}: the engine refused the label change ({err.explanation or err}); "
                    "run `pulumi up` again, or check the node in UCP"
                ) from None
            time.sleep(0.05 * (attempt + 1))


def moved_out(client: docker.DockerClient, hostnames: list[str], collection: str, key: str, value: str) -> list[str]:
    """Nodes that carry this environment's label but are no longer in its collection: a node
    moved to another collection after it was labelled would run this environment's proxies there."""
    nodes = _nodes_by_hostname(client)
    return [
        h
        for h in hostnames
        if h in nodes
        and (nodes[h]["Spec"].get("Labels") or {}).get(key) == value
        and (nodes[h]["Spec"].get("Labels") or {}).get(labels.UCP_ACCESS) != collection
    ]


def live_labels(client: docker.DockerClient, hostnames: list[str], key: str) -> dict[str, str | None]:
    nodes = _nodes_by_hostname(client)
    return {h: ((nodes.get(h) or {}).get("Spec", {}).get("Labels") or {}).get(key) for h in hostnames}


class NodeLabelsProvider(SwarmProvider):
    def _apply(self, props: dict[str, Any], previous: list[str]) -> dict[str, Any]:
        client = self.connection.client()
        hostnames = list(props["nodes"])
        key, value = props["labelKey"], props["labelValue"]
        # First take this environment's label off nodes that left its collection, then refuse
        # (verify) with the fix: never leave a prod node running dev's proxies.
        for host in moved_out(client, hostnames, props["collection"], key, value):
            _edit(client, _nodes_by_hostname(client)[host]["ID"], {key: None})
        nodes = verify(client, hostnames, props["collection"])
        for host in previous:
            if host not in hostnames:  # dropped from ingressNodes: take our label off
                gone = _nodes_by_hostname(client).get(host)
                if gone is not None:
                    _edit(client, gone["ID"], {props["labelKey"]: None})
        for node in nodes.values():
            _edit(client, node["ID"], {key: value}, collection=props["collection"])
        return {**props, "nodeIds": {h: n["ID"] for h, n in nodes.items()}}

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult(f"{props['environment']}-ingress-nodes", self._apply(props, []))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        keys = ("environment", "collection", "nodes", "labelKey", "labelValue")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        if not changed:
            client = self.connection.client()
            live = live_labels(client, list(news["nodes"]), news["labelKey"])
            if any(v != news["labelValue"] for v in live.values()):
                changed = ["nodes"]  # someone took a label off: put it back
            elif moved_out(client, list(news["nodes"]), news["collection"], news["labelKey"], news["labelValue"]):
                changed = ["collection"]  # a labelled node left the collection: take the label off, and say so
        return dyn.DiffResult(changes=bool(changed), replaces=[], stables=["environment"], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(self._apply(news, list(olds.get("nodes", []))))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        client = self.connection.client()
        nodes = _nodes_by_hostname(client)
        for host in props.get("nodes", []):
            node = nodes.get(host)
            if node is not None and (node["Spec"].get("Labels") or {}).get(props["labelKey"]) == props["labelValue"]:
                _edit(client, node["ID"], {props["labelKey"]: None})

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        """The nodes that really are this environment's ingress nodes: labelled, and in its collection."""
        client = self.connection.client()
        hosts = list(props.get("nodes", []))
        live = live_labels(client, hosts, props["labelKey"])
        moved = set(moved_out(client, hosts, props["collection"], props["labelKey"], props["labelValue"]))
        return dyn.ReadResult(
            id_, {**props, "nodes": [h for h, v in live.items() if v == props["labelValue"] and h not in moved]}
        )


class NodeLabels(dyn.Resource, module="swarm", name="NodeLabels"):
    """Registers as `pulumi-python:dynamic/swarm:NodeLabels`."""

    def __init__(
        self,
        name: str,
        environment: str,
        collection: str,
        nodes: list[str],
        instance_ids: list[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "environment": environment, "collection": collection, "nodes": nodes,
            "instanceIds": instance_ids,  # the same nodes seen from EC2: all the load balancer may target
            "labelKey": labels.SERVICE_CLUSTER_NODE, "labelValue": environment, "nodeIds": None,
        }  # fmt: skip
        super().__init__(NodeLabelsProvider(), name, props, opts)
