"""The Kubernetes isolation layer: rendered manifests checked against the official schemas,
connectivity proven by an analyzer nobody here wrote (IBM's network-config-analyzer), and the
program's registrations under the mock runtime."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pulumi.runtime.rpc import is_rpc_secret

from interlock_platform.core import k8s_manifests, labels, ports
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import parse_environment
from interlock_platform.tooling import report
from interlock_platform.tooling.mock_runtime import run_program
from tests.conftest import (
    ENVIRONMENTS,
    SHARED_REF,
    full_config,
    raw,
    reference_shared,
    refused_dev,
    shared_outputs,
    team_manifests,
)
from tools.vendor_k8s_schemas import KINDS

SCHEMAS = Path(__file__).parent / "fixtures" / "k8s-schemas"
UCP_KUBERNETES = "1.14.0"  # what UCP 3.2 ships; schemas vendored, see tools/vendor_k8s_schemas.py
# Each schema set with the release whose Kubernetes it describes: MKE 3.7's 1.27, and the newest
# schemas for the reference release, MKE 3.9 (1.34). What a release renders follows its Kubernetes
# (admission policies from 1.30), so each is validated against its own.
CURRENT = (("1.27.0", "3.7"), (kubernetes_validate.latest_version(), "3.9"))


def manifests(preview, env, ucp=None):
    """An env stack's manifests, on the reference release or on UCP / MKE `ucp`."""
    if ucp is None:
        return report.kubernetes_manifests(preview(env).run)
    outputs = json.loads(json.dumps(preview("shared").run.outputs))
    outputs["ucpVersion"] = ucp
    return report.kubernetes_manifests(run_program(env, full_config(env), {SHARED_REF: outputs}))


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
    rendered = manifests(preview, env, "3.2")
    assert {m["kind"] for m in rendered.values()} == set(KINDS)
    for manifest in rendered.values():
        validate_ucp(manifest)


@pytest.mark.parametrize(("version", "ucp"), CURRENT)
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_manifests_validate_against_current_kubernetes(preview, env, version, ucp):
    rendered = manifests(preview, env, ucp)
    assert {m["kind"] for m in rendered.values()} >= set(KINDS)
    for manifest in rendered.values():
        kubernetes_validate.validate(manifest, version, strict=True)


def test_schema_validation_catches_a_typo(preview):
    policy = json.loads(json.dumps(k8s_manifests.deny_all("payments-dev")))
    policy["spec"]["podSelecter"] = policy["spec"].pop("podSelector")
    with pytest.raises(AssertionError):
        validate_ucp(policy)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, CURRENT[-1][0], strict=True)


# --------------------------------------------------------------------------------------------
# Connectivity, by network-config-analyzer

INGRESS_NS, DNS_NS = "ingress-nginx", "kube-system"
WORLD = "0.0.0.0-255.255.255.255"
# Version families of the Kubernetes the port table's releases ship: UCP 3.0 and 3.2 (1.8, 1.14)
# put no label on a namespace; from 1.21 (MKE 3.7: 1.27, 3.8: 1.31, 3.9: 1.34) the API server sets
# kubernetes.io/metadata.name. The reference stacks run MKE 3.9.
PRE_1_21, FROM_1_21 = "before 1.21", "1.21 and later"
FAMILIES = {PRE_1_21: "3.2", FROM_1_21: "3.9"}
# Every release teams can run on (UCP 3.0's 1.8 cannot isolate them), with its family
RELEASE_FAMILIES = {
    version: FROM_1_21 if k8s >= k8s_manifests.METADATA_NAME_SINCE else PRE_1_21
    for version, k8s in ports.KUBERNETES_VERSIONS.items()
    if k8s >= k8s_manifests.NAMESPACE_AND_POD_PEERS_SINCE
}


