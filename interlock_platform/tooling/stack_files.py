"""Reads the project's Pulumi.yaml and stack files as the Pulumi CLI does before it runs a
program, and refuses what it would refuse, in its own words.

The CLI's rules are those of pulumi/pulumi `sdk/go/common/workspace`: `Project.Validate` for the
project file's `config:` block, and `mergeConfig` (called by
`ValidateStackConfigAndApplyProjectConfig` before every preview and update) for each stack:
  - a key declared in the project's namespace with neither `default` nor `value`, that the stack
    does not set, is missing: "Stack 'dev' is missing configuration values 'a' and 'b'";
  - a `default` or `value` fills the stack's config where the stack does not set the key;
  - a declared `type` is enforced on the stack's value, scalars being read as strings, as the CLI
    reads them ("Stack 'dev' with configuration key 'x' must be of type 'array<string>'");
  - a key declared `secret: true` must be `secure:` in the stack ("... must be encrypted as it's secret").
YAML is read as the CLI's parser (yaml.v3) reads it: a duplicated key is an error, and only
true/false are booleans (`yes` stays a string).

On top of the CLI: the project's secrets (interlock_platform/core/config_models.py) are refused in plain text,
and keys under a namespace no provider of this project reads are warned about.

Offline, secrets the CLI would decrypt are stood in for by a placeholder.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import difflib
import functools
import json
import math
import os
import re
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from interlock_platform.core.config_keys import BY_NAME, ENVIRONMENT_KEYS, PROJECT, SHARED_KEYS
from interlock_platform.core.config_reader import MAX_STACK_CONFIG_BYTES, STACK_CONFIG_TOO_BIG_FIX
from interlock_platform.tooling import PLATFORM_ENV

# The platform checkout (its __main__.py, stacks/, policy/) the tooling previews and checks.


def is_platform_checkout(root: Path) -> bool:
    """A folder laid out as the platform's repository: the program, the stack files and the policy
    pack (its Pulumi.yaml is read, and refused in the CLI's words, later)."""
    return all((root / name).is_file() for name in ("__main__.py", "policy/PulumiPolicy.yaml")) and (root / "stacks").is_dir()


def platform_root() -> Path:
    """`--platform DIR` (INTERLOCK_PLATFORM_ROOT); else the checkout this package sits in (a clone,
    or `pip install -e` of one); else the current directory. Installed from a wheel, the package
    sits in site-packages and carries no stacks: then the platform is wherever the command runs,
    and `require_platform` refuses a folder that is not one."""
    if named := os.environ.get(PLATFORM_ENV):
        return Path(named).resolve()
    around = Path(__file__).resolve().parents[2]
    return around if is_platform_checkout(around) else Path.cwd().resolve()


ROOT = platform_root()


def require_platform(needed_for: str) -> None:
    """InvalidProjectFiles unless ROOT is the platform checkout, saying how to give one."""
    if not is_platform_checkout(ROOT):
        raise InvalidProjectFiles([FileProblem(
            str(ROOT), None,
            "is not an interlock-platform checkout (no __main__.py, stacks/ and policy/PulumiPolicy.yaml), "
            f"which {needed_for} reads",
            "run the command in a clone of the platform repository, or give it with --platform DIR; an app team previewing "
            "its own project gives --platform-outputs FILE (`pulumi stack output --json -s <org>/interlock-platform/<env>`) instead",
        )])  # fmt: skip
SECRET_PLACEHOLDER = "offline-preview-placeholder"
# The namespaces this project's program and providers read; a key under any other is ignored by all of them.
KNOWN_NAMESPACES = (PROJECT, "aws", "docker", "kubernetes", "pulumi")
CONFIG_TYPES = ("string", "integer", "boolean", "array", "object")


# --------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class FileProblem:
    path: str  # relative to the project
    line: int | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}. Fix: {self.fix}."


