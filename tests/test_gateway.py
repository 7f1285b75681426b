"""The environment's own Gateway (`interlock-platform:gateway`): what it renders, held to the
Gateway API project's published CRDs (schemas and CEL, tools/gateway_api.py) and Envoy Gateway's
EnvoyProxy CRD; what a wrong config is told; every env stack previewed with it on and off, under
the SDK's mock runtime and the policy pack; and the team namespaces' policy that admits its
proxies, proven by network-config-analyzer."""

from __future__ import annotations

import json
from functools import cache

import kubernetes_validate
import pytest
from pulumi.runtime.rpc import is_rpc_secret

from interlock_platform.core import gateway, labels
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import parse_environment
from interlock_platform.tooling import report
from interlock_platform.tooling.mock_runtime import run_program
from interlock_platform.tooling.policy_config import from_shared_outputs, group_layout, owned_names
from interlock_platform.tooling.policy_harness import PolicyPackProcess
from interlock_platform.tooling.preview import run_preview
from tests.conftest import ENVIRONMENTS, SHARED_REF, full_config, manifest_path, raw, refused_dev, shared_outputs, team_manifests
from tests.test_kubernetes import FROM_1_21, Cluster, expected_table, ports_conn
from tools import gateway_api

ON = {"enabled": True}
CRD_GROUPS = ("gateway.networking.k8s.io/", "gateway.envoyproxy.io/")  # what the vendored CRDs define


def by_crd(manifests: list[dict]) -> list[dict]:
    return [m for m in manifests if m["apiVersion"].startswith(CRD_GROUPS)]


def topology(env: str, **gateway_config):
    cfg = raw(env)
    cfg["gateway"] = {**ON, **gateway_config}
    return parse_environment(env, cfg, shared_outputs())


# --------------------------------------------------------------------------------------------
# What it renders, and Gateway API's own rules on it


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_gateway_object_passes_the_published_crds(env):
    spec = topology(env).gateway
    checked = by_crd(gateway.manifests(spec))
    assert {m["kind"] for m in checked} >= {"Gateway", "EnvoyProxy"}
    for manifest in checked:
        result = gateway_api.validate(manifest)
        assert result.ok, (manifest["kind"], result.errors)
        assert result.rules_run > 0 and result.transition_rules == []


@pytest.mark.parametrize(("tls", "https_only"), [(False, False), (True, False), (True, True)])
def test_the_gateway_listens_for_its_domain_only_and_admits_its_teams_only(tls, https_only):
    cfg = raw("dev")
    cfg.update(gateway=ON, tls=tls, httpsOnly=https_only, tlsCertificate="pem", tlsKey="pem")
    spec = parse_environment("dev", cfg, shared_outputs()).gateway
    gw = gateway.gateway(spec)
    assert gateway_api.validate(gw).ok
    listeners = {listener["name"]: listener for listener in gw["spec"]["listeners"]}
    assert set(listeners) == ({"http", "https"} if tls else {"http"})
    assert {listener["hostname"] for listener in listeners.values()} == {"*.dev.apps.example.com"}
    teams = {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
        {"key": labels.K8S_NAMESPACE_NAME, "operator": "In", "values": ["ledger-dev", "payments-dev"]}]}}}  # fmt: skip
    # HTTPS-only: the HTTP listener takes only the platform's redirect, from the Gateway's namespace
    assert listeners["http"]["allowedRoutes"] == ({"namespaces": {"from": "Same"}} if https_only else teams)
    if tls:
        assert listeners["https"]["allowedRoutes"] == teams
        assert listeners["https"]["tls"] == {
            "mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": "dev-wildcard-tls"}]
        }  # fmt: skip
    routes = [m for m in gateway.manifests(spec) if m["kind"] == "HTTPRoute"]
    if https_only:
        (redirect,) = routes
        assert redirect["metadata"]["namespace"] == spec.namespace == "gateway-dev"
        assert redirect["spec"]["parentRefs"] == [{"name": "dev", "sectionName": "http"}]
        assert redirect["spec"]["rules"][0]["filters"][0]["requestRedirect"] == {"scheme": "https", "statusCode": 301}
        assert gateway_api.validate(redirect).ok
    else:
        assert routes == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_core_kinds_beside_it_pass_the_official_kubernetes_schemas(env):
    """The namespace, its deny-all, the certificate Secret and each team's allow-gateway policy:
    Kubernetes' own kinds, held to the newest official schemas kubernetes-validate carries."""
    topo = topology(env)
    spec = topo.gateway
    core = [m for m in gateway.manifests(spec) if not m["apiVersion"].startswith(CRD_GROUPS)]
    core.append(gateway.certificate_secret(spec, "-----BEGIN CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----"))
    core += [gateway.app_gateway_policy(t.namespace, a, spec) for t in topo.teams for a in t.apps if a.ingress]
    assert {m["kind"] for m in core} == {"Namespace", "NetworkPolicy", "Secret"}
    for manifest in core:
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_no_listener_admits_routes_from_every_namespace_in_any_environment():
    for env in ENVIRONMENTS:
        for listener in gateway.gateway(topology(env).gateway)["spec"]["listeners"]:
            assert listener["allowedRoutes"]["namespaces"]["from"] in ("Selector", "Same")


