"""The Kubernetes isolation layer: rendered manifests checked against the official schemas,
connectivity proven by an analyzer nobody here wrote (IBM's network-config-analyzer), and the
program's registrations under the mock runtime."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pulumi.runtime.rpc import is_rpc_secret

from components import k8s_manifests, labels
from components.topology import InvalidConfig, parse_environment
from tests.conftest import ENVIRONMENTS, console_script, raw, reference_shared, shared_outputs
from tools import report
from tools.vendor_k8s_schemas import KINDS

SCHEMAS = Path(__file__).parent / "fixtures" / "k8s-schemas"
UCP_KUBERNETES = "1.14.0"  # what UCP 3.2 ships; schemas vendored, see tools/vendor_k8s_schemas.py
CURRENT = ("1.27.0", kubernetes_validate.latest_version())  # MKE 3.7's, and the newest schemas


def manifests(preview, env):
    return report.kubernetes_manifests(preview(env).run)


# --------------------------------------------------------------------------------------------
# Official schemas


@cache
def _ucp_validator(kind: str) -> jsonschema.protocols.Validator:
    folder = SCHEMAS / f"v{UCP_KUBERNETES}"
    definitions = json.loads((folder / "_definitions.json").read_text())["definitions"]
    text = (folder / KINDS[kind]).read_text().replace("_definitions.json#/", "#/")  # one self-contained document
    return jsonschema.Draft4Validator({**json.loads(text), "definitions": definitions})


def validate_ucp(manifest):
    errors = sorted(_ucp_validator(manifest["kind"]).iter_errors(manifest), key=str)
    assert not errors, f"{manifest['kind']} {manifest['metadata']['name']}: {errors[0].message} at {list(errors[0].path)}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_manifests_validate_against_the_kubernetes_ucp_ships(preview, env):
    rendered = manifests(preview, env)
    assert {m["kind"] for m in rendered.values()} == set(KINDS)
    for manifest in rendered.values():
        validate_ucp(manifest)


@pytest.mark.parametrize("version", CURRENT)
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_manifests_validate_against_current_kubernetes(preview, env, version):
    for manifest in manifests(preview, env).values():
        kubernetes_validate.validate(manifest, version, strict=True)


def test_schema_validation_catches_a_typo(preview):
    policy = json.loads(json.dumps(k8s_manifests.deny_all("payments-dev")))
    policy["spec"]["podSelecter"] = policy["spec"].pop("podSelector")
    with pytest.raises(AssertionError):
        validate_ucp(policy)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, CURRENT[-1], strict=True)


# --------------------------------------------------------------------------------------------
# Connectivity, by network-config-analyzer

INGRESS_NS, DNS_NS = "ingress-nginx", "kube-system"
WORLD = "0.0.0.0-255.255.255.255"


def _namespace(name, extra=None):
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {labels.K8S_NAMESPACE_NAME: name, **(extra or {})}},
    }


class Cluster:
    """Namespaces from the manifests (plus the ingress controller's and kube-system), one pod per
    app and one unselected pod per team namespace, and the policies; then nca's truth table."""

    def __init__(self, tmp: Path, rendered: list[dict], teams: list):
        self.tmp, self.teams, self.pods = tmp, teams, []
        namespaces = [_namespace(m["metadata"]["name"], m["metadata"]["labels"]) for m in rendered if m["kind"] == "Namespace"]
        namespaces += [_namespace(INGRESS_NS), _namespace(DNS_NS)]
        for team in teams:
            for app in team.apps:
                self._pod(team.namespace, app.name, dict(app.pod_selector))
            self._pod(team.namespace, "other", {"app": "unselected"})
        self._pod(INGRESS_NS, "controller", {"app.kubernetes.io/name": "ingress-nginx"})
        self._pod(DNS_NS, "coredns", dict(labels.DNS_POD))
        (tmp / "ns.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "NamespaceList", "items": namespaces}))
        (tmp / "pods.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": self.pods}))
        (tmp / "policies.yaml").write_text(yaml.safe_dump_all([m for m in rendered if m["kind"] == "NetworkPolicy"]))

    def _pod(self, ns, name, pod_labels):
        self.pods.append({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": pod_labels},
            "spec": {"containers": [{"name": "c", "image": "app"}]}, "status": {"podIP": f"10.250.{len(self.pods) // 250}.{len(self.pods) % 250 + 2}"},
        })  # fmt: skip

    def connectivity(self) -> dict[tuple[str, str], str]:
        out = subprocess.run(
            [console_script("nca"), "--connectivity", str(self.tmp / "policies.yaml"), "--ns_list", str(self.tmp / "ns.yaml"),
             "--pod_list", str(self.tmp / "pods.yaml"), "--output_format", "txt_no_fw_rules"],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout  # fmt: skip
        table = {}
        for line in out.splitlines():
            if " => " in line:
                pair, conn = line.split(" : ", 1)
                src, dst = (p.replace("[Pod]", "").strip() for p in pair.split(" => "))
                table[(src, dst)] = conn.strip()
        return table


def ports_conn(ports) -> str:
    protocols = sorted({p.protocol for p in ports})
    numbers = sorted({p.port for p in ports})
    return f"{{protocols:{', '.join(protocols)},dst_ports:{','.join(map(str, numbers))}}}"


def ip_range(cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    return f"{net.network_address}-{net.broadcast_address}"


def expected_table(teams) -> dict[tuple[str, str], str]:
    """What the platform promises, derived from the teams' config alone."""
    expect: dict[tuple[str, str], str] = {}
    for team in teams:
        pods = [f"{team.namespace}/{a.name}" for a in team.apps] + [f"{team.namespace}/other"]
        for src in pods:
            for dst in pods:
                if src != dst:
                    expect[(src, dst)] = "All connections"  # its own pods reach each other
            if team.dns:
                expect[(src, f"{DNS_NS}/coredns")] = "{protocols:TCP, UDP,dst_ports:53}"
            for target in team.egress:
                if target.cidr:
                    expect[(src, ip_range(target.cidr))] = ports_conn(target.ports) if target.ports else "All connections"
        for app in team.apps:
            if app.ingress:  # the ingress controller reaches only ingress apps, on their ports
                expect[(f"{INGRESS_NS}/controller", f"{team.namespace}/{app.name}")] = ports_conn(app.ports)
    return expect


def test_the_whole_truth_table_across_environments(preview, tmp_path):
    rendered, teams = [], []
    for env in ENVIRONMENTS:
        rendered += list(manifests(preview, env).values())
        teams += list(parse_environment(env, raw(env), shared_outputs()).teams)
    table = Cluster(tmp_path, rendered, teams).connectivity()
    team_namespaces = {t.namespace for t in teams}
    touching = {pair: conn for pair, conn in table.items() if any(p.split("/")[0] in team_namespaces for p in pair)}
    assert touching == expected_table(teams)
    # spelled out: nothing between teams, nothing between environments, nothing from outside
    for src, dst in touching:
        s_ns, d_ns = src.split("/")[0], dst.split("/")[0]
        if s_ns in team_namespaces and d_ns in team_namespaces:
            assert s_ns == d_ns, f"{src} reaches {dst}"
        assert not src.startswith("0.0.0.0"), f"the world reaches {dst}"


SEED = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: ns-app1}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-internal-ingress, namespace: ns-app1}
spec:
  podSelector: {matchLabels: {project: project-app1}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns-id: ns-app1}}
      podSelector: {matchLabels: {project: project-app1}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ingress-app1, namespace: ns-app1}