class InvalidProjectFiles(Exception):
    """Pulumi.yaml or a stack file that the CLI (or this project) refuses; nothing ran."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --------------------------------------------------------------------------------------------
# YAML as the CLI reads it


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser where PyYAML has it; duplicate keys refused with their lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`, which yaml.v3 accepts too
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key is itself a list or mapping", key_node.start_mark
                ) from None
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKey(key, line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


# yaml.v3 (YAML 1.2): only true/false are booleans and dates stay strings; PyYAML's YAML 1.1
# would read `tls: yes` as true where the CLI reads the string "yes".
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


# what PyYAML's constructors raise on a value that does not fit its tag (`!!int ""`: IndexError)
CONSTRUCTOR_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


def _tag_checked(constructor: Any) -> Any:
    """SafeLoader's constructor for a tag, with a value that does not fit the tag (`!!int ledger`,
    `!!set` on a scalar, `!!timestamp soon`) refused at its line, as yaml.v3 refuses it, rather than
    raising ValueError, TypeError or AttributeError from inside PyYAML."""

    def refused(node: yaml.Node, err: Exception) -> yaml.constructor.ConstructorError:
        what = repr(node.value)[:40] if isinstance(node, yaml.ScalarNode) else f"a {node.id}"
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        return yaml.constructor.ConstructorError(
            None, None, f"{what} is not a valid {tag} (remove the tag, or quote the value to make it text)", node.start_mark
        )

    def guarded(generator: Iterator[Any], node: yaml.Node) -> Iterator[Any]:
        try:  # mappings, lists and sets are filled in after they are handed out
            yield from generator
        except CONSTRUCTOR_ERRORS as err:
            raise refused(node, err) from None

    def construct(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> Any:
        try:
            result = constructor(loader, node)
        except CONSTRUCTOR_ERRORS as err:
            raise refused(node, err) from None
        return guarded(result, node) if isinstance(result, types.GeneratorType) else result

    return construct


_Loader.yaml_constructors = {tag: _tag_checked(c) for tag, c in yaml.SafeLoader.yaml_constructors.items()}


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def load_yaml_text(data: bytes, path: str, what: str) -> Any:
    """Parse one YAML file, or raise InvalidProjectFiles naming the line and the fix."""
    if len(data) > MAX_STACK_CONFIG_BYTES:
        raise InvalidProjectFiles([
            FileProblem(path, None, f"is {len(data):,} bytes, over the limit of {MAX_STACK_CONFIG_BYTES:,} bytes", _too_big_fix(what))
        ])  # fmt: skip
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidProjectFiles([
            FileProblem(
                path, _line_of_offset(data, err.start), f"is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})",
                f"save the {what} as UTF-8",
            )
        ]) from None  # fmt: skip
    try:
        deep = _too_deep(text)
        if deep is not None:
            raise InvalidProjectFiles([
                FileProblem(
                    path, deep.line + 1, f"nests lists and mappings more than {MAX_NESTING} deep (column {deep.column + 1})",
                    f"flatten the {what}: no setting nests more than a few levels",
                )
            ])  # fmt: skip
        doc = yaml.load(text, Loader=_Loader)  # a safe loader: SafeLoader's constructors only
        too_far = _expands_too_far(doc)
        if too_far is not None:
            where, by_bytes = too_far
            raise InvalidProjectFiles([
                FileProblem(
                    path, _first_alias_line(text), f"{where}: expands to more than {MAX_STACK_CONFIG_BYTES:,} bytes (YAML aliases of a long value?)",
                    _too_big_fix(what),
                ) if by_bytes else FileProblem(
                    path, _first_alias_line(text), f"{where}: expands to more than {MAX_VALUE_ELEMENTS:,} elements (YAML aliases repeating aliases?)",
                    f"write the {what} out plainly, without aliases of aliases",
                )
            ])  # fmt: skip
        return doc
    except DuplicateKey as err:
        raise InvalidProjectFiles([
            FileProblem(path, err.line, f"key '{err.key}' is already defined at line {err.first}", "keep one of the two; YAML mappings cannot repeat a key")
        ]) from None  # fmt: skip
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        column = f", column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "not valid YAML"
        raise InvalidProjectFiles([
            FileProblem(path, line, f"is not valid YAML{column}: {problem}", "correct the YAML at that line (indentation, quotes, a missing ':')")
        ]) from None  # fmt: skip
    except yaml.YAMLError as err:
        raise InvalidProjectFiles([FileProblem(path, None, f"is not valid YAML: {err}", f"correct the {what}")]) from None


# Far deeper than any real file (Pulumi.yaml nests 5 levels). libyaml's composer recurses in C:
# a file of 200,000 `[` ended the process with a segmentation fault, and 10,000 raised a
# RecursionError in the constructor. The events are read without recursion, and only to this depth.
MAX_NESTING = 64
MAX_VALUE_ELEMENTS = 100_000  # far above any real file (~300); a YAML alias bomb expands past it at once


def _too_deep(text: str) -> yaml.Mark | None:
    """Where the nesting first passes MAX_NESTING, or None."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                return event.start_mark
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    return None


