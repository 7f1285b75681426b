"""The `interlock-platform` command's own surface, run as a user runs it from a clone:
`python -m interlock_platform` (not the platform's Pulumi program, the repository's
__main__.py), its subcommands, `--version`, `--platform DIR`, and the `python -m tools.<name>`
shims kept for existing scripts."""

from __future__ import annotations

import subprocess
import sys

import pytest

import interlock_platform
from interlock_platform.tooling.cli import COMMANDS
from interlock_platform.tooling.stack_files import ROOT


def command(*args: str, module: str = "interlock_platform") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_python_dash_m_runs_the_command_not_the_pulumi_program():
    done = command()
    assert done.returncode == 2 and "usage: interlock-platform" in done.stderr
    assert all(name in done.stderr for name in COMMANDS) and "Traceback" not in done.stderr
    assert command("--version").stdout == f"interlock-platform {interlock_platform.__version__}\n"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_answers_help_under_its_own_name(name):
    done = command(name, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: interlock-platform {name}")


def test_an_unknown_subcommand_is_exit_2_with_the_known_ones():
    done = command("preveiw", "--stack", "dev")
    assert done.returncode == 2 and "unknown command 'preveiw'. Fix: use one of preview, scan" in done.stderr


def test_a_platform_folder_that_does_not_exist_is_exit_2(tmp_path):
    done = command("preview", "--stack", "dev", "--platform", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and f"--platform {tmp_path / 'nowhere'}: no such folder" in done.stderr


@pytest.mark.parametrize("subcommand", ["scan", "policy-config", "project-file"])
def test_commands_that_read_the_platform_refuse_a_folder_that_is_not_one(tmp_path, subcommand):
    extra = {"project-file": ["--check"], "scan": [str(tmp_path)]}.get(subcommand, [])
    done = command(subcommand, *extra, "--platform", str(tmp_path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"{tmp_path}: is not an interlock-platform checkout" in done.stderr and "Traceback" not in done.stderr


def test_the_old_module_names_run_the_same_command():
    """`python -m tools.preview` in an existing script: the same preview, the same output."""
    old, new = command("--stack", "dev", module="tools.preview"), command("preview", "--stack", "dev")
    assert old.returncode == new.returncode == 0, old.stderr + new.stderr
    assert old.stdout == new.stdout
    assert command("--check", module="tools.project_file").returncode == 0


@pytest.mark.parametrize(("stdin", "said"), [
    ("", "stdin is empty (did `pulumi stack output` fail?)"),
    ("error: no stack named 'acme/shared' found", "stdin is not JSON"),
    ("[1]", "stdin holds not the shared stack's outputs"),
    ('{"environment": "dev", "domain": "dev.apps.example.com"}', "stdin holds an env stack's outputs"),
])  # fmt: skip
def test_policy_config_from_a_pipe_that_is_not_the_shared_stacks_outputs_is_exit_2(stdin, said):
    """The workflows pipe `pulumi stack output --json` into `policy-config -`: a failed command,
    or the wrong stack's outputs, is exit 2 with the command to run, never a traceback."""
    done = subprocess.run([sys.executable, "-m", "interlock_platform", "policy-config", "-"], input=stdin, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "pulumi stack output --json -s <org>/interlock-platform/shared" in done.stderr
    assert "Traceback" not in done.stderr
