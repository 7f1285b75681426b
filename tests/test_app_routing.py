"""Interlock's routing features in an app spec (TLS passthrough, VIP mode, redirects, context
roots, HTTPS-only environments): the labels they become and every refusal, written as a
careless user would write the spec. The environments are the reference stacks' offline previews."""

from __future__ import annotations

import dataclasses

import pytest

from interlock_platform.core import labels
from interlock_platform.core.app_labels import AppServiceSpec, AppSpecError, EnvironmentContract, check, check_all, service_labels
from interlock_platform.core.app_specs import in_config, in_config_terms, parse_apps
from interlock_platform.swarm.interlock_service import InvalidAppSpec, check_apps


def contract(preview, env: str = "dev", **changes) -> EnvironmentContract:
    return dataclasses.replace(EnvironmentContract.from_outputs(preview(env).run.outputs), **changes)


def refused(spec: AppServiceSpec, env: EnvironmentContract) -> list[str]:
    with pytest.raises(AppSpecError) as err:
        check(spec, env)
    return err.value.problems


def app(**fields) -> AppServiceSpec:
    return AppServiceSpec(**{"name": "shop", "image": "img", "port": 8080, **fields})


# --- VIP mode


def test_vip_mode_is_one_label_and_task_mode_is_interlocks_default(preview):
    env = contract(preview)
    assert service_labels(app(backend_mode="vip"), env)[labels.LB_BACKEND_MODE] == "vip"
    assert labels.LB_BACKEND_MODE not in service_labels(app(), env)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"sticky_session_cookie": "session"}, "does not support sticky sessions"),
        ({"ip_hash": True}, "does not support sticky sessions by client address"),
        ({"websocket_endpoints": ("/ws",)}, "does not support websockets"),
    ],
)
def test_vip_mode_refuses_what_needs_a_task(preview, fields, fragment):
    problems = refused(app(backend_mode="vip", **fields), contract(preview))
    assert any(fragment in p and "backend_mode 'task'" in p for p in problems), problems


@pytest.mark.parametrize("mode", ["VIP", "Vip", "dnsrr", "", "vip "])
def test_backend_mode_is_task_or_vip_exactly(preview, mode):
    problems = refused(app(backend_mode=mode), contract(preview))
    assert problems == [f"app 'shop': backend_mode {mode!r} is not one of Interlock's; use 'task' (the default) or 'vip'"]


def test_a_canary_in_vip_mode_is_refused_across_apps(preview):
    env = contract(preview)
    v1 = app(name="shop-v1", hosts=("shop.dev.apps.example.com",), replicas=4)
    v2 = app(name="shop-v2", hosts=("SHOP.dev.apps.example.com",), replicas=1, backend_mode="vip")  # the same host
    check_all([v1, dataclasses.replace(v2, backend_mode="task")], env)  # a canary in task mode is Interlock's own
    with pytest.raises(InvalidAppSpec) as err:
        check_apps(env, v1, v2)
    (problem,) = err.value.problems
    assert "share host shop.dev.apps.example.com, a canary" in problem and "backend_mode 'vip' (shop-v2)" in problem


def test_two_context_roots_on_one_host_are_refused(preview):
    env = contract(preview)
    a = app(name="a", hosts=("shop.dev.apps.example.com",), context_root="/a")
    b = app(name="b", hosts=("shop.dev.apps.example.com",), context_root="/b")
    with pytest.raises(AppSpecError, match="one path per host"):
        check_all([a, b], env)


def test_two_apps_with_one_name_are_refused(preview):
    with pytest.raises(AppSpecError, match="two apps are named shop"):
        check_all([app(), app(host_prefix="other")], contract(preview))


# --- TLS passthrough


def test_passthrough_is_one_label_and_no_certificate(preview):
    got = service_labels(app(ssl_passthrough=True), contract(preview, "prod"))
    assert got[labels.LB_SSL_PASSTHROUGH] == "true"
    assert labels.LB_SSL_CERT not in got and labels.LB_SSL_KEY not in got


