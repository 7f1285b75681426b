"""The offline preview end to end, as a user runs it: `python -m interlock_platform preview`."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from interlock_platform.core import interlock_toml, ports
from interlock_platform.tooling.mock_runtime import ProgramRun
from interlock_platform.tooling.preview import Preview, report_files, to_json
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import STACKS, copy_project, preview_cli

FIXTURE = ROOT / "tests" / "fixtures" / "interlock" / "ucp-3.2-default.toml"
DESIGN_KEYS = {"urn", "type", "name", "parent", "custom", "inputs"}


run_preview = preview_cli


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stack_previews_clean(stack, tmp_path):
    out = tmp_path / "out"
    result = run_preview("--stack", stack, "--json", str(tmp_path / "p.json"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["project"] == "interlock-platform" and doc["stack"] == stack
    assert doc["violations"] == []
    assert doc["resources"] and all(set(r) == DESIGN_KEYS for r in doc["resources"])
    assert [r["urn"] for r in doc["resources"]] == sorted(r["urn"] for r in doc["resources"])
    subnets = [r for r in doc["resources"] if r["type"] == "aws:ec2/subnet:Subnet"]
    assert all("cidrBlock" in r["inputs"] for r in subnets)  # camelCase wire names
    assert "security groups: rules per direction against the quota of 60" in result.stdout
    matrix = (out / "security" / "matrix.md").read_text()
    assert "## Who may reach whom" in matrix and "## NACL" in matrix
    if stack == "shared":
        assert not (out / "security" / "load-balancer.md").exists()
        assert not (out / "interlock").exists()
    else:
        assert "| deny |" in matrix
        config = (out / "interlock" / "config.toml").read_text()
        section = interlock_toml.section(config, stack)
        assert (section["PublishedPort"], section["PublishedSSLPort"]) == (
            doc["outputs"]["httpPort"],
            doc["outputs"]["httpsPort"],
        )
        assert interlock_toml.section(config, "default") is None  # the reference shared stack retires it
        head = FIXTURE.read_text().partition("[Extensions.default]")[0]
        assert config.startswith(head)  # every byte before the extensions is the base's
        policies = sorted(p.name for p in (out / "kubernetes" / f"payments-{stack}").iterdir())
        assert {
            "namespace-payments-" + stack + ".yaml",
            "networkpolicy-deny-all.yaml",
            "networkpolicy-allow-ingress-web.yaml",
        } <= set(policies)
        deny = yaml.safe_load((out / "kubernetes" / f"payments-{stack}" / "networkpolicy-deny-all.yaml").read_text())
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        lb = (out / "security" / "load-balancer.md").read_text()
        assert "| TCP 443 | forward |" in lb
        assert doc["outputs"]["environment"] == stack


@pytest.mark.parametrize("stack", ["shared", "prod"])
def test_what_a_reviewer_reads_does_not_depend_on_the_order_of_registration(preview, stack, tmp_path):
    """The SDK registers from several threads, so two runs of one stack register in different
    orders; the files --out writes and the --json report are diffed by reviewers, and must come
    out the same from either."""
    p = preview(stack)

    def reordered(run: ProgramRun) -> ProgramRun:
        resources = random.Random(stack).sample(run.resources, len(run.resources))
        assert resources != run.resources  # not vacuous: the run below is handed another order
        return dataclasses.replace(run, resources=resources)

    run = reordered(p.run)
    other = Preview(run, run if p.shared is p.run else reordered(p.shared), p.violations)
    interlock = None if stack == "shared" else FIXTURE.read_text()
    files = report_files(p, tmp_path, interlock)
    assert report_files(other, tmp_path, interlock) == files
    assert to_json(other) == to_json(p)
    # each row's ports by number, as a reviewer reads them (by text, 10250 would come before 179)
    cells = [row.split(" | ")[2].rstrip(" |") for row in files[tmp_path / "security" / "matrix.md"].splitlines() if row.count(" | ") == 2]
    tcp = [[int(p.split()[1].split("-")[0]) for p in cell.split(", ") if p.startswith("TCP ")] for cell in cells]
    assert all(ports == sorted(ports) for ports in tcp)
    assert any(sorted(map(str, ports)) != [str(p) for p in ports] for ports in tcp)  # not vacuous


@pytest.fixture(scope="module")
def project_on_release(tmp_path_factory):
    """The project with the reference stacks, its shared stack set to a supported MKE release."""
    copies: dict[str, Path] = {}

    def on(release: str) -> Path:
        if release not in copies:
            project = copy_project(tmp_path_factory.mktemp(f"mke-{release}") / "project")
            shared = project / "stacks" / "Pulumi.shared.yaml"
            text = shared.read_text()
            assert 'interlock-platform:ucpVersion: "3.9"' in text  # the reference stacks run MKE 3.9
            shared.write_text(text.replace('interlock-platform:ucpVersion: "3.9"', f'interlock-platform:ucpVersion: "{release}"'))
            copies[release] = project
        return copies[release]

    return on


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("release", ports.SUPPORTED)
def test_every_stack_previews_on_every_supported_release(project_on_release, release, stack, tmp_path):
    """Every reference stack previews with exit 0 on MKE 3.8 and on 3.9, with that release's
    ports, Kubernetes and Calico default (VXLAN: no IP protocol 4 anywhere)."""
    project = project_on_release(release)
    result = run_preview("--stack", stack, "--json", str(tmp_path / "p.json"), cwd=project)
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["violations"] == []
    sg_rules = [r for r in doc["resources"] if r["type"].startswith("aws:vpc/security")]
    nacl_entries = [r for r in doc["resources"] if r["type"] == "aws:ec2/networkAclRule:NetworkAclRule"]
    assert sg_rules and nacl_entries
    assert not [r["name"] for r in sg_rules if r["inputs"].get("ipProtocol") == "4"]
    assert not [r["name"] for r in nacl_entries if r["inputs"].get("protocol") == "4"]
    if stack == "shared":
        assert doc["outputs"]["ucpVersion"] == release and doc["outputs"]["calicoIpInIp"] is False
        manager_ports = {(r["inputs"].get("ipProtocol"), r["inputs"].get("fromPort")) for r in sg_rules}
        assert ("tcp", 12390) in manager_ports  # a port MKE 3.8 and 3.9 add to 3.7's


def _copy_project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def test_broken_config_exits_2_with_its_message_and_no_traceback(tmp_path):
    project = _copy_project(tmp_path)
    path = project / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["interlock-platform:ingressNodes"][0]["availabilityZone"] = "eu-west-1d"
    doc["config"]["interlock-platform:domain"] = "not a domain"
    path.write_text(yaml.safe_dump(doc))
    result = run_preview("--stack", "dev", "--json", str(tmp_path / "p.json"), cwd=project)
    assert result.returncode == 2
    assert "stack 'dev': interlock-platform:ingressNodes[0].availabilityZone: eu-west-1d has no subnet" in result.stderr
    assert "stack 'dev': interlock-platform:domain:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.json").exists()


def test_broken_shared_config_stops_an_environment_preview(tmp_path):
    project = _copy_project(tmp_path)
    path = project / "stacks" / "Pulumi.shared.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["interlock-platform:environments"]["test"]["cidr"] = "10.40.64.0/18"
    path.write_text(yaml.safe_dump(doc))
    result = run_preview("--stack", "prod", cwd=project)
    assert result.returncode == 2
    assert "stack 'shared': interlock-platform:environments.test.cidr: 10.40.64.0/18 overlaps environment 'dev'" in result.stderr


def test_unknown_stack_exits_2():
    result = run_preview("--stack", "staging")
    assert result.returncode == 2 and "no stack 'staging'" in result.stderr


def test_interlock_base_with_a_colliding_cluster_exits_2(tmp_path):
    base = tmp_path / "running.toml"
    base.write_text(
        FIXTURE.read_text()
        + "  [Extensions.legacy]\n    ProxyReplicas = 1\n    PublishedPort = 9000\n    PublishedSSLPort = 8445\n"
    )
    result = run_preview("--stack", "dev", "--out", str(tmp_path / "out"), "--interlock-base", str(base))
    assert result.returncode == 2
    assert "port 8445 of service cluster 'dev' is already the PublishedSSLPort of [Extensions.legacy]" in result.stderr


def test_interlock_base_keeps_the_running_clusters(tmp_path):
    base = tmp_path / "running.toml"
    running = interlock_toml.merge(
        interlock_toml.remove(FIXTURE.read_text(), "default"),
        interlock_toml.ServiceClusterSpec("test", 8081, 8444, 2, "ingress_test"),
        interlock_toml.template_section(FIXTURE.read_text()),
    )
    base.write_text(running)
    result = run_preview("--stack", "dev", "--out", str(tmp_path / "out"), "--interlock-base", str(base))
    assert result.returncode == 2 and "template extension [Extensions.default] is not in the Interlock config" in result.stderr
    template = tmp_path / "template.toml"
    template.write_text(interlock_toml.template_section(FIXTURE.read_text()))
    args = (
        "--stack",
        "dev",
        "--out",
        str(tmp_path / "out"),
        "--interlock-base",
        str(base),
        "--interlock-template",
        str(template),
    )
    result = run_preview(*args)
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "out" / "interlock" / "config.toml").read_text()
    assert config.startswith(running)
    assert interlock_toml.service_clusters(config) == ["test", "dev"]


def test_a_pack_that_cannot_start_exits_3_without_a_traceback(tmp_path):
    project = _copy_project(tmp_path)
    main = project / "policy" / "__main__.py"
    main.write_text("raise ImportError('pulumi_policy is not installed')\n" + main.read_text())
    result = run_preview("--stack", "dev", "--json", str(tmp_path / "p.json"), cwd=project)
    assert result.returncode == 3, result.stderr
    assert "stack 'dev': the policy pack in" in result.stderr and "did not start" in result.stderr
    assert "ImportError: pulumi_policy is not installed" in result.stderr  # the pack's own reason
    assert "the policies were not checked" in result.stderr and "policy/requirements.txt" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "p.json").exists()


def test_with_a_broken_pack_an_invalid_config_still_says_what_is_wrong(tmp_path):
    """The pack is configured before the env program runs; its failure must not hide the
    config's problems (exit 2, every problem), which the user has to fix first."""
    project = _copy_project(tmp_path)
    main = project / "policy" / "__main__.py"
    main.write_text("raise ImportError('pulumi_policy is not installed')\n" + main.read_text())
    path = project / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["interlock-platform:domain"] = "not a domain"
    path.write_text(yaml.safe_dump(doc))
    result = run_preview("--stack", "dev", cwd=project)
    assert result.returncode == 2, result.stderr
    assert "stack 'dev': interlock-platform:domain:" in result.stderr and "Traceback" not in result.stderr


