"""The policy pack over the engine's own protocol: the reference stacks pass, a mutation of the
real program fails each rule (exact name and level), and unknown values never make a
mandatory violation."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from interlock_platform.core import gateway
from interlock_platform.core.topology import parse_environment
from interlock_platform.tooling.mock_runtime import Registration, run_program
from interlock_platform.tooling.policy_config import REGISTRY_POLICIES, from_shared_outputs, owned_names
from interlock_platform.tooling.policy_harness import UNKNOWN, PolicyPackDidNotStart, PolicyPackProcess
from interlock_platform.tooling.stack_files import ROOT
from policy.rules.kubernetes import GATEWAY_NODE_PORT_BAND, _default_gateway_node_ports
from tests.conftest import STACKS, copy_project, full_config, raw, shared_outputs
from tests.policy_corpus import CORPUS

ALL_RULES = {
    "sg-no-world-ingress", "sg-encapsulation-scoped", "sg-no-cross-environment", "sg-no-all-protocols", "sg-descriptions",
    "nacl-environment-isolation", "lb-ports-match-service-cluster", "vpc-baseline", "tags-present", "swarm-network-in-collection",
    "interlock-cluster-consistent", "k8s-namespace-default-deny", "k8s-no-wide-peers", "k8s-namespace-in-collection",
    "k8s-namespace-identity", "k8s-team-cannot-edit-policy", "secrets-are-secret", "sg-no-world-egress", "subnet-no-public-addresses",
    "swarm-service-in-collection", "k8s-no-cross-environment", "group-flows-declared", "instances-in-environment",
    "swarm-no-host-access", "k8s-own-namespaces", "k8s-service-cluster-ip", "k8s-pod-keeps-to-namespace", "k8s-pod-on-own-nodes",
    "k8s-selectors-in-environment", "k8s-calico-policy-scoped", "vpc-endpoints-scoped", "swarm-ucp-grants-in-collection",
    "k8s-routes-own-gateway", "k8s-reference-grant-in-environment", "k8s-gateway-own-domain", "k8s-envoy-proxy-in-environment",
}  # fmt: skip
ADVISORY = {"sg-descriptions", "tags-present"}


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


def test_the_pack_describes_itself_over_the_protocol(pack):
    info = pack.info()
    assert info.name == "interlock-platform-isolation"
    policies = {p.name: p for p in info.policies}
    assert set(policies) == ALL_RULES
    for name, policy in policies.items():
        assert policy.description, name
        level = "advisory" if name in ADVISORY else "mandatory"
        assert {0: "advisory", 1: "mandatory"}[policy.enforcementLevel] == level, name


def test_the_policy_reference_lists_the_pack_s_rules_and_levels(pack):
    """docs/policy.md's table is what the pack says of itself over the protocol."""
    documented = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (advisory|mandatory) \|", (ROOT / "docs" / "policy.md").read_text(), re.M))
    served = {p.name: {0: "advisory", 1: "mandatory"}[p.enforcementLevel] for p in pack.info().policies}
    assert documented == served


@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_passes_on_the_reference_stacks(pack, preview, stack):
    p = preview(stack)
    pack.configure(from_shared_outputs(p.shared.outputs))
    assert pack.analyze(p.run.resources) == []


def test_an_unconfigured_pack_refuses_rather_than_passes(pack, preview):
    pack.configure({})
    violations = pack.analyze(preview("dev").run.resources)
    # resource rules speak for the resources of their types: dev has no pod spec, no Calico policy,
    # no Kubernetes Service, no UCP grants and no Gateway API object
    assert {v["policy"] for v in violations} >= set(REGISTRY_POLICIES) - {
        "k8s-namespace-in-collection",
        "swarm-network-in-collection",
        "k8s-pod-on-own-nodes",
        "k8s-calico-policy-scoped",
        "k8s-service-cluster-ip",
        "swarm-ucp-grants-in-collection",
        "k8s-routes-own-gateway",
        "k8s-reference-grant-in-environment",
        "k8s-gateway-own-domain",
        "k8s-envoy-proxy-in-environment",
    }
    assert all("no environment registry" in v["message"] for v in violations)