spec:
  podSelector: {matchLabels: {project: app1-web}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns-id: ingress-nginx}}
"""


def _seed_cluster(tmp_path, policies):
    team = k8s_manifests.TeamSpec("app1", "ns-app1", ("app1",), (
        k8s_manifests.AppSpec("web", {"project": "app1-web"}, (k8s_manifests.Port(8080),), True),
        k8s_manifests.AppSpec("api", {"project": "project-app1"}, (k8s_manifests.Port(9090),), False),
    ))  # fmt: skip
    ns = _namespace("ns-app1", {labels.NS_ID: "ns-app1"})
    rendered = [ns, *policies]
    cluster = Cluster(tmp_path, rendered, [team])
    ingress = _namespace(INGRESS_NS, {labels.NS_ID: INGRESS_NS})
    (tmp_path / "ns.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "NamespaceList", "items": [ns, ingress, _namespace(DNS_NS)]})
    )
    return cluster.connectivity()


def test_the_seed_recipe_leaves_egress_closed(tmp_path):
    """The runbook's step 2 says listing only Ingress re-opens egress. The analyzer says no: the
    app's pods reach neither each other nor DNS."""
    table = _seed_cluster(tmp_path, list(yaml.safe_load_all(SEED)))
    assert ("ns-app1/api", "ns-app1/web") not in table and ("ns-app1/web", "ns-app1/api") not in table
    assert not any(src.startswith("ns-app1/") and dst == f"{DNS_NS}/coredns" for src, dst in table)
    assert not any(src.startswith("ns-app1/") for src, _ in table)  # no egress at all
    assert table[(f"{INGRESS_NS}/controller", "ns-app1/web")] == "All connections"  # and on every port


def test_our_onboarding_fixes_the_seed(tmp_path):
    settings = k8s_manifests.KubernetesSettings(ingress_namespace_selector={labels.NS_ID: INGRESS_NS})
    team = k8s_manifests.TeamSpec("app1", "ns-app1", ("app1",), (
        k8s_manifests.AppSpec("web", {"project": "app1-web"}, (k8s_manifests.Port(8080),), True),
        k8s_manifests.AppSpec("api", {"project": "project-app1"}, (k8s_manifests.Port(9090),), False),
    ))  # fmt: skip
    ours = [
        m
        for m in k8s_manifests.onboarding(team, "dev", "com.docker.ucp.collection.dev=true", settings)
        if m["kind"] == "NetworkPolicy"
    ]
    ours.append(k8s_manifests.app_ingress_policy("ns-app1", team.apps[0], settings.ingress_namespace_selector))
    table = _seed_cluster(tmp_path, ours)
    assert table[("ns-app1/api", "ns-app1/web")] == "All connections"
    assert table[("ns-app1/web", f"{DNS_NS}/coredns")] == "{protocols:TCP, UDP,dst_ports:53}"
    assert table[(f"{INGRESS_NS}/controller", "ns-app1/web")] == "{protocols:TCP,dst_ports:8080}"
    assert (f"{INGRESS_NS}/controller", "ns-app1/api") not in table


