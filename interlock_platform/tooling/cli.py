"""The `interlock-platform` command (also `python -m interlock_platform`): the offline tooling,
one subcommand each.

    interlock-platform preview --stack dev --out out/dev                     # in a clone of the platform
    interlock-platform preview --project . --stack dev --platform-outputs dev-outputs.json   # an app team's repository
    interlock-platform scan out/dev
    interlock-platform policy-config > policy-config.json
    interlock-platform project-file --check
    interlock-platform job-summary --stack dev out/dev
    interlock-platform --version

`--platform DIR` (anywhere on the line) names the platform checkout the command reads (its
__main__.py, stacks/ and policy/); without it, the checkout the package sits in, or else the
current directory. Only `preview --project DIR --platform-outputs FILE` needs none.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

from interlock_platform import __version__
from interlock_platform.tooling import PLATFORM_ENV  # read by stack_files when imported: set before
from interlock_platform.tooling.short_run import tune_gc_for_a_short_run

PROG = "interlock-platform"
# subcommand -> module of interlock_platform.tooling, each with `main(argv) -> int`
COMMANDS = {
    "preview": "preview",
    "scan": "scan",
    "policy-config": "policy_config",
    "project-file": "project_file",
    "job-summary": "job_summary",
}


def usage() -> str:
    first = __doc__.split("\n\n")[0].replace("\n", " ")
    return f"usage: {PROG} [--version] [--platform DIR] {{{','.join(COMMANDS)}}} ...\n\n{first}\n" + __doc__.split("\n\n", 1)[1]


def _take_platform(argv: list[str]) -> tuple[list[str], str | None, str | None]:
    """argv without `--platform DIR` / `--platform=DIR`; the DIR; an error message."""
    rest, platform = [], None
    args = iter(argv)
    for arg in args:
        if arg == "--platform":
            platform = next(args, None)
            if platform is None:
                return rest, None, "--platform needs a folder: the platform checkout (a clone of its repository)"
        elif arg.startswith("--platform="):
            platform = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if platform is not None and not os.path.isdir(platform):
        return rest, None, f"--platform {platform}: no such folder. Fix: give the platform checkout (a clone of its repository)"
    return rest, platform, None


def run(argv: list[str]) -> int:
    """The command's exit status (a preview's: 0, 1 for a violation, 2 for invalid input, 3 when
    the policy pack could not run)."""
    argv, platform, problem = _take_platform(argv)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    if argv[:1] in (["--version"], ["-V"]):
        print(f"{PROG} {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"{PROG}: error: unknown command {command!r}. Fix: use one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if platform is not None:
        os.environ[PLATFORM_ENV] = os.path.abspath(platform)
    module = importlib.import_module(f"interlock_platform.tooling.{COMMANDS[command]}")
    return int(module.main(rest, prog=f"{PROG} {command}") or 0)


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script. A preview runs without the cyclic collector and leaves without the
    interpreter's teardown (interlock_platform/tooling/short_run.py), as it always has."""
    args = sys.argv[1:] if argv is None else argv
    tune_gc_for_a_short_run()  # before the SDKs are imported
    try:
        code = run(args)
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `... | head`: the reader has gone, and so has the rest of the output
        code = 1
    os._exit(code)
