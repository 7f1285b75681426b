"""The mutation corpus: each insecure change in tests/policy_corpus.py, appended to a copy of the
program and previewed as the dev stack as a user runs it, is blocked. Exit status 1 (a mandatory
violation), and a mandatory violation that points at the resource and says the fix."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import copy_project, preview_cli
from tests.policy_corpus import BENIGN, BENIGN_CODE, CORPUS, ENDPOINT_TWINS, REACH

MAIN = "__main__.py"


@pytest.fixture(scope="module")
def program_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("corpus") / "project")


def test_the_corpus_spans_every_layer() -> None:
    layers = Counter(change.layer for change in CORPUS.values())
    assert sum(layers.values()) >= 40
    assert set(layers) == {"aws", "swarm", "kubernetes"} and min(layers.values()) >= 8, layers


@pytest.mark.parametrize("entry", sorted(CORPUS))
def test_an_insecure_change_is_blocked(program_copy: Path, entry: str) -> None:
    change = CORPUS[entry]
    result, out = _preview_with(program_copy, change.code)
    assert result.returncode == 1, result.stdout + result.stderr  # 1: a mandatory policy is violated
    violations = json.loads(out.read_text())["violations"]
    on_it = [v for v in violations if v["enforcement"] == "mandatory" and v["urn"].endswith(f"::{change.resource}")]
    assert on_it, violations
    assert change.policy in {v["policy"] for v in on_it}, on_it
    for v in on_it:
        assert change.resource in v["message"] and "Fix" in v["message"], v


def _preview_with(program_copy: Path, code: str) -> tuple[object, Path]:
    """The dev stack's offline preview with `code` appended to the program."""
    main = program_copy / MAIN
    original = main.read_text()
    main.write_text(original + "\n" + code)
    try:
        out = program_copy / "preview.json"
        out.unlink(missing_ok=True)
        result = preview_cli("--stack", "dev", "--json", str(out), cwd=program_copy)
    finally:
        main.write_text(original)
    return result, out


# What a change can reach (tests/policy_corpus.py REACH): each hostile entry has a benign twin of
# the same resource types, which must pass, so no rule stops a change by its type alone.


CONSTRUCTOR = r"((?:aws|docker|k8s)\.[\w.]+)\(\s*\"([\w-]+)\""  # aws.ec2.Instance("name", ...


def test_every_reach_entry_has_a_benign_twin() -> None:
    """Of the same resource type as the one the hostile entry is stopped for."""
    assert set(BENIGN) == set(REACH)
    assert set(BENIGN.values()) == set(BENIGN_CODE)
    for entry, twin in BENIGN.items():
        blocked = {name: ctor for ctor, name in re.findall(CONSTRUCTOR, REACH[entry].code)}[REACH[entry].resource]
        assert blocked in {ctor for ctor, _ in re.findall(CONSTRUCTOR, BENIGN_CODE[twin])}, (entry, twin, blocked)


@pytest.mark.parametrize("twin", sorted(BENIGN_CODE))
def test_a_benign_twin_passes(program_copy: Path, twin: str) -> None:
    result, out = _preview_with(program_copy, BENIGN_CODE[twin])
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert [v for v in report["violations"] if v["enforcement"] == "mandatory"] == []
    registered = {r["urn"].rsplit("::", 1)[-1] for r in report["resources"]}
    assert {name for _, name in re.findall(CONSTRUCTOR, BENIGN_CODE[twin])} <= registered  # the twin ran


def test_every_endpoint_twin_has_its_hostile_case() -> None:
    assert set(ENDPOINT_TWINS) <= set(CORPUS)


@pytest.mark.parametrize("entry", sorted(ENDPOINT_TWINS))
def test_the_endpoint_twin_passes(program_copy: Path, entry: str) -> None:
    """The same resource done as the platform does it passes: the rule that blocks the hostile
    case does not ban the resource type."""
    change = ENDPOINT_TWINS[entry]
    main = program_copy / MAIN
    original = main.read_text()
    main.write_text(original + "\n" + change.code)
    try:
        out = program_copy / "preview.json"
        result = preview_cli("--stack", "dev", "--json", str(out), cwd=program_copy)
    finally:
        main.write_text(original)
    violations = json.loads(out.read_text())["violations"]
    assert result.returncode == 0, (result.stderr, violations)
    assert not [v for v in violations if v["enforcement"] == "mandatory"], violations
