"""The app-team contract: InterlockService and the example app-team project, under the mock
runtime with the env stack served by StackReference, and the refusals."""

from __future__ import annotations

import pytest

from interlock_platform.core import labels
from interlock_platform.core.app_labels import AppServiceSpec, AppSpecError, EnvironmentContract, check, service_labels
from interlock_platform.swarm.interlock_service import InvalidAppSpec
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor, run_program
from interlock_platform.tooling.stack_files import ROOT, offline_project_stack
from tests.conftest import ENVIRONMENTS

EXAMPLE = ROOT / "examples" / "app-team" / "__main__.py"
SECRETS = ("ucpCaCert", "ucpClientCert", "ucpClientKey", "kubeconfig")


def example_config(env: str) -> dict:
    """The example's stack file for `env`, as the CLI merges it, its secrets stood in for."""
    return offline_project_stack(env, EXAMPLE.parent)[0]


def run_example(preview, env, config=None, monitor=None):
    monitor = monitor or RecordingMonitor(PlatformMocks({}))
    return run_program(env, config or example_config(env), {f"acme/interlock-platform/{env}": preview(env).run.outputs},
                       program=EXAMPLE, monitor=monitor, secret_keys=[f"app-team-demo:{k}" for k in SECRETS])  # fmt: skip


