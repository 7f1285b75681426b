"""docs/deploying.md, held to the program: the first shared pass it gives leaves out exactly the
Swarm part and nothing AWS, needs no client bundle, and the outputs, pins and kept resources it
names are the program's."""

from __future__ import annotations

import re

import pytest

from interlock_platform.core.config_keys import ENVIRONMENT, SHARED
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.outputs import BY_ROLE
from interlock_platform.core.topology import parse_shared
from interlock_platform.stack_config import InvalidStackConfig
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor, run_program
from interlock_platform.tooling.policy_harness import PolicyPackProcess
from interlock_platform.tooling.preview import run_preview
from interlock_platform.tooling.stack_files import ROOT, offline_config
from tests.conftest import ENVIRONMENTS, SHARED_REF, full_config, raw, refused_dev

DOC = (ROOT / "docs" / "deploying.md").read_text()


@pytest.fixture(scope="module")
def shared_run():
    config, secrets, _ = offline_config("shared")
    return run_program("shared", config, secret_keys=secrets)


def engine_urn(urn: str) -> str:
    """The URN the engine gives: the mocks put the stack's own type into the chain of a resource
    the stack parents; the engine does not."""
    return urn.replace("::pulumi:pulumi:Stack$", "::", 1)


def excluded_by_the_doc() -> list[str]:
    swarm = re.search(r"^SWARM='([^']+)'$", DOC, re.M)
    assert swarm, "docs/deploying.md names the Swarm component's URN prefix in SWARM='...'"
    return [u.replace("$SWARM", swarm.group(1)).replace("\\$", "$") for u in re.findall(r'--exclude "([^"]+)"', DOC)]


def test_the_first_shared_pass_excludes_the_swarm_part_and_nothing_aws(shared_run):
    urns = {engine_urn(r.urn): r for r in shared_run.resources}
    excluded = excluded_by_the_doc()
    assert excluded and all(u in urns for u in excluded), sorted(set(excluded) - set(urns))
    assert {urns[u].type for u in excluded} >= {
        "interlock-platform:swarm:SharedSwarm",
        "pulumi-python:dynamic/interlock:Settings",
    }
    # what --exclude-dependents leaves out besides: whatever depends on them, or is their child
    left_out, grew = set(excluded), True
    while grew:
        grew = False
        for urn, r in urns.items():
            deps = {
                engine_urn(d) for d in [*r.dependencies, *(d for ds in r.property_dependencies.values() for d in ds), r.parent]
            }
            if urn not in left_out and deps & left_out:
                left_out.add(urn)
                grew = True
    assert not [u for u in left_out if urns[u].type.startswith("aws:")]
    # every resource that talks to UCP is left out (the first pass has no UCP)
    assert {u for u, r in urns.items() if r.type.startswith(("pulumi-python:dynamic", "docker:"))} <= left_out


def test_the_first_pass_needs_no_client_bundle_and_the_real_address_does():
    cfg = {k: v for k, v in raw("shared").items() if k not in ("ucpCaCert", "ucpClientCert", "ucpClientKey")}
    assert "ucpHost unix:///var/run/docker.sock" in DOC
    parse_shared("shared", {**cfg, "ucpHost": "unix:///var/run/docker.sock"}, aws_region="eu-west-1")
    with pytest.raises(InvalidConfig) as err:
        parse_shared("shared", {**cfg, "ucpHost": "tcp://ucp.example.com:443"}, aws_region="eu-west-1")
    assert {p.key for p in err.value.problems} == {"ucpCaCert", "ucpClientCert", "ucpClientKey"}


def test_the_outputs_the_node_tables_name_are_the_contract():
    names = {role: {o.name for o in BY_ROLE[role]} for role in (SHARED, ENVIRONMENT)}
    shared_table = DOC.split("### 2. Managers and DTR", 1)[1].split("###", 1)[0]
    env_table = DOC.split("The workers, from the env stack's outputs:", 1)[1].split("Join each worker", 1)[0]
    for text, role in ((shared_table, SHARED), (env_table, ENVIRONMENT)):
        table = "\n".join(line for line in text.splitlines() if line.startswith("| ") and "---" not in line)
        named = {m for m in re.findall(r"`([a-zA-Z]+)(?:\[[^`]*\])*`", table) if m[0].islower() and m[1:] != m[1:].lower()}
        assert named and named <= names[role] | names[SHARED], named - names[role]


def test_the_cli_version_the_doc_gives_is_the_pin():
    pin = (ROOT / ".pulumi.version").read_text().strip()
    assert f"(`.pulumi.version`) ({pin})" in DOC.replace("in `.pulumi.version`** (", "(`.pulumi.version`) (")


