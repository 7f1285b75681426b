"""Mutation testing in a fixed, fast scope: mutmut mutates the modules that own the boundaries
the pure tests hold (MODULES), one small change at a time, and runs those tests (TESTS) against
each mutant. A mutant the tests do not kill is a survivor: either a test is missing, or the
change makes no difference a user could see, which docs/testing.md then says, under
"Known survivors", by the mutant's name and why.

    python -m tools.mutation            # exit 1 on a survivor docs/testing.md does not explain

It runs in a scratch copy of the project (mutmut writes its mutants/ next to the code), on two
cores in about two minutes; CI runs it on every pull request (.github/workflows/tests.yml)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from interlock_platform.tooling.scan import console_script
from interlock_platform.tooling.stack_files import ROOT

# The scope: the pack's range and property helpers and the Kubernetes manifests of the pure core,
# against the pure boundary tests. (interlock_platform/core/ports.py builds its table at import,
# which mutmut's trampolines cannot run: it is held by tests/test_ports.py instead.)
MODULES = ("policy/rules/common.py", "interlock_platform/core/k8s_manifests.py")
TESTS = ("tests/test_boundaries.py",)
DOCS = ROOT / "docs" / "testing.md"
IGNORED = {".git", "__pycache__", ".pytest_cache", "venv", ".venv", ".ruff_cache", ".hypothesis", "out", ".scanners", "build", "mutants"}


def _also_copy(root: Path) -> list[str]:
    """Everything the tests import, except the mutated modules: mutmut copies these after it
    writes the mutants, so a folder holding one is listed file by file."""
    mutated = {Path(m) for m in MODULES}
    keep: list[str] = []

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            rel = entry.relative_to(root)
            if entry.name in IGNORED or rel in mutated:
                continue
            if entry.is_dir() and any(m.is_relative_to(rel) for m in mutated):
                walk(entry)
            else:
                keep.append(str(rel))

    walk(root)
    return keep


def _config(root: Path) -> str:
    def toml_list(values: list[str] | tuple[str, ...]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    return (
        "\n[tool.mutmut]\n"
        f"paths_to_mutate = {toml_list(MODULES)}\n"
        f"tests_dir = {toml_list(TESTS)}\n"
        f"also_copy = {toml_list(_also_copy(root))}\n"
    )


def documented_survivors(text: str) -> set[str]:
    """The mutant names under docs/testing.md's "Known survivors" heading (in backquotes)."""
    section = text.split("## Known survivors", 1)[1].split("\n## ", 1)[0] if "## Known survivors" in text else ""
    return set(re.findall(r"`([\w.]+__mutmut_\d+)`", section))


def run(workdir: Path, max_children: int) -> dict[str, str]:
    """mutmut over a scratch copy in `workdir`: each mutant's name -> its status."""
    project = workdir / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(*IGNORED))
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + _config(project))
    # its console script: under `python -m mutmut` its trampolines import mutmut.__main__ a second time
    mutmut = [console_script("mutmut")]
    ran = subprocess.run([*mutmut, "run", "--max-children", str(max_children)], cwd=project, capture_output=True, text=True, check=False)
    if ran.returncode != 0 or "FAILED" in ran.stdout or not (project / "mutants").is_dir():
        raise RuntimeError(f"mutmut did not run:\n{ran.stdout[-2000:]}\n{ran.stderr[-2000:]}")
    listed = subprocess.run([*mutmut, "results", "--all", "true"], cwd=project, capture_output=True, text=True, check=True).stdout
    statuses = dict(re.findall(r"^\s*([\w.]+__mutmut_\d+): (.+)$", listed, re.MULTILINE))
    if not statuses:
        raise RuntimeError(f"mutmut reported no mutants:\n{ran.stdout[-2000:]}\n{listed[-2000:]}")
    return statuses


def show(workdir: Path, name: str) -> str:
    return subprocess.run(
        [console_script("mutmut"), "show", name], cwd=workdir / "project", capture_output=True, text=True, check=False
    ).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default: 2)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="interlock-mutation-") as tmp:
        workdir = Path(tmp)
        statuses = run(workdir, args.max_children)
        # "no tests": no test of the fast scope calls the function (the mock and pack tiers do)
        untested = sorted({n.rsplit("__mutmut_", 1)[0] for n, s in statuses.items() if s.strip() == "no tests"})
        survivors = sorted(n for n, s in statuses.items() if s.strip() not in ("killed", "no tests"))
        known = documented_survivors(DOCS.read_text())
        unexplained = [n for n in survivors if n not in known]
        killed = sum(1 for s in statuses.values() if s.strip() == "killed")
        print(f"{len(statuses)} mutants of {', '.join(MODULES)}: {killed} killed, {len(survivors)} survived "
              f"({len(survivors) - len(unexplained)} explained in docs/testing.md), "
              f"{sum(1 for s in statuses.values() if s.strip() == 'no tests')} in functions outside the fast scope")  # fmt: skip
        if untested:
            print(f"outside the fast scope (no pure test calls them): {', '.join(untested)}")
        for name in unexplained:
            print(f"\nunexplained survivor {name} ({statuses[name].strip()}):\n{show(workdir, name)}")
        gone = sorted(known - set(survivors))
        if gone:
            print(f"\ndocs/testing.md explains survivors that no longer survive (remove them): {', '.join(gone)}")
        return 1 if unexplained or gone else 0


if __name__ == "__main__":
    sys.exit(main())
