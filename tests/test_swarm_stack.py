"""The Swarm layer as the program registers it, under the mock runtime."""

from __future__ import annotations

import base64
import pickle

import dill
import pulumi.dynamic as dyn
import pytest
from pulumi.runtime.rpc import is_rpc_secret

from interlock_platform.core import labels
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.interlock_toml import redacted
from interlock_platform.core.topology import parse_environment
from interlock_platform.swarm.providers.engine import SwarmProvider
from interlock_platform.tooling.preview import run_preview
from interlock_platform.tooling.stack_files import ROOT, offline_config
from tests.conftest import ENVIRONMENTS, preview_cli, raw, reference_shared, shared_outputs

NETWORK = "docker:index/network:Network"
SECRET = "docker:index/secret:Secret"
PROVIDER = "pulumi:providers:docker"
SERVICE_CLUSTER = "pulumi-python:dynamic/interlock:ServiceCluster"
NODE_LABELS = "pulumi-python:dynamic/swarm:NodeLabels"
SETTINGS = "pulumi-python:dynamic/interlock:Settings"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_docker_provider_gets_the_client_bundle_as_secrets(preview, env):
    (provider,) = preview(env).run.of_type(PROVIDER)
    assert provider.inputs["host"] == raw(env)["ucpHost"]
    for key in ("caMaterial", "certMaterial", "keyMaterial"):
        assert is_rpc_secret(provider.inputs[key]), key

@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_swarm_resource_goes_to_the_environments_cluster(preview, env):
    """The docker resources name the provider with the env's client bundle (not the default one,
    which would use DOCKER_HOST); the dynamic ones carry a Swarm provider that, configured with the
    stack's config as the provider host configures it, connects to the env's ucpHost."""
    run = preview(env).run
    (provider,) = run.of_type(PROVIDER)
    docker_resources = [r for r in run.resources if r.type.startswith("docker:")]
    dynamic = [r for r in run.resources if r.type in (SERVICE_CLUSTER, NODE_LABELS, SETTINGS)]
    assert {r.type for r in docker_resources} >= {NETWORK} and {r.type for r in dynamic} >= {SERVICE_CLUSTER, NODE_LABELS}
    for r in docker_resources:
        assert r.provider == f"{provider.urn}::{provider.id}", r.name
    config = {k: v for k, v in offline_config(env)[0].items() if k.startswith("interlock-platform:")}
    for r in dynamic:
        assert r.provider == "", r.name  # dynamic resources run in the default pulumi-python provider
        swarm_provider = dill.loads(base64.b64decode(r.inputs["__provider"]))
        assert isinstance(swarm_provider, SwarmProvider), r.name
        swarm_provider.configure(dyn.ConfigureRequest(dyn.Config(config, "interlock-platform")))
        assert swarm_provider.connection.host == raw(env)["ucpHost"], r.name



def test_many_runs_in_one_process_serialize_the_swarm_providers_alike():
    """The SDK's dynamic-provider serialization wraps the pure-Python pickler once per dynamic
    resource and never unwraps it; the mock runtime puts it back after each run. Without that,
    a test session's few hundred runs nest a thousand wrappers and every dynamic resource fails
    with RecursionError. Each run leaves the pickler as it found it, and the providers pickle
    the same bytes run after run (the sorting that makes them deterministic still applies)."""
    found = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict
    serialized = []
    for _ in range(3):
        run = run_preview("dev").run
        assert (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict) == found
        serialized.append(sorted((r.urn, r.inputs["__provider"]) for r in run.resources if r.type in (SERVICE_CLUSTER, NODE_LABELS)))
    assert serialized[0] and serialized[0] == serialized[1] == serialized[2]

