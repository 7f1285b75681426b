"""Egress without the internet: VPC endpoints for image pulls and the AWS APIs the nodes call, the
corporate proxy as the only other way out, and no security-group egress to 0.0.0.0/0 from prod or
the managers. The plan (pure), validation, and the program under the SDK's mocks."""

from __future__ import annotations

import ipaddress

import pytest

from interlock_platform.core import firewall_plan
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.model import WORLD, endpoint_sg
from interlock_platform.core.topology import parse_environment, parse_shared
from tests.conftest import raw, reference_shared, refused_dev, shared_outputs

INTERFACE = ("ecr.api", "ecr.dkr", "logs", "sts")
PROXY = ("192.0.2.64/27", 3128)


def env(stack: str):
    return parse_environment(stack, raw(stack), shared_outputs())


def world_egress(rules) -> list:
    return [r for r in rules if r.direction == "egress" and r.peer.kind == "cidr" and ipaddress.ip_network(r.peer.value).prefixlen == 0]


# --------------------------------------------------------------------------------------------
# The plan


def test_the_reference_lists_every_endpoint_and_the_registry_carries_them():
    shared = reference_shared()
    assert shared.vpc_endpoints == ("ecr.api", "ecr.dkr", "s3", "logs", "sts")
    assert shared.interface_endpoints == INTERFACE and shared.s3_gateway
    assert env("prod").shared.vpc_endpoints == shared.vpc_endpoints  # read back through the registry


def test_each_endpoint_group_admits_443_only_from_the_managers_and_each_environments_workers():
    projected = firewall_plan.projected_management_rules(reference_shared())
    for service in INTERFACE:
        rules = projected[endpoint_sg(service)]
        assert {(r.direction, r.protocol, r.from_port, r.to_port) for r in rules} == {("ingress", "tcp", 443, 443)}
        assert sorted(r.peer.value for r in rules) == ["management", "workers:dev", "workers:prod", "workers:test"]
        assert all(r.peer.kind == "sg" for r in rules)  # no CIDR: never the world, never a whole range


def test_the_managers_leave_the_vpc_only_through_the_endpoints_s3_and_the_proxy():
    shared = reference_shared()
    rules = firewall_plan.management_sg_rules(shared)
    assert world_egress(rules) == []
    out = {(r.peer.kind, r.peer.value, r.from_port) for r in rules if r.direction == "egress"}
    assert out == {("sg", endpoint_sg(s), 443) for s in INTERFACE} | {("prefixList", "s3", 443), ("cidr", PROXY[0], PROXY[1])}
    beyond = [e for e in firewall_plan.management_nacl(shared) if e.egress and not ipaddress.ip_network(e.cidr).subnet_of(shared.vpc_cidr)]
    # S3's addresses are public and a NACL cannot name a prefix list: HTTPS beyond the VPC, the proxy, admin replies
    assert {(e.cidr, e.from_port, e.to_port) for e in beyond if e.cidr in (WORLD, PROXY[0])} == {(WORLD, 443, 443), (PROXY[0], 3128, 3128)}


def test_without_endpoints_the_managers_keep_https_to_the_internet():
    """The default: a shared stack that lists no endpoints behaves as before."""
    cfg = {k: v for k, v in raw("shared").items() if k not in ("vpcEndpoints", "managementInternetEgress", "proxy")}
    shared = parse_shared("shared", cfg)
    rules = firewall_plan.management_sg_rules(shared)
    assert [(r.from_port, r.peer.value) for r in world_egress(rules)] == [(443, WORLD)]
    assert not any(r.peer.kind == "prefixList" or r.peer.value.startswith("endpoint:") for r in rules)
    assert set(firewall_plan.projected_management_rules(shared)) == {"management", "management-peers"}


def test_prods_workers_reach_no_internet_address():
    prod = env("prod")
    groups = firewall_plan.environment_security_groups(prod)
    assert [r for rules in groups.values() for r in world_egress(rules)] == []
    workers_out = {(r.peer.kind, r.peer.value, r.from_port) for r in groups["workers"] if r.direction == "egress" and r.peer.kind != "sg"}
    assert workers_out == {("prefixList", "s3", 443), ("cidr", PROXY[0], PROXY[1])}
    assert {r.peer.value for r in groups["workers"] if r.direction == "egress" and r.peer.value.startswith("endpoint:")} == {
        endpoint_sg(s) for s in INTERFACE
    }
    # the holes prod punches in the endpoints' groups are its workers' only
    for service in INTERFACE:
        assert [(r.peer.value, r.from_port) for r in groups[endpoint_sg(service)]] == [("workers:prod", 443)]


def test_prods_nacls_admit_https_beyond_the_vpc_for_s3_and_the_proxy_nothing_else():
    prod = env("prod")
    for group, entries in firewall_plan.group_nacls(prod).items():
        beyond = {(e.protocol, e.from_port, e.to_port, e.cidr) for e in entries if e.egress and e.action == "allow"
                  and not ipaddress.ip_network(e.cidr).subnet_of(prod.shared.vpc_cidr)}  # fmt: skip
        assert beyond == {("tcp", 443, 443, WORLD), ("tcp", 3128, 3128, PROXY[0])}, group


def test_dev_keeps_https_to_the_internet_because_its_stack_lists_it():
    dev = env("dev")
    assert [(r.from_port, r.peer.value) for r in world_egress(firewall_plan.environment_security_groups(dev)["workers"])] == [(443, WORLD)]
    # and S3 needs no NACL entry of its own there: the listed egress already holds it
    entries = firewall_plan.environment_nacl(dev) if not firewall_plan.isolates_groups(dev) else firewall_plan.group_nacls(dev)["ledger"]
    assert sum(1 for e in entries if e.egress and e.cidr == WORLD) == 1


