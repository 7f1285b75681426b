"""Reads the project's Pulumi.yaml and stack files as the Pulumi CLI would: the stack file's
config plus the defaults the project file declares. Offline, secrets the CLI would decrypt
(or that a user sets with `pulumi config set --secret`) are stood in for by a placeholder."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it: the pure-Python one takes ~25 ms per Pulumi.yaml
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ROOT = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "offline-preview-placeholder"


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # a safe loader: SafeLoader or its libyaml twin


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> Any:
    return load_yaml(text)


def project_file(root: Path = ROOT) -> dict[str, Any]:
    # read on every call (tests edit copies of the project); parsed once per distinct content
    return copy.deepcopy(_parsed((root / "Pulumi.yaml").read_text()))


def stack_names(root: Path = ROOT) -> list[str]:
    cfg_dir = root / project_file(root).get("stackConfigDir", ".")
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in cfg_dir.glob("Pulumi.*.yaml"))


def _declared(root: Path) -> dict[str, dict[str, Any]]:
    project = project_file(root)
    return {
        (key if ":" in key else f"{project['name']}:{key}"): decl
        for key, decl in (project.get("config") or {}).items()
        if isinstance(decl, dict)
    }


def stack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """Fully qualified keys (`project:key`, `aws:region`) -> values, defaults applied."""
    project = project_file(root)
    path = root / project.get("stackConfigDir", ".") / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.relative_to(root)}; the stacks are {', '.join(stack_names(root))}")
    config = dict((load_yaml(path.read_text()) or {}).get("config") or {})
    for key, decl in _declared(root).items():
        if "default" in decl:
            config.setdefault(key, decl["default"])
    return config


def offline_config(stack: str, root: Path = ROOT) -> tuple[dict[str, Any], list[str], list[str]]:
    """The stack's config for an offline run: (config, its secret keys, the keys stood in for).
    Every secret the project declares is present, as the placeholder when it is encrypted
    (`secure:`) or not in the file."""
    from components.topology import ENVIRONMENT_KEYS, PROJECT, SHARED_KEYS

    config = stack_config(stack, root)
    role_keys = SHARED_KEYS if config.get(f"{PROJECT}:role") == "shared" else ENVIRONMENT_KEYS
    secret = [k for k, d in _declared(root).items() if d.get("secret") and k.split(":", 1)[1] in role_keys]
    stood_in = []
    for key in secret:
        value = config.get(key)
        if value is None or isinstance(value, dict):
            config[key] = SECRET_PLACEHOLDER
            stood_in.append(key)
    return config, secret, stood_in
