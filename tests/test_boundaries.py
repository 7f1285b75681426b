"""Boundaries, each at the function that owns it, each with its benign twin: the management
VLAN's way to the internet (its NACL alone, its security group alone), port lists with a gap,
the DNS egress peer, the Kubernetes release a namespace label arrives in, an app host under the
environment's domain, a group's declared flow, and the policy pack's range helpers.

All pure: no program run, no pack process; each test takes milliseconds."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping

import pytest

from interlock_platform.core import labels
from interlock_platform.core.app_labels import AppServiceSpec, AppSpecError, EnvironmentContract, check
from interlock_platform.core.firewall_plan import (
    ALL,
    NaclEntry,
    group_cidrs,
    group_nacl,
    management_nacl,
    management_sg_rules,
    port_ranges,
)
from interlock_platform.core.k8s_manifests import KubernetesSettings, allow_dns_egress, namespace_selector
from interlock_platform.core.model import WORLD
from interlock_platform.core.topology import parse_environment
from policy.rules import common
from tests.conftest import raw, reference_shared, shared_outputs

PROTOCOLS = {"tcp": "6", "udp": "17"}


def nacl_decides(entries: list[NaclEntry], egress: bool, protocol: str, port: int, peer: str) -> str:
    """AWS's NACL evaluation: the lowest-numbered entry that matches decides; none: deny."""
    address = ipaddress.ip_address(peer)
    for e in sorted((e for e in entries if e.egress == egress), key=lambda e: e.rule_number):
        if address not in ipaddress.ip_network(e.cidr):
            continue
        if e.protocol == ALL or (PROTOCOLS.get(e.protocol, e.protocol) == PROTOCOLS[protocol] and e.from_port <= port <= e.to_port):
            return e.action
    return "deny"


# --- the management VLAN's way out to the internet: TCP 443 only, in each layer on its own


@pytest.mark.parametrize(("protocol", "port", "decision"), [
    ("tcp", 443, "allow"), ("tcp", 442, "deny"), ("tcp", 444, "deny"), ("tcp", 80, "deny"), ("tcp", 22, "deny"),
    ("tcp", 65535, "deny"), ("udp", 443, "deny"), ("udp", 53, "deny"),
])  # fmt: skip
def test_the_management_nacl_lets_only_https_out_to_the_internet(protocol, port, decision):
    """The NACL alone, not the NACL behind the security group: each layer must hold on its own."""
    assert nacl_decides(management_nacl(reference_shared()), True, protocol, port, "203.0.113.7") == decision


def test_the_management_nacls_world_entries_are_https_out_and_its_replies_in():
    world = [e for e in management_nacl(reference_shared()) if e.cidr == WORLD]
    out = [(e.protocol, e.from_port, e.to_port) for e in world if e.egress and e.action == "allow"]
    assert out == [("tcp", 443, 443)]
    # in: only TCP replies, on the ephemeral range (never a well-known port)
    assert all(e.protocol == "tcp" and e.from_port >= 1024 for e in world if not e.egress and e.action == "allow")


@pytest.mark.parametrize("internet", [False, True])
def test_the_management_security_group_reaches_the_internet_only_when_asked_and_only_by_https(internet):
    """The security group alone. By default the managers reach AWS through VPC endpoints and the
    rest through the corporate proxy: no rule to the world. With managementInternetEgress: one,
    TCP 443. Every other egress rule is TCP, to an endpoint, S3's prefix list or the proxy."""
    shared = dataclasses.replace(reference_shared(), management_internet_egress=internet)
    rules = management_sg_rules(shared)
    world = [(r.protocol, r.from_port, r.to_port) for r in rules if r.direction == "egress" and r.peer.value == WORLD]
    assert world == ([("tcp", 443, 443)] if internet else [])
    assert shared.proxy is not None
    proxy = (shared.proxy.from_port, shared.proxy.to_port)
    assert all(r.protocol == "tcp" and (r.from_port, r.to_port) in {(443, 443), proxy} for r in rules if r.direction == "egress")