def service_labels_of(run) -> dict[str, dict[str, str]]:
    return {s.inputs["name"]: {i["label"]: i["value"] for i in s.inputs["labels"]} for s in run.of_type("docker:index/service:Service")}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_demo_app_gets_its_environments_labels(preview, env):
    outputs = preview(env).run.outputs
    run = run_example(preview, env)
    (service,) = [s for s in run.of_type("docker:index/service:Service") if s.inputs["name"] == f"{env}-demo"]
    got = {item["label"]: item["value"] for item in service.inputs["labels"]}
    expected = {
        labels.LB_HOSTS: f"ingress-demo.{outputs['domain']}",
        labels.LB_PORT: "8080",
        labels.LB_NETWORK: outputs["ingressNetwork"],
        labels.LB_SERVICE_CLUSTER: env,
        labels.UCP_ACCESS: outputs["collection"],
    }
    if outputs["httpsOnly"]:  # prod: TLS at the proxy, and http:// redirected to https://
        host = f"ingress-demo.{outputs['domain']}"
        expected |= {labels.LB_SSL_CERT: outputs["tlsCertificateSecretName"], labels.LB_SSL_KEY: outputs["tlsKeySecretName"],
                     labels.LB_REDIRECTS: f"http://{host},https://{host}"}  # fmt: skip
    assert got == expected
    task = service.inputs["taskSpec"]
    assert [n["id"] for n in task["networksAdvanceds"]] == [outputs["ingressNetwork"]]
    assert task["placement"]["constraints"] == [f"node.labels.{labels.UCP_ACCESS}=={outputs['collection']}"]
    (policy,) = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert (
        policy.inputs["metadata"]["namespace"] == f"payments-{env}" and policy.inputs["metadata"]["name"] == "allow-ingress-demo"
    )
    assert run.outputs["hosts"]["demo"] == [f"ingress-demo.{outputs['domain']}"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_example_shows_every_routing_feature(preview, env):
    """One service per feature, in every environment: the template app teams copy."""
    domain = preview(env).run.outputs["domain"]
    got = service_labels_of(run_example(preview, env))
    assert got[f"{env}-catalog"][labels.LB_HOSTS] == f"catalog.{domain},products.{domain}"
    assert got[f"{env}-payments-api"][labels.LB_SSL_PASSTHROUGH] == "true" and labels.LB_SSL_CERT not in got[f"{env}-payments-api"]
    assert got[f"{env}-inventory"][labels.LB_BACKEND_MODE] == "vip"
    assert got[f"{env}-storefront"][labels.LB_REDIRECTS].startswith(f"http://old-shop.{domain},")
    assert got[f"{env}-storefront"][labels.LB_HOSTS] == f"storefront.{domain},old-shop.{domain}"
    assert got[f"{env}-reports"][labels.LB_CONTEXT_ROOT] == "/reports" and got[f"{env}-reports"][labels.LB_CONTEXT_ROOT_REWRITE] == "true"
    assert got[f"{env}-chat"][labels.LB_WEBSOCKETS] == "/ws"
    assert got[f"{env}-cart"][labels.LB_STICKY_COOKIE] == "session"
    assert got[f"{env}-checkout"][labels.LB_IP_HASH] == "true"
    tls = {name for name, lbls in got.items() if labels.LB_SSL_CERT in lbls}
    if env == "prod":  # HTTPS-only: every app serves HTTPS, and every http:// host but passthrough's redirects
        assert tls == set(got) - {"prod-payments-api"}
        for name, lbls in got.items():
            if name != "prod-payments-api":
                assert all(f"http://{h},https://" in lbls[labels.LB_REDIRECTS] for h in lbls[labels.LB_HOSTS].split(","))
    else:
        assert tls == set()


def test_a_bad_spec_stops_the_example_before_anything_is_created(preview):
    monitor = RecordingMonitor(PlatformMocks({}))
    config = example_config("dev")
    config["app-team-demo:apps"] = [{"name": "demo", "image": "img", "port": 8080, "hostPrefix": "ingress demo"}]
    with pytest.raises(InvalidAppSpec) as err:
        run_example(preview, "dev", config, monitor)
    assert "app-team-demo:apps: app 'demo': host prefix 'ingress demo' is not a DNS name" in str(err.value)
    assert monitor.registrations == []


def contract(preview, env="dev", publish_mode=None):
    outputs = dict(preview(env).run.outputs)
    if publish_mode:
        outputs["interlockPublishMode"] = publish_mode
    base = EnvironmentContract.from_outputs(outputs)
    others = {n: e for e in ENVIRONMENTS if e != env for n in preview(e).run.outputs["overlayNetworks"]}
    return EnvironmentContract(**{**base.__dict__, "others": others})


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (AppServiceSpec("demo", "img", 8080, hosts=("demo.apps.example.com",)), "outside dev's domain dev.apps.example.com"),
        (AppServiceSpec("demo", "img", 70000), "port 70000 is out of range"),
        (AppServiceSpec("demo", "img", 0), "port 0 is out of range"),
        (
            AppServiceSpec("demo", "img", 8080, networks=("ingress_prod",)),
            "network ingress_prod is not one of dev's; it belongs to environment prod",
        ),
        (AppServiceSpec("demo", "img", 8080, tls=True), "dev stores no wildcard certificate"),
    ],
)
def test_refusals(preview, spec, fragment):
    with pytest.raises(AppSpecError) as err:
        check(spec, contract(preview))
    assert any(fragment in p for p in err.value.problems), err.value.problems


def test_ip_hash_needs_host_mode(preview):
    spec = AppServiceSpec("demo", "img", 8080, ip_hash=True)
    check(spec, contract(preview))  # the platform's proxies publish in host mode
    with pytest.raises(AppSpecError, match="ip_hash needs the proxies in host publish mode"):
        check(spec, contract(preview, publish_mode="ingress"))


def test_tls_websockets_and_sticky_sessions_in_prod(preview):
    env = contract(preview, "prod")
    spec = AppServiceSpec("shop", "img", 8443, tls=True, websocket_endpoints=("/ws", "/live"), sticky_session_cookie="session")
    check(spec, env)
    got = service_labels(spec, env)
    assert got[labels.LB_SSL_CERT] == preview("prod").run.outputs["tlsCertificateSecretName"]
    assert got[labels.LB_SSL_KEY] == preview("prod").run.outputs["tlsKeySecretName"]
    assert got[labels.LB_WEBSOCKETS] == "/ws,/live" and got[labels.LB_STICKY_COOKIE] == "session"
    assert got[labels.LB_SERVICE_CLUSTER] == "prod" and got[labels.LB_HOSTS] == "shop.prod.apps.example.com"