def test_the_endpoint_rules_count_against_the_quota():
    """Validation counts what the plan holds: the workers SG carries the endpoints' rules."""
    prod = env("prod")
    before = len([r for r in firewall_plan.environment_security_groups(prod)["workers"] if r.direction == "egress"])
    shared = shared_outputs()  # as the registry carries it, with a quota one rule short
    shared["awsQuotas"]["securityGroupRulesPerDirection"] = before - 1
    with pytest.raises(InvalidConfig) as err:
        parse_environment("prod", raw("prod"), shared)
    assert any("workers security group would hold" in p.message for p in err.value.problems), err.value.problems


# --------------------------------------------------------------------------------------------
# Validation


def test_a_proxy_needs_both_its_address_and_its_port():
    problems = refused_dev({**raw("dev"), "proxy": {"cidr": "192.0.2.64/27"}})
    assert "proxy.port" in problems and "is not set" in problems["proxy.port"]


def test_a_proxy_is_not_the_internet_nor_another_environment():
    assert "proxy.cidr" in refused_dev({**raw("dev"), "proxy": {"cidr": "0.0.0.0/0", "port": 3128}})
    problems = refused_dev({**raw("dev"), "proxy": {"cidr": "10.40.200.10/32", "port": 3128}})
    assert "environment 'prod'" in problems["proxy.cidr"]


def test_an_endpoint_is_listed_once_and_must_be_known():
    for listed, key, what in ((["ecr.api", "ecr.api"], "vpcEndpoints[1]", "listed twice"), (["ecr.api", "ssm"], "vpcEndpoints[1]", "not a VPC endpoint")):
        with pytest.raises(InvalidConfig) as err:
            parse_shared("shared", {**raw("shared"), "vpcEndpoints": listed})
        assert [(p.key, what in p.message) for p in err.value.problems] == [(key, True)], err.value.problems


# --------------------------------------------------------------------------------------------
# The program, under the SDK's mocks


def endpoints_of(run):
    return run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")


def test_the_shared_stack_owns_the_interface_endpoints_each_behind_its_own_group(preview):
    run = preview("shared").run
    by_id = {r.id: r for r in run.of_type("aws:ec2/subnet:Subnet")}  # mock ids repeat across types
    interface = [e for e in endpoints_of(run) if e.inputs["vpcEndpointType"] == "Interface"]
    assert sorted(e.inputs["serviceName"] for e in interface) == sorted(f"com.amazonaws.eu-west-1.{s}" for s in INTERFACE)
    groups = [e.inputs["securityGroupIds"] for e in interface]
    assert all(len(g) == 1 for g in groups) and len({g[0] for g in groups}) == len(INTERFACE)  # one group each
    for e in interface:
        assert e.inputs["privateDnsEnabled"] is True
        assert sorted(by_id[s].inputs["cidrBlock"] for s in e.inputs["subnetIds"]) == ["10.40.0.0/24", "10.40.1.0/24", "10.40.2.0/24"]
    group_ids = {g[0] for g in groups}
    on_them = [r for r in run.resources if r.type.startswith("aws:vpc/securityGroup") and r.inputs["securityGroupId"] in group_ids]
    assert {(r.type.rsplit(":", 1)[-1], r.inputs["fromPort"], r.inputs.get("cidrIpv4")) for r in on_them} == {("SecurityGroupIngressRule", 443, None)}
    mgmt = next(r for r in run.resources if r.name == "shared-fw-management")
    assert {r.inputs["referencedSecurityGroupId"] for r in on_them} == {mgmt.id}
    exported = run.outputs["vpcEndpointSecurityGroupIds"]
    assert set(exported) == set(INTERFACE) and set(exported.values()) == group_ids


def test_each_stack_attaches_its_own_route_tables_to_its_own_s3_gateway(preview):
    for stack in ("shared", "prod"):
        run = preview(stack).run
        gateways = [e for e in endpoints_of(run) if e.inputs["vpcEndpointType"] == "Gateway"]
        assert [g.inputs["serviceName"] for g in gateways] == ["com.amazonaws.eu-west-1.s3"]
        # every private subnet's route table (the edge's routes to the internet gateway and holds no node)
        own = {r.id for r in run.of_type("aws:ec2/routeTable:RouteTable") if r.inputs["tags"].get("tier") != "edge"}
        assert len(own) == (3 if stack == "shared" else 12)
        assert set(gateways[0].inputs["routeTableIds"]) == own and own


def test_prods_rules_send_to_the_endpoints_by_group_and_to_s3_by_its_prefix_list(preview):
    run = preview("prod").run
    egress = run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert not [r.name for r in egress if r.inputs.get("cidrIpv4") == WORLD]
    (gateway,) = endpoints_of(run)
    s3 = [r for r in egress if r.inputs.get("prefixListId")]
    assert [r.inputs["prefixListId"] for r in s3] == [gateway.state["prefixListId"]] and s3[0].inputs["fromPort"] == 443
    endpoint_groups = set(preview("shared").run.outputs["vpcEndpointSecurityGroupIds"].values())
    ingress = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    workers = next(r for r in run.resources if r.name == "prod-fw-workers")
    holes = [r for r in ingress if r.inputs["securityGroupId"] in endpoint_groups]
    assert len(holes) == len(INTERFACE) and {r.inputs["referencedSecurityGroupId"] for r in holes} == {workers.id}
