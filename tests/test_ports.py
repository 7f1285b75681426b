"""The port table gives exactly the documented ports, by release."""

from interlock_platform.core import ports


def labels(rules):
    return [r.label for r in rules]


def test_worker_ports_are_what_managers_must_reach_on_workers():
    assert labels(ports.worker_ports("3.2", True)) == [
        "TCP 179", "UDP 4789", "TCP 7946", "UDP 7946", "TCP 10250", "TCP 12376", "IP protocol 4", "IP protocol 50",
    ]  # fmt: skip


def test_manager_ports_are_what_workers_must_reach_on_managers():
    assert labels(ports.manager_ports("3.2", True)) == [
        "TCP 179", "TCP 443", "TCP 2376", "TCP 2377", "UDP 4789", "TCP 6443", "TCP 7946", "UDP 7946",
        "TCP 10250", "TCP 12376", "TCP 12379-12386", "TCP 12388", "IP protocol 4", "IP protocol 50",
    ]  # fmt: skip


def test_self_scoped_ports_never_cross_vlans():
    crossing = {r.label for r in ports.manager_ports("3.2", True) + ports.worker_ports("3.2", True)}
    assert not crossing & {"TCP 6444", "TCP 9099", "TCP 12378"}


def test_releases_differ_as_documented():
    v30 = labels(ports.manager_ports("3.0", True))
    assert "TCP 12387" in v30 and "TCP 12388" not in v30
    v37 = labels(ports.manager_ports("3.7", True))
    assert {"TCP 9055", "TCP 9091", "TCP 9100"} <= set(v37)
    assert {"TCP 9091", "TCP 9100"} <= set(labels(ports.worker_ports("3.7", True)))
    assert "TCP 9055" not in labels(ports.worker_ports("3.7", True))


def test_ip_in_ip_follows_the_calico_switch():
    assert "IP protocol 4" not in labels(ports.worker_ports("3.2", False))
    assert "IP protocol 50" in labels(ports.worker_ports("3.2", False))


def test_protocol_numbers_are_the_right_ones():
    # Common mistakes: 4789 as TCP, 7946 TCP only, IP-in-IP as 94.
    rules = {(r.protocol.value, r.from_port) for r in ports.worker_ports("3.2", True)}
    assert ("udp", 4789) in rules and ("tcp", 4789) not in rules
    assert ("tcp", 7946) in rules and ("udp", 7946) in rules
    assert ("4", 0) in rules and ("50", 0) in rules and ("94", 0) not in rules


# --------------------------------------------------------------------------------------------
# MKE 3.8 and 3.9 (Mirantis' `install` references of each release; see ports.py)


def _tcp(rules):
    return {p for r in rules if r.protocol is ports.Protocol.TCP for p in range(r.from_port, r.to_port + 1)}


def test_mke_3_8_and_3_9_open_what_their_install_references_list_between_nodes():
    """"If you plan to join more nodes to the swarm, open ... 443, 2376, 2377, 6443, 179, 10250,
    12376, 12379-12388, 12390, 4789 (UDP) and 7946 (TCP/UDP)": every one of them crosses from
    workers to managers, on both releases."""
    listed = {443, 2376, 2377, 6443, 179, 10250, 12376, *range(12379, 12389), 12390}
    for release in ("3.8", "3.9"):
        rules = ports.manager_ports(release, False)
        assert listed <= _tcp(rules), release
        udp = {r.from_port for r in rules if r.protocol is ports.Protocol.UDP}
        assert {4789, 7946} <= udp


def test_mke_3_8_adds_to_3_7_only_what_its_references_add():
    """3.8 keeps every 3.7 port (metrics 9055, 9091, 9100 included), adds 12387 and 12390, and no
    port the references do not list: 12389, 12391 and 12392 (named without scope in Mirantis' MKE 4
    upgrade summary) stay closed, as do the self-scoped ones."""
    v37, v38 = _tcp(ports.port_table("3.7")), _tcp(ports.port_table("3.8"))
    assert v38 - v37 == {12387, 12390}
    assert v37 <= v38
    crossing = _tcp(ports.manager_ports("3.8", False) + ports.worker_ports("3.8", False))
    assert not crossing & {12389, 12391, 12392, 6444, 9094, 9099, 10248, 12378}
    assert {9091, 9100} <= _tcp(ports.worker_ports("3.8", False))
    assert not {12387, 12390} & _tcp(ports.worker_ports("3.8", False))  # manager ports only


def test_mke_3_9_has_3_8_s_table():
    assert ports.port_table("3.9") == ports.port_table("3.8")


def test_the_merged_manager_block_is_one_rule_on_3_8():
    """12379-12388 are all manager ports on 3.8: one rule, so the management SG (one set per
    environment) does not grow with the release."""
    assert "TCP 12379-12388" in labels(ports.manager_ports("3.8", False))
    assert len(ports.manager_ports("3.8", False)) == len(ports.manager_ports("3.7", False))


def test_kubernetes_per_release_from_the_release_notes():
    assert ports.KUBERNETES_VERSIONS == {"3.0": (1, 8), "3.2": (1, 14), "3.7": (1, 27), "3.8": (1, 31), "3.9": (1, 34)}


def test_end_of_life_marks_only_the_unsupported_releases():
    assert ports.SUPPORTED == ("3.8", "3.9")
    assert ports.RELEASES["3.7"].end_of_life == "2025-08-29"


def test_calico_default_is_vxlan_on_mke_and_ip_in_ip_on_ucp():
    assert {v: ports.default_ip_in_ip(v) for v in ports.RELEASES} == {
        "3.0": True, "3.2": True, "3.7": False, "3.8": False, "3.9": False,
    }  # fmt: skip
    # VXLAN needs UDP 4789 between the VLANs, which every release opens; IP-in-IP only when chosen
    for release in ports.RELEASES:
        for rules in (ports.manager_ports(release, False), ports.worker_ports(release, False)):
            assert ("udp", 4789) in {(r.protocol.value, r.from_port) for r in rules}
            assert "IP protocol 4" not in labels(rules)
        assert "IP protocol 4" in labels(ports.worker_ports(release, True))


def test_reply_ports_cover_windows_only_where_windows_is():
    assert ports.reply_ports(False) == (32768, 60999)
    lo, hi = ports.reply_ports(True)
    assert lo <= 32768 and hi == 65535  # holds Linux 32768-60999 and Windows 49152-65535
    # and still no platform port of any release inside
    for release in ports.RELEASES:
        assert not [p for p in ports.reserved_ports(release) if lo <= p <= hi]
