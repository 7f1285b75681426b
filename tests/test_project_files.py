"""The project's own files stay consistent: Pulumi.yaml, the stack files, requirements, CI."""

from __future__ import annotations

import re
import subprocess

from interlock_platform.core import config_keys
from interlock_platform.tooling.stack_files import ROOT, project_file, stack_names
from tests.conftest import STACKS


def test_pulumi_yaml_declares_every_key_with_a_description():
    project = project_file()
    assert project["name"] == "interlock-platform"
    assert project["runtime"]["name"] == "python" and project["runtime"]["options"]["virtualenv"]
    assert project["stackConfigDir"] == "stacks"
    declared = project["config"]
    assert set(declared) == set(config_keys.ALL_KEYS)
    for key, decl in declared.items():
        assert decl.get("description"), key
        assert decl["type"] in ("string", "integer", "boolean", "array", "object"), key


def test_the_four_stacks_exist():
    assert stack_names() == sorted(STACKS)


def test_requirements_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][^\s]*", line), f"{name}: {line} is not pinned"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"<!-- test-command -->\s*```sh\n(.+?)\n```", readme, re.S)
    assert command, "the README marks its test command with <!-- test-command -->"
    assert command.group(1).strip() in ci


def test_the_stack_files_validate_against_the_generated_schema_and_it_refuses_unknown_keys(tmp_path):
    """docs/config.schema.json, checked by check-jsonschema (not our reader): the four stack files
    pass; a misspelt key (with the project's namespace or none) and a wrong type are refused."""
    from interlock_platform.tooling.scan import console_script

    schema = ROOT / "docs" / "config.schema.json"
    stacks = [str(ROOT / "stacks" / f"Pulumi.{s}.yaml") for s in STACKS]
    ok = subprocess.run([console_script("check-jsonschema"), "--schemafile", str(schema), *stacks], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    base = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    for name, extra in {
        "misspelt": "  interlock-platform:domian: apps.example.com\n",
        "wrong-type": "  interlock-platform:tls: maybe\n",
        "no-namespace": "  domian: apps.example.com\n",
    }.items():
        bad = tmp_path / f"Pulumi.{name}.yaml"
        bad.write_text(base.replace("config:\n", "config:\n" + extra, 1))
        result = subprocess.run([console_script("check-jsonschema"), "--schemafile", str(schema), str(bad)], capture_output=True, text=True)
        assert result.returncode == 1, f"{name}: {result.stdout}"
    # some other provider's namespace is left to that provider, and a key without one is the project's (as the CLI reads it)
    for name, extra in {"other": "  aws:profile: platform\n", "bare": "  tls: 'true'\n"}.items():
        good = tmp_path / f"Pulumi.{name}.yaml"
        good.write_text(base.replace("config:\n", "config:\n" + extra, 1))
        result = subprocess.run([console_script("check-jsonschema"), "--schemafile", str(schema), str(good)], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: {result.stdout}"
