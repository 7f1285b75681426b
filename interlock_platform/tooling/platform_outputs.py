"""An app team's `--platform-outputs FILE`: the platform env stack's outputs as

    pulumi stack output --json -s <org>/interlock-platform/<env> > FILE

prints them (a secret shows as "[secret]" there), or as the platform's own offline preview writes
them (`--out DIR` gives DIR/stack-outputs.json, the same shape). Read and held to the env stack's
output contract (interlock_platform/core/outputs.py), so the app's preview needs no platform
checkout: a missing, malformed or mismatched file is an InvalidProjectFiles naming the file, the
key and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic

from interlock_platform.core.outputs import EnvironmentOutputs
from interlock_platform.core.topology import PROJECT
from interlock_platform.tooling.stack_files import FileProblem, InvalidProjectFiles

SECRET = "[secret]"  # how `pulumi stack output --json` shows a secret without --show-secrets


def command(stack: str) -> str:
    return f"pulumi stack output --json -s <org>/{PROJECT}/{stack} > FILE"


def read_platform_outputs(path: Path, stack: str) -> tuple[dict[str, Any], set[str]]:
    """The env stack `stack`'s outputs from `path`, and those shown as secrets. Raises
    InvalidProjectFiles for a file that cannot be read, is not a JSON object, is another stack's
    (the shared stack's, or another environment's), or lacks or mistypes an output the contract
    declares."""
    where = str(path)
    fix = f"write it with `{command(stack)}` (or the platform's offline preview: --out DIR writes DIR/stack-outputs.json)"
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise InvalidProjectFiles([FileProblem(where, None, "--platform-outputs: is a folder, not a file", fix)]) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise InvalidProjectFiles([FileProblem(where, None, f"--platform-outputs: cannot be read ({reason})", fix)]) from None
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidProjectFiles(
            [FileProblem(where, err.lineno, f"--platform-outputs: not JSON ({err.msg}, column {err.colno})", fix)]
        ) from None
    if not isinstance(outputs, dict):
        raise InvalidProjectFiles(
            [FileProblem(where, None, f"--platform-outputs: is a JSON {type(outputs).__name__}, not the stack's outputs (an object)", fix)]
        )
    secret = {key for key, value in outputs.items() if value == SECRET}
    if "vpcId" in outputs and "environment" not in outputs:
        raise InvalidProjectFiles([FileProblem(
            where, None, "--platform-outputs: holds the platform's shared stack's outputs, not an environment's",
            f"give the outputs of the env stack '{stack}': {command(stack)}",
        )])  # fmt: skip
    if outputs.get("environment") not in (None, SECRET) and outputs.get("environment") != stack:
        raise InvalidProjectFiles([FileProblem(
            where, None,
            f"--platform-outputs: holds the outputs of the platform's env stack '{outputs['environment']}', but this is stack '{stack}'",
            f"give the outputs of '{stack}': {command(stack)}",
        )])  # fmt: skip
    problems = []
    try:  # secrets cannot be checked: they stand as "[secret]"
        EnvironmentOutputs.model_validate({k: v for k, v in outputs.items() if k not in secret})
    except pydantic.ValidationError as err:
        for error in err.errors():
            if error["type"] == "extra_forbidden":  # a newer platform release may export more: not for this package to refuse
                continue
            key = ".".join(str(p) for p in error["loc"])
            if error["type"] == "missing" and len(error["loc"]) == 1 and error["loc"][0] in secret:
                continue
            what = "is missing" if error["type"] == "missing" else f"{error['msg'].removeprefix('Input ')} (got {error.get('input')!r:.60})"
            problems.append(FileProblem(
                where, None, f"--platform-outputs: output '{key}' {what}",
                f"{command(stack)} again, after `pulumi up` of the platform's '{stack}' stack with this release of interlock-platform",
            ))  # fmt: skip
    if problems:
        raise InvalidProjectFiles(problems)
    return outputs, secret
