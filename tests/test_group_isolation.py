"""isolation: applicationGroup, proved from the resources the program registers (under the mock
runtime), evaluated by AWS's rules for NACLs and security groups (interlock_platform/tooling/reachability.py), never
from the firewall plan: a group reaches another only on the flows its config declares and on the
overlay data plane; managers reach every group on the UCP worker ports; the load balancer reaches
only the ingress group; nothing of another environment gets in. And the layouts that do not fit
the AWS quotas are refused with the fix."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest

from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import parse_environment, parse_shared
from interlock_platform.tooling import report
from interlock_platform.tooling.mock_runtime import ProgramRun, Registration, run_program
from interlock_platform.tooling.policy_config import from_shared_outputs
from interlock_platform.tooling.reachability import Host, Network, group_hosts, load_balancer_hosts, manager_hosts
from tests.conftest import SHARED_REF, _preview, full_config, raw, shared_outputs

# Transcribed from the documentation of the reference release, MKE 3.9 (Mirantis' 3.7 "Open
# ports" page and the 3.9 `install` reference; Docker's overlay network guide), not from
# interlock_platform/core/ports.py: what crosses between groups of one environment. Calico VXLAN
# (MKE's default, the shared stack sets no calicoIpInIp) rides UDP 4789: no IP protocol 4.
OVERLAY = {("udp", 4789), ("tcp", 7946), ("udp", 7946)}
ENCAPSULATION = {"50"}  # ESP (allowEsp defaults to true)
WORKER_PORTS_FROM_MANAGERS = {
    ("tcp", 179), ("udp", 4789), ("tcp", 7946), ("udp", 7946), ("tcp", 9091), ("tcp", 9100), ("tcp", 10250), ("tcp", 12376),
}  # fmt: skip
MANAGER_PORTS_FROM_WORKERS = {
    ("tcp", 179), ("tcp", 443), ("tcp", 2376), ("tcp", 2377), ("tcp", 6443), ("tcp", 9055), ("tcp", 9091), ("tcp", 9100),
    ("tcp", 10250), ("tcp", 12376), ("tcp", 12379), ("tcp", 12386), ("tcp", 12387), ("tcp", 12388), ("tcp", 12390),
    ("udp", 4789), ("tcp", 7946), ("udp", 7946),
}  # fmt: skip
# What an attacker tries: every platform port, common app ports, the edges of the ephemeral range.
PROBES = sorted(
    {("tcp", p) for p in (1, 22, 53, 80, 179, 443, 2377, 3389, 5432, 5433, 6443, 7946, 8080, 8082, 8442, 8443, 8444, 8445,
                          9000, 9001, 10250, 12376, 32767, 32768, 45000, 60999, 61000, 65535)}
    | {("udp", p) for p in (53, 514, 4789, 4790, 7946, 8443, 32768, 45000)}
)  # fmt: skip


def declared(cfg: dict[str, Any]) -> set[tuple[str, str, str, int]]:
    """(from, to, protocol, port) as the stack's config lists them in allowFrom."""
    return {
        (f["group"], g["name"], f.get("protocol", "tcp"), port)
        for g in cfg["applicationGroups"]
        for f in g.get("allowFrom", [])
        for port in f["ports"]
    }


def expected(flows: set[tuple[str, str, str, int]], src: str, dst: str, proto: str, port: int) -> bool:
    return src == dst or (proto, port) in OVERLAY or proto in ENCAPSULATION or (src, dst, proto, port) in flows


def network_of(*runs: ProgramRun) -> Network:
    return Network(runs)


def assert_matrix(net: Network, env: ProgramRun, flows: set[tuple[str, str, str, int]]) -> int:
    hosts = group_hosts(net, env)
    wrong, checked = [], 0
    for a, a_hosts in hosts.items():
        for b, b_hosts in hosts.items():
            for src in a_hosts:
                for dst in b_hosts:
                    if src == dst:
                        continue
                    for proto, port in [*PROBES, ("4", 0), ("50", 0)]:
                        checked += 1
                        if net.reaches(src, dst, proto, port) != expected(flows, a, b, proto, port):
                            wrong.append((src.name, dst.name, proto, port, net.reaches(src, dst, proto, port)))
    assert wrong == [], wrong[:20]
    return checked


