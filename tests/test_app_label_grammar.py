"""Every string an app spec can put into an Interlock label is held to a grammar nginx cannot
read as syntax (Interlock renders the labels into the nginx config all of an environment's apps
share): for each field, the hostile value (issue 21) is refused with the fix, and its benign twin
passes. Pure checks, InterlockService under the mock runtime, and the offline preview."""

from __future__ import annotations

import dataclasses

import pytest

from interlock_platform.core import labels
from interlock_platform.core.app_labels import (
    LABEL_GRAMMAR,
    AppServiceSpec,
    AppSpecError,
    EnvironmentContract,
    check,
    service_labels,
)
from interlock_platform.swarm.interlock_service import InvalidAppSpec
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor
from tests.test_app_preview import app_named, refused
from tests.test_app_team import example_config, run_example

PROD = EnvironmentContract(
    "prod", "/prod", "prod.apps.example.com", "ingress_prod", ("ingress_prod", "prod_backend"), "host",
    "prod-tls-cert", "prod-tls-key",
)  # fmt: skip
BASE = AppServiceSpec("shop", "img", 8443, tls=True)

# (field, hostile value, benign twin, what the refusal says)
FIELDS = [
    ("sticky_session_cookie", "x; } server { listen 81", "JSESSIONID", "sticky session cookie 'x; } server { listen 81'"),
    ("sticky_session_cookie", "sid$host", "connect.sid", "is not a cookie name"),
    ("sticky_session_cookie", 'a"b', "__Host-session", "is not a cookie name"),
    ("websocket_endpoints", ("/ws; return 302 http://evil.example",), ("/ws",), "websocket endpoint '/ws; return 302"),
    ("websocket_endpoints", ("/ws{",), ("/socket.io/",), "is not a URL path"),
    ("websocket_endpoints", ("/a,/b",), ("/a", "/b"), "is not a URL path"),
    ("websocket_endpoints", ("ws",), ("/api/v1/live%20feed",), "is not a URL path"),
    ("websocket_endpoints", ("/ws'",), ("/ws~1",), "is not a URL path"),
    ("hosts", ("shop.prod.apps.example.com;return 302 x",), ("shop.prod.apps.example.com",), "is not a DNS name"),
    ("hosts", ("shop.prod.apps.example.com shop2.prod.apps.example.com",), ("shop2.prod.apps.example.com",), "is not a DNS name"),
    ("host_prefix", "shop{", "shop.eu", "is not a DNS name"),
    ("context_root", "/shop;", "/shop", "context root '/shop;'"),
    ("context_root", "/shop }", "/shop/v2", "context root '/shop }'"),
    ("redirects", (("http://old.prod.apps.example.com;", "https://shop.prod.apps.example.com"),),
     (("http://old.prod.apps.example.com", "https://shop.prod.apps.example.com"),), "redirect source"),
    ("redirects", (("http://old.prod.apps.example.com", "https://shop.prod.apps.example.com/{"),),
     (("https://old.prod.apps.example.com", "https://shop.prod.apps.example.com"),), "has a path"),
    ("backend_mode", "vip;", "vip", "backend_mode 'vip;'"),
    ("name", "shop;x", "shop-x", "the name is not a DNS label"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "hostile", "benign", "says"), FIELDS, ids=[f"{f[0]}-{i}" for i, f in enumerate(FIELDS)])
def test_each_field_refuses_nginx_syntax_and_keeps_its_benign_twin(field, hostile, benign, says):
    with pytest.raises(AppSpecError) as err:
        check(dataclasses.replace(BASE, **{field: hostile}), PROD)
    assert any(says in p for p in err.value.problems), err.value.problems
    assert all("; " in p or "e.g." in p for p in err.value.problems)  # each says what to write instead
    good = dataclasses.replace(BASE, **{field: benign})
    check(good, PROD)
    for key, value in service_labels(good, PROD).items():
        assert not set(value) & set(";{}\"' \t\n$#") or (
            key == labels.LB_REDIRECTS and set(value) & set(";{}\"' \t\n$#") == {";"}
        )


def test_every_label_the_platform_sets_has_a_grammar():
    every = dataclasses.replace(
        BASE, tls=True, websocket_endpoints=("/ws",), sticky_session_cookie="s", backend_mode="task", context_root="/shop",
        context_root_rewrite=True, redirects=(("http://old.prod.apps.example.com", "https://shop.prod.apps.example.com"),),
    )  # fmt: skip
    keys = set(service_labels(every, PROD)) | set(service_labels(dataclasses.replace(BASE, tls=False, ssl_passthrough=True,
                                                                                      backend_mode="vip", ip_hash=True), PROD))  # fmt: skip
    assert keys == set(LABEL_GRAMMAR)


def test_hostile_environment_outputs_never_reach_a_label():
    # --platform-outputs FILE is the app team's to give: a domain or network with nginx syntax is refused too
    env = dataclasses.replace(PROD, ingress_network="ingress_prod;", tls_certificate_secret="cert}")
    with pytest.raises(AppSpecError) as err:
        check(BASE, env)
    assert [p for p in err.value.problems if "com.docker.lb.network='ingress_prod;'" in p]
    assert [p for p in err.value.problems if "com.docker.lb.ssl_cert='cert}'" in p]
    with pytest.raises(AppSpecError):
        service_labels(BASE, env)  # the guard holds for callers that skip check


def test_interlock_service_refuses_the_hostile_cookie_before_anything_is_created(preview):
    monitor = RecordingMonitor(PlatformMocks({}))
    config = example_config("dev")
    config["app-team-demo:apps"] = [
        {"name": "cart", "image": "img", "port": 8080, "stickySessionCookie": "x; } server { listen 81"},
        {"name": "chat", "image": "img", "port": 8080, "websocketEndpoints": ["/ws; return 302 http://evil.example"]},
    ]
    with pytest.raises(InvalidAppSpec) as err:
        run_example(preview, "dev", config, monitor)
    assert "app-team-demo:apps: app 'cart': sticky session cookie 'x; } server { listen 81' is not a cookie name" in str(
        err.value
    )
    assert "app-team-demo:apps: app 'chat': websocket endpoint '/ws; return 302 http://evil.example'" in str(err.value)
    assert monitor.registrations == []


def test_the_preview_refuses_the_hostile_cookie_and_websocket_with_exit_2(tmp_path):
    def edit(apps):
        app_named("cart")(apps)["stickySessionCookie"] = "x; } server { listen 81"
        app_named("chat")(apps)["websocketEndpoints"] = ["/ws; return 302 http://evil.example"]

    err = refused(tmp_path, "dev", edit)
    assert "app 'cart': sticky session cookie 'x; } server { listen 81' is not a cookie name" in err
    assert "e.g. 'JSESSIONID' or 'session'" in err
    assert "app 'chat': websocket endpoint '/ws; return 302 http://evil.example' is not a URL path" in err