@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_overlay_networks_are_attachable_labelled_and_encrypted_for_prod(preview, env):
    nets = preview(env).run.of_type(NETWORK)
    cfg = raw(env)["overlayNetworks"]
    assert sorted(n.inputs["name"] for n in nets) == sorted([cfg["ingress"], *cfg["additional"]])
    collection = reference_shared().environments[env].collection
    for n in nets:
        assert n.inputs["driver"] == "overlay" and n.inputs["attachable"] is True
        assert {"label": labels.UCP_ACCESS, "value": collection} in n.inputs["labels"]
        assert (n.inputs.get("options") or {}).get("encrypted") == ("true" if env == "prod" else None)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_service_cluster_matches_the_registry(preview, env):
    run = preview(env).run
    (cluster,) = run.of_type(SERVICE_CLUSTER)
    registry = reference_shared().environments[env]
    i = cluster.inputs
    assert (int(i["httpPort"]), int(i["httpsPort"])) == (registry.http_port, registry.https_port)
    assert i["serviceCluster"] == env and i["publishMode"] == "host"
    assert i["network"] == raw(env)["overlayNetworks"]["ingress"]
    assert i["constraint"] == f"node.labels.{labels.SERVICE_CLUSTER_NODE}=={env}"
    assert int(i["proxyReplicas"]) == raw(env)["interlock"]["proxyReplicas"]
    (nodes,) = run.of_type(NODE_LABELS)
    assert nodes.inputs["nodes"] == [n["hostname"] for n in raw(env)["ingressNodes"]]
    assert nodes.inputs["collection"] == registry.collection and nodes.inputs["labelValue"] == env
    # the proxies need their nodes labelled and their network in place first
    ingress = next(n for n in run.of_type(NETWORK) if n.inputs["name"] == i["network"])
    assert {nodes.urn, ingress.urn} <= set(cluster.dependencies)
    # no credentials in the dynamic resources' inputs: they read the stack config themselves
    assert not any(k.startswith(("ucp", "ca", "cert", "key")) for k in i)


def test_tls_certificate_becomes_swarm_secrets_with_exported_names(preview):
    run = preview("prod").run
    secrets = run.of_type(SECRET)
    assert len(secrets) == 2
    for s in secrets:
        assert is_rpc_secret(s.inputs["data"])
        assert not is_rpc_secret(s.inputs["name"])
    names = {s.inputs["name"] for s in secrets}
    assert {run.outputs["tlsCertificateSecretName"], run.outputs["tlsKeySecretName"]} == names
    assert not preview("dev").run.of_type(SECRET) and "tlsCertificateSecretName" not in preview("dev").run.outputs


def test_the_shared_stack_retires_default(preview):
    (settings,) = preview("shared").run.of_type(SETTINGS)
    assert settings.inputs["retireDefaultExtension"] is True and settings.inputs["template"] == "default"


LAYER7 = "pulumi-python:dynamic/interlock:Layer7Routing"


def test_the_shared_stack_turns_layer7_on_before_it_rotates_its_settings_in(preview):
    run = preview("shared").run
    (layer7,) = run.of_type(LAYER7)
    (settings,) = run.of_type(SETTINGS)
    assert {k: layer7.inputs[k] for k in ("httpPort", "httpsPort", "stack", "keepConfigs")} == {
        "httpPort": 8080, "httpsPort": 8443, "stack": "shared", "keepConfigs": 3,
    }  # fmt: skip
    assert layer7.urn in settings.dependencies  # Interlock starts on its default config; the platform's part comes after
    # the connection comes from the stack config when Pulumi configures the provider, never from inputs
    assert not any(k.startswith("ucp") or "cert" in k.lower() or "key" in k.lower() for k in layer7.inputs if k != "keepConfigs")


def test_without_enable_layer7_routing_nothing_turns_it_on(preview):
    from interlock_platform.tooling.preview import run_preview
    from tests.conftest import full_config

    interlock = {**raw("shared")["interlock"], "enableLayer7Routing": False}
    run = run_preview("shared", config=full_config("shared", interlock=interlock)).run
    assert not run.of_type(LAYER7) and not run.of_type(SETTINGS)[0].dependencies


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        # the default cluster keeps 8080/8443 (prod's) unless it is retired: refused before anything is created
        ({"retireDefaultExtension": False}, "interlock.layer7HttpPort", "environment 'prod'"),
        ({"layer7HttpPort": 8443, "layer7HttpsPort": 8443}, "interlock.layer7HttpsPort", "also layer7HttpPort"),
        ({"layer7HttpPort": 0}, "interlock.layer7HttpPort", ""),
    ],
)
def test_layer7_ports_are_checked(overrides, key, fragment):
    from interlock_platform.core.topology import parse_shared

    cfg = raw("shared")
    cfg["interlock"] = {**cfg["interlock"], **overrides}
    with pytest.raises(InvalidConfig) as err:
        parse_shared("shared", cfg)
    found = {p.key: str(p) for p in err.value.problems}
    assert key in found and fragment in found[key]


def test_layer7_ports_of_a_retired_default_or_unused_ports_are_fine():
    from interlock_platform.core.topology import parse_shared

    cfg = raw("shared")
    assert parse_shared("shared", cfg).interlock.enable_layer7_routing is True  # retired: prod may have 8080/8443
    cfg["interlock"] = {**cfg["interlock"], "retireDefaultExtension": False, "layer7HttpPort": 8090, "layer7HttpsPort": 8490}
    assert parse_shared("shared", cfg).interlock.layer7_https_port == 8490