# --------------------------------------------------------------------------------------------
# The reference dev stack


def test_dev_isolates_its_application_groups():
    cfg = raw("dev")
    assert cfg["isolation"] == "applicationGroup"
    assert declared(cfg) == {("payments", "ledger", "tcp", 8443)}


def test_a_group_reaches_another_only_on_its_declared_flows_and_the_overlay(preview):
    """Across zones (so the NACLs apply) and within one, every pair of hosts, every probe: the
    port next to the declared one, the other protocol, the reverse direction, a group not named."""
    p = preview("dev")
    net = network_of(preview("shared").run, p.run)
    hosts = 3 * len(raw("dev")["applicationGroups"])  # one per group and zone
    assert assert_matrix(net, p.run, declared(raw("dev"))) == hosts * (hosts - 1) * (len(PROBES) + 2)
    hosts = group_hosts(net, p.run)
    payments, ledger, ingress = hosts["payments"][0], hosts["ledger"][1], hosts["ingress"][2]
    assert net.reaches(payments, ledger, "tcp", 8443)
    for proto, port in (("tcp", 8442), ("tcp", 8444), ("udp", 8443)):
        assert not net.reaches(payments, ledger, proto, port)
    assert not net.reaches(ledger, payments, "tcp", 8443)  # the reverse direction
    assert not net.reaches(ingress, ledger, "tcp", 8443)  # a group not named


def test_the_ingress_group_s_proxies_reach_the_apps_through_the_overlay(preview):
    """Interlock's proxies reach app tasks over the environment's ingress overlay network (VXLAN
    and gossip), in every group, and nothing else of theirs."""
    p = preview("dev")
    net = network_of(preview("shared").run, p.run)
    hosts = group_hosts(net, p.run)
    for group in ("payments", "ledger"):
        for proxy in hosts["ingress"]:
            for app in hosts[group]:
                assert all(net.reaches(proxy, app, proto, port) for proto, port in OVERLAY)
                assert not net.reaches(proxy, app, "tcp", 8080)


def test_managers_reach_every_group_on_the_worker_ports_and_workers_the_managers(preview):
    p = preview("dev")
    net = network_of(preview("shared").run, p.run)
    managers = manager_hosts(net, preview("shared").run)
    for group, hosts in group_hosts(net, p.run).items():
        for manager in managers:
            for worker in hosts:
                for proto, port in WORKER_PORTS_FROM_MANAGERS | {("50", 0)}:
                    assert net.reaches(manager, worker, proto, port), (group, proto, port)
                assert not net.reaches(manager, worker, "4", 0)  # VXLAN: IP-in-IP stays closed
                for proto, port in (("tcp", 22), ("tcp", 8443), ("tcp", 2377), ("udp", 53)):
                    assert not net.reaches(manager, worker, proto, port), (group, proto, port)
                for proto, port in MANAGER_PORTS_FROM_WORKERS:
                    assert net.reaches(worker, manager, proto, port), (group, proto, port)
                assert not net.reaches(worker, manager, "tcp", 22)


def test_the_load_balancer_reaches_only_the_ingress_group_on_the_proxy_ports(preview):
    p = preview("dev")
    net = network_of(preview("shared").run, p.run)
    registry = p.shared.outputs["environments"]["dev"]
    proxy_ports = {registry["httpPort"], registry["httpsPort"]}
    hosts = group_hosts(net, p.run)
    for nlb in load_balancer_hosts(net, preview("shared").run, p.run):
        for group, group_hosts_ in hosts.items():
            for worker in group_hosts_:
                for port in sorted(proxy_ports | {8080, 8443, 8444, 22, 10250}):
                    for client_port in (1024, 65535):  # the NLB's source ports span 1024-65535
                        want = group == "ingress" and port in proxy_ports
                        assert net.reaches(nlb, worker, "tcp", port, client_port) == want, (group, port, client_port)


