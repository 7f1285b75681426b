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
