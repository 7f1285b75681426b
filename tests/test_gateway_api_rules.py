"""The referee itself: tools/gateway_api.py holds an object to the vendored Gateway API CRDs
(their OpenAPI schemas and their CEL rules, run by a real CEL engine). Here it is shown refusing
what the CRDs refuse and admitting their benign twins, and running every rule the CRDs carry."""

from __future__ import annotations

import copy
import re

import pytest
from cel_expr_python import cel

from tools import gateway_api

GROUP = "gateway.networking.k8s.io"


def gateway(**spec) -> dict:
    listeners = [
        {"name": "http", "protocol": "HTTP", "port": 80, "hostname": "*.dev.example.com"},
        {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": "*.dev.example.com",
         "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "wildcard"}]}},
    ]  # fmt: skip
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gateway", "metadata": {"name": "dev", "namespace": "gateway-dev"},
            "spec": {"gatewayClassName": "envoy-gatewayingress", "listeners": listeners, **spec}}  # fmt: skip


def route(kind: str = "HTTPRoute", version: str = "v1", **spec) -> dict:
    base = {"parentRefs": [{"name": "dev", "namespace": "gateway-dev"}], "hostnames": ["shop.dev.example.com"]}
    return {"apiVersion": f"{GROUP}/{version}", "kind": kind, "metadata": {"name": "shop", "namespace": "team-a"},
            "spec": {**base, **spec}}  # fmt: skip


def edit(obj: dict, change) -> dict:
    out = copy.deepcopy(obj)
    change(out)
    return out


def refusals(obj: dict) -> list[str]:
    return gateway_api.validate(obj).errors


def test_the_vendored_release_is_recorded_beside_its_files():
    readme = (gateway_api.CRD_DIR / "README.md").read_text()
    assert f"release: {gateway_api.RELEASE}" in readme
    assert re.search(r"commit: [0-9a-f]{40}", readme)
    assert {k for _, k in gateway_api.crds()} == {
        "GatewayClass",
        "Gateway",
        "HTTPRoute",
        "GRPCRoute",
        "TLSRoute",
        "ReferenceGrant",
        "EnvoyProxy",
    }
    envoy = (gateway_api.CRD_DIRS[1] / "README.md").read_text()
    assert f"release: {gateway_api.ENVOY_GATEWAY_RELEASE}" in envoy and re.search(r"commit: [0-9a-f]{40}", envoy)


def _all_rules() -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            found.extend(v["rule"] for v in node.get("x-kubernetes-validations", []))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for crd in gateway_api.crds().values():
        walk(crd.versions)
    return sorted(set(found))


def test_every_rule_of_the_crds_compiles_in_the_kubernetes_cel_environment():
    rules = _all_rules()
    assert len(rules) > 60
    for rule in rules:
        gateway_api._compiled(rule)  # raises on an unknown function: nothing is skipped unseen


def test_the_functions_cel_expr_python_lacks_are_exactly_the_ones_added_as_kubernetes_defines_them():
    """The bare engine (standard library only) compiles every rule but those using the strings
    extension (split, substring, upperAscii) or Kubernetes' IP library (isIP): those are the
    additions, and no other."""
    bare = cel.NewEnv(variables={"self": cel.Type.DYN, "oldSelf": cel.Type.DYN})
    missing = set()
    for rule in _all_rules():
        try:
            bare.compile(rule)
        except RuntimeError as error:
            missing.add(re.search(r"undeclared reference to '(\w+)'", str(error)).group(1))
    assert missing == {"split", "substring", "upperAscii", "isIP"}


@pytest.mark.parametrize(("text", "ip"), [
    ("192.0.2.1", True), ("2001:db8::1", True), ("::1", True),
    ("192.0.2.01", False),  # Go's netip refuses a leading zero
    ("::ffff:192.0.2.1", False),  # IPv4-mapped IPv6: refused by Kubernetes' library
    ("fe80::1%eth0", False),  # a zone: refused
    ("shop.dev.example.com", False), ("", False),
])  # fmt: skip
def test_is_ip_is_kubernetes_definition(text, ip):
    assert gateway_api.is_ip(text) is ip