# How network-config-analyzer is run. Two of its conveniences model a world other than the one
# each test builds, so they are turned off; everything else is nca's own:
# - "LiveSim": when a policy selects DNS or ingress-controller pods the pod list lacks, nca adds
#   simulated ones, with a kube-system namespace labelled kubernetes.io/metadata.name. That
#   hides exactly the case where a selector matches nothing. Every pod of the cluster is listed.
# - nca models Kubernetes from 1.21 on: it gives every namespace kubernetes.io/metadata.name
#   (nca/Resources/OtherResources/K8sNamespace.py). An API server before 1.21 sets no label, so
#   for that family its namespaces start without it.
NCA = """
import sys
from nca.NetworkConfig.ResourcesHandler import ResourcesHandler
from nca.Resources.OtherResources.K8sNamespace import K8sNamespace
from nca.nca_cli import nca_main

ResourcesHandler.analyze_livesim = staticmethod(lambda policy_finder: [])
if sys.argv[1] == "before-1.21":
    def without_the_name_label(self, name):
        self.name = name if name else "default"
        self.labels = {}

    K8sNamespace.__init__ = without_the_name_label
sys.argv[0:2] = ["nca"]
sys.exit(nca_main())
"""


def _namespace(name, extra=None, family=PRE_1_21):
    own = {labels.K8S_NAMESPACE_NAME: name} if family == FROM_1_21 else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {**(extra or {}), **own}}}


class Cluster:
    """What a cluster of one version family holds: the namespaces the program creates, the
    cluster's own (kube-system, the ingress controller's) with only the labels the platform's
    patches put on them, and intruders; one pod per app and one unselected pod per team
    namespace; then nca's truth table. Nothing here adds a label the cluster would not carry."""

    def __init__(self, tmp: Path, rendered: dict[str, dict], teams: list, family: str = PRE_1_21, intruders: dict | None = None):
        self.tmp, self.teams, self.pods, self.family = tmp, teams, [], family
        namespaces = {INGRESS_NS: {}, DNS_NS: {}}  # the cluster's own: no labels of their own
        patches = []
        for path, m in rendered.items():
            if m["kind"] == "Namespace" and "/namespacepatch-" in path:
                patches.append(m)
            elif m["kind"] == "Namespace":
                namespaces[m["metadata"]["name"]] = dict(m["metadata"].get("labels", {}))
        for patch in patches:  # server-side apply merges the labels into the existing namespace
            namespaces[patch["metadata"]["name"]].update(patch["metadata"]["labels"])
        for name, (ns_labels, pods) in (intruders or {}).items():
            namespaces[name] = dict(ns_labels)
            for pod, pod_labels in pods.items():
                self._pod(name, pod, pod_labels)
        for team in teams:
            for app in team.apps:
                self._pod(team.namespace, app.name, dict(app.pod_selector))
            self._pod(team.namespace, "other", {"app": "unselected"})
        self._pod(INGRESS_NS, "controller", {"app.kubernetes.io/name": "ingress-nginx"})
        self._pod(DNS_NS, "coredns", dict(labels.DNS_POD))
        items = [_namespace(n, ls, family) for n, ls in namespaces.items()]
        (tmp / "ns.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "NamespaceList", "items": items}))
        (tmp / "pods.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": self.pods}))
        (tmp / "policies.yaml").write_text(yaml.safe_dump_all([m for m in rendered.values() if m["kind"] == "NetworkPolicy"]))

    def _pod(self, ns, name, pod_labels):
        self.pods.append({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": pod_labels},
            "spec": {"containers": [{"name": "c", "image": "app"}]}, "status": {"podIP": f"10.250.{len(self.pods) // 250}.{len(self.pods) % 250 + 2}"},
        })  # fmt: skip

    def connectivity(self) -> dict[tuple[str, str], str]:
        args = ["--connectivity", str(self.tmp / "policies.yaml"), "--ns_list", str(self.tmp / "ns.yaml"),
                "--pod_list", str(self.tmp / "pods.yaml"), "--output_format", "txt_no_fw_rules"]  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-c", NCA, "before-1.21" if self.family == PRE_1_21 else "from-1.21", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
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


def _environments(family, release=None):
    """The three environments' manifests and teams, on a cluster of UCP / MKE `release` (default:
    the one standing for `family`)."""
    shared = shared_outputs()
    shared["ucpVersion"] = release or FAMILIES[family]
    rendered, teams = {}, []
    for env in ENVIRONMENTS:
        topo = parse_environment(env, raw(env), shared)
        teams += list(topo.teams)
        rendered.update(team_manifests(topo))
        for ns in topo.kubernetes.platform_namespaces:
            rendered[f"{ns}/namespacepatch-{ns}.yaml"] = k8s_manifests.platform_label(ns)
    return rendered, teams


