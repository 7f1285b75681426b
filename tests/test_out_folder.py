"""`--out DIR` cannot hurt: a path the preview cannot write is exit 2 with the path and the fix,
before anything runs; the folder's preview files are written afresh (a removed team's manifests
do not linger), everything else in it is left alone, and a failure leaves the old files intact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from interlock_platform.tooling import out_folder
from interlock_platform.tooling.out_folder import ENTRIES, MARKER, OutProblem
from tests.conftest import copy_project, preview_cli


def refused(done) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    return done.stderr


def test_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    err = refused(preview_cli("--stack", "dev", "--out", str(tmp_path / "out")))
    assert f"{tmp_path / 'out'}: --out: is a file, not a folder. Fix: give a folder" in err
    assert (tmp_path / "out").read_text() == "not a folder"


def test_a_folder_under_a_file_is_refused(tmp_path):
    (tmp_path / "report").write_text("")
    err = refused(preview_cli("--stack", "dev", "--out", str(tmp_path / "report" / "dev")))
    assert f"{tmp_path / 'report'}: --out: is a file, so no folder can be made under it" in err


def test_a_folder_that_holds_what_no_preview_wrote_is_left_alone(tmp_path):
    """A team's own `kubernetes/` folder is not replaced by the preview's."""
    mine = tmp_path / "repo" / "kubernetes" / "deploy.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    err = refused(preview_cli("--stack", "dev", "--out", str(tmp_path / "repo")))
    assert "--out: holds kubernetes, which no preview wrote" in err and "give a new or empty folder" in err
    assert mine.read_text() == "mine"


def test_a_folder_an_earlier_release_wrote_is_written_afresh(tmp_path):
    """The benign twin: before the marker, a preview's folder is known by the files every preview writes."""
    out = tmp_path / "out"
    old = {out / "security" / "matrix.md": "", out / "cloudformation" / "template.json": "{}", out / "kubernetes" / "gone-dev" / "x.yaml": ""}
    for path, text in old.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    out_folder.write(out, {out / "stack-outputs.json": "{}"})
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "stack-outputs.json"])


def test_json_inside_what_out_replaces_is_refused(tmp_path):
    err = refused(preview_cli("--stack", "dev", "--out", str(tmp_path / "out"), "--json", str(tmp_path / "out" / "security" / "p.json")))
    assert "--json is inside security, which --out replaces" in err


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    """As root (CI) every folder can be written: the check is run with access denied."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(OutProblem, match=r"--out: cannot be written \(permission denied\)"):
        out_folder.check(tmp_path / "out")


def test_the_folder_is_written_afresh_and_the_rest_is_left(tmp_path):
    """A removed team's manifests go; the CI job's own files in the folder stay."""
    root = copy_project(tmp_path / "project")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.txt").write_text("the job's")
    first = preview_cli("--stack", "dev", "--out", str(out), "--json", str(out / "preview.json"), cwd=root)
    assert first.returncode == 0, first.stderr
    assert (out / "kubernetes" / "ledger-dev").is_dir() and (out / MARKER).is_file()
    stack = root / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(stack.read_text())
    doc["config"]["interlock-platform:teams"] = [t for t in doc["config"]["interlock-platform:teams"] if t["name"] != "ledger"]
    stack.write_text(yaml.safe_dump(doc, sort_keys=False))
    second = preview_cli("--stack", "dev", "--out", str(out), cwd=root)
    assert second.returncode == 0, second.stderr
    assert not (out / "kubernetes" / "ledger-dev").exists() and (out / "kubernetes" / "payments-dev").is_dir()
    assert (out / "summary.txt").read_text() == "the job's" and (out / "preview.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".preview-")]  # no staging left


def test_a_failure_while_swapping_leaves_the_old_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert out_folder.write(out, {out / "kubernetes" / "old.yaml": "old", out / "stack-outputs.json": "{}"})
    renames = []
    real = Path.rename

    def failing(self, target):
        renames.append(self)
        if str(self).endswith("/new/stack-outputs.json"):  # the last new entry to move in
            raise OSError(28, "No space left on device")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OutProblem, match=r"cannot be written \(No space left on device\); the folder is as it was"):
        out_folder.write(out, {out / "kubernetes" / "new.yaml": "new", out / "stack-outputs.json": '{"a": 1}'})
    assert (out / "kubernetes" / "old.yaml").read_text() == "old" and not (out / "kubernetes" / "new.yaml").exists()
    assert (out / "stack-outputs.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "kubernetes", "stack-outputs.json"])


def test_only_the_previews_entries_are_written():
    with pytest.raises(ValueError, match="not under the preview's entries"):
        out_folder.write(Path("/nonexistent-out"), {Path("/nonexistent-out/elsewhere.txt"): ""})
    assert "kubernetes" in ENTRIES