def test_no_host_of_another_environment_reaches_a_group(preview):
    p = preview("dev")
    others = [preview(e).run for e in ("test", "prod")]
    net = network_of(preview("shared").run, p.run, *others)
    targets = [h for hs in group_hosts(net, p.run).values() for h in hs]
    for other in others:
        for hosts in group_hosts(net, other).values():
            for src in hosts:
                for dst in targets:
                    for proto, port in [*PROBES, ("4", 0), ("50", 0)]:
                        assert not net.reaches(src, dst, proto, port), (src.name, dst.name, proto, port)
                        assert not net.reaches(dst, src, proto, port), (dst.name, src.name, proto, port)


def test_with_environment_isolation_every_group_reaches_every_other(environment_isolated, preview):
    """The evaluator is no always-deny: with isolation: environment (test, and dev as it
    was) every group reaches every other on every probe."""
    p = environment_isolated("dev")
    net = network_of(preview("shared").run, p.run)
    hosts = group_hosts(net, p.run)
    for a in hosts.values():
        for b in hosts.values():
            assert all(net.reaches(a[0], b[-1], proto, port) for proto, port in PROBES)


# --------------------------------------------------------------------------------------------
# A richer layout: four groups, a port list with a range in it, a UDP flow, a cycle


RICHER_GROUPS = [
    {"name": "ingress", "prefixLength": 24, "firstSubnet": 0},
    {"name": "payments", "prefixLength": 22, "firstSubnet": 1, "allowFrom": [{"group": "reports", "ports": [5432]}]},
    {"name": "ledger", "prefixLength": 22, "firstSubnet": 4,
     "allowFrom": [{"group": "payments", "ports": [8443, 8444, 9000], "protocol": "tcp"}]},
    {"name": "reports", "prefixLength": 22, "firstSubnet": 8, "allowFrom": [{"group": "ledger", "ports": [514], "protocol": "udp"}]},
]  # fmt: skip


@cache
def richer() -> tuple[ProgramRun, ProgramRun, dict[str, Any]]:
    """Run with the NACL quota raised to 40 (the UDP flow's replies need entries both ways)."""
    shared = _preview("shared").run
    outputs = copy.deepcopy(shared.outputs)
    outputs["awsQuotas"]["naclRulesPerDirection"] = 40
    config = full_config("dev", applicationGroups=RICHER_GROUPS)
    env = run_program("dev", config, {SHARED_REF: outputs})
    return shared, env, config


def test_a_richer_layout_opens_exactly_what_it_declares():
    shared, env, config = richer()
    cfg = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("interlock-platform:")}
    flows = declared(cfg)
    assert ("ledger", "reports", "udp", 514) in flows
    net = network_of(shared, env)
    assert_matrix(net, env, flows)
    hosts = group_hosts(net, env)
    assert not net.reaches(hosts["payments"][0], hosts["ledger"][0], "tcp", 8445)  # between 8444 and 9000
    assert not net.reaches(hosts["reports"][0], hosts["ledger"][0], "udp", 514)  # the reverse of the UDP flow


def test_the_richer_layout_is_refused_at_the_default_nacl_quota():
    cfg = raw("dev")
    cfg["applicationGroups"] = copy.deepcopy(RICHER_GROUPS)
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    problems = [p for p in err.value.problems if "NACL of application group" in p.message]
    assert problems, err.value
    for p in problems:
        assert p.key.startswith("applicationGroups[") and "over the quota of 20" in p.message
        assert "naclRulesPerDirection" in p.fix


# --------------------------------------------------------------------------------------------
# Layouts that cannot be built are refused, naming the key and the fix


def _refused(cfg: dict[str, Any], outputs: dict[str, Any] | None = None) -> list[Any]:
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, outputs or shared_outputs())
    return err.value.problems


def test_many_ports_between_two_groups_exceed_the_security_group_quota_with_the_fix():
    cfg = raw("dev")
    cfg["applicationGroups"][2]["allowFrom"] = [{"group": "payments", "ports": list(range(9000, 9140, 2))}]  # 70 ranges
    problems = _refused(cfg)
    sg = [p for p in problems if "security group of application group 'ledger'" in p.message and "ingress" in p.message]
    assert sg and sg[0].key == "applicationGroups[2].allowFrom" and "70 for group payments" in sg[0].message
    assert "consecutive ports" in sg[0].fix
    # the same ports as one range fit
    cfg["applicationGroups"][2]["allowFrom"] = [{"group": "payments", "ports": list(range(9000, 9140))}]
    assert parse_environment("dev", cfg, shared_outputs()).isolation == "applicationGroup"


