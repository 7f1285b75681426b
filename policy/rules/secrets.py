"""Credentials reach resources only as secrets.

pulumi_policy unwraps secrets before a policy sees a property (deserialize.py), so on its own
a policy cannot tell a secret kubeconfig from a plain one. `keep_secrets_visible` makes the
pack deserialize the engine's properties with the secret markers kept (as `pulumi_policy.Secret`,
the SDK's own wrapper); the other rules read through them with `common.plain`/`common.get`.
The pack pins pulumi-policy, and the tests run this rule over the real protocol."""

from __future__ import annotations

import base64
import binascii
import json
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
# What a credential looks like in text, by its own format: private keys and kubeconfig client keys,
# bearer tokens and JWTs (service-account tokens are), AWS access keys and secret keys
LOOKS_SECRET = {
    "a private key or kubeconfig": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|client-key-data:|client-certificate-data:|\"client-key-data\""),
    "a bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "an AWS access key": re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    "an AWS secret access key": re.compile(r"(?i)(aws_?secret_?access_?key|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}\b"),
}
# A key or environment variable that names a credential: its value is one (DB_PASSWORD,
# AWS_SECRET_ACCESS_KEY, apiToken, registry password); secretName and the like name one
CREDENTIAL_NAME = re.compile(r"(?i)(^|[_.-])(password|passwd|secret|token|secret[_-]?access[_-]?key|api[_-]?key|private[_-]?key)$")
PLACEHOLDER = re.compile(r"^\$\{|^\$\(|^\{\{|^<.*>$")
BASE64 = re.compile(r"^[A-Za-z0-9+/_-]{16,}={0,2}$")


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


def _decoded(text: str) -> str | None:
    """`text` decoded from base64 (what a Secret's or ConfigMap's data, a docker secret's data and
    a registry `auth` hold), when it is base64 of text."""
    compact = "".join(text.split())
    if len(compact) % 4 or not BASE64.match(compact):
        return None  # base64 as Kubernetes and Docker write it is padded: a name is not read as base64
    try:
        raw = base64.b64decode(compact, altchars=b"-_" if "-" in compact or "_" in compact else None)
    except (binascii.Error, ValueError):
        return None
    decoded = raw.decode("utf-8", errors="replace")
    return decoded if decoded.count("\ufffd") * 10 < len(decoded) else raw.decode("latin-1")


def _registry_credentials(text: str) -> bool:
    """A docker config (.dockerconfigjson, config.json) with a registry's password or auth in it."""
    if "auths" not in text and "password" not in text.lower():
        return False
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    auths = doc.get("auths", doc) if isinstance(doc, dict) else {}
    return isinstance(auths, dict) and any(
        isinstance(entry, dict) and any(entry.get(k) for k in ("auth", "password", "identitytoken", "registrytoken"))
        for entry in auths.values()
    )


def credential_in(text: str, depth: int = 2) -> str | None:
    """What credential `text` holds in plain text, by its format, also under base64 (twice: a
    registry auth inside a base64 docker config); None for none."""
    for what, pattern in LOOKS_SECRET.items():
        if pattern.search(text):
            return what
    if _registry_credentials(text):
        return "a registry password (a docker config's auths)"
    decoded = _decoded(text) if depth else None
    found = credential_in(decoded, depth - 1) if decoded else None
    return f"{found}, base64-encoded" if found and not found.endswith("base64-encoded") else found


def _named_credentials(value: Any, path: str = "") -> list[str]:
    """Paths of plain strings kept under a name that says they are a credential: a mapping key
    (`password:`), or an environment variable's `name` beside its `value`."""
    out: list[str] = []
    if isinstance(value, Mapping):
        try:
            keys = list(value.keys())
            name, literal = value.get("name") if "value" in keys else None, value.get("value") if "value" in keys else None
        except UnknownValueError:
            return out
        if isinstance(name, str) and CREDENTIAL_NAME.search(name) and _literal(literal):
            out.append(f"{path}.value" if path else "value")
        for k in keys:
            try:
                v = value[k]
            except UnknownValueError:
                continue
            here = f"{path}.{k}" if path else str(k)
            if CREDENTIAL_NAME.search(str(k)) and _literal(v):
                out.append(here)
            else:
                out += _named_credentials(v, here)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for i in range(len(value)):
            try:
                out += _named_credentials(value[i], f"{path}[{i}]")
            except UnknownValueError:
                continue
    return out


def _literal(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) >= 6 and not PLACEHOLDER.match(value.strip())


def _secrets_are_secret(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for field in SECRET_FIELDS.get(args.resource_type, ()):
        value = get(args.props, field)
        if value is None or value is UNKNOWN or isinstance(value, Secret):
            continue
        report(f"{args.name}.{field} is passed in plain text, so it lands unencrypted in the state. "
               f"Fix: read it with pulumi.Config().require_secret() or wrap it in pulumi.Output.secret()")  # fmt: skip
    for path, text in _strings(args.props):
        what = credential_in(text)
        if what:
            report(f"{args.name}.{path} holds {what} in plain text, so it lands unencrypted in the state. "
                   "Fix: pass it as a Pulumi secret, or reference a Kubernetes Secret (secretKeyRef)")  # fmt: skip
    for path in _named_credentials(args.props):
        report(f"{args.name}.{path} is a credential by its name, given in plain text. Fix: pass it as a Pulumi secret, "
               "or reference a Kubernetes Secret (secretKeyRef)")


POLICIES = [
    ResourceValidationPolicy(
        name="secrets-are-secret",
        description="Client-bundle keys, kubeconfig, TLS keys, bearer tokens, registry passwords and AWS keys, base64-encoded "
        "or not, and values named as credentials reach resources only as secrets.",
        validate=_secrets_are_secret,
    ),
]
