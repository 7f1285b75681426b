"""Copies the official Kubernetes JSON schemas of the kinds the platform renders, for one
Kubernetes release, out of a kubernetes-validate source distribution, keeping only the
definitions those kinds reach. kubernetes-validate's current releases carry schemas from 1.25
on; UCP 3.2 ships Kubernetes 1.14, whose schemas only older releases carry.

    pip download --no-deps --no-binary :all: kubernetes-validate==1.22.0 -d /tmp/kv
    python -m tools.vendor_k8s_schemas /tmp/kv/kubernetes-validate-1.22.0.tar.gz 1.14.0
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Any

KINDS = {
    "ServiceAccount": "serviceaccount-v1.json",
    "Namespace": "namespace-v1.json",
    "NetworkPolicy": "networkpolicy-networking-v1.json",
    "Role": "role-rbac-v1.json",
    "RoleBinding": "rolebinding-rbac-v1.json",
    "ResourceQuota": "resourcequota-v1.json",
    "LimitRange": "limitrange-v1.json",
}
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "k8s-schemas"


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def main(sdist: str, version: str) -> None:
    folder = f"v{version}-local-strict"
    with tarfile.open(sdist) as tar:

        def read(name: str) -> Any:
            member = next(m for m in tar.getmembers() if m.name.endswith(f"kubernetes-json-schema/{folder}/{name}"))
            return json.load(tar.extractfile(member))  # type: ignore[arg-type]

        definitions = read("_definitions.json")["definitions"]
        kinds = {kind: read(name) for kind, name in KINDS.items()}
    keep: dict[str, Any] = {}
    todo = [ref.split("#/definitions/")[1] for schema in kinds.values() for ref in _refs(schema)]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = definitions[name]
        todo += [ref.split("#/definitions/")[1] for ref in _refs(keep[name])]
    target = OUT / f"v{version}"
    target.mkdir(parents=True, exist_ok=True)
    (target / "_definitions.json").write_text(
        json.dumps({"definitions": dict(sorted(keep.items()))}, indent=1, sort_keys=True) + "\n"
    )
    for kind, name in KINDS.items():
        (target / name).write_text(json.dumps(kinds[kind], indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(KINDS)} kinds and {len(keep)} definitions to {target}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
