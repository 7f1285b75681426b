"""The GitHub workflows: valid against the workflow schema (check-jsonschema's vendored copy),
and doing what the README promises, step by step."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from interlock_platform.tooling import job_summary
from interlock_platform.tooling.scan import console_script
from interlock_platform.tooling.stack_files import ROOT, stack_names
from tests.conftest import copy_project

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def steps(job: dict) -> list[dict]:
    return job["steps"]


def test_workflows_validate_against_the_github_schema():
    tool = console_script("check-jsonschema")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", *files], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_preview_runs_every_stack_offline_with_the_pack_and_publishes_the_summary():
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    job = wf["jobs"]["offline-preview"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == stack_names()
    runs = "\n".join(s.get("run", "") for s in steps(job))
    assert "python -m interlock_platform preview --stack ${{ matrix.stack }} --json out/preview.json --out out" in runs
    summary = next(s for s in steps(job) if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()" and "interlock_platform job-summary" in summary["run"]
    assert not any("secrets." in str(s) for s in steps(job))  # forks run it too


@pytest.mark.parametrize(("broken", "code"), [(False, 0), (True, 2)])
def test_the_preview_step_fails_the_job_with_the_preview_and_keeps_its_errors(tmp_path, broken, code):
    """The step's own script, run as GitHub runs it (bash -eo pipefail), on a scratch project."""
    root = copy_project(tmp_path / "project")
    if broken:
        path = root / "stacks" / "Pulumi.dev.yaml"
        path.write_text(
            path.read_text().replace(
                "  interlock-platform:role: environment\n",
                "  interlock-platform:role: environment\n  interlock-platform:tls: maybe\n",
            )
        )
    job = load("preview.yml")["jobs"]["offline-preview"]
    step = next(s for s in steps(job) if "interlock_platform preview" in s.get("run", ""))
    script = step["run"].replace("${{ matrix.stack }}", "dev").replace("python -m", f"{sys.executable} -m")
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == code, result.stderr
    assert (root / "out" / "exit-code").read_text().strip() == str(code)
    if broken:
        assert "must be of type 'boolean'" in (root / "out" / "errors.txt").read_text()
        summary = job_summary.render("dev", root / "out")
        assert "exit status 2" in summary and "must be of type 'boolean'" in summary
    else:
        assert (root / "out" / "cloudformation" / "template.json").exists()


def test_the_real_preview_runs_only_with_cloud_secrets_and_comments_on_the_pr():
    job = load("preview.yml")["jobs"]["pulumi-preview"]
    assert "secrets.PULUMI_ACCESS_TOKEN != ''" in job["env"]["HAS_CLOUD_SECRETS"]
    assert all(s.get("if") == "env.HAS_CLOUD_SECRETS == 'true'" for s in steps(job))
    preview = next(
        s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions") and s.get("with", {}).get("command") == "preview"
    )
    assert preview["with"]["policyPacks"] == "policy" and preview["with"]["comment-on-pr"] is True
    assert preview["with"]["stack-name"].endswith("${{ matrix.stack }}")


def test_deploy_goes_shared_then_dev_test_prod_each_in_its_environment():
    wf = load("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    jobs = wf["jobs"]
    assert list(jobs) == ["shared", "dev", "test", "prod"]
    assert [jobs[j].get("needs") for j in jobs] == [None, "shared", "dev", "test"]
    for name, job in jobs.items():
        assert job["uses"] == "./.github/workflows/pulumi-up.yml" and job["with"]["stack"] == name
    up = load("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"  # prod's environment holds the approval
    run = next(s for s in steps(up) if s.get("with", {}).get("command") == "up")
    assert run["with"]["policyPacks"] == "policy"


def test_the_job_summary_shows_violations_resources_interlock_and_matrix(tmp_path):
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "interlock_platform", "preview", "--stack", "dev", "--json", str(out / "preview.json"), "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    text = job_summary.render("dev", out)
    assert "**Policy violations:** 0 (0 mandatory)" in text
    assert "Resources by type" in text and "`aws:ec2/subnet:Subnet` | 9" in text
    assert "[Extensions.dev]" in text and "### Security matrix" in text


def test_every_pull_request_runs_ruff_and_every_tier_but_docker():
    from tests.conftest import TIERS

    wf = load("tests.yml")
    assert "pull_request" in wf["on"]
    jobs = wf["jobs"]
    assert "python -m ruff check ." in "\n".join(s.get("run", "") for s in steps(jobs["lint"]))
    tiers = jobs["tests"]["strategy"]["matrix"]["tier"]
    assert sorted(tiers) == sorted(set(TIERS) - {"docker"})
    runs = "\n".join(s.get("run", "") for s in steps(jobs["tests"]))
    assert 'python -m pytest -m "${{ matrix.tier }} and not docker"' in runs
    assert "python -m tools.mutation" in "\n".join(s.get("run", "") for s in steps(jobs["mutation"]))
    assert not any("secrets." in str(s) for job in jobs.values() for s in steps(job))  # forks run it too


def test_the_tier_markers_select_every_module_and_only_its_tier():
    """`-m "not docker"` leaves out exactly the Swarm modules; each module has one tier."""
    from tests.conftest import TIER_OF, TIERS

    modules = sorted(p.stem for p in (ROOT / "tests").glob("test_*.py"))
    assert sorted(TIER_OF) == modules
    assert sum(len(m) for m in TIERS.values()) == len(TIER_OF)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "docker"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    collected = {line.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py") for line in result.stdout.splitlines() if "::" in line}
    assert collected == set(TIERS["docker"]), result.stdout[-2000:]


def test_every_workflow_installs_the_pinned_pulumi_cli():
    """One pin, .pulumi.version, read by every pulumi/actions step (its `pulumi-version-file`
    input; without it the action installs the newest 3.x). The CLI and the Python SDK are released
    together from pulumi/pulumi under one version: the pin is requirements.txt's `pulumi`."""
    pin = (ROOT / ".pulumi.version").read_text().strip()
    sdk = next(line.split("==")[1].split()[0] for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("pulumi=="))
    assert pin == sdk
    found = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in load(path.name)["jobs"].values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("pulumi/actions@"):
                    found += 1
                    inputs = step.get("with", {})
                    assert inputs.get("pulumi-version-file") == ".pulumi.version" and "pulumi-version" not in inputs, (path.name, step)
                assert "get.pulumi.com" not in str(step.get("run", "")), (path.name, step)  # no unpinned install script
    assert found >= 4
