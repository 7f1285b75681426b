"""What an app team gets from `pip install`, with nothing of this repository but the package: the
wheel is built, installed into a fresh virtualenv (its dependencies from the package index, as
the team's CI installs them), and its `interlock-platform` command previews the template,
copied out of the repository, against the platform's outputs file. A bad case exits 2 with
the fix, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

import interlock_platform
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import preview_cli

pytestmark = pytest.mark.timeout(600)  # a fresh virtualenv: the SDKs' wheels are large


def run(*args: str | Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """As a user's shell runs it: nothing of this checkout on the path, no virtualenv active."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "INTERLOCK_PLATFORM_ROOT")}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The virtualenv's bin/ with the wheel installed, built from the package's sources alone."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("interlock_platform", "components"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source, cwd=work)
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").glob("interlock_platform-*.whl")
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    # --no-compile: the SDKs' bytecode is compiled as they are imported, not all of it up front
    done = run(bin_dir / "python", "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check", wheel, cwd=work, timeout=540)
    assert done.returncode == 0, done.stderr
    return bin_dir


@pytest.fixture(scope="module")
def outputs_file(tmp_path_factory) -> Path:
    """What `pulumi stack output --json -s <org>/interlock-platform/dev` prints, as the platform's preview writes it."""
    out = tmp_path_factory.mktemp("platform") / "dev"
    done = preview_cli("--stack", "dev", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out / "stack-outputs.json"


@pytest.fixture
def team_repo(tmp_path) -> Path:
    """The template, copied out of the repository into the team's own."""
    return shutil.copytree(ROOT / "examples" / "app-team", tmp_path / "payments-apps", ignore=shutil.ignore_patterns("venv", "__pycache__"))


def test_the_installed_command_previews_the_template_from_the_teams_repository(installed, outputs_file, team_repo, tmp_path):
    done = run(
        installed / "interlock-platform", "preview", "--project", ".", "--stack", "dev", "--platform-outputs", outputs_file,
        "--json", tmp_path / "app.json", cwd=team_repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "app-team-demo / dev: 13 resources, against the platform's dev stack" in done.stdout
    app = json.loads((tmp_path / "app.json").read_text())
    assert len([r for r in app["resources"] if r["type"] == "docker:index/service:Service"]) == 10
    # the package came from the virtualenv, not from this checkout
    where = run(installed / "python", "-c", "import interlock_platform; print(interlock_platform.__file__)", cwd=team_repo)
    assert str(installed.parent) in where.stdout and str(ROOT) not in where.stdout


def test_the_templates_requirements_name_the_installed_release(installed, team_repo):
    """Its requirements.txt pins the package by version (no `-e ../..`, which fails once copied),
    and the release installed satisfies it: nothing more is fetched (no index is asked)."""
    lines = [line.split("#")[0].strip() for line in (team_repo / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line] == [f"interlock-platform~={interlock_platform.__version__}"]
    done = run(installed / "python", "-m", "pip", "install", "--no-index", "-r", "requirements.txt", cwd=team_repo)
    assert done.returncode == 0, done.stderr
    assert "Requirement already satisfied: interlock-platform" in done.stdout


def test_a_team_not_on_boarded_is_exit_2_with_the_fix(installed, outputs_file, team_repo):
    path = team_repo / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["app-team-demo:team"] = "billing"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    done = run(installed / "interlock-platform", "preview", "--project", ".", "--stack", "dev", "--platform-outputs", outputs_file, cwd=team_repo)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "app-team-demo:team: team 'billing' is not on-boarded in this environment" in done.stderr


def test_another_environments_outputs_are_exit_2_with_the_fix(installed, outputs_file, team_repo):
    done = run(
        installed / "interlock-platform", "preview", "--project", ".", "--stack", "test", "--platform-outputs", outputs_file, cwd=team_repo
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "holds the outputs of the platform's env stack 'dev', but this is stack 'test'" in done.stderr


def test_a_platform_preview_without_the_platform_checkout_says_what_to_give(installed, team_repo):
    done = run(installed / "python", "-m", "interlock_platform", "preview", "--stack", "dev", cwd=team_repo)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is not an interlock-platform checkout" in done.stderr and "--platform DIR" in done.stderr


def test_the_version_is_the_packages(installed, tmp_path):
    done = run(installed / "interlock-platform", "--version", cwd=tmp_path)
    assert done.stdout.strip() == f"interlock-platform {interlock_platform.__version__}"
    metadata = run(installed / "python", "-c", "import importlib.metadata as m; print(m.version('interlock-platform'))", cwd=tmp_path)
    assert metadata.stdout.strip() == interlock_platform.__version__


def test_the_installed_command_previews_the_platforms_own_stacks_from_a_clone(installed, tmp_path):
    """`--platform DIR`: the package as installed (its dependency ranges, not requirements.txt's
    pins) runs the platform's program, Interlock config included. The policy pack's runtime is
    not a dependency of the package: without it the preview says how to install it (exit 3)."""
    done = run(installed / "interlock-platform", "preview", "--stack", "dev", "--platform", ROOT, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 3), (done.stdout, done.stderr)
    if done.returncode == 3:
        assert f"{installed / 'python'} -m pip install -r {ROOT / 'policy' / 'requirements.txt'}" in done.stderr
    else:
        assert "policy violations: 0" in done.stdout
