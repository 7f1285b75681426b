"""The mutation corpus: each insecure change in tests/policy_corpus.py, appended to a copy of the
program and previewed as the dev stack, is blocked: a mandatory violation that points at the
resource and says the fix. Each REACH entry and each VPC-endpoint entry has a benign twin of the
same resource types, which must pass, so no rule stops a change by its type alone.

Every entry and twin runs in process (the program under the SDK's mocks, one policy pack process
over its gRPC protocol for all of them, as the engine runs one pack for a preview); a sample, one
entry per layer, also runs as a user runs it (`python -m interlock_platform preview`, exit status 1)."""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from interlock_platform.tooling.policy_harness import PolicyPackProcess
from interlock_platform.tooling.preview import Preview, run_preview
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import copy_project, preview_cli
from tests.policy_corpus import BENIGN, BENIGN_CODE, CORPUS, ENDPOINT_TWINS, GRANT_TWINS, REACH, ROUTE_TWINS, ROUTES, Change
from tools import gateway_api

MAIN = "__main__.py"
CLI_SAMPLE = ("sg-inline-ingress-world-ssh", *sorted(n for n, c in CORPUS.items() if c.layer == "swarm")[:1],
              *sorted(n for n, c in CORPUS.items() if c.layer == "kubernetes")[:1])  # fmt: skip
CONSTRUCTOR = r"((?:aws|docker|k8s)\.[\w.]+)\(\s*\"([\w-]+)\""  # aws.ec2.Instance("name", ...


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess() as process:
        yield process


@pytest.fixture(scope="module")
def program_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("corpus") / "project")


def _preview_with(pack: PolicyPackProcess, tmp_path: Path, code: str) -> Preview:
    """The dev stack's offline preview, in process, with `code` appended to the program."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / MAIN).write_text((ROOT / MAIN).read_text() + "\n" + code)
    return run_preview("dev", pack=pack, program=tmp_path / MAIN)


def _blocked(change: Change, violations: list[dict]) -> None:
    on_it = [v for v in violations if v["enforcement"] == "mandatory" and v["urn"].endswith(f"::{change.resource}")]
    assert on_it, violations
    assert change.policy in {v["policy"] for v in on_it}, on_it
    for v in on_it:
        assert change.resource in v["message"] and "Fix" in v["message"], v


def _passes(p: Preview, code: str) -> None:
    assert [v for v in p.violations if v["enforcement"] == "mandatory"] == [], p.violations
    assert p.exit_code == 0
    registered = {r.urn.rsplit("::", 1)[-1] for r in p.run.resources}
    assert {name for _, name in re.findall(CONSTRUCTOR, code)} <= registered  # the twin ran


def test_the_corpus_spans_every_layer() -> None:
    layers = Counter(change.layer for change in CORPUS.values())
    assert sum(layers.values()) >= 40
    assert set(layers) == {"aws", "swarm", "kubernetes"} and min(layers.values()) >= 8, layers
    assert len(set(CLI_SAMPLE)) == 3 and {CORPUS[n].layer for n in CLI_SAMPLE} == {"aws", "swarm", "kubernetes"}


@pytest.mark.parametrize("entry", sorted(CORPUS))
def test_an_insecure_change_is_blocked(pack: PolicyPackProcess, tmp_path: Path, entry: str) -> None:
    change = CORPUS[entry]
    p = _preview_with(pack, tmp_path, change.code)
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


def test_every_reach_entry_has_a_benign_twin() -> None:
    """Of the same resource type as the one the hostile entry is stopped for."""
    assert set(BENIGN) == set(REACH)
    assert set(BENIGN.values()) == set(BENIGN_CODE)
    for entry, twin in BENIGN.items():
        blocked = {name: ctor for ctor, name in re.findall(CONSTRUCTOR, REACH[entry].code)}[REACH[entry].resource]
        assert blocked in {ctor for ctor, _ in re.findall(CONSTRUCTOR, BENIGN_CODE[twin])}, (entry, twin, blocked)


@pytest.mark.parametrize("twin", sorted(BENIGN_CODE))
def test_a_benign_twin_passes(pack: PolicyPackProcess, tmp_path: Path, twin: str) -> None:
    _passes(_preview_with(pack, tmp_path, BENIGN_CODE[twin]), BENIGN_CODE[twin])


TWINS = {**ENDPOINT_TWINS, **GRANT_TWINS, **ROUTE_TWINS}  # the VPC endpoints', UCP grants' and Gateway API entries, done right


def test_every_twin_has_its_hostile_case() -> None:
    assert set(TWINS) <= set(CORPUS)
    assert set(ROUTE_TWINS) == set(ROUTES)  # every Gateway API entry has its twin


CUSTOM_RESOURCE = re.compile(r'CustomResource\("[\w-]+", api_version="([^"]+)", kind="(\w+)",\s*metadata=(\{.*?\}), spec=(.*)\)\n', re.S)


@pytest.mark.parametrize("entry", sorted(ROUTES))
def test_gateway_api_entries_and_twins_are_objects_the_api_server_admits(entry: str) -> None:
    """Each hostile Gateway API or EnvoyProxy object, and its twin, passes the published CRD
    (schema and CEL): the pack, not the API server, is what stops the hostile one."""
    for change in (ROUTES[entry], ROUTE_TWINS[entry]):
        api_version, kind, metadata, spec = CUSTOM_RESOURCE.search(change.code).groups()
        result = gateway_api.validate({"apiVersion": api_version, "kind": kind, "metadata": ast.literal_eval(metadata),
                                       "spec": ast.literal_eval(spec)})  # fmt: skip
        assert result.ok, (entry, result)


@pytest.mark.parametrize("entry", sorted(TWINS))
def test_the_twin_passes(pack: PolicyPackProcess, tmp_path: Path, entry: str) -> None:
    """The same resource done as the platform does it passes: the rule that blocks the hostile
    case does not ban the resource type."""
    p = _preview_with(pack, tmp_path, TWINS[entry].code)
    _passes(p, TWINS[entry].code)
    assert TWINS[entry].resource in {r.name for r in p.run.resources}  # the twin ran