def _expands_too_far(doc: Any) -> tuple[str, bool] | None:
    """The key (two levels deep, e.g. `config.x`) under which the document passes
    MAX_VALUE_ELEMENTS elements, or MAX_STACK_CONFIG_BYTES bytes (True), once its aliases are
    expanded, or None. Anything that copies or serializes such a value (the CLI's JSON, a default
    copied into every stack) expands it: nine lines of aliases are 387 million elements, and one
    long string aliased a few thousand times is gigabytes. Walked without recursion, only that far."""
    stack: list[tuple[Any, str, int]] = [(doc, "(the file)", 0)]
    seen = size = 0
    while stack:
        item, where, depth = stack.pop()
        seen += 1
        size += _scalar_bytes(item)
        if seen > MAX_VALUE_ELEMENTS:
            return where, False
        if size > MAX_STACK_CONFIG_BYTES:
            return where, True
        if isinstance(item, dict):
            for k, v in item.items():
                size += _scalar_bytes(k)
                stack.append((v, str(k) if depth == 0 else f"{where}.{k}" if depth == 1 else where, depth + 1))
        elif isinstance(item, list):
            stack.extend((v, where, depth + 1) for v in item)
    return None


def _too_big_fix(what: str) -> str:
    return STACK_CONFIG_TOO_BIG_FIX.replace("the stack file", f"the {what}")


def _scalar_bytes(item: Any) -> int:
    """About what a value adds to its JSON text: a string's UTF-8 bytes, a number's digits, and
    a separator. Lists and mappings count by their elements."""
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass")) + 3
    if isinstance(item, bytes):
        return len(item) + 3
    if isinstance(item, (dict, list)):
        return 2
    if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 4000:
        return item.bit_length() // 3  # about its digits, without writing them out
    return len(str(item)) + 1


