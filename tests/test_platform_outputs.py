"""An app team previews its own repository against the platform's outputs, with no platform
checkout: `interlock-platform preview --project DIR --stack dev --platform-outputs FILE`, FILE
as `pulumi stack output --json` prints it, and as the platform's own `--out DIR` writes it
(DIR/stack-outputs.json). A missing, malformed or mismatched file, or a team the environment
has not on-boarded, is exit 2 naming the file or key and the fix; never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from interlock_platform.core.outputs import EnvironmentOutputs
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import preview_cli

EXAMPLE = ROOT / "examples" / "app-team"


@pytest.fixture(scope="module")
def platform_out(tmp_path_factory) -> Path:
    """The platform's dev preview's --out folder, as CI (or a platform engineer) writes it."""
    out = tmp_path_factory.mktemp("platform") / "dev"
    done = preview_cli("--stack", "dev", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def outputs(platform_out) -> dict:
    return json.loads((platform_out / "stack-outputs.json").read_text())


def example_copy(tmp_path: Path, team: str | None = None) -> Path:
    """The template copied out of the repository, as a team starts its own."""
    project = shutil.copytree(EXAMPLE, tmp_path / "my-apps", ignore=shutil.ignore_patterns("venv", "__pycache__"))
    if team is not None:
        path = project / "Pulumi.dev.yaml"
        doc = yaml.safe_load(path.read_text())
        doc["config"]["app-team-demo:team"] = team
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return project


def app_preview(tmp_path: Path, outputs_file: Path, project: Path | None = None, *extra: str):
    """The app team's preview with an empty folder as the platform checkout: nothing of the
    platform's repository is read."""
    nowhere = tmp_path / "no-platform-here"
    nowhere.mkdir(exist_ok=True)
    project = project or example_copy(tmp_path)
    return preview_cli(
        "--project", str(project), "--stack", "dev", "--platform-outputs", str(outputs_file), "--platform", str(nowhere), *extra
    )