def test_an_ingress_node_without_an_address_is_refused_when_groups_are_isolated():
    cfg = raw("dev")
    cfg["ingressNodes"][0]["hostname"] = "proxy-1.example.internal"
    problems = _refused(cfg)
    (p,) = [p for p in problems if p.key == "ingressNodes[0].hostname"]
    assert "cannot be known" in p.message and "ip-a-b-c-d" in p.fix
    cfg["isolation"] = "environment"
    for g in cfg["applicationGroups"]:
        g.pop("allowFrom", None)
    parse_environment("dev", cfg, shared_outputs())  # without group isolation the name is fine


def test_a_rule_quota_too_large_for_two_groups_per_interface_is_refused():
    outputs = shared_outputs()
    outputs["awsQuotas"]["securityGroupRulesPerDirection"] = 501
    (p,) = [p for p in _refused(raw("dev"), outputs) if p.key == "isolation"]
    assert "1000" in p.message and "at most 500" in p.fix


# --------------------------------------------------------------------------------------------
# The evaluator itself, against AWS's documented behaviour on hand-made resources


def _reg(type_: str, name: str, **inputs: Any) -> Registration:
    return Registration(f"urn:x::{name}", type_, name, "", True, inputs, id=f"{name}-id")


def _tiny(entries_a: Iterable[dict[str, Any]], entries_b: Iterable[dict[str, Any]], sg_rules: Iterable[dict[str, Any]]) -> Network:
    rs = [
        _reg("aws:ec2/subnet:Subnet", "a", cidrBlock="10.0.1.0/24"),
        _reg("aws:ec2/subnet:Subnet", "b", cidrBlock="10.0.2.0/24"),
        _reg("aws:ec2/networkAclAssociation:NetworkAclAssociation", "aa", subnetId="a-id", networkAclId="acl-a"),
        _reg("aws:ec2/networkAclAssociation:NetworkAclAssociation", "ab", subnetId="b-id", networkAclId="acl-b"),
    ]
    rs += [_reg("aws:ec2/networkAclRule:NetworkAclRule", f"ea{i}", networkAclId="acl-a", **e) for i, e in enumerate(entries_a)]
    rs += [_reg("aws:ec2/networkAclRule:NetworkAclRule", f"eb{i}", networkAclId="acl-b", **e) for i, e in enumerate(entries_b)]
    for i, r in enumerate(sg_rules):
        kind = "Egress" if r.pop("egress", False) else "Ingress"
        rs.append(_reg(f"aws:vpc/securityGroup{kind}Rule:SecurityGroup{kind}Rule", f"r{i}", **r))
    return Network([ProgramRun("p", "s", rs, {}, set())])


def _e(n: int, action: str, cidr: str, proto: str = "-1", lo: int = 0, hi: int = 0, egress: bool = False) -> dict[str, Any]:
    return {"ruleNumber": n, "ruleAction": action, "cidrBlock": cidr, "protocol": proto, "fromPort": lo, "toPort": hi, "egress": egress}


