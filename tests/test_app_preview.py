"""The offline preview of the app-team example, run as a user runs it:
`python -m interlock_platform preview --project examples/app-team --stack <env>`, and a careless team's edits
of a copy of the example, each refused with exit 2 naming the file, the app, the field and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from interlock_platform.core import labels
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import ENVIRONMENTS, preview_cli

EXAMPLE = ROOT / "examples" / "app-team"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_example_previews_offline_with_every_feature(tmp_path, env):
    done = preview_cli("--project", "examples/app-team", "--stack", env, "--json", str(tmp_path / "app.json"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    data = json.loads((tmp_path / "app.json").read_text())
    assert (data["project"], data["stack"]) == ("app-team-demo", env)
    services = {r["inputs"]["name"]: r for r in data["resources"] if r["type"] == "docker:index/service:Service"}
    assert len(services) == 10
    features = {
        key for r in services.values() for key in (item["label"] for item in r["inputs"]["labels"]) if key.startswith("com.docker.lb.")
    }
    assert {labels.LB_SSL_PASSTHROUGH, labels.LB_BACKEND_MODE, labels.LB_REDIRECTS, labels.LB_CONTEXT_ROOT, labels.LB_CONTEXT_ROOT_REWRITE,
            labels.LB_WEBSOCKETS, labels.LB_STICKY_COOKIE, labels.LB_IP_HASH} <= features  # fmt: skip
    assert (labels.LB_SSL_CERT in features) is (env == "prod")  # only prod stores a wildcard certificate
    assert data["outputs"]["serviceCluster"] == env and data["outputs"]["httpsOnly"] is (env == "prod")
    ledger = services[f"{env}-ledger"]["inputs"]["taskSpec"]["networksAdvanceds"]
    assert [n["id"] for n in ledger] == [f"ingress_{env}", f"{env}_backend"]
    assert f"{env}-inventory: inventory." in done.stdout and "backend_mode=vip" in done.stdout


def copy_example(tmp_path: Path, env: str, edit) -> Path:
    """A copy of the example whose `env` stack file's apps `edit` changes, as a team would."""
    dest = shutil.copytree(EXAMPLE, tmp_path / "app-team", ignore=shutil.ignore_patterns("venv", "__pycache__"))
    path = dest / f"Pulumi.{env}.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc["config"]["app-team-demo:apps"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest


def refused(tmp_path: Path, env: str, edit) -> str:
    project = copy_example(tmp_path, env, edit)
    done = preview_cli("--project", str(project), "--stack", env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert f"Pulumi.{env}.yaml: app-team-demo:apps: " in done.stderr  # the file and the key
    return done.stderr


def app_named(name: str):
    def find(apps: list) -> dict:
        return next(a for a in apps if a["name"] == name)

    return find


def test_a_misspelt_field_is_refused_with_what_it_meant(tmp_path):
    def edit(apps):
        app_named("demo")(apps)["hostprefix"] = app_named("demo")(apps).pop("hostPrefix")
        app_named("cart")(apps)["stickySessionCookies"] = app_named("cart")(apps).pop("stickySessionCookie")
        app_named("chat")(apps)["port"] = "8080"

    err = refused(tmp_path, "dev", edit)
    assert "app 'demo' (apps[0]): unknown field 'hostprefix'; did you mean 'hostPrefix'?" in err
    assert "app 'cart' (apps[7]): unknown field 'stickySessionCookies'; did you mean 'stickySessionCookie'?" in err
    assert "app 'chat' (apps[6]): field 'port': Input should be a valid integer (got '8080')" in err


def test_vip_with_a_sticky_session_is_refused(tmp_path):
    err = refused(tmp_path, "dev", lambda apps: app_named("cart")(apps).update(backendMode="vip"))
    assert "app 'cart': backendMode 'vip' does not support sticky sessions" in err
    assert "drop stickySessionCookie, or use backendMode 'task'" in err


def test_a_context_root_without_its_slash_is_refused(tmp_path):
    err = refused(tmp_path, "test", lambda apps: app_named("reports")(apps).update(contextRoot="reports/"))
    assert "app 'reports': context root 'reports/' does not start with '/'; write '/reports'" in err


def test_a_redirect_out_of_the_domain_is_refused(tmp_path):
    def edit(apps):
        app_named("storefront")(apps)["redirects"] = [
            {"source": "http://old-shop.dev.apps.example.com", "target": "https://dev.apps.example.com.evil.com"}
        ]

    err = refused(tmp_path, "dev", edit)
    assert "redirect target https://dev.apps.example.com.evil.com is outside dev's domain dev.apps.example.com" in err


def test_passthrough_with_tls_termination_is_refused(tmp_path):
    err = refused(tmp_path, "prod", lambda apps: app_named("payments-api")(apps).update(tls=True))
    assert "app 'payments-api': tls and sslPassthrough both on" in err


def test_an_app_without_https_in_an_https_only_environment_is_refused(tmp_path):
    err = refused(tmp_path, "prod", lambda apps: app_named("chat")(apps).pop("tls"))
    assert "app 'chat': prod is HTTPS-only (httpsOnly), and the app serves no HTTPS; set tls: true" in err


def test_a_canary_in_vip_mode_is_refused(tmp_path):
    def edit(apps):
        apps.append({"name": "inventory-v2", "image": "ehazlett/docker-demo:v2", "port": 8080, "hostPrefix": "inventory"})

    err = refused(tmp_path, "dev", edit)
    assert "apps 'inventory' and 'inventory-v2' share host inventory.dev.apps.example.com, a canary" in err


def test_every_problem_is_listed_at_once(tmp_path):
    def edit(apps):
        app_named("demo")(apps)["backendMode"] = "VIP"
        app_named("reports")(apps)["contextRoot"] = "/"
        app_named("chat")(apps)["ipHash"] = True
        app_named("chat")(apps)["stickySessionCookie"] = "s"

    err = refused(tmp_path, "dev", edit)
    assert "(3 problems)" in err
    assert "backendMode 'VIP' is not one of Interlock's" in err and "context root '/' is the whole host" in err
    assert "choose ipHash or stickySessionCookie, not both" in err


def test_an_app_stack_with_no_platform_environment_is_refused(tmp_path):
    project = shutil.copytree(EXAMPLE, tmp_path / "app-team", ignore=shutil.ignore_patterns("venv", "__pycache__"))
    shutil.copy(project / "Pulumi.dev.yaml", project / "Pulumi.staging.yaml")
    done = preview_cli("--project", str(project), "--stack", "staging")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "reads the platform's env stack 'staging', which has no stack file" in done.stderr
    assert "name the app's stack after an environment: dev, prod, test" in done.stderr


def test_a_folder_without_a_project_is_refused(tmp_path):
    done = preview_cli("--project", str(tmp_path), "--stack", "dev")
    assert done.returncode == 2 and "holds no Pulumi.yaml" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("main", ["src/", "src/__main__.py", "nowhere/"])
def test_the_program_is_where_pulumi_yaml_main_says(tmp_path, main):
    """Pulumi runs `main:` (a file, or a folder's __main__.py) when Pulumi.yaml sets it: so does
    the preview, and a `main:` that names no program is exit 2 naming Pulumi.yaml."""
    project = shutil.copytree(EXAMPLE, tmp_path / "app-team", ignore=shutil.ignore_patterns("venv", "__pycache__"))
    (project / "src").mkdir()
    shutil.move(project / "__main__.py", project / "src" / "__main__.py")
    with (project / "Pulumi.yaml").open("a") as f:
        f.write(f"main: {main}\n")
    done = preview_cli("--project", str(project), "--stack", "dev")
    assert "Traceback" not in done.stderr
    if main == "nowhere/":
        assert done.returncode == 2 and "Pulumi.yaml: main: nowhere/ names no program" in done.stderr, done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert "dev-inventory: inventory." in done.stdout


# --------------------------------------------------------------------------------------------
# The migration path: one app spec, previewed on Interlock and then on the environment's Gateway


@pytest.fixture(scope="module")
def gateway_on_outputs(tmp_path_factory) -> Path:
    """dev's outputs, from the platform's offline preview with its Gateway on (no reference stack has it on)."""
    from interlock_platform.tooling.preview import run_preview, stack_outputs
    from tests.conftest import full_config

    path = tmp_path_factory.mktemp("platform") / "dev-outputs.json"
    path.write_text(json.dumps(stack_outputs(run_preview("dev", config=full_config("dev", gateway={"enabled": True})).run)))
    return path


MIGRATING = {"name": "web", "image": "registry.example.com/payments/web:1.4", "port": 8080, "hostPrefix": "pay",
             "contextRoot": "/shop", "contextRootRewrite": True}  # fmt: skip


def previewed_on(tmp_path: Path, outputs: Path, runtime: str) -> tuple[dict, str]:
    project = copy_example(tmp_path / runtime, "dev", lambda apps: apps.append({**MIGRATING, "runtime": runtime}))
    done = preview_cli("--project", str(project), "--stack", "dev", "--platform-outputs", str(outputs), "--json", str(tmp_path / f"{runtime}.json"),
                       "--out", str(tmp_path / f"{runtime}-out"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / f"{runtime}.json").read_text()), done.stdout


def test_one_app_flips_from_interlock_labels_to_an_httproute(tmp_path, gateway_on_outputs):
    swarm, swarm_summary = previewed_on(tmp_path, gateway_on_outputs, "swarm")
    (service,) = [r for r in swarm["resources"] if r["type"] == "docker:index/service:Service" and r["inputs"]["name"] == "dev-web"]
    got = {item["label"]: item["value"] for item in service["inputs"]["labels"]}
    assert {k: v for k, v in got.items() if k.startswith("com.docker.lb.")} == {
        labels.LB_HOSTS: "pay.dev.apps.example.com", labels.LB_PORT: "8080", labels.LB_NETWORK: "ingress_dev",
        labels.LB_SERVICE_CLUSTER: "dev", labels.LB_CONTEXT_ROOT: "/shop", labels.LB_CONTEXT_ROOT_REWRITE: "true",
    }  # fmt: skip
    assert not [r for r in swarm["resources"] if r["type"].endswith(":HTTPRoute")]
    assert "dev-web: pay.dev.apps.example.com -> :8080  context_root=/shop  context_root_rewrite=true" in swarm_summary

    kubernetes, kubernetes_summary = previewed_on(tmp_path, gateway_on_outputs, "kubernetes")
    assert not [r for r in kubernetes["resources"] if r["type"] == "docker:index/service:Service" and r["inputs"]["name"] == "dev-web"]
    (route,) = [r for r in kubernetes["resources"] if r["type"] == "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"]
    assert route["inputs"]["metadata"]["namespace"] == "payments-dev"
    assert route["inputs"]["spec"] == {
        "parentRefs": [{"name": "dev", "namespace": "gateway-dev", "sectionName": "http"}],
        "hostnames": ["pay.dev.apps.example.com"],  # the same host as com.docker.lb.hosts
        "rules": [{
            "backendRefs": [{"name": "web", "port": 8080}],
            "matches": [{"path": {"type": "PathPrefix", "value": "/shop"}}],
            "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
        }],
    }  # fmt: skip
    kinds = sorted(r["type"] for r in kubernetes["resources"] if r["inputs"].get("metadata", {}).get("name") == "web")
    assert kinds == ["kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"]
    assert "payments-dev/web: pay.dev.apps.example.com/shop -> web:8080  rewrite /  via gateway-dev/dev:http" in kubernetes_summary
    assert kubernetes["outputs"]["hosts"]["web"] == swarm["outputs"]["hosts"]["web"] == ["pay.dev.apps.example.com"]
    # what a reviewer reads: the route as a manifest, only where the app runs on the Gateway
    written = yaml.safe_load((tmp_path / "kubernetes-out" / "kubernetes" / "payments-dev" / "httproute-web.yaml").read_text())
    assert written["spec"] == route["inputs"]["spec"]
    assert not (tmp_path / "swarm-out" / "kubernetes" / "payments-dev" / "httproute-web.yaml").exists()


def test_runtime_kubernetes_where_the_gateway_is_off_is_refused_with_the_fix(tmp_path):
    err = refused(tmp_path, "dev", lambda apps: apps.append({**MIGRATING, "runtime": "kubernetes"}))
    assert "app 'web': runtime kubernetes routes through dev's Gateway, but the environment stack exports no gateway" in err
    assert "turn on interlock-platform:gateway (enabled: true) in the platform's dev stack" in err
    err = refused(tmp_path / "ip", "dev", lambda apps: apps.append({**MIGRATING, "runtime": "kubernetes", "ipHash": True}))
    assert "app 'web': ipHash has no Gateway API equivalent" in err and "keep the app on runtime: swarm (Interlock)" in err
