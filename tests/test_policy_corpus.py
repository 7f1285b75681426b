"""The mutation corpus: each insecure change in tests/policy_corpus.py, appended to a copy of the
program and previewed as the dev stack, is blocked: a mandatory violation that points at the
resource and says the fix.

Every entry runs in process (the program under the SDK's mocks, one policy pack process over its
gRPC protocol for all of them, as the engine runs one pack for a preview); a sample, one entry per
layer, also runs as a user runs it (`python -m tools.preview`, exit status 1)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import copy_project, preview_cli
from tests.policy_corpus import CORPUS, Change
from tools.policy_harness import PolicyPackProcess
from tools.preview import run_preview
from tools.stack_files import ROOT

MAIN = "__main__.py"
CLI_SAMPLE = ("sg-inline-ingress-world-ssh", *sorted(n for n, c in CORPUS.items() if c.layer == "swarm")[:1],
              *sorted(n for n, c in CORPUS.items() if c.layer == "kubernetes")[:1])  # fmt: skip


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess() as process:
        yield process


@pytest.fixture(scope="module")
def program_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("corpus") / "project")


def test_the_corpus_spans_every_layer() -> None:
    layers = Counter(change.layer for change in CORPUS.values())
    assert sum(layers.values()) >= 40
    assert set(layers) == {"aws", "swarm", "kubernetes"} and min(layers.values()) >= 8, layers
    assert len(set(CLI_SAMPLE)) == 3 and {CORPUS[n].layer for n in CLI_SAMPLE} == {"aws", "swarm", "kubernetes"}


def _blocked(change: Change, violations: list[dict]) -> None:
    on_it = [v for v in violations if v["enforcement"] == "mandatory" and v["urn"].endswith(f"::{change.resource}")]
    assert on_it, violations
    assert change.policy in {v["policy"] for v in on_it}, on_it
    for v in on_it:
        assert change.resource in v["message"] and "Fix" in v["message"], v


@pytest.mark.parametrize("entry", sorted(CORPUS))
def test_an_insecure_change_is_blocked(pack: PolicyPackProcess, tmp_path: Path, entry: str) -> None:
    change = CORPUS[entry]
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / MAIN).write_text((ROOT / MAIN).read_text() + "\n" + change.code)
    p = run_preview("dev", pack=pack, program=tmp_path / MAIN)
    assert p.exit_code == 1  # a mandatory policy is violated
    _blocked(change, p.violations)


@pytest.mark.parametrize("entry", CLI_SAMPLE)
def test_an_insecure_change_is_blocked_as_a_user_runs_the_preview(program_copy: Path, entry: str) -> None:
    change = CORPUS[entry]
    main = program_copy / MAIN
    original = main.read_text()
    main.write_text(original + "\n" + change.code)
    try:
        out = program_copy / "preview.json"
        result = preview_cli("--stack", "dev", "--json", str(out), cwd=program_copy)
    finally:
        main.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr  # 1: a mandatory policy is violated
    _blocked(change, json.loads(out.read_text())["violations"])
