"""The Interlock config transform: pure, over tomlkit, so every byte it does not own survives.

`merge(current, spec)` creates or updates `[Extensions.<name>]`, cloning a template extension
(its images, its `Config` table and its `com.docker.ucp.InstanceID` labels). `remove(current,
name)` takes a section out again. `template_section(current, name)` captures a template before
the shared stack retires `[Extensions.default]`, so later environments can still clone it.
Applying the same spec twice gives identical bytes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Table, Whitespace

from interlock_platform.core import labels

OWNED_CONSTRAINT_PREFIX = f"node.labels.{labels.SERVICE_CLUSTER_NODE}"
# Interlock's extension and proxies run on Linux only (Docker's Interlock docs; MKE's default config
# carries it): in a cluster with Windows workers a template without it, or one that asks for
# another OS, would schedule them where they cannot run.
LINUX_ONLY = "node.platform.os==linux"
PLATFORM_OS = re.compile(r"^\s*node\.platform\.os\s*(==|!=)")
# swarmkit's MaxConfigSize (1000 KiB): the API refuses a config of this many bytes or more
# (`len(data) >= MaxConfigSize`), after the rotation has begun. The largest it takes is one byte less.
SWARM_CONFIG_LIMIT = 1_024_000
SWARM_CONFIG_MAX_BYTES = SWARM_CONFIG_LIMIT - 1


class InterlockConfigError(ValueError):
    """The transform cannot be applied; the message says why and what to do."""


@dataclass(frozen=True)
class ServiceClusterSpec:
    name: str  # the extension's key: [Extensions.<name>]; also the ServiceCluster name
    http_port: int
    https_port: int
    proxy_replicas: int
    network: str
    template: str = "default"

    @property
    def service_name(self) -> str:
        return labels.extension_service(self.name)

    @property
    def proxy_service_name(self) -> str:
        return labels.proxy_service(self.name)

    @property
    def constraint(self) -> str:
        return labels.node_constraint(self.name)


def decode(data: bytes, source: str) -> str:
    """An Interlock config's bytes as text. Interlock reads UTF-8 TOML; anything else is refused
    with the reason rather than read wrongly (a UTF-16 file is NUL bytes to a UTF-8 reader, and
    a byte-order mark is not TOML)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InterlockConfigError(f"{source} is UTF-16 (it starts with a UTF-16 byte-order mark); Interlock reads UTF-8 TOML")
    if data.startswith(b"\xef\xbb\xbf"):
        raise InterlockConfigError(f"{source} starts with a UTF-8 byte-order mark, which is not TOML; save it without one")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InterlockConfigError(
            f"{source} is not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); Interlock reads UTF-8 TOML"
        ) from None