def test_passthrough_with_tls_termination_is_refused(preview):
    problems = refused(app(ssl_passthrough=True, tls=True), contract(preview, "prod"))
    assert problems == [
        "app 'shop': tls and ssl_passthrough both on; tls terminates TLS at the proxy, ssl_passthrough leaves it to the app: choose one"
    ]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"context_root": "/shop"}, "cannot route on a path; drop context_root"),
        ({"sticky_session_cookie": "s"}, "cannot route on a cookie; drop sticky_session_cookie"),
        ({"websocket_endpoints": ("/ws",)}, "drop websocket_endpoints"),
        ({"redirects": (("http://old.apps.example.com", "https://shop.apps.example.com"),)}, "do not work for a service in TLS passthrough"),
    ],
)
def test_passthrough_refuses_what_needs_the_decrypted_request(preview, fields, fragment):
    problems = refused(app(ssl_passthrough=True, **fields), contract(preview, "prod"))
    assert any(fragment in p for p in problems), problems


# --- context roots


def test_context_root_and_rewrite_labels(preview):
    got = service_labels(app(context_root="/shop/v2", context_root_rewrite=True), contract(preview))
    assert got[labels.LB_CONTEXT_ROOT] == "/shop/v2" and got[labels.LB_CONTEXT_ROOT_REWRITE] == "true"
    assert labels.LB_CONTEXT_ROOT_REWRITE not in service_labels(app(context_root="/shop"), contract(preview))


@pytest.mark.parametrize(
    ("root", "fix"),
    [
        ("shop", "does not start with '/'; write '/shop'"),
        ("shop/", "does not start with '/'; write '/shop'"),
        ("/shop/", "ends with '/'; write '/shop'"),
        ("/", "is the whole host; drop context_root"),
        ("/shop; return 302 http://evil", "has a character other than"),
        ("/shop{", "has a character other than"),
        ("//shop", "has a character other than"),
        ("/sh op", "has a character other than"),
    ],
)
def test_context_root_refusals(preview, root, fix):
    (problem,) = refused(app(context_root=root), contract(preview))
    assert fix in problem and problem.startswith("app 'shop': context root")


def test_a_rewrite_without_a_context_root_is_refused(preview):
    (problem,) = refused(app(context_root_rewrite=True), contract(preview))
    assert "no context_root to strip" in problem


# --- redirects


def test_redirects_label_in_interlocks_format_and_sources_routed(preview):
    spec = app(redirects=(("http://old.dev.apps.example.com", "https://shop.dev.apps.example.com/"),
                          ("HTTP://Legacy.Dev.Apps.Example.com/", "HTTPS://SHOP.dev.apps.example.com")))  # fmt: skip
    env = contract(preview)
    check(spec, env)
    got = service_labels(spec, env)
    assert got[labels.LB_REDIRECTS] == (
        "http://old.dev.apps.example.com,https://shop.dev.apps.example.com;"
        "http://legacy.dev.apps.example.com,https://shop.dev.apps.example.com"
    )
    # Interlock answers a redirect only for a host it routes to the service
    assert got[labels.LB_HOSTS] == "shop.dev.apps.example.com,old.dev.apps.example.com,legacy.dev.apps.example.com"


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("https://evil.example.com", "outside dev's domain dev.apps.example.com"),
        ("https://dev.apps.example.com.evil.com", "outside dev's domain"),
        ("https://shop.dev.apps.example.com@evil.com", "has a user part"),
        ("https://evil.com\\@shop.dev.apps.example.com", "has a user part"),
        ("https://apps.example.com", "outside dev's domain"),  # the parent of every environment's domain
        ("https://dev.apps.example.com", "outside dev's domain"),  # the domain itself serves nothing
        ("https://shop.dev.apps.example.com:8443", "names a port"),
        ("https://shop.dev.apps.example.com/login", "has a path"),
        ("https://shop.dev.apps.example.com?next=//evil.com", "has a path, query or fragment"),
        ("//evil.com", "does not start with http:// or https://"),
        ("javascript:alert(1)", "does not start with http:// or https://"),
        ("shop.dev.apps.example.com", "does not start with http:// or https://"),
        ("https://shop.dev.apps.example.com,https://evil.com", "split Interlock's redirects label"),
        ("https://a.dev.apps.example.com;http://b", "split Interlock's redirects label"),
        ("", "is not a URL"),
    ],
)
def test_redirect_targets_outside_the_environment_are_refused(preview, target, fragment):
    problems = refused(app(redirects=(("http://old.dev.apps.example.com", target),)), contract(preview))
    assert any(fragment in p and p.startswith("app 'shop': redirect") for p in problems), problems


