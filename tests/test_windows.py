"""Windows workers (`applicationGroups[].os: windows`): what such a group needs of the cluster,
its overlay networks and its firewall, and what stays on Linux. Each rule with its hostile case
and its benign twin; pure (the config model, the firewall plan, the Interlock transform, the
Kubernetes manifests), plus the policy pack's namespace rule over the rendered namespace."""

from __future__ import annotations

import copy

import pytest

from interlock_platform.core import firewall_plan, interlock_toml, k8s_manifests, labels, ports
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import parse_environment
from interlock_platform.tooling.preview import run_preview
from tests.conftest import full_config, raw, refused_dev, shared_outputs

WINDOWS_REPLIES = ports.WINDOWS_EPHEMERAL_PORTS


def with_windows(stack: str = "dev", group: str = "payments", **changes):
    """`stack`'s config with application group `group` on Windows workers."""
    cfg = raw(stack)
    for g in cfg["applicationGroups"]:
        if g["name"] == group:
            g["os"] = "windows"
    cfg.update(copy.deepcopy(changes))
    return cfg


def topology(cfg, stack="dev", outputs=None):
    return parse_environment(stack, cfg, outputs or shared_outputs())


def covers(entry, lo_hi) -> bool:
    return entry.from_port <= lo_hi[0] and lo_hi[1] <= entry.to_port


def replies(entries, egress: bool):
    """The return-traffic entries (on the nodes' ephemeral range; not the management VLAN's
    all-TCP entry, which holds its replies among the manager ports)."""
    return [e for e in entries if e.egress == egress and e.action == "allow" and e.from_port == ports.NODE_EPHEMERAL_PORTS[0]]


# --------------------------------------------------------------------------------------------
# The cluster: Calico VXLAN


def test_a_windows_group_is_refused_on_an_ip_in_ip_cluster_with_the_fix():
    outputs = shared_outputs()
    outputs["calicoIpInIp"] = True
    cfg = with_windows()
    with pytest.raises(InvalidConfig) as err:
        topology(cfg, outputs=outputs)
    (problem,) = [p for p in err.value.problems if p.key == "applicationGroups[1].os"]
    assert "VXLAN" in problem.message and "IP-in-IP" in problem.message
    assert "calicoIpInIp" in problem.fix


def test_a_windows_group_is_refused_on_ucp_3_2_whose_calico_is_ip_in_ip():
    outputs = shared_outputs()
    outputs["ucpVersion"] = "3.2"  # calicoIpInIp false: the release's own, IP-in-IP
    with pytest.raises(InvalidConfig) as err:
        topology(with_windows(), outputs=outputs)
    problems = {p.key: p.message for p in err.value.problems}
    assert "UCP 3.2's Calico" in problems["applicationGroups[1].os"]


def test_a_windows_group_on_mke_vxlan_is_accepted_and_the_linux_twin_on_ip_in_ip_too():
    topo = topology(with_windows())
    assert [g.name for g in topo.application_groups if g.windows] == ["payments"] and topo.has_windows
    outputs = shared_outputs()
    outputs["calicoIpInIp"] = True
    assert not topology(raw("dev"), outputs=outputs).has_windows  # Linux groups may use IP-in-IP


def test_an_unknown_os_is_refused_by_the_model():
    cfg = raw("dev")
    cfg["applicationGroups"][0]["os"] = "macos"
    assert "is not a worker operating system" in refused_dev(cfg)["applicationGroups[0].os"]


# --------------------------------------------------------------------------------------------
# Encrypted overlay networks


def test_encrypted_overlays_are_refused_where_windows_groups_run():
    cfg = with_windows(overlayNetworks={"ingress": "ingress_dev", "additional": ["dev_backend"], "encrypted": True})
    problems = refused_dev(cfg)
    assert "UCP supports no encrypted overlay network on Windows" in problems["overlayNetworks.encrypted"]
    assert "'payments'" in problems["overlayNetworks.encrypted"]


