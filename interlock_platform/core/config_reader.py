"""Config problems: each names the stack, the key, what is wrong and the fix. Validation records
every problem and carries on, so one run reports them all (`InvalidConfig` carries the list).
The shapes themselves are declared in `config_models.py`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PROJECT = "interlock-platform"

# How many bytes a stack's config may hold: in its file, and once YAML aliases are expanded, as
# the program receives it (each value as JSON text). Far above any real stack (a few KB; a
# certificate bundle is a few KB more), far below what exhausts memory: a 103 KB file that
# aliases one long string a few thousand times expands to gigabytes when it is serialised.
MAX_STACK_CONFIG_BYTES = 2 * 1024 * 1024
STACK_CONFIG_TOO_BIG_FIX = (
    f"keep the stack file under {MAX_STACK_CONFIG_BYTES:,} bytes with its aliases written out: "
    "no alias repeating a long value, no value of megabytes"
)

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