# --------------------------------------------------------------------------------------------
# Unknown values: a real preview of a new stack does not know ids, ARNs or names yet. The program
# runs in the SDK's own preview mode (the mocks answer a create as a provider does in a preview:
# no id, no output beyond the inputs), so what is unknown is what the SDK makes unknown.


def _in_preview(preview, stack: str) -> tuple[list[Registration], dict]:
    """`stack`'s registrations from a `pulumi preview` of it as a new stack, and the shared
    stack's outputs it reads (from state: known)."""
    shared = preview(stack).shared.outputs
    refs = {} if stack == "shared" else {"acme/interlock-platform/shared": shared}
    return run_program(stack, full_config(stack), refs, preview=True).resources, shared


@pytest.mark.parametrize("stack", STACKS)
def test_unknown_ids_never_make_a_mandatory_violation(pack, preview, stack):
    resources, shared = _in_preview(preview, stack)
    assert sum(UNKNOWN in json.dumps(r.inputs) for r in resources) > len(resources) / 2  # most inputs wait on an id
    pack.configure(from_shared_outputs(shared))
    assert [v for v in pack.analyze(resources) if v["enforcement"] == "mandatory"] == []


def test_with_unknown_ids_a_world_rule_is_still_caught(pack, preview):
    """The rule's group id is unknown; its propertyDependencies still say it is the workers group."""
    resources, shared = _in_preview(preview, "dev")
    rule = next(r for r in resources if r.type.endswith("SecurityGroupIngressRule") and r.name.endswith("in-tcp-10250-management"))
    # the workers group is new, so its id is unknown; the managers' group comes from the shared stack's state
    assert rule.inputs["securityGroupId"] == UNKNOWN and rule.inputs["referencedSecurityGroupId"] == shared["managementSecurityGroupId"]
    bad = rule.with_inputs(
        {**{k: v for k, v in rule.inputs.items() if k != "referencedSecurityGroupId"}, "cidrIpv4": "0.0.0.0/0"},
        urn=rule.urn + "-world", name=rule.name + "-world",
        property_dependencies={"securityGroupId": rule.property_dependencies["securityGroupId"]},
    )
    pack.configure(from_shared_outputs(shared))
    found = [v for v in pack.analyze([*resources, bad]) if v["urn"] == bad.urn]
    assert [(v["policy"], v["enforcement"]) for v in found] == [("sg-no-world-ingress", "mandatory")]


def test_streamed_analysis_gives_what_analysis_after_the_run_gives(pack, preview):
    """The offline preview submits each resource as it registers; the answers, their order and
    the stack-level ones must be those of analyzing the whole run afterwards."""
    p = preview("dev")
    # by name: registration order varies from run to run, and the first ingress rule may be the load
    # balancer's, which is open to the world by design
    rule = next(r for r in p.run.resources if r.name == "dev-fw-workers-in-tcp-10250-management")
    bad = rule.with_inputs({**rule.inputs, "cidrIpv4": "0.0.0.0/0"})
    resources = [*p.run.resources, bad]
    pack.configure(from_shared_outputs(p.shared.outputs))
    afterwards = pack.analyze(resources)
    assert any(v["urn"] == bad.urn and v["policy"] == "sg-no-world-ingress" for v in afterwards)
    pack.configure(from_shared_outputs(p.shared.outputs))
    for r in reversed(resources):  # answers arrive in any order
        pack.submit(r)
    assert pack.analyze(resources) == afterwards


def test_the_preview_streams_every_resource_and_analyze_resends_none(preview, monkeypatch):
    """Over a real env preview: each analyzable resource is sent once, while the program runs
    (from `submit`), and the analysis afterwards only collects the answers."""
    from interlock_platform.tooling.preview import run_preview

    sent: list[tuple[str, str]] = []
    phase = ["program"]
    original_send = PolicyPackProcess._send

    def counting_send(self, r):
        sent.append((phase[0], r.urn))
        return original_send(self, r)

    original_start = PolicyPackProcess.start_analysis

    def start_analysis(self, resources):
        phase[0] = "analyze"
        return original_start(self, resources)

    monkeypatch.setattr(PolicyPackProcess, "_send", counting_send)
    monkeypatch.setattr(PolicyPackProcess, "start_analysis", start_analysis)
    with PolicyPackProcess() as fresh:
        fresh.info()  # up before the program: what it registers is sent at once, not held until then
        p = run_preview("dev", pack=fresh)
    analyzable = [r.urn for r in p.run.resources if r.custom]
    assert p.violations == [] and len(analyzable) > 100
    # each once (in registration order; the run lists them by URN), none from analyze
    assert sorted(sent) == [("program", urn) for urn in analyzable]


