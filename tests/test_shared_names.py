"""One owner for every name environments share (issue 21): namespaces, overlay networks,
domains, collections and node selectors. Each rule holds from one env stack's own config plus
the shared stack's registry, as a real `pulumi up -s dev` sees them; for each, the hostile case
is refused with the stack, the key and the fix, and its benign twin passes."""

from __future__ import annotations

import copy

import pytest

from interlock_platform.core import names
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import parse_environment, parse_shared
from interlock_platform.stack_config import InvalidStackConfig
from interlock_platform.tooling.fleet import fleet_problems
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor, offline_instances, run_program
from tests.conftest import SHARED_REF, copy_project, full_config, preview_cli, raw, refused_dev, shared_outputs


def dev_with(**changes) -> dict:
    cfg = raw("dev")
    cfg.update(copy.deepcopy(changes))
    return cfg


def teams_with_namespace(namespace: str) -> list[dict]:
    teams = raw("dev")["teams"]
    teams[0]["namespace"] = namespace
    return teams


# --- namespaces


@pytest.mark.parametrize(
    ("namespace", "says"),
    [
        ("kube-system", "kube-system is the namespace of the ingress controller or the cluster DNS"),
        ("kube-dev", "kube-dev is in kube-*, which Kubernetes reserves"),
        ("default", "default is one of the cluster's own namespaces"),
        ("ingress-nginx", "ingress-nginx is the namespace of the ingress controller or the cluster DNS"),
        ("envoy-gateway-system", "envoy-gateway-system is one of the cluster's own namespaces"),
        ("payments-prod", "payments-prod belongs to environment 'prod'"),
        ("payments", "payments does not end in -dev"),
    ],
)
def test_a_dev_team_cannot_own_a_shared_or_anothers_namespace(namespace, says):
    problems = refused_dev(dev_with(teams=teams_with_namespace(namespace)))
    assert says in problems["teams[0].namespace"]
    assert "Fix: name it <team>-dev, e.g. payments-dev" in problems["teams[0].namespace"]
    assert problems["teams[0].namespace"].startswith("stack 'dev': interlock-platform:teams[0].namespace: ")


@pytest.mark.parametrize("namespace", ["payments-dev", "payments-eu-dev", "cards-dev"])
def test_a_dev_team_owns_a_namespace_that_ends_in_dev(namespace):
    topo = parse_environment("dev", dev_with(teams=teams_with_namespace(namespace)), shared_outputs())
    assert topo.teams[0].namespace == namespace


def test_the_default_namespace_carries_the_environment():
    teams = raw("dev")["teams"]
    assert "namespace" not in teams[0]
    assert parse_environment("dev", raw("dev"), shared_outputs()).teams[0].namespace == "payments-dev"


def test_the_platform_namespaces_cannot_be_another_environments():
    problems = refused_dev(dev_with(kubernetes={**raw("dev")["kubernetes"], "ingressControllerNamespace": "payments-prod"}))
    assert "payments-prod is a team namespace of environment 'prod'" in problems["kubernetes.ingressControllerNamespace"]
    parse_environment(
        "dev", dev_with(kubernetes={**raw("dev")["kubernetes"], "ingressControllerNamespace": "nginx"}), shared_outputs()
    )


def test_the_longest_registered_environment_owns_a_namespace():
    registered = ("prod", "eu-prod", "dev")
    assert names.namespace_owner("ledger-eu-prod", registered) == "eu-prod"
    assert names.namespace_owner("ledger-prod", registered) == "prod"
    assert names.namespace_owner("prod", registered) is None  # no team part
    assert names.namespace_problem("ledger-eu-prod", "prod", registered)[0].startswith(
        "ledger-eu-prod belongs to environment 'eu-prod'"
    )
    assert names.namespace_problem("ledger-eu-prod", "eu-prod", registered) is None


# --- overlay networks


