"""Pulumi.yaml's `config:` block, generated from the key table in interlock_platform/core/config_keys.py.

python -m tools.project_file --write   # rewrite the block after changing the table
python -m tools.project_file --check   # exit 1 when Pulumi.yaml is out of step (a test runs this)
"""

from __future__ import annotations

import argparse
import sys

import yaml

from interlock_platform.core.config_keys import project_config_block
from tools.stack_files import ROOT

MARKER = "config:\n"
NOTE = "  # Generated from interlock_platform/core/config_keys.py by `python -m tools.project_file --write`: edit the table, not this block.\n"


def render(current: str) -> str:
    """`current` (Pulumi.yaml's text) with its config block regenerated; everything above it kept."""
    head = current[: current.index(MARKER)] if MARKER in current else current.rstrip("\n") + "\n"
    body = yaml.safe_dump(project_config_block(), sort_keys=False, width=110, allow_unicode=True)
    return head + MARKER + NOTE + "".join(f"  {line}\n" if line else "\n" for line in body.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.project_file", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite Pulumi.yaml's config block")
    group.add_argument("--check", action="store_true", help="exit 1 when Pulumi.yaml's config block is out of step")
    args = parser.parse_args(argv)
    path = ROOT / "Pulumi.yaml"
    current = path.read_text()
    wanted = render(current)
    if args.write:
        path.write_text(wanted)
        return 0
    if current != wanted:
        print(
            "Pulumi.yaml's config block is out of step with interlock_platform/core/config_keys.py: run python -m tools.project_file --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