def test_submitting_before_configuring_is_refused():
    with PolicyPackProcess() as fresh, pytest.raises(RuntimeError, match="configure the policy pack"):
        fresh.submit(Registration("urn:x", "aws:ec2/vpc:Vpc", "x", "", True, {}))


# --------------------------------------------------------------------------------------------
# Mutations of the real program, each run through the offline preview and the real protocol.

MUTATIONS = {
    # policy: (stack, file, old, new)
    "sg-no-world-ingress": ("test", "interlock_platform/core/firewall_plan.py",
        '    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))',
        '    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))\n'
        '    rules.append(SgRule("workers", "ingress", "tcp", 22, 22, _cidr(WORLD), "TCP 22 ssh for the on-call"))'),
    "sg-encapsulation-scoped": ("test", "interlock_platform/core/firewall_plan.py",
        '    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))',
        '    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))\n'
        '    rules.append(SgRule("workers", "ingress", "4", 0, 0, _cidr(WORLD), "IP-in-IP from anywhere"))'),
    "sg-no-cross-environment": ("test", "interlock_platform/core/firewall_plan.py",
        '    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))',
        '    rules.append(SgRule("workers", "ingress", ALL, None, None, me, f"all traffic between {env} workers"))\n'
        '    rules.append(SgRule("workers", "ingress", "tcp", 5432, 5432, _cidr("10.40.192.0/18"), "TCP 5432 from prod for a report"))'),
    "sg-no-all-protocols": ("test", "interlock_platform/core/firewall_plan.py",
        '    rules.append(SgRule("workers", "egress", ALL, None, None, me, f"all traffic between {env} workers"))',
        '    rules.append(SgRule("workers", "egress", ALL, None, None, _cidr("192.0.2.0/24"), "everything to the corporate network"))'),
    # dev isolates its application groups: the env-wide workers group re-opened to itself on a port
    "group-flows-declared": ("dev", "interlock_platform/core/firewall_plan.py",
        '    rules += [_from_port_rule("workers", "ingress", r, me, f"overlay data plane between the {env} groups") for r in overlay]',
        '    rules += [_from_port_rule("workers", "ingress", r, me, f"overlay data plane between the {env} groups") for r in overlay]\n'
        '    rules.append(SgRule("workers", "ingress", "tcp", 5432, 5432, me, "TCP 5432 between workers for the shared database"))'),
    "sg-descriptions": ("dev", "interlock_platform/aws/environment_firewall.py",
        'description=f"{env} network load balancer: clients on 80/443, out to the {env} Interlock proxies",', 'description="",'),
    # both layers of the NACL's isolation must go for dev to get in: its deny, and the deny of the rest of the VPC
    "nacl-environment-isolation": ("prod", [
        ("interlock_platform/core/firewall_plan.py",
         '    denies = [("deny", ALL, 0, 0, str(o.cidr), f"deny environment {o.name}") for o in topo.other_environments]',
         '    denies = [("deny", ALL, 0, 0, str(o.cidr), f"deny environment {o.name}") for o in topo.other_environments if o.name != "dev"]'),
        ("interlock_platform/core/firewall_plan.py",
         '    return [*inside, ("deny", ALL, 0, 0, str(vpc), "the rest of the VPC: no other environment, listed or not"), *beyond]',
         "    return [*inside, *beyond]"),
    ]),
    "lb-ports-match-service-cluster": ("dev", "interlock_platform/aws/ingress_lb.py",
        'return (("https", 443, https), ("http", 80, http))',
        'return (("https", 443, 8443), ("http", 80, http))'),
    "vpc-baseline": ("shared", "interlock_platform/aws/shared_network.py", 'traffic_type="ALL"', 'traffic_type="REJECT"'),
    "tags-present": ("shared", "interlock_platform/core/tagging.py",
        'return {"Name": name, "environment": environment, "managed-by": MANAGED_BY, "stack": stack, **extra}',
        'return {"Name": name, "stack": stack, **extra}'),
    "swarm-network-in-collection": ("test", "interlock_platform/swarm/layer.py",
        "docker.NetworkLabelArgs(label=labels.UCP_ACCESS, value=collection),", ""),
    "interlock-cluster-consistent": ("prod", "interlock_platform/swarm/providers/interlock.py", '"publishMode": "host",', '"publishMode": "ingress",'),
    "k8s-namespace-default-deny": ("dev", "interlock_platform/core/k8s_manifests.py",
        "out = [namespace(team, environment, node_selector, settings), deny_all(ns), allow_internal(ns)]",
        "out = [namespace(team, environment, node_selector, settings), allow_internal(ns)]"),
    "k8s-no-wide-peers": ("dev", "interlock_platform/core/k8s_manifests.py",
        '"ingress": [{"from": [{"namespaceSelector": {"matchLabels": selector}}],',
        '"ingress": [{"from": [{"namespaceSelector": {}}],'),
    "k8s-namespace-in-collection": ("test", "interlock_platform/core/k8s_manifests.py",
        "meta[\"annotations\"] = {labels.NODE_SELECTOR_ANNOTATION: selector}",
        "meta[\"annotations\"] = {labels.NODE_SELECTOR_ANNOTATION: \"com.docker.ucp.collection.prod=true\"}"),
    "k8s-namespace-identity": ("dev", "interlock_platform/core/k8s_manifests.py",
        "labels.NS_ID: team.namespace}", 'labels.NS_ID: "kube-system"}'),
    "k8s-team-cannot-edit-policy": ("prod", "interlock_platform/core/k8s_manifests.py", '(("networking.k8s.io",), ("ingresses",)),', '(("networking.k8s.io",), ("ingresses", "networkpolicies")),'),
    "secrets-are-secret": ("dev", "interlock_platform/kubernetes/layer.py",
        'kubeconfig = pulumi.Config(PROJECT).require_secret("kubeconfig")', 'kubeconfig = pulumi.Config(PROJECT).get("kubeconfig")'),
}  # fmt: skip


