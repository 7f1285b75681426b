"""Reads the project's Pulumi.yaml and stack files as the Pulumi CLI would: the stack file's
config plus the defaults the project file declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def project_file(root: Path = ROOT) -> dict[str, Any]:
    return yaml.safe_load((root / "Pulumi.yaml").read_text())


def stack_names(root: Path = ROOT) -> list[str]:
    cfg_dir = root / project_file(root).get("stackConfigDir", ".")
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in cfg_dir.glob("Pulumi.*.yaml"))


def stack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """Fully qualified keys (`project:key`, `aws:region`) -> values, defaults applied."""
    project = project_file(root)
    path = root / project.get("stackConfigDir", ".") / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.relative_to(root)}; the stacks are {', '.join(stack_names(root))}")
    config = dict((yaml.safe_load(path.read_text()) or {}).get("config") or {})
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in key else f"{project['name']}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            config.setdefault(full, decl["default"])
    return config