# A namespace someone else made, copying a team's namespace labels (its ns-id too) and running
# pods that wear a team app's labels and the cluster DNS's.
def _intruders(teams):
    victim = teams[0]
    copied = {labels.TEAM: victim.name, labels.ENVIRONMENT: "dev", labels.NS_ID: victim.namespace}
    return {"intruder": (copied, {"fake-web": dict(victim.apps[0].pod_selector), "fake-dns": dict(labels.DNS_POD)})}


def test_the_program_renders_what_the_analyzer_is_given(preview):
    """The analyzer tests below build the manifests from the pure functions for each version
    family; for the reference release (MKE 3.9) they are exactly what the program registers,
    and nothing patches a namespace the platform does not own."""
    rendered, _ = _environments(FROM_1_21)
    registered = {}
    for env in ENVIRONMENTS:
        registered.update(manifests(preview, env))
    assert not [p for p in rendered if "/namespacepatch-" in p]
    assert {p: m for p, m in registered.items() if m["kind"] in ("Namespace", "NetworkPolicy")} == {
        p: m for p, m in rendered.items() if m["kind"] in ("Namespace", "NetworkPolicy")
    }


@pytest.mark.parametrize("release", RELEASE_FAMILIES)
def test_the_whole_truth_table_across_environments(tmp_path, release):
    """On each release (so each version family), with only the labels the cluster and the
    platform put on namespaces: teams reach their own pods and DNS, the ingress controller
    reaches ingress apps on their ports, and nothing else crosses; an intruder wearing a team's
    labels gets nothing. From 1.21 (MKE 3.7, 3.8, 3.9) that holds with nothing applied to the
    cluster's own namespaces, by the platform or by hand."""
    family = RELEASE_FAMILIES[release]
    rendered, teams = _environments(family, release)
    if family == FROM_1_21:
        assert not [p for p in rendered if "/namespacepatch-" in p]
    table = Cluster(tmp_path, rendered, teams, family, _intruders(teams)).connectivity()
    team_namespaces = {t.namespace for t in teams}
    touching = {pair: conn for pair, conn in table.items() if any(p.split("/")[0] in team_namespaces for p in pair)}
    assert touching == expected_table(teams)
    # spelled out: nothing between teams, nothing between environments, nothing from outside
    for src, dst in touching:
        s_ns, d_ns = src.split("/")[0], dst.split("/")[0]
        if s_ns in team_namespaces and d_ns in team_namespaces:
            assert s_ns == d_ns, f"{src} reaches {dst}"
        assert not src.startswith("0.0.0.0"), f"the world reaches {dst}"
        assert "intruder" not in (s_ns, d_ns), f"{src} reaches {dst}"


def test_without_the_platform_label_a_ucp_3_2_cluster_has_no_dns_or_ingress_path(tmp_path):
    """What the last round shipped, seen by the analyzer: selectors by kubernetes.io/metadata.name
    on a cluster before 1.21 match nothing, so team pods resolve no name and get no traffic."""
    rendered, teams = _environments(PRE_1_21)
    old = {}
    for path, m in rendered.items():
        if "/namespacepatch-" in path:
            continue  # the platform did not label kube-system or the ingress controller's namespace
        m = json.loads(json.dumps(m).replace('"ns-id": "kube-system"', f'"{labels.K8S_NAMESPACE_NAME}": "kube-system"')
                       .replace('"ns-id": "ingress-nginx"', f'"{labels.K8S_NAMESPACE_NAME}": "ingress-nginx"'))  # fmt: skip
        old[path] = m
    table = Cluster(tmp_path, old, teams, PRE_1_21).connectivity()
    team_namespaces = {t.namespace for t in teams}
    assert not [(s, d) for s, d in table if s.split("/")[0] in team_namespaces and d == f"{DNS_NS}/coredns"]
    assert not [(s, d) for s, d in table if s == f"{INGRESS_NS}/controller" and d.split("/")[0] in team_namespaces]
    # while the platform's label gives both paths back
    table = Cluster(tmp_path, rendered, teams, PRE_1_21).connectivity()
    assert [(s, d) for s, d in table if s.split("/")[0] in team_namespaces and d == f"{DNS_NS}/coredns"]
    assert [(s, d) for s, d in table if s == f"{INGRESS_NS}/controller" and d.split("/")[0] in team_namespaces]