def test_a_rule_that_raises_exits_3_rather_than_passing(tmp_path):
    project = _copy_project(tmp_path)
    rules = project / "policy" / "rules" / "aws.py"
    text = rules.read_text()
    old = "def _descriptions(args: ResourceValidationArgs, report: ReportViolation) -> None:\n"
    assert old in text
    rules.write_text(text.replace(old, old + "    raise ValueError('a bug in a rule')\n"))
    result = run_preview("--stack", "dev", cwd=project)
    assert result.returncode == 3, result.stderr
    assert "the policy pack failed while analyzing" in result.stderr and "a bug in a rule" in result.stderr
    assert "Traceback" not in result.stderr and "requirements.txt" not in result.stderr  # not an install problem


def test_a_preview_registers_the_swarm_resources_without_loading_docker_py():
    """docker-py (with requests and urllib3) is for talking to the engine, which a preview never
    does; importing it anyway cost every preview ~0.13 s. Run in a fresh interpreter: this one
    has loaded docker-py for the Swarm tests."""
    script = (
        "import sys; from interlock_platform.tooling.preview import run_preview; p = run_preview('dev'); "
        "print(sorted({r.type for r in p.run.resources if r.type.startswith('pulumi-python:dynamic')})); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'docker', 'requests', 'urllib3'}))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    registered, loaded = result.stdout.strip().splitlines()
    assert "pulumi-python:dynamic/interlock:ServiceCluster" in registered
    assert "pulumi-python:dynamic/swarm:NodeLabels" in registered
    assert loaded == "[]"
