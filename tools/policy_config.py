"""The policy pack's config, from the shared stack's outputs: the environment registry and
the management CIDRs every registry-aware rule needs.

    python -m tools.policy_config > policy-config.json                  # from the shared stack's config file
    pulumi stack output --json -s shared | python -m tools.policy_config -   # from the deployed shared stack
    pulumi preview -s dev --policy-pack policy --policy-pack-config policy-config.json

Add `"<policy>": {"enforcementLevel": "advisory"}` entries to change a rule's level.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import PROJECT, parse_shared
from tools.stack_files import FileProblem, InvalidProjectFiles, offline_config

# The levels `pulumi preview --policy-pack-config` accepts (pulumi/pulumi apitype.EnforcementLevel)
ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")

REGISTRY_POLICIES = (
    "sg-encapsulation-scoped", "sg-no-cross-environment", "nacl-environment-isolation", "lb-ports-match-service-cluster",
    "swarm-network-in-collection", "interlock-cluster-consistent", "k8s-namespace-in-collection", "subnet-no-public-addresses",
    "swarm-service-in-collection", "k8s-no-cross-environment",
)  # fmt: skip


def from_shared_outputs(outputs: Mapping[str, Any], encrypted: tuple[str, ...] = ("prod",)) -> dict[str, dict[str, Any]]:
    envs = {name: {**e, "encryptedOverlays": name in encrypted} for name, e in outputs["environments"].items()}
    registry = {
        "environments": envs,
        "managementCidrs": list(outputs["managementCidrs"]),
        "naclRulesPerDirection": int(outputs.get("awsQuotas", {}).get("naclRulesPerDirection", 20)),
    }
    return {name: {"enforcementLevel": "mandatory", **registry} for name in REGISTRY_POLICIES}


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
    config, _, _ = offline_config("shared")
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
    return parse_shared("shared", raw).to_outputs()


def main() -> None:
    try:
        outputs = json.load(sys.stdin) if sys.argv[1:] == ["-"] else offline_shared_outputs()
    except (InvalidProjectFiles, InvalidConfig) as err:
        print(f"tools.policy_config: {err}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(from_shared_outputs(outputs), indent=2))


if __name__ == "__main__":
    main()