def test_env_exports_for_app_teams(preview):
    out = preview("dev").run.outputs
    assert out["ingressNetwork"] == "ingress_dev" and out["overlayNetworks"] == ["ingress_dev", "dev_backend"]
    assert out["interlockProxyService"] == "ucp-interlock-proxy-dev"


def _refused(cfg, outputs=None):
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, outputs or shared_outputs())
    return {p.key: str(p) for p in err.value.problems}


def test_encryption_needs_esp_from_the_registry():
    outputs = shared_outputs()
    outputs["environments"]["dev"]["allowEsp"] = False
    cfg = raw("dev")
    cfg["overlayNetworks"]["encrypted"] = True
    problems = _refused(cfg, outputs)
    assert "allowEsp" in problems["overlayNetworks.encrypted"] and "IP protocol 50" in problems["overlayNetworks.encrypted"]


def test_tls_without_its_secrets_is_refused():
    cfg = raw("dev")
    cfg["tls"] = True
    cfg.pop("tlsCertificate", None)
    assert "pulumi config set --secret interlock-platform:tlsCertificate" in _refused(cfg)["tlsCertificate"]


def test_ucp_over_tcp_without_the_client_bundle_is_refused():
    cfg = raw("dev")
    del cfg["ucpClientKey"]
    assert "key.pem" in _refused(cfg)["ucpClientKey"]


@pytest.mark.parametrize(
    ("field", "value", "key", "fragment"),
    [
        ("ucpHost", "ucp.example.com", "ucpHost", "not a Docker engine address"),
        ("overlayNetworks", {"ingress": "bad name"}, "overlayNetworks.ingress", "not a Docker network name"),
        ("overlayNetworks", {"ingress": "a", "additional": ["a"]}, "overlayNetworks.additional[0]", "already"),
        ("interlock", {"proxyReplicas": 0}, "interlock.proxyReplicas", "out of range"),
        ("interlock", {"replicas": 2}, "interlock.replicas", "did you mean 'proxyReplicas'"),
    ],
)
def test_swarm_settings_are_validated(field, value, key, fragment):
    cfg = raw("dev")
    cfg[field] = value
    assert fragment in _refused(cfg)[key]


SETTINGS, CLUSTER = "pulumi-python:dynamic/interlock:Settings", "pulumi-python:dynamic/interlock:ServiceCluster"


def test_the_captured_template_is_a_secret_everywhere(preview):
    """The template extension is copied from the running config, which may hold AdminPass: the
    engine is told to encrypt it in state, the shared stack exports it as a secret, and env
    stacks receive it as one through their StackReference."""
    shared, dev = preview("shared").run, preview("dev").run
    (settings,) = shared.of_type(SETTINGS)
    (cluster,) = dev.of_type(CLUSTER)
    assert settings.additional_secret_outputs == ["templateToml"]
    assert cluster.additional_secret_outputs == ["templateToml"]
    assert "interlockTemplate" in shared.secret_outputs
    assert is_rpc_secret(cluster.inputs["templateToml"])


def test_no_interlock_credential_reaches_what_reviewers_read(tmp_path):
    """A running config with AdminPass, given as --interlock-base: the rendered config keeps
    every other byte but shows no password; nor does the JSON."""
    base = (ROOT / "tests" / "fixtures" / "interlock" / "ucp-3.2-default.toml").read_text()
    password = "s3cr3t-Interlock-admin"
    with_pass = base.replace(
        'PollInterval = "3s"\n', f'PollInterval = "3s"\nAdminUser = "admin"\nAdminPass = "{password}"  # set by UCP\n'
    )
    with_pass = with_pass.replace("    [Extensions.default.Config]\n", f'    [Extensions.default.Config]\n      AuthPassword = "{password}"\n')
    assert redacted(with_pass).count(password) == 0
    assert redacted(with_pass).replace('"[secret]"', "X") == with_pass.replace(f'"{password}"', "X")  # nothing else changed
    (tmp_path / "base.toml").write_text(with_pass)
    result = preview_cli("--stack", "dev", "--interlock-base", str(tmp_path / "base.toml"), "--out", str(tmp_path / "out"),
                         "--json", str(tmp_path / "p.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    rendered = (tmp_path / "out" / "interlock" / "config.toml").read_text()
    assert password not in rendered and 'AdminUser = "admin"' in rendered and "[Extensions.dev]" in rendered
    assert password not in (tmp_path / "p.json").read_text() and password not in result.stdout + result.stderr