# --- port lists: consecutive ports merge, a gap of one port does not


@pytest.mark.parametrize(("numbers", "ranges"), [
    ([], []),
    ([80], [(80, 80)]),
    ([80, 81], [(80, 81)]),
    ([80, 82], [(80, 80), (82, 82)]),  # one port missing between them: 81 stays closed
    ([80, 81, 83, 84], [(80, 81), (83, 84)]),
    ([84, 80, 81, 81, 83], [(80, 81), (83, 84)]),  # order and repeats do not matter
    ([1, 65535], [(1, 1), (65535, 65535)]),
    ([8443, 8444, 8446], [(8443, 8444), (8446, 8446)]),
])  # fmt: skip
def test_port_ranges_merge_only_consecutive_ports(numbers, ranges):
    assert port_ranges(numbers) == ranges
    covered = {p for lo, hi in ranges for p in range(lo, hi + 1)}
    assert covered == set(numbers)


# --- DNS egress: to the DNS pods of the DNS namespace, not to any pod there


def _peer_selects(peer: Mapping, namespace_labels: Mapping[str, str], pod_labels: Mapping[str, str]) -> bool:
    """A NetworkPolicy peer with namespaceSelector and podSelector selects pods that match both."""

    def matches(selector: Mapping | None, labels_: Mapping[str, str]) -> bool:
        if selector is None:
            return True
        assert set(selector) <= {"matchLabels"}, selector  # matchExpressions: not used by the platform
        return all(labels_.get(k) == v for k, v in selector.get("matchLabels", {}).items())

    if "namespaceSelector" not in peer and "podSelector" not in peer:
        return False
    return matches(peer.get("namespaceSelector"), namespace_labels) and matches(peer.get("podSelector"), pod_labels)


@pytest.mark.parametrize("version", [(1, 14), (1, 21), (1, 30)])
def test_dns_egress_reaches_the_dns_pods_and_no_other_pod_of_kube_system(version):
    settings = KubernetesSettings(kubernetes_version=version)
    policy = allow_dns_egress("payments-dev", settings)
    (rule,) = policy["spec"]["egress"]
    kube_system = {labels.NS_ID: "kube-system", labels.K8S_NAMESPACE_NAME: "kube-system"}
    dns_pod = dict(labels.DNS_POD)
    other_pod = {"k8s-app": "metrics-server"}  # a second pod in kube-system
    assert any(_peer_selects(p, kube_system, dns_pod) for p in rule["to"])
    assert not any(_peer_selects(p, kube_system, other_pod) for p in rule["to"])
    assert not any(_peer_selects(p, {labels.NS_ID: "payments-dev"}, dns_pod) for p in rule["to"])  # a team's own kube-dns look-alike
    assert sorted((p["port"], p["protocol"]) for p in rule["ports"]) == [(53, "TCP"), (53, "UDP")]


def test_the_dns_egress_policy_is_the_document_kubernetes_reads():
    """The whole manifest: a NetworkPolicy of the team's namespace, selecting all its pods, egress
    only, to the DNS pods of kube-system on port 53 over UDP and TCP, marked as the platform's."""
    assert allow_dns_egress("payments-dev", KubernetesSettings(kubernetes_version=(1, 21))) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-dns-egress", "namespace": "payments-dev", "labels": {"app.kubernetes.io/managed-by": "interlock-platform"}},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        },
    }  # fmt: skip