def test_without_teams_the_gateway_admits_routes_from_its_own_namespace_only():
    cfg = raw("dev")
    cfg.update(gateway=ON, teams=[])
    spec = parse_environment("dev", cfg, shared_outputs()).gateway
    (listener,) = gateway.gateway(spec)["spec"]["listeners"]
    assert listener["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    assert gateway_api.validate(gateway.gateway(spec)).ok


def test_the_proxies_run_on_the_environment_s_ingress_nodes_behind_its_fixed_node_ports():
    topo = topology("prod")
    proxy = gateway.envoy_proxy(topo.gateway)["spec"]["provider"]["kubernetes"]
    (term,) = proxy["envoyDaemonSet"]["pod"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": labels.K8S_HOSTNAME, "operator": "In", "values": sorted(n.hostname for n in topo.ingress_nodes)},
        {"key": "com.docker.ucp.collection.prod", "operator": "In", "values": ["true"]},
        {"key": labels.K8S_OS, "operator": "In", "values": ["linux"]},
    ]
    assert proxy["envoyService"]["type"] == "NodePort" and proxy["envoyService"]["externalTrafficPolicy"] == "Local"
    # prod's Interlock ports are 8080 / 8443: its Gateway takes 32768 + 8080 % 86 and 32768 + 8443 % 86
    assert proxy["envoyService"]["patch"]["value"]["spec"]["ports"] == [
        {"port": 80, "nodePort": 32850},
        {"port": 443, "nodePort": 32783},
    ]
    namespace = gateway.namespace(topo.gateway)
    assert namespace["metadata"]["annotations"] == {labels.NODE_SELECTOR_ANNOTATION: "com.docker.ucp.collection.prod=true"}
    # the Gateway names its EnvoyProxy, in its own namespace
    assert gateway.gateway(topo.gateway)["spec"]["infrastructure"]["parametersRef"] == {
        "group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": "prod-proxy"
    }  # fmt: skip


def test_the_gateway_s_envoy_proxy_merges_onto_the_class_s():
    """Without mergeType, Envoy Gateway replaces the GatewayClass's EnvoyProxy (and its own
    defaults) with the Gateway's: a cluster's proxy image or registry set there would be dropped.
    The object holds to the CRD's enum (Replace, StrategicMerge, JSONMerge)."""
    proxy = gateway.envoy_proxy(topology("prod").gateway)
    assert proxy["spec"]["mergeType"] == "StrategicMerge"
    assert "container" not in proxy["spec"]["provider"]["kubernetes"]["envoyDaemonSet"]  # the class's image, by default
    assert gateway_api.validate(proxy).ok
    wrong = {**proxy, "spec": {**proxy["spec"], "mergeType": "Merge"}}
    assert not gateway_api.validate(wrong).ok


def test_a_proxy_image_runs_on_the_gateway_s_daemon_set():
    image = "mirantis/ucp-envoy-proxy:3.9.0"
    proxy = gateway.envoy_proxy(topology("prod", proxyImage=image).gateway)
    assert proxy["spec"]["provider"]["kubernetes"]["envoyDaemonSet"]["container"] == {"image": image}
    result = gateway_api.validate(proxy)
    assert result.ok, result.errors


def test_no_two_environments_take_a_node_port():
    ports = [p for env in ENVIRONMENTS for p in topology(env).gateway.node_ports().values()]
    assert len(ports) == len(set(ports)) and all(gateway.node_port_problem(p) is None for p in ports)


@pytest.mark.parametrize(
    ("low", "high", "band"),
    [
        (30000, 32767, range(30000, 30086)),  # Kubernetes' default range: 2768 ports, 2768 // 32 = 86
        (32768, 35535, range(32768, 32854)),  # MKE's
        (30000, 30099, range(30000, 30016)),  # a small range: never fewer than 16
        (30000, 39999, range(30000, 30128)),  # a large one: never more than 128
    ],
)
def test_the_static_band_is_kep_3668s(low, high, band):
    assert gateway.static_band(low, high) == band


def test_every_default_node_port_is_in_the_static_band():
    """The defaults sit where the API server's automatic allocation goes last (the hostile case:
    33082, in the range's upper part, which any NodePort Service of the cluster may be given)."""
    for env in ENVIRONMENTS:
        for port in topology(env).gateway.node_ports().values():
            assert port in gateway.STATIC_BAND and port not in gateway.RESERVED_NODE_PORTS
    assert "static band" in (gateway.node_port_problem(33082) or "")


def test_a_free_port_of_the_static_band_is_accepted():
    """The benign twin of the refusals below: a port in the band no environment takes by default."""
    spec = topology("prod", httpNodePort=32800, httpsNodePort=32801).gateway
    assert spec.node_ports() == {80: 32800, 443: 32801}


def test_interlock_ports_a_band_apart_are_told_to_set_the_node_port():
    """Two environments whose Interlock ports differ by the band's size would derive the same
    NodePort: the stack says so and which key to set, rather than deploying a clash."""
    shared = shared_outputs()
    shared["environments"]["test"]["httpPort"] = 8082 + len(gateway.STATIC_BAND)
    cfg = raw("dev")
    cfg["gateway"] = ON
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared)
    problems = {p.key: str(p) for p in err.value.problems}
    assert "environment 'test''s Gateway NodePort" in problems["gateway.httpNodePort"]
    assert "set gateway.httpNodePort" in problems["gateway.httpNodePort"]
    cfg["gateway"] = {**ON, "httpNodePort": 32800}
    assert parse_environment("dev", cfg, shared).gateway.http_node_port == 32800


