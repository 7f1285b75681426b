"""Gateway API's own rules, applied offline: an object is checked against the published CRD of its
kind (Gateway API's, and Envoy Gateway's EnvoyProxy) (vendored by tools/vendor_gateway_api.py) the way the API server checks a custom resource on
create: its defaults applied, then its structural OpenAPI schema (types, unknown fields, required,
enum, pattern, lengths, item counts, bounds, formats, list-type uniqueness, oneOf/anyOf/not), and
every `x-kubernetes-validations` CEL rule on the path evaluated by Google's CEL engine
(cel-expr-python).

The CEL environment is Kubernetes' own, as far as these CRDs use it: the standard library, the
strings extension (`split`, `substring`: Kubernetes enables ext.Strings), and Kubernetes' IP
library's `isIP(string)`, which cel-expr-python does not have and which is defined here as
k8s.io/apiserver/pkg/cel/library/ip.go defines it. A rule naming any other function fails to
compile and fails the check: nothing is skipped unseen. Transition rules (those naming `oldSelf`)
run only on update in Kubernetes; this checks creates, so it reports them as not run
(`Result.transition_rules`).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from cel_expr_python import cel

RELEASE = "v1.6.1"  # Gateway API's
ENVOY_GATEWAY_RELEASE = "v1.9.0"  # Envoy Gateway's EnvoyProxy, the parameters of a Gateway of its class
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gateway-api"
CRD_DIR = FIXTURES / RELEASE
CRD_DIRS = (CRD_DIR, FIXTURES / f"envoy-gateway-{ENVOY_GATEWAY_RELEASE}")

# Property names a CEL rule reaches escaped (Kubernetes "Escaping" rules for CRD validation rules).
CEL_RESERVED = {
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import",
    "let", "loop", "package", "namespace", "return", "var", "void", "while",
}  # fmt: skip
# metadata.name of a custom resource: a DNS-1123 subdomain (apimachinery's NameIsDNSSubdomain)
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_ip(text: str) -> bool:
    """Kubernetes' `isIP`: an IPv4 or IPv6 address (Go's netip.ParseAddr: no leading zeros), with
    no zone and not IPv4-mapped IPv6."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (isinstance(address, ipaddress.IPv6Address) and (address.scope_id or address.ipv4_mapped))


@cache
def _env() -> cel.Env:
    config = cel.NewEnvConfigFromYaml("name: kubernetes\nextensions:\n  - name: strings\n    version: latest\n")
    is_ip_decl = cel.FunctionDecl("isIP", [cel.Overload("is_ip_string", cel.Type.BOOL, [cel.Type.STRING], impl=is_ip)])
    return cel.NewEnv(config=config, variables={"self": cel.Type.DYN, "oldSelf": cel.Type.DYN}, functions=[is_ip_decl])


@cache
def _compiled(expression: str) -> Any:
    return _env().compile(expression)


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    versions: dict[str, dict[str, Any]]  # served version -> openAPIV3Schema


