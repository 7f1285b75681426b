"""The Pulumi CLI's project-config contract, held to the CLI's own rules.

The CLI merges Pulumi.yaml's `config:` block into a stack before it runs the program
(`mergeConfig`, pulumi/pulumi sdk/go/common/workspace/config.go) and checks the block itself
(`Project.Validate`, project.go). The first group of tests replays the cases of the CLI's own
tests for those functions (sdk/go/common/workspace/project_test.go) against the offline
preview's reading of the files, expecting the CLI's results and wording. The second group holds
this project's Pulumi.yaml and stack files to those rules: the test that would have caught
"the CLI refuses every stack" is `test_the_cli_accepts_every_stack`.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from interlock_platform.core import config_keys
from interlock_platform.core.config_keys import PROJECT
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import parse_environment, parse_shared
from interlock_platform.tooling import project_file
from interlock_platform.tooling.stack_files import ROOT, InvalidProjectFiles, merged_config, offline_config
from tests.conftest import STACKS, copy_project, preview_cli, shared_outputs

# --------------------------------------------------------------------------------------------
# The CLI's own cases (project_test.go), on a scratch project named `test` with a stack `dev`


def project(tmp_path: Path, config: str, stack: str | None = None) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: test\nruntime: python\nconfig:\n" + textwrap.indent(textwrap.dedent(config), "  ")
    )
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n" + textwrap.indent(textwrap.dedent(stack or ""), "  ") if stack else "")
    return tmp_path


def merged(tmp_path: Path, config: str, stack: str | None = None) -> dict:
    return merged_config("dev", project(tmp_path, config, stack)).values


def refused(tmp_path: Path, config: str, stack: str | None = None) -> list[str]:
    with pytest.raises(InvalidProjectFiles) as err:
        merged(tmp_path, config, stack)
    return [p.message for p in err.value.problems]


def engine_value(value):
    """What the program receives for a value: the CLI hands every value over as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def test_stack_config_is_inherited_from_project_config(tmp_path):
    values = merged(tmp_path, "instanceSize: t3.micro\ninstanceCount: 20\nprotect: true\n", "test:instanceSize: t4.large\n")
    assert {k: engine_value(v) for k, v in values.items()} == {
        "test:instanceSize": "t4.large", "test:instanceCount": "20", "test:protect": "true",
    }  # fmt: skip


def test_namespaced_config_values_are_inherited_correctly(tmp_path):
    values = merged(
        tmp_path,
        "aws:region: us-west-1\npulumi:disable-default-providers: ['*']\ninstanceSize: t3.micro\n",
        "test:instanceSize: t4.large\n",
    )
    assert engine_value(values["aws:region"]) == "us-west-1"
    assert engine_value(values["pulumi:disable-default-providers"]) == '["*"]'
    assert values["test:instanceSize"] == "t4.large"


def test_loading_stack_config_without_namespacing_the_project(tmp_path):
    values = merged(tmp_path, "aws:region: us-west-1\ninstanceSize: t3.micro\n", "instanceSize: t4.large\n")
    assert values["test:instanceSize"] == "t4.large" and values["aws:region"] == "us-west-1"


def test_untyped_project_config_values_are_not_validated(tmp_path):
    values = merged(tmp_path, "instanceSize: t3.micro\naws:region: us-west-1\n", "instanceSize: 9999\naws:region: 42\n")
    assert engine_value(values["test:instanceSize"]) == "9999" and engine_value(values["aws:region"]) == "42"


def test_untyped_project_config_values_with_only_default_or_only_value(tmp_path):
    values = merged(tmp_path, "instanceSize: {default: t3.micro}\naws:region: {value: us-west-1}\n", "aws:answer: 42\n")
    assert set(values) == {"test:instanceSize", "aws:region", "aws:answer"}


def test_untyped_stack_config_values_do_not_need_a_project_declaration(tmp_path):
    assert merged(tmp_path, "createVpc: true\n", "instanceSize: 42\n")["test:instanceSize"] == "42"  # the text written