# --------------------------------------------------------------------------------------------
# Refusals: the key, what is wrong, the fix


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        (lambda c: c.update(gateway={"enabled": "yes"}), "gateway.enabled", ""),
        (lambda c: c.update(gateway={**ON, "namespace": "gateway-prod"}), "gateway.namespace", "belongs to environment 'prod'"),
        (lambda c: c.update(gateway={**ON, "namespace": "kube-gateway"}), "gateway.namespace", "shared by every environment"),
        (lambda c: c.update(gateway={**ON, "namespace": "payments-dev"}), "gateway.namespace", "is a team's namespace"),
        (lambda c: c.update(gateway={**ON, "proxyNamespace": "ledger-test"}), "gateway.proxyNamespace", "of environment 'test'"),
        (lambda c: c.update(gateway={**ON, "httpNodePort": 30080}), "gateway.httpNodePort", "outside MKE's NodePort range"),
        (lambda c: c.update(gateway={**ON, "httpsNodePort": 33001}), "gateway.httpsNodePort", "MKE's ingress controller"),
        (lambda c: c.update(gateway={**ON, "httpNodePort": 32783}), "gateway.httpNodePort", "environment 'prod''s Gateway"),
        (lambda c: c.update(gateway={**ON, "httpNodePort": 32800, "httpsNodePort": 32800}), "gateway.httpsNodePort", "HTTP"),
        # in the range, but where any Service asking for no NodePort may take it first
        (lambda c: c.update(gateway={**ON, "httpNodePort": 33082}), "gateway.httpNodePort", "outside the static band 32768-32853"),
        (lambda c: c.update(gateway={**ON, "httpsNodePort": 32854}), "gateway.httpsNodePort", "outside the static band"),
        (lambda c: c.update(gateway={**ON, "classname": "x"}), "gateway.classname", "did you mean"),
        (lambda c: c.update(gateway={**ON, "proxyImage": "mirantis/ucp-envoy-proxy"}), "gateway.proxyImage", "with a tag or digest"),
        (lambda c: c.update(gateway=ON, httpsOnly=True), "gateway.enabled", "HTTPS-only environment"),
        (lambda c: c.update(gateway=ON, teams=[]) or c.pop("kubeconfig"), "kubeconfig", "gateway.enabled is true"),
    ],
)
def test_gateway_config_errors_name_the_key(change, key, fragment):
    cfg = raw("dev")
    change(cfg)
    problems = refused_dev(cfg)
    assert key in problems and fragment in problems[key], problems


