"""`runtime: kubernetes`: an app team's app as a Deployment, a Service and an HTTPRoute on its
environment's Gateway (core/app_routes.py, GatewayApp). The environment is the platform's own
offline preview with `gateway.enabled: true` (no reference stack has it on); what it renders is
held to Gateway API's published CRDs and CEL rules (tools/gateway_api.py), to Kubernetes' own
schemas (kubernetes-validate), and to the policy pack. Every refusal has a benign twin."""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cache

import kubernetes_validate
import pytest
import yaml

from interlock_platform.core import app_routes, gateway
from interlock_platform.core.app_labels import AppServiceSpec, AppSpecError, EnvironmentContract, GatewayBackend
from interlock_platform.core.app_specs import in_config_terms
from interlock_platform.core.outputs import EnvironmentOutputs
from interlock_platform.stack_config import InvalidAppSpec
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor, run_program
from interlock_platform.tooling.policy_config import from_shared_outputs, group_layout, owned_names
from interlock_platform.tooling.policy_harness import PolicyPackProcess
from interlock_platform.tooling.preview import run_preview, stack_outputs
from interlock_platform.tooling.stack_files import ROOT, offline_project_stack
from tests.conftest import ENVIRONMENTS, full_config
from tests.test_gateway import topology
from tools import gateway_api

EXAMPLE = ROOT / "examples" / "app-team" / "__main__.py"
SECRETS = ("ucpCaCert", "ucpClientCert", "ucpClientKey", "kubeconfig")
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"


@cache
def platform(env: str):
    """The platform's offline preview of `env` with its Gateway on."""
    return run_preview(env, config=full_config(env, gateway={"enabled": True}))


@cache
def outputs(env: str) -> dict:
    """Its outputs as `pulumi stack output --json` prints them (what an app team's file holds)."""
    return stack_outputs(platform(env).run)


def contract(env: str) -> EnvironmentContract:
    return EnvironmentContract.from_outputs(outputs(env))


def web(env: str, **fields) -> AppServiceSpec:
    """payments' ingress app `web` (podSelector app: payments-web, port 8080 in every env stack)."""
    base = {"name": "web", "image": "registry.example.com/payments/web:1.4", "port": 8080, "runtime": "kubernetes"}
    if env == "prod":  # HTTPS-only: every app serves HTTPS
        base["tls"] = True
    return AppServiceSpec(**{**base, **fields})