@pytest.mark.parametrize(
    ("key", "network", "says"),
    [
        ("ingress", "ingress_prod", "ingress_prod names environment 'prod'"),
        ("additional", "prod_backend", "prod_backend names environment 'prod'"),
        ("ingress", "ingress", "ingress is one of Docker's, Swarm's or UCP's own networks"),
        ("additional", "docker_gwbridge", "docker_gwbridge is one of Docker's"),
        ("additional", "ucp-hrm", "ucp-hrm is one of Docker's"),
        ("additional", "dev_backend_prod", "dev_backend_prod names environment 'prod'"),
        ("additional", "backend", "backend does not start with dev_ or end in _dev"),
    ],
)
def test_dev_cannot_name_a_shared_or_anothers_overlay_network(key, network, says):
    overlay = {"ingress": "ingress_dev", "additional": [], "encrypted": False}
    overlay[key] = [network] if key == "additional" else network
    problems = refused_dev(dev_with(overlayNetworks=overlay))
    path = f"overlayNetworks.{key}" + ("[0]" if key == "additional" else "")
    assert says in problems[path]
    assert "Fix: name it dev_<purpose> or <purpose>_dev, e.g. dev_backend" in problems[path]


@pytest.mark.parametrize("networks", [("ingress_dev", ["dev_backend"]), ("dev_ingress", ["backend_dev", "dev_payments_api"])])
def test_dev_names_its_own_overlay_networks(networks):
    ingress, additional = networks
    topo = parse_environment("dev", dev_with(overlayNetworks={"ingress": ingress, "additional": additional}), shared_outputs())
    assert topo.overlay.all == (ingress, *additional)


# --- the registry: domains, collections, node selectors


def refused_shared(**changes) -> dict[str, str]:
    cfg = raw("shared")
    for path, value in changes.items():
        env, field = path.split("__")
        cfg["environments"][env][field] = value
    with pytest.raises(InvalidConfig) as err:
        parse_shared("shared", cfg)
    return {p.key: str(p) for p in err.value.problems}


def test_two_environments_on_one_domain_are_refused():
    problems = refused_shared(test__domain="dev.apps.example.com")
    assert "dev.apps.example.com is the domain of 'dev'" in problems["environments.test.domain"]
    assert "Fix: give each environment a domain of its own" in problems["environments.test.domain"]


@pytest.mark.parametrize(
    ("dev", "prod"), [("dev.apps.example.com", "apps.example.com"), ("example.com", "prod.apps.example.com")]
)
def test_nested_domains_are_refused(dev, prod):
    problems = refused_shared(dev__domain=dev, prod__domain=prod)
    assert "nest" in problems["environments.prod.domain"] or "nest" in problems.get("environments.test.domain", "")


def test_sibling_domains_pass():
    cfg = raw("shared")
    cfg["environments"]["prod"]["domain"] = "apps.example.net"  # another zone altogether
    assert parse_shared("shared", cfg).environments["prod"].domain == "apps.example.net"
    assert {e.domain for e in parse_shared("shared", raw("shared")).environments.values()} == {
        "dev.apps.example.com", "test.apps.example.com", "prod.apps.example.com",
    }  # fmt: skip


def test_two_registry_entries_on_one_node_selector_are_refused():
    problems = refused_shared(dev__collectionNodeSelector="com.docker.ucp.collection.prod=true")
    assert "is already the node selector of 'dev'" in problems["environments.prod.collectionNodeSelector"]


def test_nested_collections_are_refused_and_sub_collections_of_none_pass():
    problems = refused_shared(dev__collection="/prod/dev")
    assert "UCP grants on /prod reach every node and service in /prod/dev" in problems["environments.prod.collection"]
    cfg = raw("shared")
    cfg["environments"]["dev"]["collection"] = "/nonprod/dev"
    cfg["environments"]["test"]["collection"] = "/nonprod/test"
    parse_shared("shared", cfg)


def test_an_env_stack_takes_its_domain_from_the_registry():
    assert parse_environment("dev", raw("dev"), shared_outputs()).domain == "dev.apps.example.com"
    problems = refused_dev(dev_with(domain="prod.apps.example.com"))
    assert "the shared stack's registry gives 'dev' the domain dev.apps.example.com" in problems["domain"]


