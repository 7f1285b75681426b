"""The pure model: the reference stacks are valid, and a corpus of bad configs is refused with
one precise message per problem, naming the stack, the key and the fix."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest

from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.model import covering_block
from interlock_platform.core.topology import parse_environment, parse_shared, shared_stack_name, stack_role
from tests.conftest import ENVIRONMENTS, raw, reference_shared, shared_outputs


def test_reference_shared_stack_is_valid():
    shared = reference_shared()
    assert shared.availability_zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    ports = {n: (e.http_port, e.https_port) for n, e in shared.environments.items()}
    assert ports == {"dev": (8082, 8445), "test": (8081, 8444), "prod": (8080, 8443)}
    assert {n: e.collection for n, e in shared.environments.items()} == {"dev": "/dev", "test": "/test", "prod": "/prod"}
    assert str(shared.management_block) == "10.40.0.0/22"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_reference_environments_are_valid(env):
    topo = parse_environment(env, raw(env), shared_outputs())
    assert topo.name == env
    assert len(topo.application_groups) >= 2
    assert len({n.availability_zone for n in topo.ingress_nodes}) >= 2
    for _group, subnet in topo.subnets:
        assert subnet.cidr.subnet_of(topo.env.cidr)
    assert topo.load_balancer.deletion_protection is (env == "prod")


def test_subnets_are_carved_per_zone_from_the_environment_block():
    topo = parse_environment("dev", raw("dev"), shared_outputs())
    payments = next(g for g in topo.application_groups if g.name == "payments")
    assert [(s.availability_zone, str(s.cidr)) for s in payments.subnets] == [
        ("eu-west-1a", "10.40.68.0/22"),
        ("eu-west-1b", "10.40.72.0/22"),
        ("eu-west-1c", "10.40.76.0/22"),
    ]


def test_config_strings_decode_like_the_engine_sends_them():
    # The engine hands objects and lists over as JSON strings, scalars as strings.
    import json

    cfg = {k: (json.dumps(v) if not isinstance(v, str) else v) for k, v in raw("shared").items()}
    cfg["calicoIpInIp"] = "false"
    cfg["flowLogRetentionDays"] = "365"
    assert parse_shared("shared", cfg) == reference_shared()


def test_covering_block():
    nets = [ipaddress.ip_network(c) for c in ("10.40.0.0/24", "10.40.1.0/24", "10.40.2.0/24")]
    assert str(covering_block(nets)) == "10.40.0.0/22"


# --------------------------------------------------------------------------------------------
# The corpus of bad configs. Each case mutates a reference stack and names the key (and a
# fragment of the message) that the refusal must carry.

Mutation = Callable[[dict[str, Any]], None]


def assert_refused(err: InvalidConfig, stack: str, key: str, fragment: str) -> None:
    """One problem names the key and says the fragment, as `stack '<s>': <ns>:<key>: ... Fix: ...`."""
    matching = [p for p in err.problems if p.key == key and fragment in str(p)]
    assert matching, f"no problem for {key} containing {fragment!r}: {err}"
    text = str(matching[0])
    assert text.startswith(f"stack '{stack}': interlock-platform:{key}: ")
    assert "Fix: " in text and matching[0].fix


def _set(path: str, value: Any) -> Mutation:
    def mutate(cfg: dict[str, Any]) -> None:
        node: Any = cfg
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()

SHARED_CASES: dict[str, tuple[Mutation, str, str]] = {
    "overlapping environment CIDRs": (
        _set("environments.test.cidr", "10.40.96.0/19"),
        "environments.test.cidr",
        "overlaps environment 'dev'",
    ),
    "environment CIDR outside the VPC": (
        _set("environments.prod.cidr", "10.41.0.0/18"),
        "environments.prod.cidr",
        "outside the VPC",
    ),
    "management subnet outside the VPC": (_set("managementCidrs.0", "172.16.0.0/24"), "managementCidrs[0]", "outside the VPC"),
    "environment inside the management VLAN": (
        _set("environments.dev.cidr", "10.40.2.0/24"),
        "environments.dev.cidr",
        "overlaps managementCidrs[2]",
    ),
    "Interlock ports collide between environments": (
        _set("environments.test.httpsPort", 8445),
        "environments.test.httpsPort",
        "already the httpsPort of environment 'dev'",
    ),
    "Interlock port is a UCP port": (_set("environments.dev.httpPort", 12376), "environments.dev.httpPort", "used by UCP itself"),
    "Interlock port is the swarm port": (
        _set("environments.dev.httpsPort", 2377),
        "environments.dev.httpsPort",
        "Swarm cluster management",
    ),
    "zones and subnets do not match": (
        _set("managementCidrs", ["10.40.0.0/24", "10.40.1.0/24"]),
        "managementCidrs",
        "2 subnets for 3 availability zones",
    ),
    "malformed CIDR": (_set("vpcCidr", "10.40.0.0/33"), "vpcCidr", "is not an IPv4 CIDR"),
    "CIDR with host bits": (_set("edgeCidrs.1", "10.40.5.7/24"), "edgeCidrs[1]", "host bits set"),
    "VPC larger than AWS allows": (_set("vpcCidr", "10.0.0.0/8"), "vpcCidr", "AWS VPCs are /16 to /28"),
    "malformed availability zone": (_set("availabilityZones.2", "west-1c"), "availabilityZones[2]", "not an availability zone"),
    "zones of two regions": (_set("availabilityZones.2", "eu-central-1c"), "availabilityZones", "several regions"),
    "admin access from the world": (_set("adminCidrs", ["0.0.0.0/0"]), "adminCidrs[0]", "whole internet"),
    "unknown UCP release": (_set("ucpVersion", "3.5"), "ucpVersion", "has no port table"),
    "management SG over its rule quota": (
        _set("adminCidrs", [f"192.0.2.{16 * i}/28" for i in range(10)]),
        "environments",
        "68 ingress rules with every environment deployed (20 for adminCidrs and egress, 16 for dev, 16 for test, 16 for prod)",
    ),
    "environments' subnets over the VPC quota": (
        _set("environments.dev.maxSubnets", 199),
        "environments",
        "exceed the 200 subnets AWS allows per VPC",
    ),
    "misspelt key": (_set("vpcCider", "10.40.0.0/16"), "vpcCider", "did you mean 'vpcCidr'"),
    "environment key in the shared stack": (_set("domain", "example.com"), "domain", "belongs to environment stacks"),
    "misspelt registry field": (_set("environments.dev.httpport", 1), "environments.dev.httpport", "did you mean 'httpPort'"),
    "collection label value with a slash": (
        _set("environments.dev.collectionNodeSelector", "collection=/dev"),
        "environments.dev.collectionNodeSelector",
        "values cannot contain '/'",
    ),
    "two environments in one collection": (
        _set("environments.test.collection", "/dev"),
        "environments.test.collection",
        "already the collection of 'dev'",
    ),
    "NAT layout": (_set("natGateways", "some"), "natGateways", "not a NAT layout"),
}


@pytest.mark.parametrize("case", SHARED_CASES, ids=list(SHARED_CASES))
def test_bad_shared_config_is_refused(case):
    mutate, key, fragment = SHARED_CASES[case]
    cfg = raw("shared")
    mutate(cfg)
    with pytest.raises(InvalidConfig) as err:
        parse_shared("shared", cfg)
    assert_refused(err.value, "shared", key, fragment)


ENV_CASES: dict[str, tuple[Mutation, str, str]] = {
    "environment unknown to the registry": (_set("environment", "qa"), "environment", "not in the shared stack's registry"),
    "ingress node in a zone without subnets": (
        _set("ingressNodes.0.availabilityZone", "eu-west-1d"),
        "ingressNodes[0].availabilityZone",
        "has no subnet",
    ),
    "duplicate hostname": (
        _set("ingressNodes.1.hostname", "ip-10-40-64-10.eu-west-1.compute.internal"),
        "ingressNodes[1].hostname",
        "already ingressNodes[0]",
    ),
    "duplicate instance id": (
        _set("ingressNodes.1.instanceId", "i-0a1b2c3d4e5f6a001"),
        "ingressNodes[1].instanceId",
        "already ingressNodes[0]",
    ),
    "malformed instance id": (
        _set("ingressNodes.0.instanceId", "i-12345"),
        "ingressNodes[0].instanceId",
        "not an EC2 instance id",
    ),
    "malformed hostname": (_set("ingressNodes.0.hostname", "node_1!"), "ingressNodes[0].hostname", "not a valid hostname"),
    "ingress node in another environment's VLAN": (
        _set("ingressNodes.0.hostname", "ip-10-40-192-10.eu-west-1.compute.internal"),
        "ingressNodes[0].hostname",
        "belongs to environment 'prod'",
    ),
    "ingress node listed in the wrong zone": (
        _set("ingressNodes.0.availabilityZone", "eu-west-1c"),
        "ingressNodes[0].hostname",
        "set its availabilityZone to eu-west-1a",
    ),
    "application groups overlap": (_set("applicationGroups.2.firstSubnet", 2), "applicationGroups[2].firstSubnet", "overlaps"),
    "application group outside the environment": (
        _set("applicationGroups.2.firstSubnet", 14),
        "applicationGroups[2].firstSubnet",
        "do not fit in 10.40.64.0/18",
    ),
    "subnet smaller than AWS allows": (
        _set("applicationGroups.0.prefixLength", 29),
        "applicationGroups[0].prefixLength",
        "smallest AWS subnet",
    ),
    "duplicate application group": (_set("applicationGroups.1.name", "ingress"), "applicationGroups[1].name", "listed twice"),
    "more subnets than this environment's share": (
        _set("applicationGroups", [{"name": f"g{i}", "prefixLength": 28, "firstSubnet": 3 * i} for i in range(22)]),
        "applicationGroups",
        "over this environment's share of 64",
    ),
    "load balancer SG over its rule quota": (
        _set("loadBalancer", {"clientCidrs": [f"203.0.113.{8 * i}/29" for i in range(31)]}),
        "loadBalancer.clientCidrs",
        "over the AWS quota of 60",
    ),
    "NACL over its entry quota": (
        _set(
            "egress",
            [
                {"description": f"partner {i}", "cidr": f"198.51.100.{16 * i}/28", "protocol": "tcp", "port": 443}
                for i in range(12)
            ],
        ),
        "egress",
        "outbound entries, over the quota of 20",
    ),
    "egress into another environment": (
        _set("egress.0", {"description": "test db", "cidr": "10.40.130.0/24", "protocol": "tcp", "port": 5432}),
        "egress[0].cidr",
        "reaches environment 'test'",
    ),
    "egress description EC2 refuses": (
        _set("egress.0.description", "the team's registry"),
        "egress[0].description",
        'would be refused by EC2: it may not contain "\'"',
    ),
    "all-protocol egress": (_set("egress.0.protocol", "-1"), "egress[0].protocol", "never allowed from workers"),
    "NTP to the whole internet": (
        _set("egress.0", {"description": "NTP", "cidr": "0.0.0.0/0", "protocol": "udp", "port": 123}),
        "egress[0].cidr",
        "may reach it on TCP 80 or 443 only, not udp 123",
    ),
    "every TCP port to half the internet": (
        _set("egress.0", {"description": "anything", "cidr": "0.0.0.0/1", "protocol": "tcp", "fromPort": 1, "toPort": 65535}),
        "egress[0].cidr",
        "not tcp 1-65535",
    ),
    "load balancer clients from another environment": (
        _set("loadBalancer", {"clientCidrs": ["10.40.192.0/18"]}),
        "loadBalancer.clientCidrs[0]",
        "admits environment 'prod'",
    ),
    "malformed domain": (_set("domain", "Dev Apps"), "domain", "not a DNS name"),
    "a number for a domain": (_set("domain", "65535"), "domain", "not a DNS name"),
    "malformed hosted zone": (_set("hostedZoneId", "zone-1"), "hostedZoneId", "not a Route 53 hosted zone id"),
    "shared key in an environment stack": (_set("vpcCidr", "10.40.0.0/16"), "vpcCidr", "belongs to the shared stack"),
    "misspelt key": (_set("ingresNodes", []), "ingresNodes", "did you mean 'ingressNodes'"),
    "unknown scheme": (_set("loadBalancer", {"scheme": "public"}), "loadBalancer.scheme", "not a load balancer scheme"),
    "missing domain": (_set("domain", _DELETE), "domain", "is not set"),
}


@pytest.mark.parametrize("case", ENV_CASES, ids=list(ENV_CASES))
def test_bad_environment_config_is_refused(case):
    mutate, key, fragment = ENV_CASES[case]
    cfg = raw("dev")
    mutate(cfg)
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    assert_refused(err.value, "dev", key, fragment)


def test_every_problem_is_listed_not_just_the_first():
    cfg = raw("dev")
    cfg["domain"] = "bad domain"
    cfg["ingressNodes"][0]["instanceId"] = "nope"
    cfg["applicationGroups"][0]["prefixLength"] = 30
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    assert {"domain", "ingressNodes[0].instanceId", "applicationGroups[0].prefixLength"} <= {p.key for p in err.value.problems}


def test_missing_role_names_the_key():
    with pytest.raises(InvalidConfig) as err:
        stack_role("dev", {})
    assert err.value.problems[0].key == "role"


def test_malformed_shared_stack_reports_the_other_problems_too():
    cfg = raw("dev")
    cfg["sharedStack"] = "shared"
    cfg["domain"] = "Not A Domain"
    with pytest.raises(InvalidConfig) as err:
        shared_stack_name("dev", cfg)
    assert {"sharedStack", "domain"} <= {p.key for p in err.value.problems}


def test_an_environment_whose_shared_outputs_are_broken_says_so():
    outputs = shared_outputs()
    outputs["environments"]["dev"]["httpsPort"] = "x"
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", raw("dev"), outputs)
    assert any(p.key == "sharedStack" and "httpsPort" in p.message for p in err.value.problems)


def test_ucp_3_7_with_raised_quota_is_accepted():
    cfg = raw("shared")
    cfg["ucpVersion"] = "3.7"
    shared = parse_shared("shared", cfg)
    assert shared.ucp_version == "3.7"


@pytest.mark.parametrize(
    ("release", "setting", "ip_in_ip"),
    [("3.9", None, False), ("3.8", None, False), ("3.7", None, False), ("3.2", None, True), ("3.0", None, True),
     ("3.9", True, True), ("3.9", False, False), ("3.2", False, True)],
)  # fmt: skip
def test_calico_ip_in_ip_follows_the_release_unless_chosen(release, setting, ip_in_ip):
    """MKE's Calico default is VXLAN, UCP 3.x's was IP-in-IP: unset (or false, the declared
    default the CLI merges in) takes the release's; true opens IP protocol 4 on any release."""
    cfg = raw("shared")
    cfg["ucpVersion"] = release
    cfg.pop("calicoIpInIp", None)
    if setting is not None:
        cfg["calicoIpInIp"] = setting
    assert parse_shared("shared", cfg).calico_ip_in_ip is ip_in_ip