def written(tmp_path: Path, data, name: str = "outputs.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def refused(done) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    return done.stderr


def test_the_platform_preview_writes_its_outputs_as_pulumi_prints_them(platform_out, outputs):
    """The env stack's contract, whole numbers as integers (as `pulumi stack output --json` prints them)."""
    EnvironmentOutputs.model_validate(outputs)
    assert outputs["environment"] == "dev" and isinstance(outputs["httpPort"], int) and isinstance(outputs["httpsPort"], int)
    assert outputs["teamNamespaces"]["payments"] == "payments-dev"


def test_a_secret_output_is_written_as_pulumi_shows_it(tmp_path):
    """The shared stack's captured Interlock template is a secret: "[secret]", as without --show-secrets."""
    done = preview_cli("--stack", "shared", "--out", str(tmp_path / "shared"))
    assert done.returncode == 0, done.stderr
    shared = json.loads((tmp_path / "shared" / "stack-outputs.json").read_text())
    assert shared["interlockTemplate"] == "[secret]"
    assert shared["vpcCidr"] and shared["vpcCidr"] != "[secret]"  # its benign twin: a plain output as it is


def test_an_app_team_previews_its_copy_of_the_template_from_the_outputs_file(tmp_path, platform_out):
    done = app_preview(tmp_path, platform_out / "stack-outputs.json", None, "--json", str(tmp_path / "app.json"))
    assert done.returncode == 0, done.stderr
    assert "against the platform's dev stack (the outputs in" in done.stdout
    app = json.loads((tmp_path / "app.json").read_text())
    services = {r["inputs"]["name"] for r in app["resources"] if r["type"] == "docker:index/service:Service"}
    assert len(services) == 10 and "dev-ledger" in services
    policy = next(r for r in app["resources"] if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert policy["inputs"]["metadata"]["namespace"] == "payments-dev"  # from the file's teamNamespaces


def test_what_pulumi_prints_with_a_secret_and_a_newer_output_is_read(tmp_path, outputs):
    """Benign twins: an output this release does not know (a newer platform's), and one shown as
    "[secret]" that the template does not need, are accepted."""
    data = {**outputs, "someNewerOutput": {"x": 1}, "ingressNodes": "[secret]"}
    done = app_preview(tmp_path, written(tmp_path, json.dumps(data, indent=2)))
    assert done.returncode == 0, done.stderr


def test_a_missing_file_is_refused_with_the_command_that_writes_it(tmp_path):
    err = refused(app_preview(tmp_path, tmp_path / "dev-outputs.json"))
    assert f"{tmp_path / 'dev-outputs.json'}: --platform-outputs: cannot be read (No such file or directory)" in err
    assert "pulumi stack output --json -s <org>/interlock-platform/dev > FILE" in err


def test_malformed_json_is_refused_at_its_line(tmp_path, outputs):
    text = json.dumps(outputs, indent=2).replace('"collection":', '"collection"', 1)
    err = refused(app_preview(tmp_path, written(tmp_path, text)))
    assert "outputs.json:" in err and "--platform-outputs: not JSON (Expecting ':'" in err


@pytest.mark.parametrize("data", [[], "dev", None])
def test_something_other_than_an_object_is_refused(tmp_path, data):
    err = refused(app_preview(tmp_path, written(tmp_path, json.dumps(data))))
    assert "not the stack's outputs (an object)" in err


def test_the_shared_stacks_outputs_are_refused(tmp_path):
    shared = {"vpcId": "vpc-1", "vpcCidr": "10.0.0.0/16", "environments": {}}
    err = refused(app_preview(tmp_path, written(tmp_path, shared)))
    assert "holds the platform's shared stack's outputs, not an environment's" in err
    assert "give the outputs of the env stack 'dev'" in err


def test_another_environments_outputs_are_refused(tmp_path, outputs):
    err = refused(app_preview(tmp_path, written(tmp_path, {**outputs, "environment": "prod"})))
    assert "holds the outputs of the platform's env stack 'prod', but this is stack 'dev'" in err
    assert "pulumi stack output --json -s <org>/interlock-platform/dev > FILE" in err


def test_a_missing_or_mistyped_output_is_named(tmp_path, outputs):
    data = {k: v for k, v in outputs.items() if k != "ingressNetwork"} | {"httpsOnly": "no"}
    err = refused(app_preview(tmp_path, written(tmp_path, data)))
    assert "(2 problems)" in err
    assert "--platform-outputs: output 'ingressNetwork' is missing" in err
    assert "--platform-outputs: output 'httpsOnly' should be a valid boolean" in err
    assert "after `pulumi up` of the platform's 'dev' stack" in err


def test_without_outputs_or_a_platform_checkout_the_fix_is_named(tmp_path):
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    done = preview_cli("--project", str(example_copy(tmp_path)), "--stack", "dev", "--platform", str(nowhere))
    err = refused(done)
    assert f"{nowhere}: is not an interlock-platform checkout" in err
    assert "gives --platform-outputs FILE" in err


def test_platform_outputs_belong_to_an_app_project(tmp_path, outputs):
    done = preview_cli("--stack", "dev", "--platform-outputs", str(written(tmp_path, outputs)))
    assert done.returncode == 2 and "--platform-outputs goes with --project DIR" in done.stderr


def test_a_team_not_on_boarded_there_is_refused_naming_the_team_and_the_fix(tmp_path, platform_out):
    """The template once ended in a KeyError traceback (exit 1, read by CI as a violation)."""
    err = refused(app_preview(tmp_path, platform_out / "stack-outputs.json", example_copy(tmp_path, team="billing")))
    assert "Pulumi.dev.yaml: app-team-demo:team: team 'billing' is not on-boarded in this environment" in err
    assert "use one of its teams (ledger, payments)" in err and "interlock-platform:teams" in err


def test_another_on_boarded_team_is_accepted(tmp_path, platform_out):
    """The benign twin: a team the environment has on-boarded gets its own namespace."""
    project = example_copy(tmp_path, team="ledger")
    done = app_preview(tmp_path, platform_out / "stack-outputs.json", project, "--json", str(tmp_path / "app.json"))
    assert done.returncode == 0, done.stderr
    app = json.loads((tmp_path / "app.json").read_text())
    policy = next(r for r in app["resources"] if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert policy["inputs"]["metadata"]["namespace"] == "ledger-dev"


def test_the_out_folder_needs_no_platform_checkout_either(tmp_path, outputs):
    """--out renders the team's manifests and CloudFormation with nothing of the platform's
    repository around (its scanner suppressions included): no traceback."""
    done = app_preview(tmp_path, written(tmp_path, outputs), None, "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "kubernetes" / "payments-dev" / "networkpolicy-allow-ingress-demo.yaml").is_file()
    assert json.loads((tmp_path / "out" / "cloudformation" / "template.json").read_text())["AWSTemplateFormatVersion"]
