"""Tags every AWS resource carries: who owns it and which environment it belongs to."""

from __future__ import annotations

MANAGED_BY = "pulumi/interlock-platform"


def tags(stack: str, environment: str, name: str, **extra: str) -> dict[str, str]:
    return {"Name": name, "environment": environment, "managed-by": MANAGED_BY, "stack": stack, **extra}