@pytest.mark.parametrize("ucp", ["3.7", "3.8"])
def test_the_gateway_needs_a_release_that_ships_a_controller(ucp):
    outputs = shared_outputs()
    outputs["ucpVersion"] = ucp
    cfg = raw("dev")
    cfg["gateway"] = ON
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, outputs)
    assert [(p.key, f"ucpVersion is {ucp}" in p.message) for p in err.value.problems] == [("gateway.enabled", True)]
    cfg["gateway"] = {"enabled": False}
    assert parse_environment("dev", cfg, outputs).gateway is None  # off: nothing asked of the release


# --------------------------------------------------------------------------------------------
# The program, under the SDK's mock runtime and the policy pack


@cache
def previewed(env: str, enabled: bool):
    return run_preview(env, config=full_config(env, gateway={"enabled": enabled}))


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_stack_previews_with_the_gateway_on_and_off_and_the_pack_passes_it(pack, env, enabled):
    p = previewed(env, enabled)
    # the pack's config, from the env stacks' configs as they are here: the gateway on or off in each
    topologies = {e: topology(e) if enabled else parse_environment(e, raw(e), shared_outputs()) for e in ENVIRONMENTS}
    layouts = {e: group_layout(t) for e, t in topologies.items() if t.isolation == "applicationGroup"}
    pack.configure(
        from_shared_outputs(p.shared.outputs, group_layouts=layouts, owned={e: owned_names(t) for e, t in topologies.items()})
    )
    assert pack.analyze(p.run.resources) == []
    gateways = p.run.of_type("interlock-platform:kubernetes:EnvironmentGateway")
    assert len(gateways) == int(enabled)
    rendered = report.kubernetes_manifests(p.run)
    custom = by_crd(list(rendered.values()))
    assert bool(custom) == enabled
    if not enabled:
        assert not [path for path in rendered if "gateway" in path]
        return
    spec = topology(env).gateway
    # what the program registers is what the pure module renders, and each passes the CRDs
    expected = {f"{m['metadata'].get('namespace', m['metadata']['name'])}/{m['kind'].lower()}-{m['metadata']['name']}.yaml": m
                for m in gateway.manifests(spec)}  # fmt: skip
    assert {
        path: m for path, m in rendered.items() if path.startswith(f"{spec.namespace}/") and m["kind"] != "Secret"
    } == expected
    for manifest in custom:
        assert gateway_api.validate(manifest).ok
    (gw,) = gateways
    children = [r for r in p.run.resources if r.parent == gw.urn]
    assert all(r.name.startswith(f"{env}-k8s-gateway-") for r in children)


