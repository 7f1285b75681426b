"""Shape checks for config: typed reads that record every problem (the stack, the key, what is
wrong and the fix) and carry on, so one run reports them all. Config arrives as strings (JSON for
objects and lists) from the engine, or as decoded values from tests and stack outputs."""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from interlock_platform.core.config_keys import PROJECT

LABEL_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


@dataclass(frozen=True)
class Problem:
    stack: str
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        key = self.key if ":" in self.key.split(".")[0] else f"{PROJECT}:{self.key}"  # aws:region is not ours
        return f"stack '{self.stack}': {key}: {self.message}. Fix: {self.fix}."


class InvalidConfig(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Problems:
    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.items: list[Problem] = []

    def add(self, key: str, message: str, fix: str) -> None:
        self.items.append(Problem(self.stack, key, message, fix))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidConfig(self.items)


def decode(value: Any) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return value
    return value


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number"}.get(
        type(value), type(value).__name__
    )


class Reader:
    def __init__(self, problems: Problems) -> None:
        self.p = problems

    def string(self, key: str, value: Any, fix: str) -> str | None:
        if value is None or value == "":
            self.p.add(key, "is not set", fix)
            return None
        if not isinstance(value, str):
            self.p.add(key, f"must be a string, got {type_name(value)} {value!r}", fix)
            return None
        return value

    def integer(self, key: str, value: Any, fix: str, lo: int, hi: int) -> int | None:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.p.add(key, f"must be a whole number, got {value!r}", fix)
            return None
        if not lo <= value <= hi:
            self.p.add(key, f"{value} is out of range {lo}..{hi}", fix)
            return None
        return value

    def boolean(self, key: str, value: Any, fix: str) -> bool | None:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.p.add(key, f"must be true or false, got {value!r}", fix)
            return None
        return value

    def listing(self, key: str, value: Any, fix: str, minimum: int = 1) -> list[Any] | None:
        value = decode(value)
        if value is None:
            self.p.add(key, "is not set", fix)
            return None
        if not isinstance(value, list):
            self.p.add(key, f"must be a list, got {type_name(value)}", fix)
            return None
        if len(value) < minimum:
            self.p.add(key, f"needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}, got {len(value)}", fix)
            return None
        return value

    def mapping(self, key: str, value: Any, fix: str, allowed: Sequence[str] | None = None) -> dict[str, Any] | None:
        value = decode(value)
        if value is None:
            self.p.add(key, "is not set", fix)
            return None
        if not isinstance(value, dict):
            self.p.add(key, f"must be an object, got {type_name(value)}", fix)
            return None
        if allowed is not None:
            for k in value:
                if k not in allowed:
                    near = difflib.get_close_matches(k, allowed, n=1)
                    hint = f"did you mean '{near[0]}'?" if near else f"allowed keys are {', '.join(allowed)}"
                    self.p.add(f"{key}.{k}", "is not a known setting", f"remove it ({hint})")
        return value

    def cidr(self, key: str, value: Any, fix: str) -> ipaddress.IPv4Network | None:
        if not isinstance(value, str):
            self.p.add(key, f"must be an IPv4 CIDR string such as 10.40.0.0/16, got {value!r}", fix)
            return None
        try:
            net = ipaddress.IPv4Network(value.strip(), strict=False)
        except ValueError:
            self.p.add(key, f"'{value}' is not an IPv4 CIDR", f"write it as address/prefix, e.g. 10.40.0.0/24; {fix}")
            return None
        if "/" not in value:
            self.p.add(key, f"'{value}' has no prefix length", "write it as address/prefix, e.g. 10.40.0.0/24")
            return None
        if str(net) != value.strip():
            self.p.add(key, f"'{value}' has host bits set (the network is {net})", f"write {net}")
            return None
        return net

    def cidr_list(self, key: str, value: Any, fix: str, minimum: int = 1) -> list[ipaddress.IPv4Network] | None:
        items = self.listing(key, value, fix, minimum)
        if items is None:
            return None
        nets = [self.cidr(f"{key}[{i}]", v, fix) for i, v in enumerate(items)]
        if any(n is None for n in nets):
            return None
        return [n for n in nets if n is not None]
