"""The policy pack's config, from the shared stack's outputs: the environment registry and
the management CIDRs every registry-aware rule needs.

    python -m tools.policy_config > policy-config.json                  # from the offline preview of shared
    pulumi stack output --json -s shared | python -m tools.policy_config -   # from the deployed shared stack
    pulumi preview -s dev --policy-pack policy --policy-pack-config policy-config.json

Add `"<policy>": {"enforcementLevel": "advisory"}` entries to change a rule's level.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

REGISTRY_POLICIES = (
    "sg-encapsulation-scoped", "sg-no-cross-environment", "nacl-environment-isolation", "lb-ports-match-service-cluster",
    "swarm-network-in-collection", "interlock-cluster-consistent", "k8s-namespace-in-collection",
)  # fmt: skip


def from_shared_outputs(outputs: Mapping[str, Any], encrypted: tuple[str, ...] = ("prod",)) -> dict[str, dict[str, Any]]:
    envs = {name: {**e, "encryptedOverlays": name in encrypted} for name, e in outputs["environments"].items()}
    registry = {
        "environments": envs,
        "managementCidrs": list(outputs["managementCidrs"]),
        "naclRulesPerDirection": int(outputs.get("awsQuotas", {}).get("naclRulesPerDirection", 20)),
    }
    return {name: {"enforcementLevel": "mandatory", **registry} for name in REGISTRY_POLICIES}


def main() -> None:
    if sys.argv[1:] == ["-"]:
        outputs = json.load(sys.stdin)
    else:
        from tools.preview import run_preview

        outputs = run_preview("shared").run.outputs
    print(json.dumps(from_shared_outputs(outputs), indent=2))


if __name__ == "__main__":
    main()