def test_a_redirect_from_outside_the_domain_is_refused(preview):
    problems = refused(app(redirects=(("http://old.example.org", "https://shop.dev.apps.example.com"),)), contract(preview))
    assert problems == [
        "app 'shop': host old.example.org is outside dev's domain dev.apps.example.com; Interlock there routes only *.dev.apps.example.com"
    ]


def test_redirect_loops_and_duplicates_are_refused(preview):
    problems = refused(
        app(redirects=(("http://shop.dev.apps.example.com", "http://SHOP.dev.apps.example.com/"),
                       ("http://old.dev.apps.example.com", "https://a.dev.apps.example.com"),
                       ("http://old.dev.apps.example.com", "https://b.dev.apps.example.com"))),
        contract(preview),
    )  # fmt: skip
    assert any("points at itself" in p for p in problems) and any("two redirects start from http://old" in p for p in problems)


# --- hosts


def test_upper_case_hosts_are_routed_in_lower_case(preview):
    spec = app(hosts=("Shop.DEV.apps.example.com",))
    check(spec, contract(preview))
    assert service_labels(spec, contract(preview))[labels.LB_HOSTS] == "shop.dev.apps.example.com"


@pytest.mark.parametrize("host", ["shop .dev.apps.example.com", "shop..dev.apps.example.com", "sh_op.dev.apps.example.com"])
def test_a_host_that_is_no_dns_name_is_refused(preview, host):
    (problem,) = refused(app(hosts=(host,)), contract(preview))
    assert "is not a DNS name" in problem


# --- HTTPS-only environments


def test_https_only_redirects_every_http_host(preview):
    env = contract(preview, "prod", https_only=True)
    spec = app(tls=True, hosts=("shop.prod.apps.example.com", "www.shop.prod.apps.example.com"))
    check(spec, env)
    assert service_labels(spec, env)[labels.LB_REDIRECTS] == (
        "http://shop.prod.apps.example.com,https://shop.prod.apps.example.com;http://www.shop.prod.apps.example.com,https://www.shop.prod.apps.example.com"
    )


def test_https_only_keeps_the_apps_own_redirect_of_a_host(preview):
    env = contract(preview, "prod", https_only=True)
    spec = app(tls=True, redirects=(("http://old.prod.apps.example.com", "https://shop.prod.apps.example.com"),))
    assert service_labels(spec, env)[labels.LB_REDIRECTS] == (
        "http://old.prod.apps.example.com,https://shop.prod.apps.example.com;http://shop.prod.apps.example.com,https://shop.prod.apps.example.com"
    )


def test_https_only_refuses_an_app_without_https(preview):
    (problem,) = refused(app(), contract(preview, "prod", https_only=True))
    assert "prod is HTTPS-only (httpsOnly), and the app serves no HTTPS; set tls: true" in problem
    assert "or ssl_passthrough: true" in problem


def test_https_only_refuses_a_redirect_to_plain_http(preview):
    spec = app(tls=True, redirects=(("http://old.prod.apps.example.com", "http://shop.prod.apps.example.com"),))
    problems = refused(spec, contract(preview, "prod", https_only=True))
    assert problems == ["app 'shop': redirect target http://shop.prod.apps.example.com is plain HTTP, but prod is HTTPS-only; write https://shop.prod.apps.example.com"]