def test_what_the_doc_says_destroy_keeps_is_what_the_program_retains(shared_run):
    retained = sorted(r.type for r in shared_run.resources if r.retain_on_delete)
    assert retained == ["aws:cloudwatch/logGroup:LogGroup", "aws:kms/key:Key"]
    kept = DOC.split("**Kept** after a destroy:", 1)[1]
    assert "flow log group" in kept and "KMS key" in kept and "retainOnDelete" in kept


# --------------------------------------------------------------------------------------------
# An environment's network pass: its subnets and groups before its nodes exist

NETWORK_PASS_TYPES = {  # what the network pass may create: the environment's network and firewall, nothing else
    "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/networkAcl:NetworkAcl",
    "aws:ec2/networkAclRule:NetworkAclRule", "aws:ec2/networkAclAssociation:NetworkAclAssociation",
    "aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:ec2/vpcEndpoint:VpcEndpoint",
    "interlock-platform:network:EnvironmentNetwork", "interlock-platform:firewall:EnvironmentFirewall",
}  # fmt: skip


def network_pass(env: str, **overrides: object) -> dict[str, object]:
    return full_config(env, networkOnly="true", **{"ingressNodes": None, **overrides})


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_network_pass_makes_the_network_and_firewall_only_and_the_pack_passes_it(pack, env):
    """`networkOnly: true` without ingressNodes (the nodes do not exist yet): the environment's
    subnets, route tables, NACLs and security groups with their rules, and nothing that needs a
    node (no load balancer, DNS record, Swarm or Kubernetes part); it exports what the node
    tables of docs/deploying.md name, and the policy pack finds nothing wrong with it."""
    p = run_preview(env, config=network_pass(env), pack=pack)
    assert p.violations == []
    types = {r.type for r in p.run.resources if r.custom or r.type.startswith("interlock-platform:")}
    assert types <= NETWORK_PASS_TYPES, sorted(types - NETWORK_PASS_TYPES)
    assert {"aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/networkAcl:NetworkAcl"} <= types
    declared = {o.name: o for o in BY_ROLE[ENVIRONMENT] if o.network_pass}
    exported = set(p.run.outputs)
    assert exported <= set(declared) and set(declared) - exported <= {n for n, o in declared.items() if o.optional}
    assert p.run.outputs["networkOnly"] is True
    assert {"applicationGroupSubnetIds", "workerSecurityGroupId"} <= exported


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_full_pass_after_it_adds_and_renumbers_only(env):
    """What the network pass made, the full pass keeps: the same URNs with the same inputs, so no
    subnet or security group the nodes were launched with is replaced. Only the NACL entries of a
    group that holds ingress nodes are renumbered (the load balancer's entries go first) and the
    load balancer's rules are added."""
    first = {r.urn: r for r in run_preview(env, config=network_pass(env)).run.resources}
    full = {r.urn: r for r in run_preview(env).run.resources}
    assert set(first) <= set(full)
    changed = {full[u].type for u in first if first[u].inputs != full[u].inputs}
    assert changed <= {"aws:ec2/networkAclRule:NetworkAclRule"}, changed


def test_a_group_security_groups_description_does_not_move_with_the_ingress_nodes():
    """AWS replaces a security group to change its description, and a group attached to running
    nodes cannot be replaced: the description of an application group's security group is the
    same whichever groups hold ingress nodes, and a release's new wording is not applied to a
    group that exists (ignore_changes)."""
    groups = run_preview("dev").run.of_type("aws:ec2/securityGroup:SecurityGroup")
    per_group = [g for g in groups if "-group-" in g.name]
    assert per_group
    for g in per_group:
        assert g.ignore_changes == ["description"], g.name
        assert "ingress nodes" in g.inputs["description"] and "where the group holds" in g.inputs["description"], g.name


def test_without_network_only_the_ingress_nodes_are_required_and_the_fix_names_the_network_pass():
    problems = refused_dev({k: v for k, v in raw("dev").items() if k != "ingressNodes"})
    assert "is not set" in problems["ingressNodes"] and "networkOnly: true" in problems["ingressNodes"]
    refused = refused_dev({**raw("dev"), "networkOnly": "yes"})  # a flag is true or false, nothing else
    assert "networkOnly" in refused and "ingressNodes" not in refused


def test_the_network_pass_is_refused_on_an_environment_with_nodes(shared_run):
    """networkOnly on an environment whose ingress nodes are listed, one that is up, would delete
    everything but its network (its load balancer, Interlock, the team namespaces): refused, with
    nothing registered; its benign twin, the first pass without nodes, registers (above)."""
    monitor = RecordingMonitor(PlatformMocks({}))
    with pytest.raises(InvalidStackConfig) as err:
        run_program("dev", full_config("dev", networkOnly="true"), {SHARED_REF: shared_run.outputs}, monitor=monitor)
    assert monitor.registrations == []
    (problem,) = [p for p in err.value.problems if p.key == "networkOnly"]
    assert "ingressNodes" in problem.message and "remove networkOnly" in problem.fix