def test_untyped_object_values_are_passed_down_to_the_stack(tmp_path):
    values = merged(tmp_path, "aws:config: {value: {hello: world}}\n", "aws:whatever: 42\n")
    assert engine_value(values["aws:config"]) == '{"hello":"world"}'


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("aws:region: {type: string, value: us-west-1}", "Configuration key 'aws:region' is not namespaced by the project and should not define a type"),
        ("instanceSize: {type: string, default: a, value: b}", "project config 'instanceSize' cannot have both a 'default' and 'value' attribute"),
        ("values: {type: array}", "The configuration key 'values' declares an array but does not specify the underlying type via the 'items' attribute"),
        (
            "aws:region: {default: us-west-1}",
            "Configuration key 'aws:region' is not namespaced by the project and should not define a default value. "
            "Did you mean to use the 'value' attribute instead of 'default'?",
        ),
        ("aws:region: {description: where}", "Configuration key 'aws:region' is namespaced and must provide an attribute 'value'"),
        ("instanceSize: {type: integer, default: hello}", "The default value specified for configuration key 'instanceSize' is not of the expected type 'integer'"),
        (
            "values: {type: array, items: {type: array, items: {type: string}}, default: [hello]}",
            "The default value specified for configuration key 'values' is not of the expected type 'array<array<string>>'",
        ),
        ("n: {type: number}", "#/config/n/type: value must be one of 'string', 'integer', 'boolean', 'array', 'object'"),
    ],
)  # fmt: skip
def test_the_project_file_is_refused_as_the_cli_refuses_it(tmp_path, config, message):
    assert message in refused(tmp_path, config + "\n")


def test_correct_default_value_types_are_accepted(tmp_path):
    values = merged(
        tmp_path,
        "instanceSize: {type: integer, default: 1}\nvalues: {type: array, items: {type: array, items: {type: string}}, default: [[hello]]}\n",
    )
    assert values["test:instanceSize"] == 1 and values["test:values"] == [["hello"]]


def test_a_stack_value_of_the_wrong_type_is_refused(tmp_path):
    config = "values: {type: array, items: {type: string}, default: [value]}\n"
    assert refused(tmp_path, config, "test:values: someValue\n") == [
        "Stack 'dev' with configuration key 'values' must be of type 'array<string>'"
    ]


# The CLI reads a stack file with yaml.v3 and keeps a top-level boolean or number as its JSON text
# (pulumi/pulumi sdk/go/common/resource/config/object.go MarshalString, commit
# 1b5949891b3cefcb9974752b24a5ecef0acc86c8; go-yaml/yaml v3 resolve.go, commit
# f6f7691b1fdeb513f56608cd2c32c51f8194bf51); its type check (sdk/go/common/workspace/project.go
# ValidateConfigValue) then sees "365", "true": what the program receives too.
@pytest.mark.parametrize(
    ("value", "ok", "text"),
    [
        ("20", True, "20"), ("'20'", True, "20"), ("hello", False, None), ("2.5", False, None), ("[1]", False, None),
        ("0x16D", True, "365"), ("0o17", True, "15"), ("017", True, "15"), ("1_000", True, "1000"), ("1e3", True, "1000"),
        ("+12", True, "12"), ("'0x16D'", False, None), ("1.5e1", True, "15"),
    ],
)  # fmt: skip
def test_integer_values_are_validated_as_the_cli_does(tmp_path, value, ok, text):
    config, stack = "importantNumber: {type: integer}\n", f"test:importantNumber: {value}\n"
    if ok:
        assert merged(tmp_path, config, stack)["test:importantNumber"] == text
    else:
        assert refused(tmp_path, config, stack) == [
            "Stack 'dev' with configuration key 'importantNumber' must be of type 'integer'"
        ]


@pytest.mark.parametrize(
    ("value", "ok"),
    # yaml.v3 (YAML 1.2) reads true/True/TRUE as booleans; `yes`, `on` and `1` stay text, and a
    # quoted 'True' is the string, not "true"
    [("true", True), ("false", True), ("True", True), ("FALSE", True), ("yes", False), ("on", False), ("1", False), ("'True'", False)],
)
def test_booleans_are_read_as_the_cli_reads_them(tmp_path, value, ok):
    config, stack = "protect: {type: boolean, default: false}\n", f"test:protect: {value}\n"
    if ok:
        assert merged(tmp_path, config, stack)["test:protect"] == value.lower()
    else:
        assert refused(tmp_path, config, stack) == ["Stack 'dev' with configuration key 'protect' must be of type 'boolean'"]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["values"], "Stack 'dev' is missing configuration value 'values'"),
        (["values", "another"], "Stack 'dev' is missing configuration values 'another' and 'values'"),
        (["world", "hello", "values"], "Stack 'dev' is missing configuration values 'hello', 'values' and 'world'"),
    ],
)
def test_missing_stack_values_are_named_as_the_cli_names_them(tmp_path, keys, message):
    config = "".join(f"{k}: {{type: string}}\n" for k in keys)
    assert refused(tmp_path, config) == [message]


def test_a_merge_key_is_read_as_yaml_v3_reads_it(tmp_path):
    values = merged(
        tmp_path, "lb: {type: object, default: {}}\n", "test:base: &base {scheme: internal}\ntest:lb:\n  <<: *base\n  port: 443\n"
    )
    assert values["test:lb"] == {"scheme": "internal", "port": 443}


def test_a_null_scalar_is_the_empty_string(tmp_path):
    assert merged(tmp_path, "zone: {type: string, default: Z1}\n", "test:zone: ~\n")["test:zone"] == ""


