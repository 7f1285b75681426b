"""The program under Pulumi's mock runtime, for each stack: what it registers, and that the
environments cannot reach each other."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
from collections import Counter

import pytest

from interlock_platform.core.topology import parse_shared
from interlock_platform.stack_config import InvalidStackConfig
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor, run_program
from interlock_platform.tooling.preview import to_json
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import ENVIRONMENTS, SHARED_REF, full_config, raw, reference_shared

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
WORLD = {"0.0.0.0/0", "::/0"}

# Transcribed from Mirantis' documentation of the reference release, MKE 3.9 (not from
# interlock_platform/core/ports.py), so a wrong port table fails here: the 3.7 "Open ports" page's
# internal rows (9055 managers; 9091, 9100 managers and workers) and the 3.9 `install` reference's
# list for joining nodes (179, 443, 2376, 2377, 6443, 10250, 12376, 12379-12388, 12390; UDP 4789,
# TCP/UDP 7946). 12379-12388 are one rule (all manager ports). Calico VXLAN (MKE's default): no
# IP protocol 4; ESP (50) for encrypted overlays.
MANAGER_PORTS_FROM_WORKERS = {
    ("tcp", 179, 179), ("tcp", 443, 443), ("tcp", 2376, 2376), ("tcp", 2377, 2377), ("tcp", 6443, 6443),
    ("tcp", 9055, 9055), ("tcp", 9091, 9091), ("tcp", 9100, 9100),
    ("tcp", 10250, 10250), ("tcp", 12376, 12376), ("tcp", 12379, 12388), ("tcp", 12390, 12390),
    ("udp", 4789, 4789), ("tcp", 7946, 7946), ("udp", 7946, 7946), ("50", 0, 0),
}  # fmt: skip
WORKER_PORTS_FROM_MANAGERS = {
    ("tcp", 179, 179), ("udp", 4789, 4789), ("tcp", 7946, 7946), ("udp", 7946, 7946),
    ("tcp", 9091, 9091), ("tcp", 9100, 9100), ("tcp", 10250, 10250), ("tcp", 12376, 12376), ("50", 0, 0),
}  # fmt: skip


def sg_ids(run, suffix):
    return {r.id for r in run.of_type(SG) if r.name.endswith(suffix)}


def rules(run, type_=None):
    types = (type_,) if type_ else (INGRESS, EGRESS)
    return [r for r in run.resources if r.type in types]


def proto_ports(rule):
    i = rule.inputs
    return (i["ipProtocol"], i.get("fromPort"), i.get("toPort"))


def test_shared_stack_resources(preview):
    run = preview("shared").run
    counts = Counter(r.type for r in run.resources if r.custom)
    azs = len(reference_shared().availability_zones)
    assert counts["aws:ec2/vpc:Vpc"] == 1
    assert counts["aws:ec2/subnet:Subnet"] == 2 * azs
    assert counts["aws:ec2/natGateway:NatGateway"] == azs
    assert counts["aws:ec2/flowLog:FlowLog"] == 1
    assert counts["aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"] == 1
    endpoints = reference_shared().interface_endpoints
    assert counts[SG] == 2 + len(endpoints)  # management, its peers, one per interface VPC endpoint
    admins = len(reference_shared().admin_cidrs)
    # admins on 443/6443, managers among themselves on the manager ports, managers to each interface endpoint
    assert counts[INGRESS] == 2 * admins + len(MANAGER_PORTS_FROM_WORKERS) + len(endpoints)
    default_sg = run.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")[0]
    assert default_sg.inputs["ingress"] == [] and default_sg.inputs["egress"] == []
    for subnet in run.of_type("aws:ec2/subnet:Subnet"):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    assert run.of_type("aws:ec2/vpc:Vpc")[0].inputs["enableDnsSupport"] is True
    assert run.of_type("aws:ec2/flowLog:FlowLog")[0].inputs["trafficType"] == "ALL"


def test_single_nat_gateway_by_config():
    run = run_program("shared", full_config("shared", natGateways="single"))
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 1
    routes = [r for r in run.of_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert {r.inputs["natGatewayId"] for r in routes} == {nats[0].id}


def test_management_sg_admits_only_admins_from_outside(preview):
    run = preview("shared").run
    mgmt = sg_ids(run, "-management")
    admin = {str(c) for c in reference_shared().admin_cidrs}
    outside = [r for r in rules(run, INGRESS) if r.inputs["securityGroupId"] in mgmt and "cidrIpv4" in r.inputs]
    assert {(r.inputs["cidrIpv4"], r.inputs["fromPort"]) for r in outside} == {(c, p) for c in admin for p in (443, 6443)}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_resources(preview, env):
    run = preview(env).run
    cfg = raw(env)
    counts = Counter(r.type for r in run.resources if r.custom)
    subnets = len(cfg["applicationGroups"]) * 3
    assert counts["aws:ec2/subnet:Subnet"] == subnets
    assert counts["aws:ec2/routeTable:RouteTable"] == subnets
    assert counts["aws:ec2/networkAclAssociation:NetworkAclAssociation"] == subnets
    # isolation: applicationGroup gives each group a NACL and a security group of its own
    per_group = len(cfg["applicationGroups"]) if cfg.get("isolation") == "applicationGroup" else 0
    assert counts["aws:ec2/networkAcl:NetworkAcl"] == (per_group or 1)
    assert counts[SG] == 2 + per_group
    assert counts["aws:lb/loadBalancer:LoadBalancer"] == 1
    assert counts["aws:lb/listener:Listener"] == 2
    assert counts["aws:lb/targetGroupAttachment:TargetGroupAttachment"] == 2 * len(cfg["ingressNodes"])
    assert counts["aws:route53/record:Record"] == 1
    for group in cfg["applicationGroups"]:
        assert len(run.outputs["applicationGroupSubnetIds"][group["name"]]) == 3


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_management_environment_rules_are_exactly_the_ucp_ports(preview, env):
    p = preview(env)
    run = p.run
    mgmt = p.shared.outputs["managementSecurityGroupId"]
    workers = sg_ids(run, "-workers")
    assert len(workers) == 1
    (workers_id,) = workers

    def between(type_, sg, peer):
        return [
            r
            for r in rules(run, type_)
            if r.inputs["securityGroupId"] == sg and r.inputs.get("referencedSecurityGroupId") == peer
        ]

    assert {proto_ports(r) for r in between(INGRESS, mgmt, workers_id)} == MANAGER_PORTS_FROM_WORKERS
    assert {proto_ports(r) for r in between(INGRESS, workers_id, mgmt)} == WORKER_PORTS_FROM_MANAGERS
    assert {proto_ports(r) for r in between(EGRESS, workers_id, mgmt)} == MANAGER_PORTS_FROM_WORKERS
    assert {proto_ports(r) for r in between(EGRESS, mgmt, workers_id)} == WORKER_PORTS_FROM_MANAGERS
    # one resource per rule, none duplicated
    assert len(between(INGRESS, mgmt, workers_id)) == len(MANAGER_PORTS_FROM_WORKERS)


def test_all_protocol_rules_only_between_workers_themselves(preview, any_stack):
    p = preview(any_stack)
    management = sg_ids(p.shared, "-management") | sg_ids(p.shared, "-management-peers")
    assert management, "the shared stack's management groups"
    all_protocols = [r for r in rules(p.run) if r.inputs["ipProtocol"] == "-1"]
    for r in all_protocols:
        assert r.inputs.get("referencedSecurityGroupId") == r.inputs["securityGroupId"], r.name
        assert "fromPort" not in r.inputs and "toPort" not in r.inputs
        assert r.inputs["securityGroupId"] not in management, r.name
    # each application group's workers talk among themselves on every protocol (the env stacks)
    workers = {r.id for r in p.run.of_type(SG) if "-group-" in r.name or r.name.endswith("-workers")}
    assert bool(all_protocols) == (any_stack != "shared") and {r.inputs["securityGroupId"] for r in all_protocols} <= workers


def test_no_world_ingress_on_worker_or_management_groups(preview, any_stack):
    p = preview(any_stack)
    run = p.run
    protected = sg_ids(run, "-workers") | sg_ids(p.shared, "-management") | sg_ids(p.shared, "-management-peers")
    lb = sg_ids(run, "-lb")
    for r in rules(run, INGRESS):
        world = r.inputs.get("cidrIpv4") in WORLD or r.inputs.get("cidrIpv6") in WORLD
        if not world:
            continue
        assert r.inputs["securityGroupId"] not in protected, r.name
        assert r.inputs["securityGroupId"] in lb and r.inputs["fromPort"] in (80, 443), r.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_listeners_forward_to_the_environment_proxy_ports(preview, env):
    run = preview(env).run
    registry = reference_shared().environments[env]
    groups = {r.state["arn"]: r for r in run.of_type("aws:lb/targetGroup:TargetGroup")}
    mapping = {}
    for listener in run.of_type("aws:lb/listener:Listener"):
        (action,) = listener.inputs["defaultActions"]
        assert action["type"] == "forward" and listener.inputs["protocol"] == "TCP"
        tg = groups[action["targetGroupArn"]]
        mapping[int(listener.inputs["port"])] = int(tg.inputs["port"])
        assert tg.inputs["healthCheck"]["protocol"] == "TCP" and tg.inputs["healthCheck"]["port"] == "traffic-port"
        assert tg.inputs["targetType"] == "instance" and tg.inputs["preserveClientIp"] == "false"
    assert mapping == {443: registry.https_port, 80: registry.http_port}
    nodes = {n["instanceId"] for n in raw(env)["ingressNodes"]}
    for attachment in run.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment"):
        assert attachment.inputs["targetId"] in nodes
        assert int(attachment.inputs["port"]) == int(groups[attachment.inputs["targetGroupArn"]].inputs["port"])
    (nlb,) = run.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert nlb.inputs["loadBalancerType"] == "network" and nlb.inputs["enableCrossZoneLoadBalancing"] is True
    assert len(nlb.inputs["securityGroups"]) == 1
    assert nlb.inputs["enableDeletionProtection"] is (env == "prod")
    assert run.outputs["loadBalancerDnsName"] == f"{nlb.name}.elb.mock.amazonaws.com"


def test_environment_isolation_keeps_every_aws_resource_and_input_as_before(preview):
    """`isolation: environment` registers exactly what the program registered before group
    isolation existed: the URNs and inputs of dev's AWS resources, recorded from that commit,
    whose reference cluster ran UCP 3.2 with Calico IP-in-IP and no VPC endpoints (the shared
    stack's outputs are set back to that here)."""
    before = json.loads((ROOT / "tests" / "fixtures" / "isolation" / "dev-environment-aws.json").read_text())
    outputs = json.loads(json.dumps(preview("shared").run.outputs))
    outputs.update(ucpVersion="3.2", calicoIpInIp=True, vpcEndpoints=[])  # nor had it VPC endpoints
    groups = [{k: v for k, v in g.items() if k != "allowFrom"} for g in raw("dev")["applicationGroups"]]
    run = run_program("dev", full_config("dev", isolation=None, applicationGroups=groups), {SHARED_REF: outputs})
    recorded = to_json(dataclasses.replace(preview("dev"), run=run, violations=[]))
    now = [{"urn": r["urn"], "inputs": r["inputs"]} for r in recorded["resources"] if r["type"].startswith("aws:")]
    assert [r["urn"] for r in now] == [r["urn"] for r in before]
    assert json.loads(json.dumps(now)) == before


def test_worker_proxy_ports_admit_only_their_own_load_balancer(environment_isolated):
    run = environment_isolated("dev").run
    (workers,) = sg_ids(run, "-workers")
    (lb,) = sg_ids(run, "-lb")
    proxy = [
        r for r in rules(run, INGRESS) if r.inputs["securityGroupId"] == workers and r.inputs.get("fromPort") in (8082, 8445)
    ]
    assert {(r.inputs["fromPort"], r.inputs.get("referencedSecurityGroupId")) for r in proxy} == {(8082, lb), (8445, lb)}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_an_environment_admits_no_other_environment(preview, env):
    """Nothing in one env stack admits another environment's CIDR or security groups, and its
    NACL denies every other environment before any allow that could cover it."""
    run = preview(env).run
    registry = reference_shared().environments
    others = [e.cidr for name, e in registry.items() if name != env]
    other_sgs = set().union(*(sg_ids(preview(o).run, "") for o in ENVIRONMENTS if o != env))
    for r in rules(run):
        cidr = r.inputs.get("cidrIpv4")
        if cidr and cidr not in WORLD:
            assert not any(ipaddress.ip_network(cidr).overlaps(o) for o in others), r.name
        assert r.inputs.get("referencedSecurityGroupId") not in other_sgs, r.name
        assert r.inputs["securityGroupId"] not in other_sgs, r.name
    acls = {r.inputs["networkAclId"] for r in run.of_type(NACL_RULE)}
    for acl, egress in ((acl, egress) for acl in acls for egress in (False, True)):
        entries = [r.inputs for r in run.of_type(NACL_RULE) if r.inputs["networkAclId"] == acl]
        direction = [e for e in entries if bool(e["egress"]) == egress]
        for o in others:
            (deny,) = [e for e in direction if e["cidrBlock"] == str(o)]
            assert deny["ruleAction"] == "deny" and deny["protocol"] == "-1"
            covering = [e for e in direction if e["ruleAction"] == "allow" and ipaddress.ip_network(e["cidrBlock"]).overlaps(o)]
            assert all(e["ruleNumber"] > deny["ruleNumber"] for e in covering)
            assert all(ipaddress.ip_network(e["cidrBlock"]).prefixlen == 0 for e in covering)


def test_the_environment_nacl_admits_the_ucp_ports_from_management_and_proxy_ports_from_the_edge(environment_isolated):
    run = environment_isolated("dev").run
    inbound = [r.inputs for r in run.of_type(NACL_RULE) if not r.inputs["egress"]]
    mgmt = str(reference_shared().management_block)
    from_mgmt = {
        (e["protocol"], e["fromPort"], e["toPort"]) for e in inbound if e["cidrBlock"] == mgmt and e["ruleAction"] == "allow"
    }
    replies = ("tcp", 32768, 60999)  # the nodes' own ephemeral range: no platform port lies in it
    assert from_mgmt == {*WORKER_PORTS_FROM_MANAGERS, replies}
    edge = [e for e in inbound if e["cidrBlock"] == str(reference_shared().edge_block)]
    assert {(e["protocol"], e["fromPort"], e["toPort"]) for e in edge} == {("tcp", 8082, 8082), ("tcp", 8445, 8445)}


def _covers(wide, narrow) -> bool:
    return (
        wide["protocol"] in (narrow["protocol"], "-1")
        and ipaddress.ip_network(narrow["cidrBlock"]).subnet_of(ipaddress.ip_network(wide["cidrBlock"]))
        and (wide["protocol"] == "-1" or wide["fromPort"] <= narrow["fromPort"] <= narrow["toPort"] <= wide["toPort"])
    )


def _shadows(wide, narrow, denies) -> bool:
    """`narrow` decides nothing when `wide` admits all it admits: before it, or after it with no
    deny in between that could have stopped what `narrow` admits (NACLs stop at the first match)."""
    if wide is narrow or not _covers(wide, narrow):
        return False
    if wide["ruleNumber"] < narrow["ruleNumber"]:
        return True
    between = [d for d in denies if narrow["ruleNumber"] < d["ruleNumber"] < wide["ruleNumber"]]
    return not any(
        ipaddress.ip_network(d["cidrBlock"]).overlaps(ipaddress.ip_network(narrow["cidrBlock"]))
        and d["protocol"] in ("-1", narrow["protocol"])
        for d in between
    )


PLATFORM_PORTS = (22, 179, 443, 2376, 2377, 3389, 4789, 6443, 7946, 8080, 8081, 8082, 8443, 8444, 8445, 10250, 12376, 12388)


@pytest.mark.parametrize("stack", ["shared", "dev", "test", "prod"])
def test_no_nacl_admits_a_platform_port_from_the_world_and_no_allow_shadows_another(preview, stack):
    """NACLs are stateless: an allow of TCP 1024-65535 from 0.0.0.0/0 "for replies" admitted every
    platform port (and SSH/RDP, cfn-guard's CT.EC2.PR.5) from anywhere, and made every
    port-specific allow before it moot. Replies from the world (a NAT gateway keeps the internet's
    source address) are admitted on the nodes' ephemeral range only."""
    rules = preview(stack).run.of_type(NACL_RULE)
    for acl in {r.inputs["networkAclId"] for r in rules}:  # each NACL is evaluated on its own
        entries = [r.inputs for r in rules if not r.inputs["egress"] and r.inputs["networkAclId"] == acl]
        inbound = [e for e in entries if e["ruleAction"] == "allow"]
        denies = [e for e in entries if e["ruleAction"] == "deny"]
        from_world = [e for e in inbound if ipaddress.ip_network(e["cidrBlock"]).prefixlen == 0]
        assert from_world and all((e["fromPort"], e["toPort"]) == (32768, 60999) for e in from_world)
        for e in from_world:
            assert not [p for p in PLATFORM_PORTS if e["fromPort"] <= p <= e["toPort"]]
        shadowed = [
            (narrow["ruleNumber"], wide["ruleNumber"]) for narrow in inbound for wide in inbound if _shadows(wide, narrow, denies)
        ]
        assert shadowed == [], acl


TAGGED = {
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup",
    INGRESS, EGRESS, "aws:ec2/networkAcl:NetworkAcl", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
    "aws:ec2/internetGateway:InternetGateway", "aws:ec2/flowLog:FlowLog", "aws:cloudwatch/logGroup:LogGroup",
    "aws:iam/role:Role", "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup", "aws:lb/listener:Listener",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
}  # fmt: skip


def test_nacl_entries_are_replaced_delete_first(preview, any_stack):
    """AWS keys a NACL entry by its number, so a changed entry (another range at the same number)
    is replaced; created first, the replacement collides with the entry it replaces."""
    entries = preview(any_stack).run.of_type(NACL_RULE)
    assert entries and all(r.delete_before_replace for r in entries)


def test_every_taggable_resource_is_tagged(preview, any_stack):
    run = preview(any_stack).run
    env = "shared" if any_stack == "shared" else any_stack
    for r in run.resources:
        if r.type in TAGGED:
            tags = r.inputs.get("tags", {})
            assert tags.get("environment") == env and tags.get("managed-by") and tags.get("stack") == any_stack, r.name


def test_children_are_parented_and_prefixed_by_their_component(preview, any_stack):
    run = preview(any_stack).run
    components = {r.urn: r.name for r in run.resources if not r.custom}
    by_urn = {r.urn: r for r in run.resources}
    for r in run.resources:
        if r.custom:
            owner = r.parent
            while owner in by_urn and by_urn[owner].custom:
                owner = by_urn[owner].parent
            assert owner in components, f"{r.name} is not inside a component"
            assert r.name.startswith(components[owner]), f"{r.name} is not prefixed by {components[owner]}"


def test_shared_outputs_round_trip_into_environment_stacks(preview):
    outputs = preview("shared").run.outputs
    # everything but the UCP connection, which each stack configures for itself
    # the managers' own way out (managementInternetEgress, proxy) stays in the shared stack
    assert parse_shared("shared", outputs, from_outputs=True) == dataclasses.replace(
        reference_shared(), ucp=None, management_internet_egress=True, proxy=None
    )
    for key in ("vpcId", "managementSecurityGroupId", "managementSubnetIds", "edgeSubnetIds", "natGatewayIds", "environments"):
        assert key in outputs


def test_environment_exports_the_app_team_contract(preview):
    outputs = preview("dev").run.outputs
    assert outputs["environment"] == "dev" and outputs["serviceCluster"] == "dev"
    assert outputs["collection"] == "/dev" and (outputs["httpPort"], outputs["httpsPort"]) == (8082, 8445)
    assert outputs["domain"] == "dev.apps.example.com"
    assert set(outputs) >= {
        "loadBalancerDnsName",
        "applicationGroupSubnetIds",
        "workerSecurityGroupId",
        "loadBalancerSecurityGroupId",
    }


@pytest.mark.parametrize(
    ("stack", "overrides", "key"),
    [
        (
            "shared",
            {
                "environments": {
                    "dev": {
                        "cidr": "10.40.64.0/18",
                        "collection": "/dev",
                        "httpPort": 8080,
                        "httpsPort": 2377,
                        "collectionNodeSelector": "a=b",
                        "domain": "dev.apps.example.com",
                    }
                }
            },
            "environments.dev.httpsPort",
        ),
        ("dev", {"environment": "qa"}, "environment"),
        ("dev", {"sharedStack": "not-qualified"}, "sharedStack"),
    ],
)
def test_invalid_config_registers_nothing(preview, stack, overrides, key):
    monitor = RecordingMonitor(PlatformMocks({}))
    with pytest.raises(InvalidStackConfig) as err:
        run_program(stack, full_config(stack, **overrides), {SHARED_REF: preview("shared").run.outputs}, monitor=monitor)
    assert monitor.registrations == []
    assert any(p.key == key for p in err.value.problems)
    assert f"interlock-platform:{key}" in str(err.value)


def test_a_config_over_the_byte_limit_is_refused_before_it_is_parsed(preview):
    """What the CLI hands the program has YAML aliases expanded: one long string aliased a
    thousand times arrives as megabytes. The program refuses it with the limit before it reads
    any value, and registers nothing."""
    monitor = RecordingMonitor(PlatformMocks({}))
    bomb = {**full_config("dev"), "interlock-platform:x-bomb": ["y" * 10_000] * 300}
    with pytest.raises(InvalidStackConfig) as err:
        run_program("dev", bomb, {SHARED_REF: preview("shared").run.outputs}, monitor=monitor)
    assert monitor.registrations == []
    assert "interlock-platform:x-bomb: the stack's config is 3,00" in str(err.value)
    assert "over the limit of 2,097,152 bytes" in str(err.value) and "Fix:" in str(err.value)
    # its benign twin: a large value under the limit (another namespace's, 200 KB) is no problem
    run_program("dev", {**full_config("dev"), "docker:x-note": "c" * 200_000}, {SHARED_REF: preview("shared").run.outputs})


def nacl_decision(entries, egress, address, protocol, port):
    """How AWS evaluates a NACL: the lowest-numbered matching entry decides; none matching, deny."""
    for e in sorted((e for e in entries if bool(e["egress"]) == egress), key=lambda e: e["ruleNumber"]):
        if ipaddress.ip_address(address) not in ipaddress.ip_network(e["cidrBlock"]):
            continue
        if e["protocol"] != "-1" and e["protocol"] != protocol:
            continue
        if protocol in ("tcp", "udp") and e["protocol"] != "-1" and not e["fromPort"] <= port <= e["toPort"]:
            continue
        return e["ruleAction"]
    return "deny"


@pytest.mark.parametrize("registry", ["full", "prod retired from the registry"])
def test_an_environment_left_out_of_the_registry_stays_shut_out(preview, registry):
    """Deleting prod from the shared stack's registry once took the deny of prod's CIDR out of
    every other environment's NACL, and the allows meant for the internet (replies on 32768-60999,
    HTTPS out) then admitted it. Now the rest of the VPC is denied before any such allow."""
    outputs = copy.deepcopy(preview("shared").run.outputs)
    if registry != "full":
        del outputs["environments"]["prod"]
    run = run_program("dev", full_config("dev"), {SHARED_REF: outputs})
    entries = [r.inputs for r in run.of_type(NACL_RULE)]
    prod_host, internet_host = "10.40.192.10", "203.0.113.7"
    assert nacl_decision(entries, False, prod_host, "tcp", 40000) == "deny"
    assert nacl_decision(entries, True, prod_host, "tcp", 443) == "deny"
    assert nacl_decision(entries, False, internet_host, "tcp", 40000) == "allow"  # replies to image pulls
    assert nacl_decision(entries, True, internet_host, "tcp", 443) == "allow"
    assert nacl_decision(entries, False, "10.40.0.10", "tcp", 10250) == "allow"  # managers to kubelet
    assert nacl_decision(entries, False, "10.40.0.10", "tcp", 40000) == "allow"  # managers' replies