def _first_alias_line(text: str) -> int | None:
    match = re.search(r"(?:^|[\s\[{,:])\*[^\s,\]}]", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _read_bytes(path: Path, root: Path, what: str) -> bytes:
    relative = _relative(path, root)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidProjectFiles([FileProblem(relative, None, "does not exist", f"create the {what}")]) from None
    except OSError as err:
        raise InvalidProjectFiles(
            [FileProblem(relative, None, f"cannot be read ({err.strerror})", f"make the {what} readable")]
        ) from None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Pulumi.yaml: the CLI's Project.Validate for the config block


@functools.lru_cache(maxsize=16)
def _parsed_project(data: bytes, relative: str) -> Any:
    return load_yaml_text(data, relative, "project file")


def project_file(root: Path = ROOT) -> dict[str, Any]:
    """Pulumi.yaml, checked as the CLI checks it, with shorthand config rewritten as it does."""
    path = root / "Pulumi.yaml"
    relative = _relative(path, root)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidProjectFiles([
            FileProblem(relative, None, "does not exist: this is not a Pulumi project directory", "run from the project directory, which holds Pulumi.yaml")
        ]) from None  # fmt: skip
    doc = copy.deepcopy(_parsed_project(data, relative))  # read each call (tests edit copies); parsed once per content
    problems: list[FileProblem] = []
    if not isinstance(doc, dict):
        raise InvalidProjectFiles([
            FileProblem(relative, None, f"holds {_kind(doc)}, not a project", "write a mapping with at least name: and runtime:")
        ])  # fmt: skip
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        problems.append(FileProblem(relative, None, "project is missing a 'name' attribute", "add name: interlock-platform"))
    if not doc.get("runtime"):
        problems.append(FileProblem(relative, None, "project is missing a 'runtime' attribute", "add runtime: python"))
    config = doc.get("config")
    config_dir = doc.get("stackConfigDir", ".")
    if not isinstance(config_dir, str) or not config_dir:
        problems.append(
            FileProblem(
                relative, None, f"#/stackConfigDir: expected string, but got {_kind(config_dir)}", "write stackConfigDir: stacks"
            )
        )
    if isinstance(config, str):  # the CLI's old spelling of stackConfigDir
        if doc.get("stackConfigDir"):
            problems.append(FileProblem(
                relative, None, "Should not use both config and stackConfigDir to define the stack directory", "use only stackConfigDir"
            ))  # fmt: skip
        doc["stackConfigDir"], doc["config"] = config, {}
    elif config is not None and not isinstance(config, dict):
        problems.append(
            FileProblem(relative, None, f"#/config: expected object, but got {_kind(config)}", "make config: a mapping of keys")
        )
    else:
        doc["config"] = _checked_declarations(relative, str(doc.get("name") or ""), config or {}, problems)
    if problems:
        raise InvalidProjectFiles(problems)
    return doc


def _checked_declarations(relative: str, project: str, config: dict[str, Any], problems: list[FileProblem]) -> dict[str, Any]:
    out = {}
    for key, decl in config.items():
        if not isinstance(key, str):
            problems.append(
                FileProblem(
                    relative, None, f"#/config: the key {key!r} is not a string", "name config keys with letters, e.g. vpcCidr"
                )
            )
            continue
        own = ":" not in key or key.split(":", 1)[0] == project
        problem = _unencodable(decl)
        if problem:  # a default is handed to the program as JSON, as a stack's value is
            problems.append(FileProblem(relative, None, f"#/config/{key}: {problem}", UNENCODABLE_FIX))
            continue
        if isinstance(decl, dict):
            unknown = set(decl) - {"type", "items", "description", "secret", "default", "value"}
            if unknown:
                problems.append(FileProblem(
                    relative, None, f"#/config/{key}: additionalProperties '{sorted(unknown)[0]}' not allowed",
                    "declare only type, items, description, secret, default or value",
                ))  # fmt: skip
                continue
        elif isinstance(decl, (str, int, float, bool, list)) and not isinstance(decl, float):
            decl = {"default": decl} if own else {"value": decl}  # the CLI's shorthand
        else:
            problems.append(
                FileProblem(
                    relative, None, f"#/config/{key}: oneOf failed", "declare the key as a mapping: {type, description, default}"
                )
            )
            continue
        type_ = decl.get("type")
        if type_ is not None and type_ not in CONFIG_TYPES:
            problems.append(FileProblem(
                relative, None, f"#/config/{key}/type: value must be one of {', '.join(repr(t) for t in CONFIG_TYPES)}", "use one of those types"
            ))  # fmt: skip
            continue
        if "default" in decl and "value" in decl:
            problems.append(
                FileProblem(
                    relative, None, f"project config '{key}' cannot have both a 'default' and 'value' attribute", "keep one"
                )
            )
        if own:
            if type_ == "array" and not decl.get("items"):
                problems.append(FileProblem(
                    relative, None,
                    f"The configuration key '{key}' declares an array but does not specify the underlying type via the 'items' attribute",
                    "add items: {type: ...}",
                ))  # fmt: skip
            elif (
                type_ is not None
                and decl.get("default") is not None
                and not _valid(type_, decl.get("items"), _as_cli_value(decl["default"]))
            ):
                problems.append(FileProblem(
                    relative, None, f"The default value specified for configuration key '{key}' is not of the expected type '{_type_name(type_, decl.get('items'))}'",
                    "make the default match the type",
                ))  # fmt: skip
        else:
            if type_ is not None:
                problems.append(
                    FileProblem(
                        relative,
                        None,
                        f"Configuration key '{key}' is not namespaced by the project and should not define a type",
                        "remove its type",
                    )
                )
            if "default" in decl:
                problems.append(FileProblem(
                    relative, None,
                    f"Configuration key '{key}' is not namespaced by the project and should not define a default value. Did you mean to use the 'value' attribute instead of 'default'?",
                    "write value: instead of default:",
                ))  # fmt: skip
            elif "value" not in decl:
                problems.append(
                    FileProblem(
                        relative,
                        None,
                        f"Configuration key '{key}' is namespaced and must provide an attribute 'value'",
                        "add value:",
                    )
                )
        out[key] = decl
    return out


# --------------------------------------------------------------------------------------------
# The CLI's type rules (project.go ValidateConfigValue): scalars arrive as strings, lists and
# mappings as decoded JSON (numbers become floats)


def _as_cli_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return _json_like(value)


def _json_like(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [_json_like(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_like(v) for k, v in value.items()}
    return str(value)


def _valid(type_: str, items: Any, value: Any) -> bool:
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "integer":
        if isinstance(value, float):
            return value == int(value)
        return isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value) is not None and abs(int(value)) < 2**63
    if type_ == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_ == "object":
        return isinstance(value, dict)
    if type_ == "array":
        if not isinstance(value, list) or not isinstance(items, dict) or "type" not in items:
            return False
        return all(_valid(items["type"], items.get("items"), v) for v in value)
    return False


def _type_name(type_: str, items: Any) -> str:
    if type_ == "array" and isinstance(items, dict):
        return f"array<{_type_name(items.get('type', ''), items.get('items'))}>"
    return type_


def _format_missing(keys: list[str]) -> str:
    quoted = [f"'{k}'" for k in sorted(keys)]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "nothing" if value is None else type(value).__name__
    )


# --------------------------------------------------------------------------------------------
# Stack files


def stack_names(root: Path = ROOT) -> list[str]:
    cfg_dir = root / project_file(root).get("stackConfigDir", ".")
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in cfg_dir.glob("Pulumi.*.yaml"))