OPEN = [_e(1, "allow", "0.0.0.0/0"), _e(1, "allow", "0.0.0.0/0", egress=True)]
SG_OPEN = [{"securityGroupId": "sa", "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0", "egress": True},
           {"securityGroupId": "sb", "ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "referencedSecurityGroupId": "sa"}]  # fmt: skip
A = Host("a", ipaddress.ip_address("10.0.1.5"), "a-id", frozenset({"sa"}))  # type: ignore[arg-type]
B = Host("b", ipaddress.ip_address("10.0.2.5"), "b-id", frozenset({"sb"}))  # type: ignore[arg-type]


def test_the_evaluator_reads_nacls_in_rule_order_first_match_wins_default_deny():
    assert _tiny(OPEN, OPEN, copy.deepcopy(SG_OPEN)).reaches(A, B, "tcp", 80)
    deny_first = [_e(10, "deny", "10.0.1.0/24"), _e(20, "allow", "0.0.0.0/0"), _e(1, "allow", "0.0.0.0/0", egress=True)]
    assert not _tiny(OPEN, deny_first, copy.deepcopy(SG_OPEN)).reaches(A, B, "tcp", 80)
    allow_first = [_e(5, "allow", "10.0.1.0/24", "tcp", 80, 80), _e(10, "deny", "10.0.1.0/24"), _e(1, "allow", "0.0.0.0/0", egress=True)]
    assert _tiny(OPEN, allow_first, copy.deepcopy(SG_OPEN)).reaches(A, B, "tcp", 80)
    no_inbound = [_e(1, "allow", "0.0.0.0/0", egress=True)]
    assert not _tiny(OPEN, no_inbound, copy.deepcopy(SG_OPEN)).reaches(A, B, "tcp", 80)


def test_the_evaluator_checks_the_stateless_reply_and_not_the_stateful_one():
    """TCP replies cross the NACLs again (to the client's port) but not the security groups."""
    replies_closed = [_e(1, "allow", "0.0.0.0/0"), _e(1, "allow", "10.0.1.0/24", "tcp", 80, 80, egress=True)]
    assert not _tiny(OPEN, replies_closed, copy.deepcopy(SG_OPEN)).reaches(A, B, "tcp", 80)
    assert _tiny(OPEN, replies_closed, copy.deepcopy(SG_OPEN)).reaches(A, B, "tcp", 80, client_port=80)
    replies_open = [_e(1, "allow", "0.0.0.0/0"), _e(1, "allow", "10.0.1.0/24", "tcp", 32768, 60999, egress=True)]
    assert _tiny(OPEN, replies_open, copy.deepcopy(SG_OPEN)).reaches(A, B, "tcp", 80)  # no SG egress rule on sb needed


def test_the_evaluator_unions_security_groups_and_matches_referenced_groups_by_interface():
    net = _tiny(OPEN, OPEN, copy.deepcopy(SG_OPEN))
    assert not net.reaches(A, B, "tcp", 81)
    stranger = Host("c", ipaddress.ip_address("10.0.1.6"), "a-id", frozenset({"sc"}))  # type: ignore[arg-type]
    assert not net.reaches(stranger, B, "tcp", 80)  # it does not carry sa (and has no egress rule)
    both = Host("c", ipaddress.ip_address("10.0.1.6"), "a-id", frozenset({"sc", "sa"}))  # type: ignore[arg-type]
    assert net.reaches(both, B, "tcp", 80)  # the union of its groups
    assert not net.reaches(B, A, "tcp", 80)  # sa admits nothing


# --------------------------------------------------------------------------------------------
# The pack's config carries the layout the pack judges by


def test_the_policy_config_carries_dev_s_groups_and_flows(preview):
    config = from_shared_outputs(preview("shared").run.outputs)["group-flows-declared"]
    layout = config["applicationGroups"]["dev"]
    assert set(config["applicationGroups"]) == {"dev", "prod"}  # test isolates the environment only
    assert config["applicationGroups"]["prod"]["flows"] == [{"from": "payments", "to": "ledger", "protocol": "tcp", "ports": [8443]}]
    assert layout["flows"] == [{"from": "payments", "to": "ledger", "protocol": "tcp", "ports": [8443]}]
    assert layout["ingressGroups"] == ["ingress"]
    assert all(ipaddress.ip_network(c).subnet_of(ipaddress.ip_network("10.40.64.0/18")) for cs in layout["groups"].values() for c in cs)


def test_the_security_matrix_shows_group_to_group(preview):
    p = preview("dev")
    text = report.security_matrix_markdown(p.run, report.security_group_names([p.shared, p.run]))
    section = text.split("## Application group to application group", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in section.splitlines() if line.startswith("| ") and "---" not in line}
    assert set(rows) == {"from \\ to", "ingress", "payments", "ledger"}
    header = [c.strip() for c in rows["from \\ to"].strip("|").split("|")][1:]
    cells = {g: dict(zip(header, [c.strip() for c in rows[g].strip("|").split("|")][1:], strict=True)) for g in ("ingress", "payments", "ledger")}
    assert cells["payments"]["ledger"] == "IP protocol 50, TCP 7946, TCP 8443, UDP 4789, UDP 7946"
    assert cells["ledger"]["payments"] == "IP protocol 50, TCP 7946, UDP 4789, UDP 7946"
    assert all(cells[g][g] == "all" for g in cells)


def test_the_security_matrix_of_an_environment_isolated_stack_has_no_group_section(preview):
    p = preview("test")
    assert "Application group to application group" not in report.security_matrix_markdown(p.run, {})


# --------------------------------------------------------------------------------------------
# Up to the VPC's subnet quota (the layout bench/group_sweep.py previews): test and prod keep
# the subnets they use, dev gets the rest of the VPC's 200 and fills it with a chain of /28 groups.


def _shared_giving_dev_the_rest(subnets_per_vpc: int | None = None, dev_subnets: int | None = None) -> dict[str, Any]:
    cfg = raw("shared")
    zones = len(parse_shared("shared", copy.deepcopy(cfg)).availability_zones)
    for env in ("test", "prod"):
        cfg["environments"][env]["maxSubnets"] = len(raw(env)["applicationGroups"]) * zones
    if dev_subnets is not None:
        cfg["environments"]["dev"]["maxSubnets"] = dev_subnets
    if subnets_per_vpc is not None:
        cfg["awsQuotas"] = {**cfg.get("awsQuotas", {}), "subnetsPerVpc": subnets_per_vpc}
    return cfg


def _dev_with_groups(n: int) -> dict[str, Any]:
    """dev's own groups, then /28 groups after the ledger's blocks, each allowing HTTPS from the one before."""
    cfg = raw("dev")
    groups = cfg["applicationGroups"]
    for i in range(n - len(groups)):
        groups.append(
            {"name": f"group{i}", "prefixLength": 28, "firstSubnet": 448 + 3 * i,
             "allowFrom": [{"group": groups[-1]["name"], "ports": [8443], "protocol": "tcp"}]}
        )  # fmt: skip
    return cfg


def test_application_groups_fill_the_vpc_subnet_quota_and_one_more_is_refused_with_the_fix():
    shared = parse_shared("shared", _shared_giving_dev_the_rest())
    zones, vpc = len(shared.availability_zones), shared.quotas.subnets_per_vpc
    share = shared.environments["dev"].max_subnets
    others = sum(e.max_subnets for name, e in shared.environments.items() if name != "dev")
    assert vpc == 200 and share > vpc // 3 and share + others < vpc  # the rest of the VPC, less the shared subnets
    most = share // zones
    outputs = shared.to_outputs()
    full = parse_environment("dev", _dev_with_groups(most), copy.deepcopy(outputs))
    assert len(full.application_groups) == most and len(full.subnets) == most * zones

    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", _dev_with_groups(most + 1), copy.deepcopy(outputs))
    (problem,) = err.value.problems
    assert problem.key == "applicationGroups"
    assert f"{most + 1} groups x {zones} zones = {(most + 1) * zones} subnets, over this environment's share of {share} of the VPC's {vpc}" in str(problem)
    assert problem.fix == "use fewer application groups, or raise environments.dev.maxSubnets in the shared stack"

    # the fix's second half is bounded by the VPC's quota: raising dev's share past it is refused, with its own fix
    with pytest.raises(InvalidConfig) as err:
        parse_shared("shared", _shared_giving_dev_the_rest(dev_subnets=(most + 1) * zones))
    (problem,) = err.value.problems
    assert problem.key == "environments" and f"exceed the {vpc} subnets AWS allows per VPC" in str(problem)
    assert "raise awsQuotas.subnetsPerVpc after AWS raised your quota" in problem.fix

    # the benign twin: once AWS raised the quota, the same share and the same groups are accepted
    raised = parse_shared("shared", _shared_giving_dev_the_rest(subnets_per_vpc=vpc + zones, dev_subnets=(most + 1) * zones))
    topo = parse_environment("dev", _dev_with_groups(most + 1), raised.to_outputs())
    assert len(topo.application_groups) == most + 1