def test_the_wildcard_certificate_reaches_the_cluster_only_as_a_secret():
    p = previewed("prod", True)
    (secret,) = [r for r in p.run.of_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == "prod-wildcard-tls"]
    assert secret.inputs["type"] == "kubernetes.io/tls" and secret.inputs["metadata"]["namespace"] == "gateway-prod"
    assert is_rpc_secret(secret.inputs["stringData"])
    assert [r for r in previewed("dev", True).run.of_type("kubernetes:core/v1:Secret")] == []  # dev has no certificate


def test_a_gateway_without_teams_still_previews():
    cfg = full_config("test", gateway=ON, teams=[])
    run = run_program("test", cfg, {SHARED_REF: json.loads(json.dumps(previewed("test", False).shared.outputs))})
    assert len(run.of_type("interlock-platform:kubernetes:EnvironmentGateway")) == 1
    assert [n.inputs["metadata"]["name"] for n in run.of_type("kubernetes:core/v1:Namespace")] == ["gateway-test"]
    policies = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert [(n.inputs["metadata"]["namespace"], n.inputs["metadata"]["name"]) for n in policies] == [("gateway-test", "deny-all")]


# --------------------------------------------------------------------------------------------
# Team namespaces admit their environment's Gateway, and no other's (network-config-analyzer)


def _rendered_with_gateways():
    rendered, teams, specs = {}, [], []
    for env in ENVIRONMENTS:
        topo = topology(env)
        specs.append(topo.gateway)
        teams += list(topo.teams)
        rendered.update(team_manifests(topo))
        for team in topo.teams:
            for app in (a for a in team.apps if a.ingress):
                m = gateway.app_gateway_policy(team.namespace, app, topo.gateway)
                rendered[manifest_path(m)] = m
        m = gateway.namespace(topo.gateway)
        rendered[manifest_path(m)] = m
    return rendered, teams, specs


def test_the_program_registers_the_gateway_policies_the_analyzer_is_given():
    rendered, _, _ = _rendered_with_gateways()
    registered = {}
    for env in ENVIRONMENTS:
        registered.update(report.kubernetes_manifests(previewed(env, True).run))
    ours = {p: m for p, m in rendered.items() if "allow-gateway-" in p}
    assert ours and {p: m for p, m in registered.items() if "allow-gateway-" in p} == ours


def test_each_environment_s_gateway_reaches_its_own_ingress_apps_only(tmp_path):
    rendered, teams, specs = _rendered_with_gateways()
    proxy_ns = gateway.ENVOY_GATEWAY_NAMESPACE
    proxies = {f"proxy-{s.environment}": dict(s.proxy_labels) for s in specs}
    dev = specs[0]
    intruders = {
        # the controller's namespace: one proxy per environment's Gateway, and a pod of no Gateway
        proxy_ns: ({}, {**proxies, "controller": {"control-plane": "envoy-gateway"}}),
        # another namespace whose pods wear dev's proxy labels
        "intruder": ({labels.ENVIRONMENT: "dev"}, {"fake-proxy": dict(dev.proxy_labels)}),
    }
    table = Cluster(tmp_path, rendered, teams, FROM_1_21, intruders).connectivity()
    expect = expected_table(teams)
    for spec, team in ((s, t) for s in specs for t in teams if t.namespace in s.team_namespaces):
        for app in (a for a in team.apps if a.ingress):
            expect[(f"{proxy_ns}/proxy-{spec.environment}", f"{team.namespace}/{app.name}")] = ports_conn(app.ports)
    team_namespaces = {t.namespace for t in teams}
    touching = {pair: conn for pair, conn in table.items() if any(p.split("/")[0] in team_namespaces for p in pair)}
    assert touching == expect
    # spelled out: a proxy reaches only its own environment's team namespaces; the controller and
    # anything wearing the labels elsewhere reach none
    for (src, dst), _ in touching.items():
        if src.startswith(f"{proxy_ns}/proxy-"):
            env = src.rsplit("-", 1)[1]
            assert dst.split("/")[0].endswith(f"-{env}"), f"{src} reaches {dst}"
        assert src not in (f"{proxy_ns}/controller", "intruder/fake-proxy"), f"{src} reaches {dst}"
    assert any(src == f"{proxy_ns}/proxy-prod" for src, _ in touching)