def test_prod_s_default_encryption_is_refused_with_windows_and_kept_without():
    cfg = with_windows("prod", group="payments")
    cfg["overlayNetworks"].pop("encrypted")
    with pytest.raises(InvalidConfig) as err:
        topology(cfg, "prod")
    assert [p.key for p in err.value.problems] == ["overlayNetworks.encrypted"]
    assert "encrypted by default" in err.value.problems[0].message
    # the twins: prod with Linux groups keeps its encrypted default; Windows with encrypted: false previews
    linux = raw("prod")
    linux["overlayNetworks"].pop("encrypted")
    assert topology(linux, "prod").overlay.encrypted is True
    cfg["overlayNetworks"]["encrypted"] = False
    assert topology(cfg, "prod").overlay.encrypted is False


# --------------------------------------------------------------------------------------------
# NACLs: replies on Windows' ephemeral range, in the entries that were there (no entry more)


def test_the_environment_nacl_admits_windows_replies_where_a_windows_group_is():
    cfg = with_windows("test")
    windows, linux = topology(cfg, "test"), topology(raw("test"), "test")
    assert windows.isolation == "environment"
    win, lin = firewall_plan.environment_nacl(windows), firewall_plan.environment_nacl(linux)
    assert replies(win, False) and all(covers(e, WINDOWS_REPLIES) for e in replies(win, False))
    # the Linux twin keeps Linux's range only: nothing from 61000 up
    assert replies(lin, False) and not [e for e in replies(lin, False) if e.to_port > ports.NODE_EPHEMERAL_PORTS[1]]
    assert len(win) == len(lin)  # widened in place: the quota counts are the Linux twin's


def test_a_windows_group_s_nacl_and_its_peers_replies():
    """isolation: applicationGroup: the Windows group admits replies on its own ephemeral range;
    a Linux group admits only Linux's, but answers the Windows group on Windows' range."""
    topo = topology(with_windows("dev", group="payments"))
    nacls = firewall_plan.group_nacls(topo)
    payments, ledger = nacls["payments"], nacls["ledger"]
    assert all(covers(e, WINDOWS_REPLIES) for e in replies(payments, False))
    assert not [e for e in replies(ledger, False) if e.to_port > ports.NODE_EPHEMERAL_PORTS[1]]
    to_groups = [e for e in replies(ledger, True) if e.cidr == str(topo.env.cidr)]
    assert to_groups and all(covers(e, WINDOWS_REPLIES) for e in to_groups)
    linux = firewall_plan.group_nacls(topology(raw("dev")))
    assert {g: len(entries) for g, entries in nacls.items()} == {g: len(entries) for g, entries in linux.items()}


def test_windows_replies_admit_no_platform_port():
    lo, hi = ports.reply_ports(True)
    for release in ports.RELEASES:
        assert not [p for p in ports.reserved_ports(release) if lo <= p <= hi]


def test_quota_validation_counts_the_windows_plan():
    """A NACL that would be over the quota with the Windows group is refused, as its Linux twin is:
    validation counts the entries the plan builds for Windows."""
    outputs = shared_outputs()
    linux = topology(raw("test"), "test")
    inbound = sum(1 for e in firewall_plan.environment_nacl(linux) if not e.egress)
    outputs["awsQuotas"]["naclRulesPerDirection"] = inbound - 1
    for cfg in (raw("test"), with_windows("test")):
        with pytest.raises(InvalidConfig) as err:
            topology(cfg, "test", outputs)
        assert [p.key for p in err.value.problems] == ["environment"]
        assert f"would hold {inbound} inbound entries" in err.value.problems[0].message
    outputs["awsQuotas"]["naclRulesPerDirection"] = inbound
    assert topology(with_windows("test"), "test", outputs).has_windows


# --------------------------------------------------------------------------------------------
# Interlock stays on Linux