@pytest.mark.parametrize(("version", "server_side_apply", "labelled"), [
    ((1, 14), False, True), ((1, 17), False, True), ((1, 18), True, True), ((1, 20), True, True), ((1, 21), True, False), ((1, 30), True, False),
])  # fmt: skip
def test_kubernetes_settings_follow_the_release(version, server_side_apply, labelled):
    settings = KubernetesSettings(ingress_namespace="ingress-nginx", dns_namespace="kube-system", kubernetes_version=version)
    assert settings.server_side_apply == server_side_apply
    assert settings.ingress_selector == namespace_selector("ingress-nginx", version)
    assert settings.dns_selector == namespace_selector("kube-system", version)
    # no team may own the namespaces team policies select, whatever the release ...
    assert settings.cluster_namespaces == ("kube-system", "ingress-nginx")
    assert KubernetesSettings(ingress_namespace="kube-system", kubernetes_version=version).cluster_namespaces == ("kube-system",)
    # ... and the platform labels them only while the selectors need its label (before 1.21)
    assert settings.platform_namespaces == (settings.cluster_namespaces if labelled else ())


# --- the namespace name label: Kubernetes sets it from 1.21, and then it alone selects


@pytest.mark.parametrize(("version", "by_name_label"), [((1, 14), False), ((1, 20), False), ((1, 21), True), ((1, 22), True), ((2, 0), True)])
def test_the_namespace_selector_uses_the_name_label_from_1_21(version, by_name_label):
    """From 1.21 the label the API server sets, which no namespace can carry for another; before,
    the platform's own ns-id."""
    selector = namespace_selector("kube-system", version)
    assert selector == ({labels.K8S_NAMESPACE_NAME: "kube-system"} if by_name_label else {labels.NS_ID: "kube-system"})


# --- app hosts under the environment's domain: a label boundary, not a string suffix

ENV = EnvironmentContract("dev", "/dev", "dev.example.com", "ingress_dev", ("ingress_dev",), "host")


def _problems(**fields: object) -> list[str]:
    try:
        check(AppServiceSpec(**{"name": "shop", "image": "img", "port": 8080, **fields}), ENV)  # type: ignore[arg-type]
    except AppSpecError as err:
        return err.problems
    return []


@pytest.mark.parametrize(("host", "inside"), [
    ("shop.dev.example.com", True),
    ("a.b.dev.example.com", True),
    ("SHOP.Dev.Example.com", True),
    ("xdev.example.com", False),  # ends with the domain's text, but is not under it
    ("shopdev.example.com", False),
    ("dev.example.com", False),  # the domain itself: Interlock routes *.<domain>
    ("shop.test.example.com", False),
    ("shop.dev.example.com.evil.net", False),
])  # fmt: skip
def test_an_app_host_must_be_under_the_environments_domain(host, inside):
    problems = _problems(hosts=(host,))
    assert (problems == []) == inside, problems
    if not inside:
        assert any("outside dev's domain dev.example.com" in p for p in problems)


@pytest.mark.parametrize(("target", "inside"), [
    ("https://new.dev.example.com/", True),
    ("https://xdev.example.com/", False),
    ("https://example.com/", False),
])  # fmt: skip
def test_a_redirect_target_must_be_under_the_environments_domain(target, inside):
    problems = _problems(redirects=(("http://old.dev.example.com/", target),))
    assert (problems == []) == inside, problems
    if not inside:
        assert any("redirect target" in p and "outside" in p for p in problems)


# --- a declared flow opens the target group to the source group's subnets, not the environment


def test_a_declared_flow_is_open_from_its_source_group_only():
    """dev: ledger allows TCP 8443 from payments. The ledger's NACL, on its own, lets payments'
    subnets in on 8443 and not the ingress group's, though both are in dev's range."""
    topo = parse_environment("dev", raw("dev"), shared_outputs())
    groups = {g.name: g for g in topo.application_groups}
    flow = next(f for f in raw("dev")["applicationGroups"] if f["name"] == "ledger")["allowFrom"]
    assert flow == [{"group": "payments", "ports": [8443], "protocol": "tcp"}]
    ledger = group_nacl(topo, groups["ledger"])

    def first_host(group: str) -> str:
        return str(next(ipaddress.ip_network(group_cidrs(groups[group])[0]).hosts()))

    assert nacl_decides(ledger, False, "tcp", 8443, first_host("payments")) == "allow"
    assert nacl_decides(ledger, False, "tcp", 8443, first_host("ingress")) == "deny"
    assert nacl_decides(ledger, False, "tcp", 8444, first_host("payments")) == "deny"  # the flow's port only
    # and the way out of payments, in payments' NACL: to the ledger's subnets only
    payments = group_nacl(topo, groups["payments"])
    assert nacl_decides(payments, True, "tcp", 8443, first_host("ledger")) == "allow"
    assert nacl_decides(payments, True, "tcp", 8443, first_host("ingress")) == "deny"