# --------------------------------------------------------------------------------------------
# The cut-over: the load balancer's 443 and 80 to the Gateway


def test_before_the_cut_over_nothing_waits_for_the_gateway():
    """The benign twin of the cut-over's wait: while Interlock has the load balancer, `pulumi up`
    neither waits for the Gateway nor holds the load balancer behind it."""
    p = previewed("prod", True)
    (gw,) = [r for r in p.run.resources if r.type == "kubernetes:gateway.networking.k8s.io/v1:Gateway"]
    assert "annotations" not in gw.inputs["metadata"]
    assert not any(gw.urn in tg.dependencies for tg in p.run.of_type("aws:lb/targetGroup:TargetGroup"))


def test_the_cut_over_needs_the_certificate():
    cfg = raw("dev")
    cfg["gateway"] = {**ON, "loadBalancer": True}
    problems = refused_dev(cfg)
    assert "gateway.loadBalancer" in problems and "tls: false" in problems["gateway.loadBalancer"]


@cache
def cut_over():
    config = full_config("prod", gateway={**ON, "loadBalancer": True})
    return run_preview("prod", config=config)


def test_after_the_cut_over_the_load_balancer_reaches_the_gateway_s_node_ports_only(pack):
    p = cut_over()
    topo = topology("prod", loadBalancer=True)
    targets = {tg.name.rsplit("-", 1)[1]: int(tg.inputs["port"]) for tg in p.run.of_type("aws:lb/targetGroup:TargetGroup")}
    assert targets == {"https": 32783, "http": 32850}
    attachments = p.run.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")
    assert {a.inputs["targetId"] for a in attachments} == {n.instance_id for n in topo.ingress_nodes}
    assert {int(a.inputs["port"]) for a in attachments} == {32783, 32850}
    # the target groups wait for the Gateway, which `pulumi up` holds until Programmed (pulumi-kubernetes' waitFor)
    (gw,) = [r for r in p.run.resources if r.type == "kubernetes:gateway.networking.k8s.io/v1:Gateway"]
    assert gw.inputs["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Programmed"}
    assert all(gw.urn in tg.dependencies for tg in p.run.of_type("aws:lb/targetGroup:TargetGroup"))
    # the firewall follows: the load balancer reaches the ingress nodes on the NodePorts, not on Interlock's ports
    rules = [
        r.inputs
        for r in p.run.resources
        if r.type.startswith("aws:vpc/securityGroup") or r.type == "aws:ec2/networkAclRule:NetworkAclRule"
    ]
    described = " | ".join(str(r.get("description", "")) for r in rules)
    assert "Gateway HTTPS NodePort" in described and "Interlock HTTPS proxy port" not in described
    edge = str(topo.shared.edge_block)
    from_edge = {
        int(r["fromPort"]) for r in rules if r.get("cidrBlock") == edge and not r["egress"] and r["ruleAction"] == "allow"
    }
    assert from_edge == {32850, 32783}  # the NACL admits the load balancer on the NodePorts, no longer on 8080 / 8443
    # and the pack, told of the cut-over by the env stack's config, passes it
    topologies = {e: parse_environment(e, raw(e), shared_outputs()) for e in ENVIRONMENTS}
    topologies["prod"] = topo
    layouts = {e: group_layout(t) for e, t in topologies.items() if t.isolation == "applicationGroup"}
    owned = {e: owned_names(t) for e, t in topologies.items()}
    assert owned["prod"]["loadBalancerTargets"] == {"443": 32783, "80": 32850}
    pack.configure(from_shared_outputs(p.shared.outputs, group_layouts=layouts, owned=owned))
    assert pack.analyze(p.run.resources) == []
    # told nothing of it, the pack refuses a load balancer that no longer reaches Interlock
    owned["prod"].pop("loadBalancerTargets")
    pack.configure(from_shared_outputs(p.shared.outputs, group_layouts=layouts, owned=owned))
    assert {v["policy"] for v in pack.analyze(p.run.resources)} >= {"lb-ports-match-service-cluster"}
