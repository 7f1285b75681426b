"""Direct tables for the pack's helpers that decide what a name or a string reaches: whose node an
EC2 hostname is, which host paths hold the node, what a Calico selector pins, and which strings
hold a credential. The rules using them run over the protocol in test_policy_corpus.py."""

from __future__ import annotations

import base64
import json

import pytest

from policy.rules.common import Environment, Owned, Registry, ec2_hostname_address, registry
from policy.rules.kubernetes import _calico_pairs
from policy.rules.secrets import credential_in
from policy.rules.swarm import _host_path

CONFIG = {
    "environments": {
        "dev": {"cidr": "10.40.64.0/18", "collection": "/dev", "httpPort": 8082, "httpsPort": 8445},
        "prod": {"cidr": "10.40.192.0/18", "collection": "/prod", "httpPort": 8080, "httpsPort": 8443},
    },
    "managementCidrs": ["10.40.0.0/24", "10.40.1.0/24"],
    "owned": {"prod": {"nodes": ["prod-edge-1.example.internal"], "namespaces": ["payments-prod"]}},
}


@pytest.fixture(scope="module")
def reg() -> Registry:
    parsed = registry(CONFIG)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(("hostname", "address"), [
    ("ip-10-40-64-10.eu-west-1.compute.internal", "10.40.64.10"),
    ("IP-10-40-192-7", "10.40.192.7"),
    ("ip-10-40-300-1.eu-west-1.compute.internal", None),  # no address
    ("node-ip-10-40-64-10", None),  # not an EC2 name
    ("worker-1", None),
])  # fmt: skip
def test_the_address_an_ec2_hostname_carries(hostname: str, address: str | None) -> None:
    found = ec2_hostname_address(hostname)
    assert (str(found) if found else None) == address


@pytest.mark.parametrize(("hostname", "owner"), [
    ("ip-10-40-64-10.eu-west-1.compute.internal", "dev"),
    ("ip-10-40-127-255.eu-west-1.compute.internal", "dev"),  # the last address of dev's /18
    ("ip-10-40-128-0.eu-west-1.compute.internal", None),  # the first beyond it, no environment's
    ("ip-10-40-192-10.eu-west-1.compute.internal", "prod"),
    ("ip-10-40-1-5.eu-west-1.compute.internal", "management"),
    ("ip-10-40-2-5.eu-west-1.compute.internal", None),  # between the management subnets' block and dev
    ("prod-edge-1.example.internal", "prod"),  # listed in prod's config
    ("worker-1", None),
])  # fmt: skip
def test_whose_node_a_hostname_is(reg: Registry, hostname: str, owner: str | None) -> None:
    assert reg.node_owner(hostname) == owner


def test_the_owner_of_a_name_is_the_environment_whose_config_gives_it(reg: Registry) -> None:
    assert reg.owner("namespaces", "payments-prod") == "prod"
    assert reg.owner("namespaces", "payments-dev") is None
    assert reg.owns("dev") == Owned() and isinstance(reg.environments["dev"], Environment)


@pytest.mark.parametrize(("path", "holds_the_node"), [
    ("/var/run/docker.sock", True), ("/run/docker.sock", True), ("/", True), ("/var", True), ("/var/run", True),
    ("/etc", True), ("/etc/ssl/certs", True), ("/var/lib/docker/volumes", True), ("/proc/1/root", True),
    ("/srv/../var/run/docker.sock", True), ("//", True),
    ("/srv/ledger/config", False), ("/data", False), ("/var/log/ledger", False), ("/opt/app", False),
    ("ledger-data", False),  # a named volume, not a path
])  # fmt: skip
def test_host_paths_that_hold_the_node(path: str, holds_the_node: bool) -> None:
    assert _host_path(path) is holds_the_node


@pytest.mark.parametrize(("expr", "pairs", "open_"), [
    ("ns-id == 'payments-dev'", [("ns-id", {"payments-dev"})], False),
    ('ns-id == "payments-dev"', [("ns-id", {"payments-dev"})], False),
    ("ns-id in {'payments-dev', 'ledger-dev'}", [("ns-id", {"payments-dev", "ledger-dev"})], False),
    ("all()", [], True),
    ("ns-id == 'payments-dev' || ns-id == 'payments-prod'", [("ns-id", {"payments-dev"}), ("ns-id", {"payments-prod"})], True),
    ("ns-id != 'payments-dev'", [], True),
    ("has(ns-id)", [], True),
])  # fmt: skip
def test_what_a_calico_selector_pins(expr: str, pairs: list, open_: bool) -> None:
    assert _calico_pairs(expr) == (pairs, open_)


PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdCJ9.c2lnbmF0dXJlLW5vdC1yZWFs"
DOCKER_CONFIG = json.dumps({"auths": {"registry.example.com": {"auth": base64.b64encode(b"ci:hunter2").decode()}}})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(("text", "found"), [
    (PEM, "a private key or kubeconfig"),
    (_b64(PEM), "a private key or kubeconfig, base64-encoded"),
    (f"Authorization: Bearer {JWT}", "a bearer token"),
    (JWT, "a bearer token"),
    ("AKIAIOSFODNN7EXAMPLE", "an AWS access key"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "an AWS secret access key"),
    (DOCKER_CONFIG, "a registry password (a docker config's auths)"),
    (_b64(DOCKER_CONFIG), "a registry password (a docker config's auths), base64-encoded"),
    # not credentials
    ("-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAN\n-----END CERTIFICATE-----\n", None),
    (_b64("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"), None),
    (json.dumps({"credsStore": "ecr-login"}), None),
    (json.dumps({"auths": {"registry.example.com": {}}}), None),
    ("Authorization: Bearer", None),
    ("arn:aws:iam::123456789012:role/ledger", None),
    ("com.docker.ucp.collection.dev=true", None),
    ("ZGV2", None),  # too short to be read as base64
])  # fmt: skip
def test_which_strings_hold_a_credential(text: str, found: str | None) -> None:
    assert credential_in(text) == found