# --- the policy pack's range helpers


@pytest.mark.parametrize(("cidr", "world"), [
    ("0.0.0.0/0", True),
    ("::/0", True),
    ("0.0.0.0/1", True),  # half the internet
    ("128.0.0.0/1", True),
    ("11.0.0.0/7", True),  # wider than a registry's /8
    ("11.0.0.0/8", False),  # the widest range that is not the world
    ("8.8.8.0/24", False),
    ("10.0.0.0/8", False),  # private
    ("10.0.0.0/7", True),  # 10/7 reaches 11/8: not private
    ("2000::/3", True),
    ("2001:db8::/32", False),
    ("2001:db8::/31", True),
    ("fd00::/7", False),  # unique local
    ("::ffff:0.0.0.0/96", True),  # an IPv4-mapped world is the world
    ("not a cidr", False),
])  # fmt: skip
def test_world_like_is_the_internet_however_it_is_written(cidr, world):
    assert common.world_like(common.network(cidr)) == world


@pytest.mark.parametrize(("a", "b", "overlap"), [
    ("10.40.0.0/16", "10.40.0.0/16", True),
    ("10.40.0.0/16", "10.40.5.0/24", True),  # a's part of b
    ("10.40.5.0/24", "10.40.0.0/16", True),  # b's part of a: an overlap, not a subset check
    ("10.0.0.0/8", "10.40.5.7/32", True),
    ("10.40.0.0/16", "10.41.0.0/16", False),  # neighbours
    ("10.40.0.0/24", "10.40.1.0/24", False),
    ("0.0.0.0/0", "10.40.0.0/16", True),
    ("::/0", "10.40.0.0/16", False),  # another family
    ("::ffff:10.40.0.0/112", "10.40.0.0/16", True),  # IPv4-mapped: read as the IPv4 range
])  # fmt: skip
def test_overlaps_is_any_shared_address_in_either_direction(a, b, overlap):
    assert common.overlaps(common.network(a), common.network(b)) == overlap
    assert common.overlaps(common.network(b), common.network(a)) == overlap


def test_overlaps_of_an_unreadable_range_is_false():
    assert common.overlaps(None, ipaddress.ip_network("10.0.0.0/8")) is False


@pytest.mark.parametrize(("value", "net"), [
    ("10.40.0.0/16", "10.40.0.0/16"),
    (" 10.40.1.7/16 ", "10.40.0.0/16"),  # host bits and spaces: the range
    ("10.40.1.7", "10.40.1.7/32"),
    ("::ffff:10.40.0.0/112", "10.40.0.0/16"),
    ("::ffff:10.40.0.0/80", "::/80"),  # wider than the mapped block: an IPv6 range
    ("2001:db8::/112", "2001:db8::/112"),  # a narrow IPv6 range that is not IPv4-mapped stays IPv6
    ("10.40.0.0/33", None),
    (None, None),
    (42, None),
])  # fmt: skip
def test_network_reads_a_range_or_gives_none(value, net):
    got = common.network(value)
    assert got == (None if net is None else ipaddress.ip_network(net))


@pytest.mark.parametrize(("value", "n"), [(443, 443), (443.0, 443), ("443", 443), ("-1", -1), (True, None), ("x", None), (float("nan"), None), (None, None), ("X1", None)])
def test_number_reads_ports_as_the_engine_hands_them(value, n):
    assert common.number(value) == n