def test_the_benign_objects_are_admitted_and_their_rules_run():
    for obj in (
        gateway(),
        route(),
        route("GRPCRoute"),
        route("TLSRoute", rules=[{"backendRefs": [{"name": "shop", "port": 443}]}]),
        route(rules=[{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]),
    ):
        result = gateway_api.validate(obj)
        assert result.ok, (obj["kind"], result.errors)
        assert result.rules_run > 0
    grant = {"apiVersion": f"{GROUP}/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": "team-a"},
             "spec": {"from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": "team-b"}], "to": [{"group": "", "kind": "Service"}]}}  # fmt: skip
    assert gateway_api.validate(grant).ok


HOSTILE = [  # (what, object, a fragment of the refusal)
    ("HTTPS listener terminating TLS with no certificate",
     edit(gateway(), lambda g: g["spec"]["listeners"][1]["tls"].pop("certificateRefs")), "certificateRefs"),
    ("HTTPS listener passing TLS through",
     edit(gateway(), lambda g: g["spec"]["listeners"][1]["tls"].update(mode="Passthrough")), "tls mode must be Terminate"),
    ("HTTP listener with a certificate",
     edit(gateway(), lambda g: g["spec"]["listeners"][0].update(tls={"certificateRefs": [{"name": "x"}]})),
     "tls must not be specified"),
    ("two listeners of one name",
     edit(gateway(), lambda g: g["spec"]["listeners"][1].update(name="http")), "Listener name must be unique"),
    ("a hostname the pattern refuses",
     edit(gateway(), lambda g: g["spec"]["listeners"][0].update(hostname="Shop_Dev.example.com")), "does not match"),
    ("routes admitted from a made-up place",
     edit(gateway(), lambda g: g["spec"]["listeners"][0].update(allowedRoutes={"namespaces": {"from": "Anywhere"}})),
     "is not one of"),
    ("a listener on port 0", edit(gateway(), lambda g: g["spec"]["listeners"][0].update(port=0)), "below 1"),
    ("no listeners", edit(gateway(), lambda g: g["spec"].update(listeners=[])), "fewer than 1"),
    ("65 listeners", edit(gateway(), lambda g: g["spec"].update(listeners=[
        {"name": f"l{i}", "protocol": "HTTP", "port": 80, "hostname": f"h{i}.dev.example.com"} for i in range(65)])),
     "more than 64"),
    ("a field the API does not have", edit(gateway(), lambda g: g["spec"].update(listenerz=[])), "unknown field"),
    ("no gatewayClassName", edit(gateway(), lambda g: g["spec"].pop("gatewayClassName")), "required"),
    ("a route both redirecting and rewriting", route(rules=[{"filters": [
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}},
        {"type": "URLRewrite", "urlRewrite": {"hostname": "x.dev.example.com"}}]}]), "but not both"),
    ("a TLSRoute for an IP address",
     route("TLSRoute", hostnames=["192.0.2.1"], rules=[{"backendRefs": [{"name": "shop", "port": 443}]}]), "IP"),
    ("a route's hostname too long", route(hostnames=["a" * 254]), "longer than 253"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "obj", "fragment"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_the_crds_refuse(what, obj, fragment):
    errors = refusals(obj)
    assert any(fragment in e for e in errors), errors


def test_a_rule_that_errors_is_a_refusal_not_a_pass():
    broken = {"type": "object", "x-kubernetes-validations": [{"rule": "self.missing == 1", "message": "m"}]}
    result = gateway_api.Result()
    gateway_api._rules({}, broken, "spec", result)
    assert result.errors and "did not evaluate" in result.errors[0]


def test_defaults_are_applied_before_the_rules_as_the_api_server_does(monkeypatch):
    # tls.mode defaults to Terminate; the rules read it without has(), so only the defaulted object passes
    obj = edit(gateway(), lambda g: g["spec"]["listeners"][1]["tls"].pop("mode"))
    assert refusals(obj) == []
    monkeypatch.setattr(gateway_api, "_default", lambda value, schema: None)
    assert any("did not evaluate" in e for e in refusals(obj))
