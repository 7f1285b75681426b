"""Every config key of the project as the Pulumi CLI sees it: its type, which stack role reads it,
its default, whether it is a secret, and what it means. Pure; no Pulumi. The table is derived
from the pydantic models in `config_models.py`, where each key is declared once.

`Pulumi.yaml`'s `config:` block is generated from this table (`python -m interlock_platform project-file
--write`; a test keeps the two in step). The Pulumi CLI merges that block into every stack
before the program runs (`mergeConfig` in pulumi/pulumi): a project key with no `default` that
a stack does not set stops `pulumi preview` for that stack. So every key but `role` has a
default, and for a key that a role requires the default is its empty value ("", [], {}),
which validation reports as "not set" with the fix. The program then treats a key that holds
its declared default as absent, so the other role's keys, which the CLI merges into every
stack, are not mistaken for settings.

Secrets are not declared `secret: true` in Pulumi.yaml: the CLI refuses a `secret: true` key
that a stack does not set (its default is not encrypted), and no stack needs all of them. The
offline preview, which every pull request runs, refuses instead a secret written in plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from interlock_platform.core.config_models import ADAPTERS, DEFAULT_EGRESS, FIELDS, metadata, unwrap
from interlock_platform.core.config_reader import PROJECT

SHARED, ENVIRONMENT = "shared", "environment"
BOTH = (SHARED, ENVIRONMENT)
REQUIRED: Any = object()  # no default: every stack must set the key (only `role`)

ConfigType = Literal["string", "integer", "boolean", "array", "object"]

__all__ = ["ALL_KEYS", "BY_NAME", "DEFAULT_EGRESS", "ENVIRONMENT_KEYS", "KEYS", "PROJECT", "SECRET_KEYS", "SHARED_KEYS"]


@dataclass(frozen=True)
class ConfigKey:
    name: str
    type: ConfigType
    roles: tuple[str, ...]
    description: str
    default: Any = REQUIRED
    items: ConfigType | None = None  # the element type of an array
    secret: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def holds_default(self, value: Any) -> bool:
        """True when `value` (as the engine hands it over: a string, JSON for arrays and objects;
        or already decoded) is this key's declared default."""
        return not self.required and canonical(self.type, value) == canonical(self.type, self.default)


def canonical(type_: ConfigType, value: Any) -> Any:
    """A config value in one form, whichever way it arrived: "365" and 365, "true" and True,
    "[]" and [] compare equal."""
    if isinstance(value, str):
        text = value.strip()
        if type_ in ("array", "object") and text[:1] in ("[", "{"):
            try:
                return json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                return value
        if type_ == "integer" and text.lstrip("-").isdigit():
            return int(text)
        if type_ == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
    if isinstance(value, tuple):
        return [dict(v) if isinstance(v, dict) else v for v in value]
    return value


def _config_type(annotation: Any) -> ConfigType:
    """The CLI's type of a value, from its model annotation: a model or map is an object. (Read
    from the annotation, not the JSON Schema, which takes longer to build than a preview can spare.)"""
    tp, _ = unwrap(annotation)
    origin = get_origin(tp)
    if origin is list:
        return "array"
    if origin is dict or (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return "object"
    if tp is bool:
        return "boolean"
    return "integer" if tp is int else "string"


def _key(name: str) -> ConfigKey:
    from_roles = [(role, fields[name]) for role, fields in FIELDS.items() if name in fields]
    roles = tuple(role for role, _ in from_roles)
    info = from_roles[0][1]
    type_ = _config_type(info.annotation)
    items = _config_type(get_args(unwrap(info.annotation)[0])[0]) if type_ == "array" else None
    # A key both roles read but shape differently (interlock) says what each role gives.
    descriptions = dict.fromkeys(str(i.description) for _, i in from_roles)
    default: Any = info.get_default(call_default_factory=True)
    if name == "role":
        default = REQUIRED
    elif type_ == "object" and not isinstance(default, dict):
        default = {}
    return ConfigKey(name, type_, roles, " ".join(descriptions), default, items, bool(metadata(info, "secret")))


def info_schema(name: str, role: str) -> dict[str, Any]:
    """A key's JSON Schema as `role` reads it (for docs/config.schema.json)."""
    return ADAPTERS[role][name].json_schema(by_alias=True)


KEYS: tuple[ConfigKey, ...] = tuple(_key(name) for name in dict.fromkeys(n for fields in FIELDS.values() for n in fields))

BY_NAME = {k.name: k for k in KEYS}
SHARED_KEYS = tuple(k.name for k in KEYS if SHARED in k.roles)
ENVIRONMENT_KEYS = tuple(k.name for k in KEYS if ENVIRONMENT in k.roles)
SECRET_KEYS = tuple(k.name for k in KEYS if k.secret)
ALL_KEYS = tuple(k.name for k in KEYS)


def without_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """The keys a stack really sets: those holding their declared default are dropped, as if
    unset. The CLI merges every declared default into every stack; this undoes that."""
    return {k: v for k, v in raw.items() if not (k in BY_NAME and BY_NAME[k].holds_default(v))}


def project_config_block() -> dict[str, Any]:
    """Pulumi.yaml's `config:` block, as the CLI reads it."""
    block: dict[str, Any] = {}
    for key in KEYS:
        decl: dict[str, Any] = {"type": key.type}
        if key.items:
            decl["items"] = {"type": key.items}
        decl["description"] = key.description
        if not key.required:
            decl["default"] = key.default
        block[key.name] = decl
    return block