def stack_file(stack: str, root: Path = ROOT, project: dict[str, Any] | None = None) -> Path:
    """`project`: Pulumi.yaml as `project_file` returned it, when the caller has it already."""
    return root / (project or project_file(root)).get("stackConfigDir", ".") / f"Pulumi.{stack}.yaml"


@dataclass(frozen=True)
class StackConfig:
    """A stack's config after the CLI's merge: fully qualified keys (`project:key`, `aws:region`)
    to values (secure values as `{"secure": ...}`), and the warnings that do not stop a run."""

    values: dict[str, Any]
    project: str  # the project's name, the namespace of its own keys
    warnings: tuple[str, ...] = ()


def merged_config(stack: str, root: Path = ROOT, secrets_set: bool = False) -> StackConfig:
    """The stack's config as the program would get it from the CLI, or InvalidProjectFiles.
    `secrets_set`: the project's declared secrets that the stack file lacks count as set with
    `pulumi config set --secret` (offline, where no secret is decrypted anyway)."""
    project = project_file(root)
    name = project["name"]
    path = stack_file(stack, root, project)
    relative = _relative(path, root)
    if not path.exists():
        raise InvalidProjectFiles([
            FileProblem(relative, None, "does not exist", f"create it (`pulumi stack init {stack}`), or use one of: {', '.join(stack_names(root))}")
        ])  # fmt: skip
    data = _read_bytes(path, root, "stack file")  # read once: parsed, and searched for lines and literal scalars
    doc = load_yaml_text(data, relative, "stack file")
    lines = _key_lines(data)
    literal = _literal_scalars(data.decode("utf-8"))
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InvalidProjectFiles([
            FileProblem(relative, 1, f"holds {_kind(doc)}, not a stack's settings", "write a mapping whose config: key maps each setting to its value")
        ])  # fmt: skip
    raw_config = doc.get("config")
    if raw_config is not None and not isinstance(raw_config, dict):
        raise InvalidProjectFiles([
            FileProblem(relative, lines.get("config"), f"config: holds {_kind(raw_config)}", "make config: a mapping of setting -> value")
        ])  # fmt: skip
    problems: list[FileProblem] = []
    warnings: list[str] = []
    for key, value in (raw_config or {}).items():
        problem = _unencodable(value)
        if problem:
            problems.append(FileProblem(relative, lines.get(str(key)), f"{key}: {problem}", UNENCODABLE_FIX))
    if problems:
        raise InvalidProjectFiles(problems)
    config: dict[str, Any] = {}
    for key, value in (raw_config or {}).items():
        key = str(key)
        qualified = key if ":" in key else f"{name}:{key}"  # the CLI namespaces bare keys with the project
        config[qualified] = literal.get(key, value)
        namespace = qualified.split(":", 1)[0]
        if namespace not in (*KNOWN_NAMESPACES, name):
            near = difflib.get_close_matches(namespace, (*KNOWN_NAMESPACES, name), n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"this project reads {', '.join(KNOWN_NAMESPACES)}"
            warnings.append(
                f"{relative}:{lines.get(key, '?')}: warning: {key}: nothing in this project reads the namespace '{namespace}' ({hint})"
            )

    declared = project["config"]
    missing = []
    for key in sorted(declared):
        decl = declared[key]
        qualified = key if ":" in key else f"{name}:{key}"
        if qualified in config:
            continue
        if "value" in decl or "default" in decl:
            config[qualified] = copy.deepcopy(decl["default"] if "default" in decl else decl["value"])
        elif secrets_set and decl.get("secret"):
            config[qualified] = {"secure": SECRET_PLACEHOLDER}
        elif qualified.split(":", 1)[0] == name:
            missing.append(key)
    if missing:
        secret = [k for k in missing if declared[k].get("secret")]
        how = f"`pulumi config set -s {stack} {name}:<key> <value>`" + (
            f"; the secrets with `pulumi config set --secret -s {stack} {name}:<key> < <file>`" if secret else ""
        )
        problems.append(
            FileProblem(
                relative,
                None,
                f"Stack '{stack}' is missing configuration value{'s' if len(missing) > 1 else ''} {_format_missing(missing)}",
                f"set {'them' if len(missing) > 1 else 'it'} in {relative} ({how})",
            )
        )
    for key in sorted(declared):
        decl = declared[key]
        qualified = key if ":" in key else f"{name}:{key}"
        if qualified not in config or decl.get("type") is None:
            continue  # the CLI checks only declared types
        value = config[qualified]
        line = lines.get(key) or lines.get(qualified)
        if decl.get("secret") and not _is_secure(value):
            problems.append(FileProblem(
                relative, line, f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret",
                f"remove it from the file and run `pulumi config set --secret -s {stack} {qualified} <value>`",
            ))  # fmt: skip
            continue
        if _is_secure(value):
            continue  # the CLI checks the decrypted value; offline it stays encrypted
        if not _valid(decl["type"], decl.get("items"), _as_cli_value(value)):
            problems.append(FileProblem(
                relative, line, f"Stack '{stack}' with configuration key '{key}' must be of type '{_type_name(decl['type'], decl.get('items'))}'",
                f"give {_type_name(decl['type'], decl.get('items'))} (now {_kind(value)}: {_short(value)})",
            ))  # fmt: skip
    for key, value in (raw_config or {}).items():  # ours: a secret never sits in the stack file in plain text
        qualified = str(key) if ":" in str(key) else f"{name}:{key}"
        namespace, _, bare = qualified.partition(":")
        if namespace == name == PROJECT and bare in BY_NAME and BY_NAME[bare].secret and value not in ("", None) and not _is_secure(value):
            problems.append(FileProblem(
                relative, lines.get(str(key)), f"{qualified} is a secret, but it is written here in plain text",
                f"remove it from the file and run `pulumi config set --secret -s {stack} {qualified} < <file>`; treat the value as leaked and rotate it",
            ))  # fmt: skip
    if problems:
        raise InvalidProjectFiles(problems)
    return StackConfig(config, name, tuple(warnings))


UNENCODABLE_FIX = (
    "write the value out plainly: no YAML tags such as !!binary, !!set or !!timestamp, finite numbers "
    "(quote a long digit string to make it text), no aliases of aliases"
)
# What a safe YAML loader builds from an explicit tag, and JSON has no type for
NOT_JSON = ((bytes, "!!binary"), (set, "!!set"), (datetime.date, "!!timestamp"))


def _unencodable(value: Any) -> str | None:
    """What the CLI could not hand the program as JSON: inf and nan (Go's json.Marshal refuses
    them), and aliases that expand a few lines into millions of elements (bounded here)."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_VALUE_ELEMENTS:
            return f"expands to more than {MAX_VALUE_ELEMENTS:,} elements (YAML aliases repeating aliases?)"
        if isinstance(item, float) and not math.isfinite(item):
            return f"holds {item}, which JSON cannot carry"
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > sys.float_info.max:
            # the CLI decodes numbers in lists and mappings as 64-bit floats, which this overflows
            return f"holds a {len(str(abs(item)))}-digit number, beyond what JSON numbers carry (about 1.8e308)"
        for type_, tag in NOT_JSON:
            if isinstance(item, type_):
                return f"holds a {tag} value ({_short(item)}), which JSON, and so the program, has no type for"
        if isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# yaml.v3's resolution of a plain scalar (go-yaml/yaml v3 resolve.go, commit
# f6f7691b1fdeb513f56608cd2c32c51f8194bf51: `resolveMapList` and `resolve`), which the CLI's stack
# file reader (pulumi/pulumi sdk/go/common/encoding/marshal.go) uses
YAML_V3_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
YAML_V3_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")


def _go_parse_int(plain: str) -> int | None:
    """Go's strconv.ParseInt(plain, 0, 64), falling back to ParseUint: 0x, 0o, 0b and a leading
    0 (octal) prefixes; None outside int64 / uint64."""
    match = _GO_INT.fullmatch(plain)
    if match is None:
        return None
    sign, body = match.groups()
    if body[:2].lower() in ("0x", "0o", "0b"):
        value = int(body, 0)
    elif len(body) > 1 and body[0] == "0":
        value = int(body, 8)
    else:
        value = int(body)
    value = -value if sign == "-" else value
    return value if -(2**63) <= value < 2**64 else None


def _go_json_float(value: float) -> str:
    """Go's encoding/json text of a finite float64: no exponent from 1e-6 to 1e21, the shortest
    digits, `e-7` rather than `e-07`."""
    if value == 0:
        return "0"
    if 1e-6 <= abs(value) < 1e21:
        text = format(decimal.Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return re.sub(r"e([+-])0(\d)$", r"e\1\2", repr(value))


def _cli_scalar_text(node: yaml.ScalarNode) -> str:
    """The text the CLI keeps for a stack's top-level scalar (`config.Value`): yaml.v3 decodes it
    (a plain `True` is the boolean true, `0x16D` the integer 365, `1e3` the float 1000) and the
    CLI writes a boolean or number back as JSON (sdk/go/common/resource/config/object.go,
    `MarshalString`): "true", "365", "1000". Quoted, tagged and block scalars stay the text."""
    text = node.value
    if node.style or node.tag not in _PLAIN_TAGS:
        return text
    if text in ("", "~", "null", "Null", "NULL"):
        return ""
    first = text[0]
    if text in YAML_V3_BOOLS:
        return "true" if YAML_V3_BOOLS[text] else "false"
    if first == ".":
        if re.fullmatch(r"\.[0-9]+([eE][-+]?[0-9]+)?", text):
            return _go_json_float(float(text))
        return text
    if first.isdigit() or first in "+-":
        plain = text.replace("_", "")
        if re.fullmatch(r"\d{4}-\d\d?-\d\d?([Tt ].*)?", text):
            return text  # a timestamp: left as written
        integer = _go_parse_int(plain)
        if integer is not None:
            return str(integer)
        if YAML_V3_FLOAT.match(plain) and math.isfinite(float(plain)):
            return _go_json_float(float(plain))
    return text


# the tags PyYAML's implicit resolution gives a plain scalar under _Loader's rules
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "bool", "int", "float", "null", "timestamp")}


def _literal_scalars(text: str) -> dict[str, str]:
    """The text the CLI keeps for each of a stack's top-level scalars (`_cli_scalar_text`).
    Lists and mappings it reads as values (JSON), as PyYAML does."""
    node = yaml.compose(text, Loader=_Loader)
    top = node.value if isinstance(node, yaml.MappingNode) else []
    config = next((v for k, v in top if k.value == "config"), None)
    out = {}
    for key, value in getattr(config, "value", []) if isinstance(config, yaml.MappingNode) else []:
        if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
            out[key.value] = "" if value.tag == "tag:yaml.org,2002:null" else _cli_scalar_text(value)
    return out


def _key_lines(data: bytes) -> dict[str, int]:
    """Where each setting under `config:` starts, for messages (the first occurrence)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        match = re.match(r"^\s{1,8}([\"']?)([A-Za-z0-9_.:/-]+)\1\s*:", line)
        if match and match.group(2) not in lines:
            lines[match.group(2)] = number
            lines.setdefault(match.group(2).split(":", 1)[-1], number)
        elif line.startswith("config:"):
            lines.setdefault("config", number)
    return lines


def engine_config_value(value: Any) -> str:
    """A config value as the language host hands it to the program (PULUMI_CONFIG): a string,
    JSON for the rest."""
    return value if isinstance(value, str) else json.dumps(value)


def program_config(config: Mapping[str, Any]) -> dict[str, str]:
    """This project's keys of a stack's config, unprefixed, as the program reads them
    (interlock_platform.stack_config.read): strings as the engine hands them over; a key with a
    further ':' is none of the program's."""
    prefix = f"{PROJECT}:"
    return {
        key[len(prefix) :]: engine_config_value(value)
        for key, value in config.items()
        if key.startswith(prefix) and ":" not in key[len(prefix) :]
    }


def offline_config(stack: str, root: Path = ROOT) -> tuple[dict[str, Any], list[str], list[str]]:
    """The stack's config for an offline run: (config, its secret keys, the keys stood in for).
    Every secret of the stack's role is present, as the placeholder when it is encrypted
    (`secure:`) or not in the stack file."""
    config, _secret, stood_in, _warnings = offline_stack(stack, root)
    return config, _secret, stood_in


def fleet_configs(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """Every stack file's offline config that reads (one that does not is its own preview's to
    refuse), for the checks across stack files. Read again only when a file changed: the fuzz's
    long-lived workers preview edited files."""
    stamps = []
    for stack in stack_names(root):
        try:
            stat = stack_file(stack, root).stat()
        except OSError:
            continue
        stamps.append((stack, stat.st_mtime_ns, stat.st_size))
    return _fleet_configs(root, tuple(stamps))


@functools.cache
def _fleet_configs(root: Path, stamps: tuple[tuple[str, int, int], ...]) -> dict[str, dict[str, Any]]:
    found = {}
    for stack, _mtime, _size in stamps:
        try:
            found[stack] = offline_config(stack, root)[0]
        except Exception:  # any refusal: that stack's own preview reports it
            continue
    return found


def offline_project_stack(stack: str, root: Path) -> tuple[dict[str, Any], list[str], list[str], tuple[str, ...]]:
    """`offline_stack` for another Pulumi project (the app-team example): its own declared
    secrets stood in for by the placeholder."""
    merged = merged_config(stack, root, secrets_set=True)
    declared = project_file(root)["config"]
    secret = [k if ":" in k else f"{merged.project}:{k}" for k, decl in declared.items() if decl.get("secret")]
    config, stood_in = dict(merged.values), []
    for key in secret:
        if _is_secure(config.get(key)):
            config[key] = SECRET_PLACEHOLDER
            stood_in.append(key)
    return config, secret, stood_in, merged.warnings


def offline_stack(stack: str, root: Path = ROOT) -> tuple[dict[str, Any], list[str], list[str], tuple[str, ...]]:
    """`offline_config` and the stack file's warnings."""
    merged = merged_config(stack, root)
    config, name = dict(merged.values), merged.project
    role_keys = SHARED_KEYS if config.get(f"{name}:role") == "shared" else ENVIRONMENT_KEYS
    secret = [f"{name}:{k}" for k in role_keys if BY_NAME[k].secret]
    stood_in = []
    for key in secret:
        value = config.get(key)
        if value is None or _is_secure(value) or BY_NAME[key.split(":", 1)[1]].holds_default(value):
            config[key] = SECRET_PLACEHOLDER
            stood_in.append(key)
    return config, secret, stood_in, merged.warnings