def test_a_namespace_copying_the_platform_label_is_refused_from_1_21(tmp_path):
    """From 1.21 the selectors also require the name Kubernetes sets, which no one can copy.
    Before 1.21 a namespace labelled ns-id=kube-system by someone who may label namespaces would
    be selected: that is why only the platform labels namespaces (teams get no rights on them)
    and the policy pack refuses an ns-id that is not the namespace's own name."""
    rendered, teams = _environments(FROM_1_21)
    fake = {"fake-kube-system": ({labels.NS_ID: DNS_NS}, {"coredns": dict(labels.DNS_POD)})}
    table = Cluster(tmp_path, rendered, teams, FROM_1_21, fake).connectivity()
    team_namespaces = {t.namespace for t in teams}
    assert not [(s, d) for s, d in table if s.split("/")[0] in team_namespaces and d == "fake-kube-system/coredns"]
    assert [(s, d) for s, d in table if s.split("/")[0] in team_namespaces and d == f"{DNS_NS}/coredns"]  # the real one is


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


def _seed_cluster(tmp_path, policies, intruders=None):
    team = k8s_manifests.TeamSpec("app1", "ns-app1", ("app1",), (
        k8s_manifests.AppSpec("web", {"project": "app1-web"}, (k8s_manifests.Port(8080),), True),
        k8s_manifests.AppSpec("api", {"project": "project-app1"}, (k8s_manifests.Port(9090),), False),
    ))  # fmt: skip
    rendered = {"ns-app1/namespace-ns-app1.yaml": _namespace("ns-app1", {labels.NS_ID: "ns-app1"})}
    rendered |= {f"{n}/namespacepatch-{n}.yaml": k8s_manifests.platform_label(n) for n in (INGRESS_NS, DNS_NS)}
    rendered |= {f"ns-app1/networkpolicy-{m['metadata']['name']}.yaml": m for m in policies}
    return Cluster(tmp_path, rendered, [team], PRE_1_21, intruders).connectivity()


def test_the_seed_recipe_leaves_egress_closed(tmp_path):
    """The runbook's step 2 says listing only Ingress re-opens egress. The analyzer says no: the
    app's pods reach neither each other nor DNS."""
    table = _seed_cluster(tmp_path, list(yaml.safe_load_all(SEED)))
    assert ("ns-app1/api", "ns-app1/web") not in table and ("ns-app1/web", "ns-app1/api") not in table
    assert not any(src.startswith("ns-app1/") and dst == f"{DNS_NS}/coredns" for src, dst in table)
    assert not any(src.startswith("ns-app1/") for src, _ in table)  # no egress at all
    assert table[(f"{INGRESS_NS}/controller", "ns-app1/web")] == "All connections"  # and on every port


def test_our_onboarding_fixes_the_seed(tmp_path):
    settings = k8s_manifests.KubernetesSettings()  # UCP 3.2's Kubernetes 1.14
    team = k8s_manifests.TeamSpec("app1", "ns-app1", ("app1",), (
        k8s_manifests.AppSpec("web", {"project": "app1-web"}, (k8s_manifests.Port(8080),), True),
        k8s_manifests.AppSpec("api", {"project": "project-app1"}, (k8s_manifests.Port(9090),), False),
    ))  # fmt: skip
    ours = [
        m
        for m in k8s_manifests.onboarding(team, "dev", "com.docker.ucp.collection.dev=true", settings)
        if m["kind"] == "NetworkPolicy"
    ]
    ours.append(k8s_manifests.app_ingress_policy("ns-app1", team.apps[0], settings.ingress_selector))
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
    assert k8s_manifests.own_namespace_peer() == {"podSelector": {}}