def test_the_two_item_selector_widens_access(tmp_path):
    """Why our peers keep namespaceSelector and podSelector in ONE item: written as two items (a
    stray '-'), the seed's allow-internal admits every pod of the namespace, not only the
    project's. The analyzer shows the difference."""
    one_item = list(yaml.safe_load_all(SEED))[1]
    two_items = json.loads(json.dumps(one_item))
    peer = two_items["spec"]["ingress"][0]["from"][0]
    two_items["spec"]["ingress"][0]["from"] = [
        {"namespaceSelector": peer["namespaceSelector"]},
        {"podSelector": peer["podSelector"]},
    ]
    narrow = _seed_cluster(tmp_path, [one_item])
    wide = _seed_cluster(tmp_path, [two_items])
    assert ("ns-app1/other", "ns-app1/api") not in narrow  # an unlabelled pod is kept out...
    assert wide[("ns-app1/other", "ns-app1/api")] == "All connections"  # ...until the '-' slips in
    assert set(k8s_manifests.own_namespace_peer("ns-app1")) == {"namespaceSelector", "podSelector"}


# --------------------------------------------------------------------------------------------
# The program, under the mock runtime

NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_namespace_gets_deny_all_and_its_collection(preview, env):
    run = preview(env).run
    selector = reference_shared().environments[env].collection_node_selector
    namespaces = run.of_type(NAMESPACE)
    assert {n.inputs["metadata"]["name"] for n in namespaces} == {
        t.get("namespace", f"{t['name']}-{env}") for t in raw(env)["teams"]
    }
    for ns in namespaces:
        name = ns.inputs["metadata"]["name"]
        assert ns.inputs["metadata"]["annotations"][labels.NODE_SELECTOR_ANNOTATION] == selector
        assert ns.inputs["metadata"]["labels"][labels.NS_ID] == name
        deny = [
            p
            for p in run.of_type(POLICY)
            if p.inputs["metadata"]["namespace"] == name and p.inputs["metadata"]["name"] == "deny-all"
        ]
        assert len(deny) == 1 and deny[0].inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_team_role_cannot_touch_policy(preview, env):
    for role in preview(env).run.of_type(ROLE):
        resources = {r for rule in role.inputs["rules"] for r in rule["resources"]}
        assert {"deployments", "statefulsets", "pods", "services", "configmaps", "secrets", "ingresses", "jobs"} <= resources
        assert not resources & {"networkpolicies", "roles", "rolebindings", "resourcequotas", "limitranges", "namespaces", "*"}
        assert not {v for rule in role.inputs["rules"] for v in rule["verbs"]} & {"escalate", "bind", "impersonate", "*"}


def test_the_kubeconfig_is_a_secret(preview):
    (provider,) = preview("dev").run.of_type("pulumi:providers:kubernetes")
    assert is_rpc_secret(provider.inputs["kubeconfig"])


@pytest.mark.parametrize(
    ("mutate", "key", "fragment"),
    [
        (
            lambda c: c["teams"][0]["apps"][0].update(podSelector={"app": "a/b"}),
            "teams[0].apps[0].podSelector.app",
            "not a valid Kubernetes label",
        ),
        (lambda c: c["teams"][1].update(namespace="payments-dev"), "teams[1].namespace", "already the namespace of teams[0]"),
        (lambda c: c["teams"][0]["apps"][0].update(ports=[70000]), "teams[0].apps[0].ports[0]", "out of range"),
        (lambda c: c["teams"][0]["apps"][0].update(podSelector={}), "teams[0].apps[0].podSelector", "selects everything"),
        (
            lambda c: c["teams"][0]["egress"].update(cidrs=[{"cidr": "10.40.192.0/24", "ports": [443]}]),
            "teams[0].egress.cidrs[0].cidr",
            "reaches environment 'prod'",
        ),
        (
            lambda c: c["teams"][0]["egress"].update(namespaces=[{"namespace": "payments-prod"}]),
            "teams[0].egress.namespaces[0].namespace",
            "not a team namespace of this environment",
        ),
        (
            lambda c: c.update(kubernetes={"ingressNamespaceSelector": {"bad key!": "x"}}),
            "kubernetes.ingressNamespaceSelector.bad key!",
            "not a valid Kubernetes label",
        ),
        (lambda c: c.pop("kubeconfig"), "kubeconfig", "teams are on-boarded"),
    ],
)
def test_kubernetes_config_errors_name_the_key(mutate, key, fragment):
    cfg = raw("dev")
    mutate(cfg)
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    problems = {p.key: str(p) for p in err.value.problems}
    assert key in problems and fragment in problems[key], problems