def _appended(entry: str) -> tuple[str, str, str, str]:
    """A corpus change (tests/policy_corpus.py) as a mutation: appended to the dev program."""
    return ("dev", "__main__.py", "\npulumi.run(main)", CORPUS[entry].code + "\npulumi.run(main)")


MUTATIONS |= {
    "sg-no-world-egress": _appended("vpc-rule-egress-all-tcp-world"),
    "subnet-no-public-addresses": _appended("subnet-public-ips-in-dev"),
    "swarm-service-in-collection": _appended("service-routing-mesh-port"),
    "k8s-no-cross-environment": _appended("netpol-egress-prod-subrange"),
    "vpc-endpoints-scoped": _appended("vpc-endpoint-private-dns-in-env"),
    "instances-in-environment": _appended("instance-in-management-vlan"),
    "swarm-no-host-access": _appended("service-mounts-docker-socket"),
    "k8s-own-namespaces": _appended("rolebinding-into-prod-namespace"),
    "k8s-service-cluster-ip": _appended("k8s-service-external-ips"),
    "k8s-pod-keeps-to-namespace": _appended("k8s-deployment-privileged"),
    "k8s-pod-on-own-nodes": _appended("k8s-pod-bound-to-prod-node"),
    "k8s-selectors-in-environment": _appended("netpol-selects-by-team-label"),
    "k8s-calico-policy-scoped": _appended("calico-global-allow"),
    "swarm-ucp-grants-in-collection": _appended("ucp-grant-on-prod-collection"),
    "k8s-routes-own-gateway": _appended("httproute-on-prod-gateway"),
    "k8s-reference-grant-in-environment": _appended("referencegrant-from-prod"),
    "k8s-gateway-own-domain": _appended("gateway-for-every-host"),
    "k8s-envoy-proxy-in-environment": _appended("envoyproxy-on-prod-nodes"),
}


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("mutant") / "project")