def test_https_only_with_passthrough_adds_no_redirect(preview):
    env = contract(preview, "prod", https_only=True)
    spec = app(ssl_passthrough=True)
    check(spec, env)
    assert labels.LB_REDIRECTS not in service_labels(spec, env)


def test_an_environment_that_is_not_https_only_adds_no_redirect(preview):
    assert labels.LB_REDIRECTS not in service_labels(app(tls=True), contract(preview, "prod", https_only=False))


def test_https_only_is_read_from_the_env_stack_and_optional(preview):
    outputs = dict(preview("prod").run.outputs)
    assert EnvironmentContract.from_outputs(outputs).https_only is outputs["httpsOnly"]
    del outputs["httpsOnly"]  # an env stack deployed before the output existed
    assert EnvironmentContract.from_outputs(outputs).https_only is False
    with pytest.raises(AppSpecError, match="exports httpsOnly as 'false', not true or false"):
        EnvironmentContract.from_outputs({**outputs, "httpsOnly": "false"})


# --- the stack config's app specs (camelCase, pydantic)


def parse_problems(raw) -> list[str]:
    with pytest.raises(AppSpecError) as err:
        parse_apps(raw)
    return err.value.problems


def test_app_specs_round_trip_through_the_config_form():
    spec = app(hosts=("a.dev.apps.example.com",), ssl_passthrough=True, backend_mode="vip", replicas=3,
               redirects=(("http://old.dev.apps.example.com", "https://a.dev.apps.example.com"),), networks=("dev_backend",))  # fmt: skip
    entry = in_config(spec)
    assert entry["sslPassthrough"] is True and entry["backendMode"] == "vip"
    assert entry["redirects"] == [{"source": "http://old.dev.apps.example.com", "target": "https://a.dev.apps.example.com"}]
    assert parse_apps([entry]) == [spec]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (None, "apps: give a list of app specs"),
        ({"name": "shop"}, "apps: give a list of app specs"),  # a mapping, not a list of them
        ([], "apps: give a list of app specs"),
        (["shop"], "apps[0]: is str, not a mapping"),
        ([{"name": "shop", "image": "i", "port": True}], "field 'port': Input should be a valid integer (got True)"),
        ([{"name": "shop", "image": "i", "port": 8080, "tls": "yes"}], "field 'tls': Input should be a valid boolean (got 'yes')"),
        ([{"name": "shop", "image": "i", "port": 8080, "hosts": "a.dev.apps.example.com"}], "field 'hosts': Input should be a valid list"),
        ([{"name": "shop", "image": "i", "port": 8080, "host_prefix": "a"}], "unknown field 'host_prefix'; did you mean 'hostPrefix'?"),
        ([{"name": "shop", "image": "i", "port": 8080, "SSLPassthrough": True}], "unknown field 'SSLPassthrough'; did you mean 'sslPassthrough'?"),
        ([{"name": "shop", "image": "i", "port": 8080, "canary": True}], "unknown field 'canary'; the fields are name, image, port"),
        ([{"name": "shop", "image": "i", "port": 8080, "redirects": [{"source": "http://a.x"}]}],
         "field 'redirects.0.target' is missing; give it (a redirect is {source: http://old.<domain>, target: https://shop.<domain>})"),
        ([{"name": "shop", "image": "i", "port": 8080, "hosts": ["a.dev.apps.example.com"], "hostPrefix": "a"}],
         "both hosts and hostPrefix given"),
    ],
)  # fmt: skip
def test_bad_app_specs_in_the_config(raw, fragment):
    problems = parse_problems(raw)
    assert any(fragment in p for p in problems), problems


def test_config_problems_say_the_configs_field_names():
    assert in_config_terms("drop sticky_session_cookie, or use backend_mode 'task'; ssl_passthrough") == (
        "drop stickySessionCookie, or use backendMode 'task'; sslPassthrough"
    )