# --------------------------------------------------------------------------------------------
# The env stack's gateway output


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_gateway_output_names_the_gateway_its_listeners_and_the_teams_backends(env):
    out = outputs(env)
    EnvironmentOutputs.model_validate(out)  # the declared type
    spec = topology(env).gateway
    listeners = [listener["name"] for listener in gateway.gateway(spec)["spec"]["listeners"]]
    got = out["gateway"]
    assert (got["name"], got["namespace"], got["httpListener"]) == (env, f"gateway-{env}", "http")
    assert got.get("httpsListener") == ("https" if spec.tls else None)  # dev stores no certificate: no HTTPS listener
    assert [got["httpListener"], *([got["httpsListener"]] if spec.tls else [])] == listeners
    # each backend is what that team's allow-gateway-<app> admits the proxies to, in the platform's own run
    policies = {
        (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p.inputs["spec"]
        for p in platform(env).run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert got["teamApps"]["payments"]["web"] == {"podSelector": {"app": "payments-web"}, "ports": [8080]}
    for team, apps in got["teamApps"].items():
        for name, backend in apps.items():
            policy = policies[(f"{team}-{env}", f"allow-gateway-{name}")]
            assert policy["podSelector"]["matchLabels"] == backend["podSelector"]
            assert [p["port"] for p in policy["ingress"][0]["ports"]] == backend["ports"]


def test_no_gateway_output_when_the_gateway_is_off_and_a_malformed_one_is_refused():
    off = stack_outputs(run_preview("dev").run)
    assert "gateway" not in off and EnvironmentContract.from_outputs(off).gateway is None
    with pytest.raises(AppSpecError, match="exports gateway as 'dev', not the Gateway's"):
        EnvironmentContract.from_outputs({**off, "gateway": "dev"})


# --------------------------------------------------------------------------------------------
# What an app becomes


def test_an_app_on_the_gateway_is_a_deployment_a_service_and_a_route_in_its_team_namespace():
    env = contract("dev")
    spec = web("dev", host_prefix="pay", context_root="/shop", context_root_rewrite=True, replicas=3,
               redirects=(("http://old-pay.dev.apps.example.com", "http://pay.dev.apps.example.com"),))  # fmt: skip
    deployment, service, route, redirect = app_routes.manifests(spec, env, "payments", "payments-dev")
    assert {m["metadata"]["namespace"] for m in (deployment, service, route, redirect)} == {"payments-dev"}
    pods = deployment["spec"]["template"]
    assert pods["metadata"]["labels"] == deployment["spec"]["selector"]["matchLabels"] == {"app": "payments-web"}
    assert service["spec"]["selector"] == {"app": "payments-web"} and service["spec"]["type"] == "ClusterIP"
    assert deployment["spec"]["replicas"] == 3
    (container,) = pods["spec"]["containers"]
    assert pods["spec"]["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}
    assert route["spec"] == {
        "parentRefs": [{"name": "dev", "namespace": "gateway-dev", "sectionName": "http"}],
        "hostnames": ["pay.dev.apps.example.com"],
        "rules": [{
            "backendRefs": [{"name": "web", "port": 8080}],
            "matches": [{"path": {"type": "PathPrefix", "value": "/shop"}}],
            "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
        }],
    }  # fmt: skip
    assert redirect["spec"]["hostnames"] == ["old-pay.dev.apps.example.com"]
    assert redirect["spec"]["rules"] == [{"filters": [{"type": "RequestRedirect", "requestRedirect": {
        "scheme": "http", "hostname": "pay.dev.apps.example.com", "statusCode": 302}}]}]  # fmt: skip


def test_a_tls_app_attaches_to_the_https_listener_and_plain_http_to_the_http_one():
    (route,) = [m for m in app_routes.manifests(web("prod"), contract("prod"), "payments", "payments-prod") if m["kind"] == "HTTPRoute"]
    assert route["spec"]["parentRefs"] == [{"name": "prod", "namespace": "gateway-prod", "sectionName": "https"}]
    plain = app_routes.http_route(web("dev"), contract("dev"), "payments-dev")
    assert plain["spec"]["parentRefs"][0]["sectionName"] == "http"


def every_rendering() -> list[dict]:
    """What the platform renders for the features both runtimes share, in dev and prod."""
    out = []
    for env in ("dev", "prod"):
        domain = outputs(env)["domain"]
        scheme = "https" if env == "prod" else "http"
        for fields in ({}, {"hosts": (f"shop.{domain}", f"store.{domain}")}, {"context_root": "/reports"},
                       {"context_root": "/reports", "context_root_rewrite": True}, {"websocket_endpoints": ("/ws",)},
                       {"redirects": ((f"{scheme}://old.{domain}", f"{scheme}://web.{domain}"),)}):  # fmt: skip
            out += app_routes.manifests(web(env, **fields), contract(env), "payments", f"payments-{env}")
    return out


def test_every_route_passes_the_published_gateway_api_crds_and_a_broken_one_does_not():
    routes = [m for m in every_rendering() if m["kind"] == "HTTPRoute"]
    assert len(routes) == 14
    for route in routes:
        result = gateway_api.validate(route)
        assert result.ok, (route, result.errors)
    # not vacuous: the rewrite without its PathPrefix match is what the CRD's CEL refuses
    rewrite = next(r for r in routes if "filters" in r["spec"]["rules"][0] and "matches" in r["spec"]["rules"][0])
    broken = copy.deepcopy(rewrite)
    broken["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Exact"
    assert not gateway_api.validate(broken).ok


def test_sticky_sessions_and_passthrough_are_refused_as_the_vendored_standard_channel_says():
    """The reasons the refusals give, read from the vendored release: HTTPRoute has no
    sessionPersistence in the standard channel; TLSRoute is standard (v1), but the Gateway has no
    TLS listener, and teams may not create TLSRoutes."""
    assert app_routes.STANDARD_CHANNEL == gateway_api.RELEASE
    httproutes = yaml.safe_load((gateway_api.CRD_DIR / "httproutes.yaml").read_text())
    assert httproutes["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] == "standard"
    assert "sessionPersistence" not in json.dumps(httproutes)
    tlsroutes = yaml.safe_load((gateway_api.CRD_DIR / "tlsroutes.yaml").read_text())
    assert any(v["name"] == "v1" and v["served"] for v in tlsroutes["spec"]["versions"])
    assert {listener["protocol"] for listener in gateway.gateway(topology("prod").gateway)["spec"]["listeners"]} == {"HTTP", "HTTPS"}


def test_every_deployment_and_service_passes_kubernetes_own_schemas():
    rendered = [m for m in every_rendering() if m["kind"] in ("Deployment", "Service")]
    assert len(rendered) == 24
    for manifest in rendered:
        kubernetes_validate.validate(manifest, "1.31.0", strict=True)  # MKE 3.8 and 3.9's Kubernetes
    broken = copy.deepcopy(rendered[0])
    broken["spec"]["template"]["spec"]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.31.0", strict=True)


# --------------------------------------------------------------------------------------------
# Refusals: the hostile spec, and its benign twin


DEV = "dev.apps.example.com"
REFUSALS = {
    "ipHash": ({"ip_hash": True}, {}, "ipHash has no Gateway API equivalent"),
    "backendMode vip": ({"backend_mode": "vip"}, {"backend_mode": "task"}, "backendMode 'vip' has no Gateway API equivalent"),
    "sslPassthrough": ({"ssl_passthrough": True}, {}, "sslPassthrough needs a TLSRoute on a TLS passthrough listener"),
    "networks": ({"networks": ("dev_backend",)}, {}, "networks are Swarm overlay networks"),
    "stickySessionCookie": ({"sticky_session_cookie": "session"}, {}, "Gateway API v1.6.1 has in its experimental channel only"),
    "no such backend": ({"name": "shop"}, {}, "team payments has no ingress app 'shop' in dev's platform config"),
    "a port the policy does not admit": ({"port": 9090}, {"port": 8080}, "port 9090 is not one allow-gateway-web admits"),
    "host outside the domain": ({"hosts": ("web.prod.apps.example.com",)}, {"hosts": (f"web.{DEV}",)}, "outside dev's domain"),
    "host without the leading dot": ({"hosts": (f"x{DEV}",)}, {"hosts": (f"x.{DEV}",)}, f"host x{DEV} is outside dev's domain"),
    "redirect out of the domain": (
        {"redirects": ((f"http://old.{DEV}", "http://evil.example.com"),)},
        {"redirects": ((f"http://old.{DEV}", f"http://web.{DEV}"),)}, "redirect target http://evil.example.com is outside",
    ),
    "redirect from a host it serves": (
        {"redirects": ((f"http://web.{DEV}", f"http://new.{DEV}"),)},
        {"redirects": ((f"http://old.{DEV}", f"http://new.{DEV}"),)}, "is a host the app itself serves on that listener",
    ),
    "https redirect source without an https listener": (
        {"redirects": ((f"https://old.{DEV}", f"http://web.{DEV}"),)},
        {"redirects": ((f"http://old.{DEV}", f"http://web.{DEV}"),)}, "has no HTTPS listener (no wildcard certificate)",
    ),
    "tls without a certificate": ({"tls": True}, {}, "tls is on, but dev stores no wildcard certificate"),
    "a context root without its slash": ({"context_root": "shop"}, {"context_root": "/shop"}, "does not start with '/'"),
    "an unknown runtime": ({"runtime": "docker"}, {}, "runtime 'docker' is not one of swarm, kubernetes"),
}  # fmt: skip


def problems_in_config_terms(spec: AppServiceSpec, env: EnvironmentContract, team: str | None = "payments") -> list[str]:
    try:
        app_routes.check_all([spec], env, team)
    except AppSpecError as err:
        return [in_config_terms(p) for p in err.problems]
    return []


@pytest.mark.parametrize("what", REFUSALS)
def test_refused_with_the_app_the_field_and_the_fix_and_its_twin_is_not(what):
    hostile, benign, fragment = REFUSALS[what]
    got = problems_in_config_terms(web("dev", **hostile), contract("dev"))
    assert len(got) == 1 and fragment in got[0], got
    assert got[0].startswith(f"app '{hostile.get('name', 'web')}': ")
    assert problems_in_config_terms(web("dev", **benign), contract("dev")) == []


def test_the_refusals_of_fields_gateway_api_lacks_name_the_fix():
    for field in ("ipHash", "backendMode", "sslPassthrough", "networks", "stickySessionCookie"):
        (problem,) = problems_in_config_terms(web("dev", **REFUSALS[field if field != "backendMode" else "backendMode vip"][0]), contract("dev"))
        assert "keep the app on runtime: swarm (Interlock)" in problem


def test_an_https_only_environment_refuses_plain_http_on_the_gateway():
    env = contract("prod")
    (problem,) = problems_in_config_terms(web("prod", tls=False), env)
    assert "prod is HTTPS-only (httpsOnly), and the app serves no HTTPS; set tls: true" in problem
    (problem,) = problems_in_config_terms(
        web("prod", redirects=(("http://old.prod.apps.example.com", "https://web.prod.apps.example.com"),)), env
    )
    assert "is plain HTTP, but prod is HTTPS-only: its Gateway sends every http:// request to https:// first" in problem
    assert problems_in_config_terms(
        web("prod", redirects=(("https://old.prod.apps.example.com", "https://web.prod.apps.example.com"),)), env
    ) == []


def test_an_environment_whose_gateway_is_off_refuses_runtime_kubernetes_and_not_swarm():
    off = EnvironmentContract.from_outputs(stack_outputs(run_preview("dev").run))
    (problem,) = problems_in_config_terms(web("dev"), off)
    assert "the environment stack exports no gateway" in problem
    assert "turn on interlock-platform:gateway (enabled: true) in the platform's dev stack" in problem
    assert problems_in_config_terms(web("dev", runtime="swarm"), off) == []
    with pytest.raises(InvalidAppSpec):  # the component refuses too, before it registers anything
        from interlock_platform.kubernetes.gateway_app import GatewayApp, GatewayAppArgs

        GatewayApp("web", GatewayAppArgs(off, web("dev"), "payments", "payments-dev"))


def test_two_kubernetes_apps_on_one_host_and_path_are_refused_and_on_two_paths_are_not():
    env = contract("dev")
    backends = {**env.gateway.team_apps["payments"], "api": GatewayBackend({"app": "payments-api"}, (8080,))}
    env = dataclasses.replace(env, gateway=dataclasses.replace(env.gateway, team_apps={"payments": backends}))
    host = (f"shop.{DEV}",)
    with pytest.raises(AppSpecError, match=f"apps 'web' and 'api' both route shop.{DEV}/ on the Gateway"):
        app_routes.check_all([web("dev", hosts=host), web("dev", name="api", hosts=host)], env, "payments")
    app_routes.check_all([web("dev", hosts=host), web("dev", name="api", hosts=host, context_root="/api")], env, "payments")
    # while an app moves, its Swarm twin may keep the host: the load balancer picks the runtime
    app_routes.check_all([web("dev", hosts=host), web("dev", name="web-old", hosts=host, runtime="swarm")], env, "payments")


def test_runtime_kubernetes_needs_the_team():
    (problem,) = problems_in_config_terms(web("dev"), contract("dev"), team=None)
    assert "runtime kubernetes needs the team" in problem
    assert problems_in_config_terms(web("dev"), contract("dev"), team="payments") == []
    assert problems_in_config_terms(web("dev", runtime="swarm"), contract("dev"), team=None) == []  # Interlock needs none


def test_a_tls_app_needs_the_gateways_https_listener():
    env = contract("prod")
    without = dataclasses.replace(env, gateway=dataclasses.replace(env.gateway, https_listener=None))
    (problem,) = problems_in_config_terms(web("prod"), without)
    assert "tls is on, but prod's Gateway has no HTTPS listener" in problem
    assert problems_in_config_terms(web("prod"), env) == []


def test_interlock_service_refuses_an_app_of_another_runtime():
    from interlock_platform.swarm.interlock_service import InterlockService, InterlockServiceArgs, InvalidAppSpec

    with pytest.raises(InvalidAppSpec, match="runtime is kubernetes, not swarm; deploy it with GatewayApp"):
        InterlockService("web", InterlockServiceArgs(contract("dev"), web("dev")))
    # its twin, a swarm app, is a Swarm service: test_the_template_deploys_a_gateway_app_and_the_pack_accepts_its_objects


# --------------------------------------------------------------------------------------------
# The template under the mock runtime, and the policy pack


def run_template(env: str, apps: list[dict]):
    config = offline_project_stack(env, EXAMPLE.parent)[0]
    config["app-team-demo:apps"] = json.dumps(apps)
    return run_program(env, config, {f"acme/interlock-platform/{env}": platform(env).run.outputs}, program=EXAMPLE,
                       monitor=RecordingMonitor(PlatformMocks({})), secret_keys=[f"app-team-demo:{k}" for k in SECRETS])  # fmt: skip


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        topologies = {e: topology(e) for e in ENVIRONMENTS}
        layouts = {e: group_layout(t) for e, t in topologies.items() if t.isolation == "applicationGroup"}
        process.configure(from_shared_outputs(
            platform("dev").shared.outputs, group_layouts=layouts, owned={e: owned_names(t) for e, t in topologies.items()}
        ))  # fmt: skip
        yield process


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_template_deploys_a_gateway_app_and_the_pack_accepts_its_objects(pack, env):
    tls = {"tls": True} if env == "prod" else {}
    app = {"name": "web", "image": "registry.example.com/payments/web:1.4", "port": 8080, "runtime": "kubernetes",
           "contextRoot": "/shop", **tls}  # fmt: skip
    run = run_template(env, [{"name": "demo", "image": "ehazlett/docker-demo", "port": 8080, **tls}, app])
    (component,) = run.of_type("interlock-platform:apps:GatewayApp")
    children = [r for r in run.resources if r.parent == component.urn]
    assert sorted(r.type for r in children) == [
        "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", ROUTE,
    ]  # fmt: skip
    assert all(r.name.startswith("web-") for r in children)
    (route,) = run.of_type(ROUTE)
    assert route.inputs["spec"] == app_routes.http_route(web(env, context_root="/shop"), contract(env), f"payments-{env}")["spec"]
    assert run.outputs["hosts"]["web"] == [f"web.{outputs(env)['domain']}"]
    assert [s.inputs["name"] for s in run.of_type("docker:index/service:Service")] == [f"{env}-demo"]  # only the Swarm app
    # the resource rules (the stack rules look for the NACLs and networks a platform stack creates)
    assert [v for v in pack.analyze(children) if v["urn"]] == []
    # not vacuous: the same route on another environment's Gateway is what the pack refuses
    other = "prod" if env == "dev" else "dev"
    hostile = dataclasses.replace(route, urn=route.urn + "-hostile", inputs=copy.deepcopy(route.inputs))
    hostile.inputs["spec"]["parentRefs"][0].update(name=other, namespace=f"gateway-{other}")
    assert [v["policy"] for v in pack.analyze([hostile]) if v["urn"]] == ["k8s-routes-own-gateway"]


def test_the_docs_map_every_app_field_on_both_runtimes():
    """docs/app-teams.md's table lists every field a stack file may give; docs/migrating.md says
    for each what it is on the Gateway, or that it has none. A new field fails here until both do."""
    import re

    from interlock_platform.core.app_specs import FIELDS

    docs = ROOT / "docs"
    for page in ("app-teams.md", "migrating.md"):
        rows = [line for line in (docs / page).read_text().splitlines() if line.startswith("| ")]
        missing = [f for f in FIELDS.values() if not any(re.search(rf"`{f}[`:]", row) for row in rows)]
        assert missing == [], f"docs/{page} has no table row for {missing}"
    assert "(migrating.md)" in (docs / "gateway.md").read_text() and "(migrating.md)" in (docs / "app-teams.md").read_text()