@cache
def crds() -> dict[tuple[str, str], Crd]:
    """(group, kind) -> the vendored CRD."""
    out = {}
    for path in sorted(p for d in CRD_DIRS for p in d.glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            versions = {v["name"]: v["schema"]["openAPIV3Schema"] for v in spec["versions"] if v.get("served")}
            out[(spec["group"], spec["names"]["kind"])] = Crd(spec["group"], spec["names"]["kind"], versions)
    return out


@dataclass
class Result:
    errors: list[str] = field(default_factory=list)
    rules_run: int = 0
    transition_rules: list[str] = field(default_factory=list)  # not run on create, as in Kubernetes

    @property
    def ok(self) -> bool:
        return not self.errors


def schema_for(obj: dict[str, Any]) -> dict[str, Any]:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    crd = crds().get((group, obj.get("kind", "")))
    if crd is None or version not in crd.versions:
        raise KeyError(f"no vendored CRD serves {obj.get('apiVersion')} {obj.get('kind')}")
    return crd.versions[version]


def validate(obj: dict[str, Any]) -> Result:
    """What the API server says to `obj` on create; `Result.errors` empty when it is admitted."""
    schema = schema_for(obj)
    obj = copy.deepcopy(obj)
    _default(obj, schema)
    result = Result()
    name = (obj.get("metadata") or {}).get("name")
    if not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
        result.errors.append(f"metadata.name: {name!r} is not a DNS-1123 subdomain")
    _check(obj, schema, "", result, root=True)
    return result


def _default(value: Any, schema: dict[str, Any]) -> None:
    """Structural defaulting, as the API server does before validation: absent properties that
    have a default get it, at every level."""
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in set(value) - set(schema.get("properties") or {}):
                _default(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(item, schema["items"])


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    kind = schema.get("type")
    return {
        None: True,
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]


FORMATS = {
    "int32": lambda v: isinstance(v, int) and -(2**31) <= v < 2**31,
    "int64": lambda v: isinstance(v, int) and -(2**63) <= v < 2**63,
    "ipv4": lambda v: isinstance(v, str) and _is(ipaddress.IPv4Address, v),
    "ipv6": lambda v: isinstance(v, str) and _is(ipaddress.IPv6Address, v),
}


def _is(kind: type, text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _value_errors(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """The value validations of one node (not its children, not CEL)."""
    at = path or "<root>"
    if not _type_ok(value, schema):
        return [f"{at}: {type(value).__name__} where the schema wants {schema.get('type')}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{at}: {value!r} does not match {schema['pattern']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{at}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{at}: shorter than {schema['minLength']}")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{at}: more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{at}: fewer than {schema['minItems']} items")
        errors += _list_type_errors(value, schema, at)
    if isinstance(value, dict):
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errors.append(f"{at}: more than {schema['maxProperties']} properties")
        errors += [f"{at}.{key}: required" for key in schema.get("required", []) if key not in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{at}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{at}: {value} is above {schema['maximum']}")
    check = FORMATS.get(schema.get("format", ""))
    if check is not None and not check(value):
        errors.append(f"{at}: {value!r} is not a valid {schema['format']}")
    if "oneOf" in schema and sum(not _value_errors(value, s, path) for s in schema["oneOf"]) != 1:
        errors.append(f"{at}: must match exactly one of its oneOf schemas")
    if "anyOf" in schema and not any(not _value_errors(value, s, path) for s in schema["anyOf"]):
        errors.append(f"{at}: matches none of its anyOf schemas")
    if "not" in schema and not _value_errors(value, schema["not"], path):
        errors.append(f"{at}: matches the schema it must not")
    if isinstance(value, dict):  # oneOf/anyOf/not branches may name properties and requirements only
        for key, sub in (schema.get("properties") or {}).items():
            if key in value and not _type_ok(value[key], sub):
                errors.append(f"{at}.{key}: {type(value[key]).__name__} where the schema wants {sub.get('type')}")
    return errors


def _list_type_errors(items: list[Any], schema: dict[str, Any], at: str) -> list[str]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        seen = [repr(i) for i in items]
        return [f"{at}: duplicate item {d}" for d in sorted({s for s in seen if seen.count(s) > 1})]
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        item_schema = schema.get("items", {}).get("properties", {})
        seen = [tuple(i.get(k, item_schema.get(k, {}).get("default")) for k in keys) for i in items if isinstance(i, dict)]
        return [
            f"{at}: duplicate entries for key {dict(zip(keys, d, strict=True))}"
            for d in sorted({s for s in seen if seen.count(s) > 1}, key=repr)
        ]
    return []


def _check(value: Any, schema: dict[str, Any], path: str, result: Result, root: bool = False) -> None:
    errors = _value_errors(value, schema, path)
    result.errors += errors
    if errors and not _type_ok(value, schema):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key)
            if sub is None and isinstance(extra, dict):
                sub = extra
            if sub is None:
                if root and key in ("apiVersion", "kind", "metadata"):
                    continue
                if not schema.get("x-kubernetes-preserve-unknown-fields"):
                    result.errors.append(f"{path}.{key}: unknown field" if path else f"{key}: unknown field")
                continue
            if root and key == "metadata":
                continue  # the API server checks ObjectMeta itself (the name: above)
            _check(item, sub, f"{path}.{key}" if path else key, result)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{index}]", result)
    _rules(value, schema, path, result)


def _escape(name: str) -> str:
    if name in CEL_RESERVED:
        return f"__{name}__"
    return name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__").replace("/", "__slash__")


def cel_value(value: Any, schema: dict[str, Any]) -> Any:
    """`value` as a rule sees it as `self`: object properties escaped as Kubernetes escapes them;
    map keys (additionalProperties) as they are."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
        return {(_escape(k) if k in props else k): cel_value(v, props.get(k, extra)) for k, v in value.items()}
    if isinstance(value, list):
        return [cel_value(v, schema.get("items") or {}) for v in value]
    return value


def _rules(value: Any, schema: dict[str, Any], path: str, result: Result) -> None:
    for rule in schema.get("x-kubernetes-validations", []):
        expression = rule["rule"]
        if re.search(r"\boldSelf\b", expression):
            result.transition_rules.append(f"{path or '<root>'}: {expression}")
            continue
        at = path or "<root>"
        if rule.get("fieldPath"):
            at += rule["fieldPath"]
        result.rules_run += 1
        try:
            answer = _compiled(expression).eval(data={"self": cel_value(value, schema)})
        except RuntimeError as error:  # the API server reports an error evaluating a rule as invalid
            result.errors.append(f"{at}: rule {expression!r} did not evaluate: {error}")
            continue
        if answer.type() == cel.Type.ERROR:  # e.g. a field the rule reads without has(): the API server refuses
            result.errors.append(f"{at}: rule {expression!r} did not evaluate: {answer.value()}")
        elif answer.type() != cel.Type.BOOL:
            result.errors.append(f"{at}: rule {expression!r} answered {answer.value()!r}, not a bool")
        elif not answer.value():
            message = rule.get("message")
            if rule.get("messageExpression"):
                message = _compiled(rule["messageExpression"]).eval(data={"self": cel_value(value, schema)}).value()
            result.errors.append(f"{at}: {message or f'failed rule: {expression}'}")
