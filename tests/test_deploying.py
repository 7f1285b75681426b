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
from interlock_platform.tooling.mock_runtime import run_program
from interlock_platform.tooling.stack_files import ROOT, offline_config
from tests.conftest import raw

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