def test_every_rule_has_a_mutation():
    assert set(MUTATIONS) == ALL_RULES


def _edits(mutation: tuple) -> tuple[str, list[tuple[str, str, str]]]:
    """(stack, file, old, new), or (stack, [(file, old, new), ...]) for a change in several places."""
    return (mutation[0], [mutation[1:]]) if len(mutation) == 4 else (mutation[0], list(mutation[1]))


@pytest.mark.parametrize("policy", sorted(MUTATIONS))
def test_a_mutation_of_the_program_is_caught(project_copy, policy):
    stack, edits = _edits(MUTATIONS[policy])
    originals = {}
    for file, old, new in edits:
        path = project_copy / file
        originals.setdefault(path, path.read_text())
        text = path.read_text()
        assert text.count(old) == 1, f"the mutation's anchor moved in {file}"
        path.write_text(text.replace(old, new))
    try:
        out = project_copy / "preview.json"
        result = subprocess.run([sys.executable, "-m", "interlock_platform", "preview", "--stack", stack, "--json", str(out)],
                                cwd=project_copy, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert result.returncode in (0, 1), result.stderr
    violations = json.loads(Path(out).read_text())["violations"]
    level = "advisory" if policy in ADVISORY else "mandatory"
    assert (policy, level) in {(v["policy"], v["enforcement"]) for v in violations}, violations
    assert result.returncode == (0 if all(v["enforcement"] == "advisory" for v in violations) else 1)
    assert f"[{level}] {policy}:" in result.stdout


def test_an_enforcement_level_can_be_overridden(project_copy, tmp_path):
    stack, file, old, new = MUTATIONS["k8s-no-wide-peers"]
    path = project_copy / file
    original = path.read_text()
    path.write_text(original.replace(old, new))
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"k8s-no-wide-peers": {"enforcementLevel": "advisory"}}))
    try:
        result = subprocess.run([sys.executable, "-m", "interlock_platform", "preview", "--stack", stack, "--policy-config", str(config)],
                                cwd=project_copy, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    finally:
        path.write_text(original)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[advisory] k8s-no-wide-peers:" in result.stdout


WORLD_SSH = Registration(
    "urn:pulumi:dev::interlock-platform::aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::ssh",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ssh", "", True,
    {"securityGroupId": "dev-fw-workers-id", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0",
     "description": "ssh from anywhere"},
)  # fmt: skip


def _service(spec: dict) -> Registration:
    return Registration(
        "urn:pulumi:dev::interlock-platform::kubernetes:core/v1:Service::ledger-debug", "kubernetes:core/v1:Service",
        "ledger-debug", "", True, {"metadata": {"name": "ledger-debug", "namespace": "ledger-dev"}, "spec": spec},
    )


def test_a_service_type_the_environment_grants_passes_and_external_ips_never(pack, preview):
    """A NodePort Service is refused in an environment whose kubernetes.serviceTypes does not grant
    it, and passes in one that does (the admission policy admits it there too); externalIPs never."""
    node_port = _service({"type": "NodePort", "ports": [{"port": 8080, "nodePort": 30080}]})
    with_ips = _service({"type": "NodePort", "ports": [{"port": 8080}], "externalIPs": ["10.40.192.10"]})
    config = from_shared_outputs(preview("shared").run.outputs)

    def refused(r: Registration) -> list[str]:
        pack.configure(config)
        return [v["message"] for v in pack.analyze([r]) if v["policy"] == "k8s-service-cluster-ip"]

    assert refused(node_port) and refused(with_ips)  # dev grants ClusterIP only
    config["k8s-service-cluster-ip"]["owned"]["dev"]["serviceTypes"] = ["NodePort"]
    assert refused(node_port) == []
    assert [m for m in refused(with_ips) if "externalIPs" in m] and not [m for m in refused(with_ips) if "is of type" in m]


def test_what_registers_before_the_pack_is_up_is_analyzed_once_it_is(preview, monkeypatch):
    """`stream` does not wait for the pack's interpreter: a program registers at once, what it
    registers is held, and sent (once) when the pack is up, here at the latest by `analyze`."""
    sent: list[str] = []
    original_send = PolicyPackProcess._send
    monkeypatch.setattr(PolicyPackProcess, "_send", lambda self, r: sent.append(r.urn) or original_send(self, r))
    config = from_shared_outputs(preview("shared").run.outputs)
    with PolicyPackProcess() as fresh:  # just spawned: its interpreter is still loading the SDK
        fresh.stream(config)
        fresh.submit(WORLD_SSH)
        assert sent == []  # held, not lost and not waited for
        violations = fresh.analyze([WORLD_SSH])
    assert sent == [WORLD_SSH.urn]
    assert any(v["policy"] == "sg-no-world-ingress" and v["urn"] == WORLD_SSH.urn for v in violations)


def test_a_pack_that_cannot_start_fails_the_analysis_not_the_program(tmp_path):
    """What the program registers after `stream` is taken without error; `analyze` says why the
    pack could not run."""
    broken = copy_project(tmp_path / "project") / "policy"
    (broken / "__main__.py").write_text("raise ImportError('pulumi_policy is not installed')\n")
    with PolicyPackProcess(broken) as dead:
        dead.stream({})
        dead.process.wait(timeout=30)  # dead before the program registers anything
        dead.submit(WORLD_SSH)
        with pytest.raises(PolicyPackDidNotStart, match="pulumi_policy is not installed"):
            dead.analyze([WORLD_SSH])


# --------------------------------------------------------------------------------------------
# The Gateway's facts in the pack's config: where an environment's EnvoyProxy lives, and the
# NodePorts no team Service may take.


def _k8s(kind_type: str, name: str, props: dict, stack: str = "dev") -> Registration:
    return Registration(f"urn:pulumi:{stack}::interlock-platform::{kind_type}::{name}", kind_type, name, "", True, props)


def _gateway_topology(**settings):
    cfg = raw("dev")
    cfg["gateway"] = {"enabled": True, **settings}
    return parse_environment("dev", cfg, shared_outputs())


def test_the_platform_s_envoy_proxy_and_gateway_pass_where_its_config_puts_them_and_nowhere_else(pack):
    """dev's Gateway in a namespace and on NodePorts of its config's choosing: the platform's own
    EnvoyProxy and Gateway pass the pack told of them (policy-config, from the env stack's config);
    the same EnvoyProxy in the default namespace, or on the default ports, does not."""
    topo = _gateway_topology(namespace="edge-dev", httpNodePort=32800, httpsNodePort=32801)
    config = from_shared_outputs(shared_outputs(), group_layouts={}, owned={"dev": owned_names(topo)})
    assert config["k8s-envoy-proxy-in-environment"]["owned"]["dev"]["gatewayNamespace"] == "edge-dev"
    proxy, gw = gateway.envoy_proxy(topo.gateway), gateway.gateway(topo.gateway)
    envoy_type, gateway_type = f"kubernetes:{gateway.ENVOY_PROXY_API}:EnvoyProxy", f"kubernetes:{gateway.GATEWAY_API}:Gateway"

    def found(*resources: Registration) -> list[str]:
        pack.configure(config)
        rules = {"k8s-envoy-proxy-in-environment", "k8s-gateway-own-domain"}
        return [v["message"] for v in pack.analyze(list(resources)) if v["policy"] in rules]

    assert found(_k8s(envoy_type, "dev-proxy", proxy), _k8s(gateway_type, "dev-gateway", gw)) == []
    moved = copy.deepcopy(proxy)
    moved["metadata"]["namespace"] = "gateway-dev"
    assert [m for m in found(_k8s(envoy_type, "dev-proxy", moved)) if "not dev's Gateway namespace edge-dev" in m]
    default_ports = copy.deepcopy(proxy)
    default_ports["spec"]["provider"]["kubernetes"]["envoyService"]["patch"]["value"]["spec"]["ports"] = [{"port": 80, "nodePort": 32852}]
    assert [m for m in found(_k8s(envoy_type, "dev-proxy", default_ports)) if "takes nodePort 32852, not one of its Gateway's (32800, 32801)" in m]
    # prod's stack file gives its Gateway dev's HTTP port too: neither stack sees the other's file, the pack sees both
    for policy in config.values():
        policy["owned"]["prod"] = {"gatewayNodePorts": [32802, 32800]}
    assert [m for m in found(_k8s(envoy_type, "dev-proxy", proxy)) if "takes nodePort 32800, environment prod's Gateway NodePort too" in m]
    for policy in config.values():  # the benign twin: prod's Gateway on ports of its own
        policy["owned"]["prod"] = {"gatewayNodePorts": [32802, 32803]}
    assert found(_k8s(envoy_type, "dev-proxy", proxy)) == []


def test_no_team_service_takes_a_gateway_node_port(pack, preview):
    """With NodePort granted, a team Service may leave nodePort to the API server or take one
    outside the Gateways' ports, but never an environment's Gateway NodePort: the defaults of every
    environment, and the ports an environment's config gives its Gateway."""
    config = from_shared_outputs(preview("shared").run.outputs)
    for policy in config.values():
        policy["owned"]["dev"]["serviceTypes"] = ["NodePort", "LoadBalancer"]
        policy["owned"].setdefault("test", {})["gatewayNodePorts"] = [33600, 33601]

    def squats(spec: dict) -> list[str]:
        pack.configure(config)
        found = [v["message"] for v in pack.analyze([_service(spec)]) if v["policy"] == "k8s-service-cluster-ip"]
        assert all("Gateway NodePort" in m and "Fix" in m for m in found), found
        return found

    node_port = {"type": "NodePort", "selector": {"app": "ledger"}}
    assert squats({**node_port, "ports": [{"port": 8080, "nodePort": 32850}]})  # prod's HTTP default
    assert squats({**node_port, "ports": [{"port": 8443, "nodePort": 32785}]})  # dev's own HTTPS default
    assert squats({**node_port, "ports": [{"port": 8080, "nodePort": 33600}]})  # test's, from its config
    assert squats({"type": "LoadBalancer", "ports": [{"port": 8080, "nodePort": 32851}]})  # test's HTTP default
    health_check = {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 8080}]}
    assert squats({**health_check, "healthCheckNodePort": 32783})  # prod's HTTPS default, from the same range
    assert squats({**health_check, "healthCheckNodePort": 34083}) == []
    assert squats({**node_port, "ports": [{"port": 8080}]}) == []  # the twins: the API server picks
    assert squats({**node_port, "ports": [{"port": 8080, "nodePort": 34080}, {"port": 8443, "nodePort": 30443}]}) == []


