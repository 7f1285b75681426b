"""docs/iam-policy.json, the deploying role's policy: generated from what the program registers
(tools/iam_policy.py), in step with it, within what AWS publishes (parliament's copy of the
Service Authorization Reference), and with no wildcard action on EC2 or IAM."""

from __future__ import annotations

import ast
import functools
import json
import re

import pulumi_aws as aws
import pytest
from parliament import analyze_policy_string

from interlock_platform.tooling.stack_files import ROOT, stack_names
from tools import iam_policy


@functools.cache
def found() -> iam_policy.Registered:
    return iam_policy.registered()


def document() -> dict:
    return json.loads(iam_policy.POLICY_FILE.read_text())


def actions(policy: dict) -> list[str]:
    return [a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]


def constructed_aws_types() -> set[str]:
    """Every `aws.<module>.<Resource>(...)` the program's source constructs, as a type token: the
    types a stack file with other settings would register (the four stacks may not)."""
    tokens = set()
    for path in (ROOT / "interlock_platform").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            inner = node.value if isinstance(node, ast.Attribute) else None
            if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id == "aws":
                token = getattr(getattr(getattr(aws, inner.attr, None), node.attr, None), "pulumi_type", None)
                if isinstance(token, str) and token.startswith("aws:"):
                    tokens.add(token)
    return tokens


def test_the_file_is_what_the_generator_writes():
    assert iam_policy.POLICY_FILE.read_text() == iam_policy.render(found())
    assert iam_policy.main(["--check"]) == 0


def test_every_aws_type_the_program_registers_or_constructs_has_an_entry():
    registered = found().types
    assert set(stack_names()) == {s for stacks in registered.values() for s in stacks}  # every stack was run
    assert "aws:ec2/vpc:Vpc" in registered and "aws:lb/loadBalancer:LoadBalancer" in registered
    missing = (set(registered) | constructed_aws_types()) - set(iam_policy.ACTIONS)
    assert not missing, f"add IAM actions for {sorted(missing)} to ACTIONS in tools/iam_policy.py"
    # and the table holds nothing the program does not use
    assert set(iam_policy.ACTIONS) <= set(registered) | constructed_aws_types()


def test_no_wildcard_action_and_none_on_ec2_or_iam():
    listed = actions(document())
    assert listed and all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in listed), [a for a in listed if "*" in a]
    assert not [a for a in listed if a.split(":")[0] in ("ec2", "iam") and "*" in a]
    assert len(listed) == len(set(listed))


def test_iam_is_scoped_to_the_roles_the_stacks_create():
    for statement in document()["Statement"]:
        listed = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        if any(a.startswith("iam:") for a in listed):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert "*" not in resources and all(r.startswith("arn:aws:iam::*:role/") for r in resources), statement
            if "iam:PassRole" in listed or "iam:CreateServiceLinkedRole" in listed:
                assert statement["Condition"], statement
    assert found().role_names and all(
        any(f"role/{name}-*" in json.dumps(s["Resource"]) for s in document()["Statement"]) for name in found().role_names
    )


def test_every_action_is_one_aws_publishes_with_resources_it_takes():
    """parliament checks each action against its copy of the Service Authorization Reference and
    each resource against the action's resource types. `Resource: *` on an action that could take
    an ARN (RESOURCE_STAR, low) is expected: those resources do not exist before `pulumi up`."""
    findings = analyze_policy_string(iam_policy.POLICY_FILE.read_text()).findings
    assert [(f.issue, f.detail) for f in findings if f.issue != "RESOURCE_STAR"] == []


def test_a_misspelt_action_in_the_table_is_caught_by_the_same_check():
    """The hostile twin: one wrong name in the table reaches the file and parliament names it."""
    entry = iam_policy.ACTIONS["aws:ec2/route:Route"]
    table = {**iam_policy.ACTIONS, "aws:ec2/route:Route": iam_policy.Actions(create=("ec2:CreateRoutes",), read=entry.read)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(iam_policy, "ACTIONS", table)
        text = iam_policy.render(found())
    assert ("UNKNOWN_ACTION", "Unknown action ec2:CreateRoutes") in [
        (f.issue, f.detail) for f in analyze_policy_string(text).findings
    ]


def test_the_policy_follows_what_is_registered():
    """Generated, not written: fewer types give fewer actions, and an unknown type stops the generator."""
    only_routes = iam_policy.policy(iam_policy.Registered({"aws:ec2/route:Route": ["dev"]}, []))
    assert sorted(actions(only_routes)) == sorted(iam_policy.ACTIONS["aws:ec2/route:Route"].all())
    with pytest.raises(iam_policy.UnmappedType, match="aws:ec2/instance:Instance"):
        iam_policy.policy(iam_policy.Registered({"aws:ec2/instance:Instance": ["dev"]}, []))


def test_kms_key_management_reaches_only_the_platforms_own_keys():
    """PutKeyPolicy or DisableKeyRotation on `*` would reach every key of the account (a secrets
    provider's key among them): key actions are held to the platform's tag, and a key is created
    only with it."""
    statements = [s for s in json.loads(iam_policy.render())["Statement"] if s["Sid"].startswith("Kms")]
    assert {a for s in statements for a in s["Action"]} >= {"kms:CreateKey", "kms:PutKeyPolicy", "kms:DisableKeyRotation"}
    for s in statements:
        tag = "aws:RequestTag/managed-by" if s["Action"] == ["kms:CreateKey"] else "aws:ResourceTag/managed-by"
        assert s["Condition"] == {"StringEquals": {tag: "pulumi/interlock-platform"}}, s
        assert s["Resource"] == ("*" if s["Action"] == ["kms:CreateKey"] else "arn:aws:kms:*:*:key/*")