def test_our_own_namespace_peer_admits_no_namespace_copying_the_label(tmp_path):
    """The runbook's allow-internal selects its namespace by ns-id: any namespace wearing that
    label is admitted. Ours (a podSelector alone) admits the policy's own namespace only."""
    copycat = {"copycat": ({labels.NS_ID: "ns-app1"}, {"spy": {"project": "project-app1"}})}
    runbook = _seed_cluster(tmp_path, [list(yaml.safe_load_all(SEED))[1]], copycat)
    assert runbook[("copycat/spy", "ns-app1/api")] == "All connections"
    ours = _seed_cluster(tmp_path, [k8s_manifests.allow_internal("ns-app1")], copycat)
    assert ("copycat/spy", "ns-app1/api") not in ours and ("ns-app1/other", "ns-app1/api") in ours


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
    """No role of a team (its people's, its pipeline's) names what isolation is made of; what
    each may do per environment is tests/test_tenant_rights.py's matrix."""
    roles = preview(env).run.of_type(ROLE)
    assert {r.inputs["metadata"]["name"] for r in roles} == {"team-workloads", "team-deploy"}
    for role in roles:
        resources = {r for rule in role.inputs["rules"] for r in rule["resources"]}
        assert {"deployments", "statefulsets", "pods", "services", "configmaps", "ingresses", "jobs"} <= resources
        assert not resources & {"networkpolicies", "roles", "rolebindings", "resourcequotas", "limitranges", "namespaces", "*",
                                 "gateways", "referencegrants", "tlsroutes"}
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
            lambda c: c.update(kubernetes={"ingressNamespaceSelector": {"kubernetes.io/metadata.name": "ingress-nginx"}}),
            "kubernetes.ingressNamespaceSelector",
            "write kubernetes.ingressControllerNamespace",
        ),
        (
            lambda c: c.update(kubernetes={"dnsNamespace": "Kube System"}),
            "kubernetes.dnsNamespace",
            "not a Kubernetes namespace name",
        ),
        (
            lambda c: c.update(kubernetes={"ingresControllerNamespace": "x"}),
            "kubernetes.ingresControllerNamespace",
            "did you mean",
        ),
        (lambda c: c.pop("kubeconfig"), "kubeconfig", "teams are on-boarded"),
        (
            lambda c: c["kubernetes"].update(resourceQuota={"hard": 5}),
            "kubernetes.resourceQuota.hard",
            "map of resource -> quantity",
        ),
        (
            lambda c: c["kubernetes"].update(resourceQuota={"hard": {"pods": [1]}}),
            "kubernetes.resourceQuota.hard.pods",
            "not a Kubernetes quantity",
        ),
        (
            lambda c: c["kubernetes"]["limitRange"]["limits"][0].update(type="Containr"),
            "kubernetes.limitRange.limits[0].type",
            "not a LimitRange type",
        ),
        (
            lambda c: c["kubernetes"]["limitRange"]["limits"][0].update(default={"cpu": "lots"}),
            "kubernetes.limitRange.limits[0].default.cpu",
            "not a Kubernetes quantity",
        ),
    ],
)
def test_kubernetes_config_errors_name_the_key(mutate, key, fragment):
    cfg = raw("dev")
    mutate(cfg)
    problems = refused_dev(cfg)
    assert key in problems and fragment in problems[key], problems


@pytest.mark.parametrize(("ucp", "by_hand"), [("3.2", True), ("3.7", False), ("3.8", False), ("3.9", False)])
def test_the_label_step_by_hand_is_asked_only_before_server_side_apply(preview, ucp, by_hand, caplog):
    """Before Kubernetes 1.18 (UCP 3.2 ships 1.14) nothing can patch a namespace the stack does
    not own: every run prints the `kubectl label` an admin runs once. From 1.21 (MKE 3.7, 3.8,
    3.9) the selectors use the name label the API server sets: no patch, and nothing printed."""
    outputs = json.loads(json.dumps(preview("shared").run.outputs))
    outputs["ucpVersion"] = ucp
    caplog.clear()
    run = run_program("dev", full_config("dev"), {SHARED_REF: outputs})
    printed = caplog.text  # the mock engine's log (pulumi.log.warn), what `pulumi up` prints
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs.get("enableServerSideApply") == str(not by_hand).lower()  # provider inputs travel as strings
    assert run.of_type("kubernetes:core/v1:NamespacePatch") == []
    commands = [k8s_manifests.label_command(ns) for ns in (DNS_NS, INGRESS_NS)]
    assert [c in printed for c in commands] == [by_hand, by_hand]
    assert k8s_manifests.label_command(DNS_NS) == "kubectl label namespace kube-system ns-id=kube-system --overwrite"
    policies = [p.inputs for p in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if p.inputs["metadata"]["name"] == "allow-dns-egress"]
    selector = policies[0]["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]
    assert selector == ({labels.NS_ID: DNS_NS} if by_hand else {labels.K8S_NAMESPACE_NAME: DNS_NS})


def test_teams_are_refused_where_kubernetes_cannot_isolate_them():
    outputs = shared_outputs()
    outputs["ucpVersion"] = "3.0"
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", raw("dev"), outputs)
    assert [(p.key, "Kubernetes 1.8" in p.message) for p in err.value.problems] == [("teams", True)]