def test_a_shared_stack_that_exports_no_domains_is_refused_with_the_fix():
    outputs = shared_outputs()
    for entry in outputs["environments"].values():
        del entry["domain"]
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", raw("dev"), outputs)
    assert any("environments.dev.domain: is not set" in str(p) and "pulumi up -s shared" in str(p) for p in err.value.problems)


# --- as `pulumi up -s dev` runs: only dev's stack file and the shared stack's outputs


def test_the_program_refuses_prods_namespace_and_network_before_registering_anything(preview):
    overlay = {**raw("dev")["overlayNetworks"], "additional": ["prod_backend"]}
    config = full_config("dev", teams=teams_with_namespace("payments-prod"), overlayNetworks=overlay)
    monitor = RecordingMonitor(PlatformMocks({}))
    with pytest.raises(InvalidStackConfig) as err:
        run_program("dev", config, {SHARED_REF: preview("shared").run.outputs}, monitor=monitor)
    assert monitor.registrations == []
    assert {"teams[0].namespace", "overlayNetworks.additional[0]"} <= {p.key for p in err.value.problems}


# --- ingress nodes: where only the cloud knows, EC2 is asked at preview (aws.ec2.get_instance)

PROD_INSTANCE = "i-0c1d2e3f4a5b6c001"  # prod's first ingress node, at 10.40.192.10 in eu-west-1a


def cloud(**overrides) -> dict:
    """EC2 as it is: every reference stack's ingress nodes where their stack files place them."""
    instances = {**offline_instances("dev", full_config("dev")), **offline_instances("prod", full_config("prod"))}
    return {**instances, **overrides}


def dev_nodes_with(index: int, **changes) -> list[dict]:
    nodes = raw("dev")["ingressNodes"]
    nodes[index].update(changes)
    return nodes


def run_dev(preview, nodes, instances):
    monitor = RecordingMonitor(PlatformMocks({}))
    run = lambda: run_program(  # noqa: E731
        "dev", full_config("dev", ingressNodes=nodes), {SHARED_REF: preview("shared").run.outputs}, monitor=monitor,
        instances=instances,
    )  # fmt: skip
    return run, monitor


def test_a_prod_instance_listed_as_a_dev_ingress_node_is_refused_by_asking_ec2(preview):
    # the hostname is a dev one and passes every check a stack file allows; the id is prod's
    run, monitor = run_dev(preview, dev_nodes_with(0, instanceId=PROD_INSTANCE), cloud())
    with pytest.raises(InvalidStackConfig) as err:
        run()
    assert monitor.registrations == []
    (problem,) = [str(p) for p in err.value.problems if p.key == "ingressNodes[0].instanceId"]
    assert f"{PROD_INSTANCE} is at 10.40.192.10, which belongs to environment 'prod' (10.40.192.0/18), not to 'dev'" in problem
    assert "Fix: list only instances of dev's application-group subnets" in problem


def test_devs_own_instances_pass_as_ec2_describes_them(preview):
    run, _ = run_dev(preview, raw("dev")["ingressNodes"], cloud())
    assert run().outputs["ingressNodes"] == [n["hostname"] for n in raw("dev")["ingressNodes"]]


def test_an_id_ec2_does_not_know_and_an_id_of_another_dev_node_are_refused(preview):
    nodes = dev_nodes_with(0, instanceId="i-0fffffffffffffff0")
    run, _ = run_dev(preview, nodes, cloud())
    with pytest.raises(InvalidStackConfig) as err:
        run()
    assert "i-0fffffffffffffff0 is not an instance EC2 knows in this account and region (" in str(err.value)
    # node 0's hostname with the id of the machine at 10.40.64.20 (a dev node, not node 0)
    other = {**cloud()["i-0a1b2c3d4e5f6a001"], "privateIp": "10.40.64.20"}
    run, _ = run_dev(preview, raw("dev")["ingressNodes"], cloud(**{"i-0a1b2c3d4e5f6a001": other}))
    with pytest.raises(InvalidStackConfig) as err:
        run()
    assert "is at 10.40.64.20, but the hostname ip-10-40-64-10.eu-west-1.compute.internal is the machine at 10.40.64.10" in str(
        err.value
    )


