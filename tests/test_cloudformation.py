"""The CloudFormation rendering, and the scanners nobody here wrote: cfn-lint (AWS's own resource
schemas and EC2's rules, such as the characters a security-group description may hold),
Checkov and cfn-guard with AWS Control Tower's proactive rules.

`test_cfn_lint_finds_no_error_in_any_stack` is the test that would have caught "AWS rejects the
management security group": its description held an apostrophe, cfn-lint's E3031.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from interlock_platform.tooling import cloudformation, scan
from interlock_platform.tooling.mock_runtime import Registration
from tests.conftest import STACKS


def rendered(preview, stack: str) -> dict:
    p = preview(stack)
    foreign = [] if p.shared is p.run else p.shared.resources
    return cloudformation.render(stack, p.run.resources, foreign)


def write(tmp_path: Path, stack: str, template: dict) -> Path:
    path = tmp_path / f"{stack}.json"
    path.write_text(json.dumps(template, indent=2))
    return path


def test_every_aws_type_the_program_registers_is_rendered(preview):
    types = {r.type for stack in STACKS for r in preview(stack).run.resources if r.type.startswith("aws:")}
    uncovered = types - set(cloudformation.RENDERERS) - set(cloudformation.FOLDED) - set(cloudformation.NO_EQUIVALENT)
    assert not uncovered, f"add a CloudFormation rendering to interlock_platform/tooling/cloudformation.py for {sorted(uncovered)}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_aws_registration_is_accounted_for(preview, stack):
    template = rendered(preview, stack)
    rendered_urns = {r["Metadata"]["pulumi"]["urn"] for r in template["Resources"].values()}
    meta = template["Metadata"]["interlock-platform"]
    listed = {e["urn"] for e in meta["folded"] + meta["notRendered"]}
    for r in preview(stack).run.resources:
        if r.type.startswith("aws:"):
            assert r.urn in rendered_urns | listed, r.urn


@pytest.mark.parametrize("stack", STACKS)
def test_references_become_refs_not_mock_ids(preview, stack):
    """A mock id or ARN left in the template would make a reference look like a literal."""
    template = rendered(preview, stack)
    ids = {r.id for s in ("shared", stack) for r in preview(s).run.resources if r.id}
    text = json.dumps({k: v["Properties"] for k, v in template["Resources"].items()})
    assert "arn:aws:mock" not in text
    for value in ids:
        assert json.dumps(value) not in text, value


def test_an_unknown_aws_type_stops_the_rendering():
    stray = Registration("urn:pulumi:dev::p::aws:ec2/instance:Instance::x", "aws:ec2/instance:Instance", "x", "", True, {})
    with pytest.raises(cloudformation.UnrenderedType, match="aws:ec2/instance:Instance"):
        cloudformation.Renderer([stray]).render()


def test_a_suppression_needs_its_reason(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("- {tool: checkov, rule: CKV_AWS_91}\n")
    with pytest.raises(ValueError, match="give tool"):
        cloudformation.load_suppressions(path)
    assert all(s.reason for s in cloudformation.load_suppressions())


# --------------------------------------------------------------------------------------------
# The scanners


@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_finds_no_error_in_any_stack(preview, tmp_path, stack):
    findings = scan.run_cfn_lint(write(tmp_path, stack, rendered(preview, stack)))
    assert not [f for f in findings if "(Error)" in f.rule], findings
    assert findings == [], "a warning that is neither fixed nor in scanners/suppressions.yaml"


def test_cfn_lint_refuses_what_ec2_refuses(preview, tmp_path):
    """The check is real: the description the management group had before is E3031."""
    template = copy.deepcopy(rendered(preview, "shared"))
    group = template["Resources"]["SharedFwManagement"]["Properties"]
    group["GroupDescription"] = "UCP managers and DTR: admins on 443/6443; each environment's rules are owned by its stack"
    findings = scan.run_cfn_lint(write(tmp_path, "shared", template))
    assert [(f.rule, f.resource) for f in findings] == [("E3031 (Error)", "SharedFwManagement")]


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_and_cfn_guard_find_nothing_unsuppressed(preview, tmp_path, stack):
    """Installed by tools/test.sh (`python -m interlock_platform scan --install`); a missing scanner fails."""
    path = write(tmp_path, stack, rendered(preview, stack))
    assert scan.run_checkov(path) == []
    assert scan.run_cfn_guard(path) == []


def test_the_scanners_see_an_insecure_change(preview, tmp_path):
    """The same scanners fail a NACL that admits SSH from the world and a log group without its
    key: the zero above is not an empty run."""
    template = copy.deepcopy(rendered(preview, "shared"))
    template["Resources"]["SharedFlowLogsLogGroup"]["Properties"].pop("KmsKeyId")
    template["Resources"]["OpenSsh"] = {
        "Type": "AWS::EC2::NetworkAclEntry",
        "Properties": {
            "NetworkAclId": {"Ref": "SharedFwManagementNacl"}, "RuleNumber": 900, "Protocol": 6, "RuleAction": "allow",
            "Egress": False, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 22, "To": 22},
        },
    }  # fmt: skip
    path = write(tmp_path, "shared", template)
    assert {(f.rule, f.resource) for f in scan.run_checkov(path)} == {("CKV_AWS_158", "SharedFlowLogsLogGroup")}
    assert {(f.rule, f.resource) for f in scan.run_cfn_guard(path)} == {
        ("cloudwatch_log_group_encrypted_check", "SharedFlowLogsLogGroup"),
        ("nacl_no_unrestricted_ssh_rdp_check", "OpenSsh"),
    }


def test_the_suppressions_reach_the_template_metadata(preview):
    lb = rendered(preview, "dev")["Resources"]["DevLbNlb"]["Metadata"]
    assert {s["id"] for s in lb["checkov"]["skip"]} == {"CKV_AWS_91"}
    assert set(lb["guard"]["SuppressedRules"]) == {"elbv2_logging_enabled_check", "elbv2_deletion_protection_enabled_check"}
    prod = rendered(preview, "prod")["Resources"]["ProdLbNlb"]["Metadata"]
    assert "elbv2_deletion_protection_enabled_check" not in prod["guard"]["SuppressedRules"]  # prod keeps it on


def test_the_flow_logs_and_their_key_survive_a_stack_deletion(preview):
    """retain_on_delete in the program is DeletionPolicy and UpdateReplacePolicy Retain in the twin."""
    retained = {r.name for r in preview("shared").run.resources if r.retain_on_delete}
    assert retained == {"shared-flow-logs"}  # the log group and its key share the name
    template = rendered(preview, "shared")["Resources"]
    for lid in ("SharedFlowLogsLogGroup", "SharedFlowLogsKey"):
        assert (template[lid]["DeletionPolicy"], template[lid]["UpdateReplacePolicy"]) == ("Retain", "Retain"), lid
    assert all("DeletionPolicy" not in r for lid, r in template.items() if lid not in ("SharedFlowLogsLogGroup", "SharedFlowLogsKey"))


def test_the_scan_shows_informational_findings_without_failing_on_them(preview, tmp_path, capsys):
    """cfn-lint's I3011 on a log group without a DeletionPolicy is shown, and the scan still passes;
    an error beside it fails the scan."""
    template = copy.deepcopy(rendered(preview, "shared"))
    for key in ("DeletionPolicy", "UpdateReplacePolicy"):
        template["Resources"]["SharedFlowLogsLogGroup"].pop(key)
    path = write(tmp_path, "shared", template)
    assert scan.main(["--tools", "cfn-lint", str(path)]) == 0
    out = capsys.readouterr().out
    assert "0 findings not suppressed" in out and "informational (shown, not failing)" in out
    assert "I3011 (Informational) SharedFlowLogsLogGroup" in out
    template["Resources"]["SharedFwManagement"]["Properties"]["GroupDescription"] = "each environment's rules"  # E3031
    assert scan.main(["--tools", "cfn-lint", str(write(tmp_path, "shared", template))]) == 1