def test_with_unknown_ids_the_platform_s_gateway_makes_no_mandatory_violation(pack, preview):
    """dev as a new stack with its Gateway on, in the SDK's preview mode: whatever it leaves
    unknown never makes the EnvoyProxy or Gateway rules refuse the platform's own objects."""
    shared = preview("dev").shared.outputs
    config = full_config("dev", gateway={"enabled": True})
    resources = run_program("dev", config, {"acme/interlock-platform/shared": shared}, preview=True).resources
    assert any(r.type.endswith(":EnvoyProxy") for r in resources)
    topo = _gateway_topology()
    pack.configure(from_shared_outputs(shared, owned={"dev": owned_names(topo)}))
    assert [v for v in pack.analyze(resources) if v["enforcement"] == "mandatory"] == []


@pytest.mark.parametrize("interlock_ports", [(8080, 8443), (8081, 8444), (8082, 8445), (9090, 9443)])
def test_the_packs_gateway_node_port_defaults_are_the_programs(interlock_ports):
    """The pack restates the program's default Gateway NodePorts (it cannot import the program):
    the two must give the same ports, or the pack guards ports no Gateway takes."""
    assert (gateway.STATIC_BAND.start, len(gateway.STATIC_BAND)) == GATEWAY_NODE_PORT_BAND
    env = type("Env", (), {"http_port": interlock_ports[0], "https_port": interlock_ports[1]})()
    assert _default_gateway_node_ports(env) == tuple(gateway.default_node_port(p) for p in interlock_ports)