def test_the_offline_preview_answers_an_id_as_the_stack_file_that_lists_it_places_it(tmp_path):
    project = copy_project(tmp_path / "project")
    path = project / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("instanceId: i-0a1b2c3d4e5f6a001", f"instanceId: {PROD_INSTANCE}"))
    done = preview_cli("--stack", "dev", cwd=project)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"stack 'dev': interlock-platform:ingressNodes[0].instanceId: {PROD_INSTANCE} is at 10.40.192.10" in done.stderr


# --- the offline preview's second layer: every stack file of the repository


def test_the_offline_preview_refuses_a_node_two_environments_list_by_one_custom_hostname(tmp_path):
    # a hostname that carries no address passes every check one stack can make; the fleet sees both files
    project = copy_project(tmp_path / "project")
    for env, old in (
        ("test", "ip-10-40-128-10.eu-west-1.compute.internal"),
        ("prod", "ip-10-40-192-10.eu-west-1.compute.internal"),
    ):
        path = project / "stacks" / f"Pulumi.{env}.yaml"
        path.write_text(path.read_text().replace(old, "ingress-a.nodes.example.internal"))
    done = preview_cli("--stack", "test", cwd=project)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert (
        "stack 'test': interlock-platform:ingressNodes[0].hostname: ingress-a.nodes.example.internal is also an ingress node "
        "hostname of stack 'prod' (Pulumi.prod.yaml)" in done.stderr
    )


def test_the_offline_preview_refuses_a_gateway_node_port_two_environments_configure(tmp_path):
    """Neither stack can see the other's configured NodePort (the registry holds Interlock ports),
    and a NodePort is unique in the cluster: the fleet sees both files. The benign twin, a port of
    the band no other file takes, previews."""
    project = copy_project(tmp_path / "project")
    reference = {env: (project / "stacks" / f"Pulumi.{env}.yaml").read_text() for env in ("test", "prod")}

    def configure(env: str, port: int | str, enabled: bool | str = True) -> None:
        gateway = f"config:\n  interlock-platform:gateway: {{enabled: {enabled}, httpNodePort: {port}}}\n"
        (project / "stacks" / f"Pulumi.{env}.yaml").write_text(reference[env].replace("config:\n", gateway, 1))

    configure("prod", '"32800"', '"true"')  # as text, which the program reads as the number and the flag
    configure("test", 32800)
    done = preview_cli("--stack", "test", cwd=project)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert (
        "stack 'test': interlock-platform:gateway.httpNodePort: 32800 is also a Gateway NodePort of stack 'prod' "
        "(Pulumi.prod.yaml). Fix: give each environment's Gateway its own port in the static band 32768-32853"
    ) in done.stderr
    configure("test", 32801)
    done = preview_cli("--stack", "test", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_fleet_layer_finds_nothing_in_the_reference_stacks_and_prods_namespace_in_dev():
    for env in ("dev", "test", "prod"):
        assert fleet_problems(env, full_config(env)) == []
    (problem,) = fleet_problems("dev", full_config("dev", teams=teams_with_namespace("payments-prod")))
    assert problem.key == "teams[0].namespace" and "payments-prod is also a team namespace of stack 'prod'" in problem.message


# --- the stack and its environment


def test_a_dev_stack_cannot_manage_another_environment():
    """`pulumi up -s dev` with `environment: prod` would own prod's registry row, its nodes and its
    namespaces: the stack's name is its environment."""
    problems = refused_dev(dev_with(environment="prod"))
    assert problems["environment"] == (
        "stack 'dev': interlock-platform:environment: is 'prod', but the stack is 'dev': an env stack manages the "
        "environment it is named for. Fix: set environment: dev, or run this config as stack 'prod'."
    )


def test_a_second_stack_cannot_manage_an_environment():
    """Two stacks for dev would fight over its networks, Interlock section and namespaces."""
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev-eu-west-1", dev_with(), shared_outputs())
    assert any(p.key == "environment" for p in err.value.problems)


def test_a_stack_named_for_its_environment_manages_it():
    assert parse_environment("dev", dev_with(), shared_outputs()).name == "dev"