def test_no_project_config_accepts_any_stack_config(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: test\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  test:a: 1\n  test:b: x\n  aws:region: us-east-1\n")
    assert len(merged_config("dev", tmp_path).values) == 3


def test_a_secret_must_be_encrypted(tmp_path):
    config = "importantNumber: {type: integer, secret: true}\n"
    merged(tmp_path, config, "test:importantNumber: {secure: AAABAKNxb8Lr9bjhbjD+IOVk}\n")
    assert refused(tmp_path, config, "test:importantNumber: 20\n") == [
        "Stack 'dev' with configuration key 'importantNumber' must be encrypted as it's secret"
    ]


def test_a_duplicated_key_is_refused_with_both_lines(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: test\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  test:envs:\n    dev: 1\n    dev: 2\n")
    with pytest.raises(InvalidProjectFiles) as err:
        merged_config("dev", tmp_path)
    (problem,) = err.value.problems
    assert (problem.line, problem.message) == (4, "key 'dev' is already defined at line 3")


# --------------------------------------------------------------------------------------------
# This project's files, held to those rules


@pytest.mark.parametrize("stack", STACKS)
def test_the_cli_accepts_every_stack(stack):
    """What `pulumi preview -s <stack>` checks before it runs the program. Before the key table,
    every stack was missing 17 to 19 project keys and this failed for all four."""
    config = merged_config(stack)
    assert not config.warnings
    for key in config_keys.ALL_KEYS:
        assert f"{PROJECT}:{key}" in config.values, f"{key}: the CLI merges every declared key into every stack"


def test_pulumi_yaml_is_generated_from_the_key_table():
    assert project_file.main(["--check"]) == 0
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert [k for k, d in declared.items() if "default" not in d] == ["role"]  # only role has no default
    assert not any(d.get("secret") for d in declared.values())  # see interlock_platform/core/config_keys.py for why


def test_the_program_ignores_what_the_cli_merged_from_the_other_role():
    """Every stack receives every key; the program must not read the shared keys' defaults in an
    env stack as settings, nor the env keys' defaults in the shared stack."""
    prefix = f"{PROJECT}:"
    for stack in STACKS:
        config, _, _ = offline_config(stack)
        raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
        if raw["role"] == "shared":
            parse_shared(stack, raw, aws_region=config["aws:region"])
        else:
            parse_environment(stack, raw, shared_outputs(), aws_region=config["aws:region"])


def test_a_key_of_the_other_role_set_to_a_real_value_is_still_refused():
    prefix = f"{PROJECT}:"
    config, _, _ = offline_config("dev")
    raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    raw["vpcCidr"] = "10.50.0.0/16"
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", raw, shared_outputs())
    assert [p.key for p in err.value.problems] == ["vpcCidr"]


def test_a_new_stack_made_as_the_readme_says_passes_the_cli(tmp_path):
    """`pulumi stack init acme/staging`, then copy an env stack file and change what differs: the
    CLI accepts it; an empty new stack is refused by the CLI for `role` alone."""
    root = copy_project(tmp_path / "project")
    (root / "stacks" / "Pulumi.staging.yaml").write_text((root / "stacks" / "Pulumi.dev.yaml").read_text())
    merged_config("staging", root)
    (root / "stacks" / "Pulumi.empty.yaml").write_text("")
    with pytest.raises(InvalidProjectFiles) as err:
        merged_config("empty", root)
    assert [p.message for p in err.value.problems] == ["Stack 'empty' is missing configuration value 'role'"]


def test_the_preview_refuses_what_the_cli_refuses_with_exit_2(tmp_path):
    root = copy_project(tmp_path / "project")
    path = root / "stacks" / "Pulumi.prod.yaml"
    path.write_text(path.read_text().replace("interlock-platform:tls: true", "interlock-platform:tls: yes"))
    result = preview_cli("--stack", "prod", cwd=root)
    assert result.returncode == 2, result.stderr
    line = path.read_text().splitlines().index("  interlock-platform:tls: yes") + 1
    assert f"stacks/Pulumi.prod.yaml:{line}: Stack 'prod' with configuration key 'tls' must be of type 'boolean'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_the_app_team_example_needs_only_its_client_bundle_secrets(stack):
    """The example's stacks set everything but the secrets every app team sets itself with
    `pulumi config set --secret` (its README's step): the CLI asks for those and nothing else."""
    with pytest.raises(InvalidProjectFiles) as err:
        merged_config(stack, ROOT / "examples" / "app-team")
    (problem,) = err.value.problems
    assert (
        problem.message
        == f"Stack '{stack}' is missing configuration values 'kubeconfig', 'ucpCaCert', 'ucpClientCert' and 'ucpClientKey'"
    )
    assert "pulumi config set --secret" in problem.fix
