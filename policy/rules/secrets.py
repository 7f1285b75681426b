"""Credentials reach resources only as secrets.

pulumi_policy unwraps secrets before a policy sees a property (deserialize.py), so on its own
a policy cannot tell a secret kubeconfig from a plain one. `keep_secrets_visible` makes the
pack deserialize the engine's properties with the secret markers kept (as `pulumi_policy.Secret`,
the SDK's own wrapper); the other rules read through them with `common.plain`/`common.get`.
The pack pins pulumi-policy, and the tests run this rule over the real protocol."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi_policy.policy as sdk
from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Secret
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.proxy import UnknownValueError

from .common import UNKNOWN, get

SECRET_FIELDS = {
    "pulumi:providers:docker": ("caMaterial", "certMaterial", "keyMaterial"),
    "pulumi:providers:kubernetes": ("kubeconfig",),
    "docker:index/secret:Secret": ("data",),
}
LOOKS_SECRET = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|client-key-data:|client-certificate-data:|\"client-key-data\"")


_original_deserialize = deserialize_properties


def _mark(prop: Any) -> Any:
    if isinstance(prop, list):
        return [_mark(p) for p in prop]
    if isinstance(prop, dict):
        if prop.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            return Secret(_original_deserialize({"value": prop["value"]})["value"])
        if SPECIAL_SIG_KEY in prop:  # assets and archives: the SDK's own handling
            return prop
        return {k: _mark(v) for k, v in prop.items()}
    return prop


def _deserialize_keeping_secrets(props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
    return _original_deserialize(_mark(props), proxy_secrets)


def keep_secrets_visible() -> None:
    """Installed when the rules are imported (rules/__init__.py)."""
    sdk.deserialize_properties = _deserialize_keeping_secrets  # type: ignore[assignment]


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every plain-text string under `value`, with its path (secrets and unknowns skipped)."""
    if isinstance(value, Secret):
        return []
    if isinstance(value, str):
        return [(path, value)]
    out: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        keys = list(value.keys())
        for k in keys:
            try:
                out += _strings(value[k], f"{path}.{k}" if path else str(k))
            except UnknownValueError:
                continue
    elif isinstance(value, Sequence):
        for i in range(len(value)):
            try:
                out += _strings(value[i], f"{path}[{i}]")
            except UnknownValueError:
                continue
    return out


def _secrets_are_secret(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for field in SECRET_FIELDS.get(args.resource_type, ()):
        value = get(args.props, field)
        if value is None or value is UNKNOWN or isinstance(value, Secret):
            continue
        report(f"{args.name}.{field} is passed in plain text, so it lands unencrypted in the state. "
               f"Fix: read it with pulumi.Config().require_secret() or wrap it in pulumi.Output.secret()")  # fmt: skip
    for path, text in _strings(args.props):
        if LOOKS_SECRET.search(text):
            report(f"{args.name}.{path} holds a private key or kubeconfig in plain text. Fix: pass it as a Pulumi secret")


POLICIES = [
    ResourceValidationPolicy(
        name="secrets-are-secret",
        description="Client-bundle keys, kubeconfig and TLS keys reach resources only as secrets.",
        validate=_secrets_are_secret,
    ),
]