DEFAULT_TEMPLATE = """
[Extensions.default]
  Image = "docker/ucp-interlock-extension:3.2.5"
  Args = []
  Constraints = {constraints}
  ProxyImage = "docker/ucp-interlock-proxy:3.2.5"
  ProxyConstraints = {constraints}
  ProxyStopGracePeriod = "5s"
"""
SPEC = interlock_toml.ServiceClusterSpec("dev", 8082, 8445, 2, "ingress_dev")


@pytest.mark.parametrize(
    "template",
    [
        '["node.labels.com.docker.ucp.orchestrator.swarm==true"]',  # no OS: a Windows node would do
        '["node.platform.os==windows"]',  # a hostile or mistaken template
        '["node.platform.os != linux", "node.labels.com.docker.ucp.orchestrator.swarm==true"]',
        "[]",
    ],
)
def test_interlock_constraints_always_keep_linux(template):
    out = interlock_toml.merge(DEFAULT_TEMPLATE.format(constraints=template), SPEC)
    section = interlock_toml.section(out, "dev")
    for key in ("Constraints", "ProxyConstraints"):
        constraints = section[key]
        assert interlock_toml.LINUX_ONLY in constraints
        assert [c for c in constraints if "platform.os" in c] == [interlock_toml.LINUX_ONLY]
        assert constraints[-1] == SPEC.constraint


def test_a_linux_template_keeps_its_constraints_as_they_are():
    template = '["node.platform.os==linux", "node.labels.com.docker.ucp.orchestrator.swarm==true"]'
    section = interlock_toml.section(interlock_toml.merge(DEFAULT_TEMPLATE.format(constraints=template), SPEC), "dev")
    assert section["Constraints"] == ["node.platform.os==linux", "node.labels.com.docker.ucp.orchestrator.swarm==true", SPEC.constraint]


# --------------------------------------------------------------------------------------------
# Kubernetes: team pods select their OS


def _annotation(team):
    return k8s_manifests.namespace(team, "dev", "com.docker.ucp.collection.dev=true")["metadata"]["annotations"][
        labels.NODE_SELECTOR_ANNOTATION
    ]


def test_team_namespaces_pin_their_os_where_windows_groups_run():
    cfg = with_windows()
    cfg["teams"][1]["os"] = "windows"
    teams = {t.name: t for t in topology(cfg).teams}
    assert _annotation(teams["payments"]) == "com.docker.ucp.collection.dev=true,kubernetes.io/os=linux"
    assert _annotation(teams[cfg["teams"][1]["name"]]) == "com.docker.ucp.collection.dev=true,kubernetes.io/os=windows"
    # the Linux-only twin: namespaces carry the collection's selector alone, as before
    assert {_annotation(t) for t in topology(raw("dev")).teams} == {"com.docker.ucp.collection.dev=true"}


def test_a_windows_team_without_windows_workers_is_refused():
    cfg = raw("dev")
    cfg["teams"][0]["os"] = "windows"
    assert "no application group of this environment has os: windows" in refused_dev(cfg)["teams[0].os"]


def test_a_windows_dev_stack_previews_clean_under_the_policy_pack():
    """The whole dev stack with a Windows group and a Windows team, under the real program and
    the policy pack (policy/, independent of the program): the widened reply entries between
    application groups and the OS-pinned namespaces violate nothing."""
    cfg = with_windows()
    cfg["teams"][1]["os"] = "windows"
    preview = run_preview("dev", config=full_config("dev", applicationGroups=cfg["applicationGroups"], teams=cfg["teams"]))
    assert preview.violations == []
    namespaces = preview.run.of_type("kubernetes:core/v1:Namespace")
    pins = {n.inputs["metadata"]["annotations"][labels.NODE_SELECTOR_ANNOTATION] for n in namespaces}
    assert pins == {f"com.docker.ucp.collection.dev=true,kubernetes.io/os={os}" for os in ("linux", "windows")}
    nacl = [r.inputs for r in preview.run.of_type("aws:ec2/networkAclRule:NetworkAclRule")]
    assert [e for e in nacl if e["fromPort"] == 32768 and e["toPort"] == 65535]