def parse(text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as err:
        raise InterlockConfigError(f"the current Interlock config is not valid TOML: {err}") from None


def extensions(doc: tomlkit.TOMLDocument) -> Table | None:
    ext = doc.get("Extensions")
    if ext is not None and not isinstance(ext, Table):
        raise InterlockConfigError("the Interlock config's `Extensions` is not a table")
    return ext


def template_section(current: str, template: str = "default") -> str | None:
    """The template extension as a standalone TOML document, or None when absent."""
    ext = extensions(parse(current))
    if ext is None or template not in ext:
        return None
    doc = tomlkit.document()
    holder = tomlkit.table(is_super_table=True)
    holder[template] = copy.deepcopy(ext[template])
    doc["Extensions"] = holder
    return tomlkit.dumps(doc)


def _published_ports(table: Table) -> dict[int, str]:
    ports: dict[int, str] = {}
    for key in ("PublishedPort", "PublishedSSLPort"):
        value = table.get(key)
        if isinstance(value, int):
            ports[int(value)] = key
    return ports


def _put(table: Table, key: str, value: object, after: str | None) -> None:
    """Set a key, in place when it exists; otherwise next to `after`, with its indentation."""
    if key in table:
        if table[key] != value:
            table[key] = value
        return
    item = tomlkit.item(value)
    if after is not None and after in table:
        item.trivia.indent = table.value.item(after).trivia.indent
        table.value._insert_after(after, key, item)  # tomlkit has no public positional insert
    else:
        table[key] = item


def _constraints(template_value: object, spec: ServiceClusterSpec) -> list[str]:
    if template_value is None:
        template_value = []
    if not isinstance(template_value, list) or not all(isinstance(c, str) for c in template_value):
        # a string would be split into characters, each a constraint no node satisfies
        raise InterlockConfigError(
            f"the template extension's constraints are {template_value!r}, not a list of strings; Interlock expects e.g. "
            '["node.platform.os==linux"]: correct the running config, or pass the captured template'
        )
    inherited = [c for c in template_value if not c.startswith(OWNED_CONSTRAINT_PREFIX)]
    # every node.platform.os constraint becomes the one Linux constraint, where the first stood
    kept = [LINUX_ONLY if PLATFORM_OS.match(c) else c for c in inherited]
    if LINUX_ONLY not in kept:
        kept.insert(0, LINUX_ONLY)
    return [*dict.fromkeys(kept), spec.constraint]


def merge(current: str, spec: ServiceClusterSpec, template_toml: str | None = None) -> str:
    """Create or update `[Extensions.<spec.name>]`. `template_toml` (from `template_section`)
    stands in for the template extension when the file no longer has it."""
    doc = parse(current)
    ext = extensions(doc)
    if ext is None:
        ext = tomlkit.table(is_super_table=True)
        doc["Extensions"] = ext
    for other, table in ext.items():
        if other == spec.name or not isinstance(table, Table):
            continue
        taken = _published_ports(table)
        for port in (spec.http_port, spec.https_port):
            if port in taken:
                hint = (
                    "retire it: set interlock.retireDefaultExtension: true in the shared stack"
                    if other == "default"
                    else f"give '{spec.name}' or '{other}' other ports in the shared stack's environment registry"
                )
                raise InterlockConfigError(
                    f"port {port} of service cluster '{spec.name}' is already the {taken[port]} of [Extensions.{other}]; {hint}"
                )

    section = ext.get(spec.name)
    if section is None:
        source = ext.get(spec.template)
        if source is None and template_toml is not None:
            source = (extensions(parse(template_toml)) or {}).get(spec.template)
        if source is None:
            raise InterlockConfigError(
                f"the template extension [Extensions.{spec.template}] is not in the Interlock config and no captured copy was given; "
                "deploy the shared stack first (it captures the template before retiring it), or set interlock.template to an existing extension"
            )
        section = _without_comments(copy.deepcopy(source))
        template_constraints = (section.get("Constraints"), section.get("ProxyConstraints"))
        ext[spec.name] = section
        section = ext[spec.name]
    else:
        template_constraints = (section.get("Constraints"), section.get("ProxyConstraints"))

    _put(section, "ServiceName", spec.service_name, "Image")
    _put(section, "ServiceCluster", spec.name, "ServiceName")
    _put(section, "Constraints", _constraints(template_constraints[0], spec), "Args")
    _put(section, "ProxyServiceName", spec.proxy_service_name, "ProxyImage")
    _put(section, "ProxyReplicas", spec.proxy_replicas, "ProxyConfigPath")
    _put(section, "ProxyConstraints", _constraints(template_constraints[1], spec), "ProxyStopGracePeriod")
    _put(section, "Networks", [spec.network], "ProxyConstraints")
    _put(section, "PublishMode", "host", "Networks")
    _put(section, "PublishedPort", spec.http_port, "PublishMode")
    _put(section, "PublishedSSLPort", spec.https_port, "TargetPort")
    return _fits_in_a_swarm_config(tomlkit.dumps(doc), spec)


def _without_comments(item: Any) -> Any:
    """A cloned section without the template's comments, so that each comment stays in the file
    exactly once: its own (`# proxies for...` on a key or between keys), and the ones tomlkit files
    under the template's last table (the file's trailing comments, when the template is last),
    which a clone would otherwise copy once per environment. The blank lines at its end go too:
    the clone ends at its last key. Entries are blanked in place (tomlkit indexes keys by position)."""
    if isinstance(item, AoT):
        for entry in item.body:
            _without_comments(entry)
        return item
    if not isinstance(item, Table):
        return item
    item.trivia.comment = ""
    item.trivia.comment_ws = ""
    body = item.value.body
    for i, (key, child) in enumerate(body):
        if key is None and isinstance(child, Comment):
            body[i] = (None, Whitespace(""))
        elif isinstance(child, (Table, AoT)):
            _without_comments(child)
        elif key is not None and getattr(child, "trivia", None) is not None and child.trivia.comment:
            child.trivia.comment = ""
            child.trivia.comment_ws = ""
    for i in range(len(body) - 1, -1, -1):  # the blank lines after the last key
        key, child = body[i]
        if key is not None or not isinstance(child, Whitespace):
            break
        body[i] = (None, Whitespace(""))
    return item


def _fits_in_a_swarm_config(text: str, spec: ServiceClusterSpec) -> str:
    """Refused here, before the provider creates anything, rather than as the API's error."""
    size = len(text.encode("utf-8"))
    if size > SWARM_CONFIG_MAX_BYTES:
        raise InterlockConfigError(
            f"with [Extensions.{spec.name}] the Interlock config would be {size:,} bytes; Swarm takes a config of fewer than "
            f"{SWARM_CONFIG_LIMIT:,} bytes (at most {SWARM_CONFIG_MAX_BYTES:,}); nothing was created. Fix: take unused [Extensions] sections, "
            "comments or large inline values out of the running config until it fits"
        )
    return text


# Keys of an Interlock config whose values are credentials (AdminPass and the like), not paths.
SECRET_KEY_WORDS = ("pass", "secret", "token")
REDACTED = "[secret]"


def redacted(text: str) -> str:
    """The config with every credential's value replaced, formatting and comments kept: for
    files people read. Paths to TLS files (TLSKey) are not credentials and stay."""
    doc = parse(text)

    def walk(table: Any) -> None:
        for key in list(table.keys()):
            value = table[key]
            if isinstance(value, dict):
                walk(value)
            elif any(word in str(key).lower() for word in SECRET_KEY_WORDS) and value not in ("", None):
                table[key] = REDACTED

    walk(doc)
    return tomlkit.dumps(doc)


def _trailing_trivia(item: Any) -> str:
    """The comments and blank lines at the end of a table, as written. tomlkit files the lines
    between a table's last key and the next header under that table (under its last sub-table
    or array-of-tables entry, when it has one), though they read as the next table's."""
    if isinstance(item, AoT):
        return _trailing_trivia(item.body[-1]) if item.body else ""
    if not isinstance(item, Table):
        return ""
    body = item.value.body
    tail: list[str] = []
    for key, child in reversed(body):
        if key is None and isinstance(child, (Comment, Whitespace)):
            tail.append(child.as_string())
            continue
        if key is not None and isinstance(child, (Table, AoT)):
            tail.append(_trailing_trivia(child))
        break
    return "".join(reversed(tail))


def remove(current: str, name: str) -> str:
    """Take `[Extensions.<name>]` (and its sub-tables) out; a no-op when it is not there. The
    comments and blank lines after its last key stay where they were, before the next table."""
    doc = parse(current)
    ext = extensions(doc)
    if ext is None or name not in ext:
        return current
    body = ext.value.body
    kept = {i: _trailing_trivia(item) for i, (key, item) in enumerate(body) if key is not None and key.key == name}
    del ext[name]  # tomlkit leaves a keyless placeholder at each place the table was
    for i, text in kept.items():
        if text:  # in the placeholder's place, so no other key's position moves
            body[i] = (None, Whitespace(text))
    return tomlkit.dumps(doc)


def section(current: str, name: str) -> dict[str, object] | None:
    """A plain copy of `[Extensions.<name>]`, for checks and reports."""
    ext = extensions(parse(current))
    if ext is None or name not in ext:
        return None
    return ext[name].unwrap()


def service_clusters(current: str) -> list[str]:
    ext = extensions(parse(current))
    return list(ext) if ext is not None else []
