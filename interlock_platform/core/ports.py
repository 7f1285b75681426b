"""The UCP / MKE port matrix: the one table of which hosts listen on which ports, per release,
with what each release ships (its Kubernetes, its default Calico encapsulation, its end of life).

Sources, per release:
- UCP 3.2: docker/docs `ee/ucp/admin/install/system-requirements.md`; UCP 3.0: the differences
  the same page lists for it.
- MKE 3.7: Mirantis "Open ports to incoming traffic"
  (https://docs.mirantis.com/mke/3.7/install/predeployment/configure-networking/open-ports.html).
- MKE 3.8 and 3.9: the 3.7 page's rows, plus what each release's `install` reference tells you to
  open before joining nodes ("179, 10250, 12376, 12379-12388, 12390; 4789 (UDP) and 7946
  (TCP/UDP)" besides 443, 2376, 2377, 6443), identical on both:
  https://docs.mirantis.com/mke/3.8/cli-ref/mke-cli-install.html and
  https://docs.mirantis.com/mke4/3.9/cli-ref/mke-cli-install/ . Their own "Open ports" pages were
  not readable here; see docs/configuration.md ("UCP / MKE releases") for what that leaves open.
Everything else in the project (security groups, NACLs, validation, the preview's matrix)
derives its ports from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    # AWS wants IP protocol numbers as strings with ports 0..0 (hashicorp/terraform#10143).
    IP_IN_IP = "4"
    ESP = "50"


class Scope(StrEnum):
    INTERNAL = "internal"  # between cluster nodes
    EXTERNAL = "external"  # also from outside the cluster (admins, clients)
    SELF = "self"  # the host talks to itself: no firewall rule between VLANs


@dataclass(frozen=True)
class PortRule:
    protocol: Protocol
    from_port: int
    to_port: int
    managers: bool
    workers: bool
    scope: frozenset[Scope]
    purpose: str

    @property
    def label(self) -> str:
        if self.protocol in (Protocol.IP_IN_IP, Protocol.ESP):
            return f"IP protocol {self.protocol.value}"
        ports = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
        return f"{self.protocol.value.upper()} {ports}"

    @property
    def between_hosts(self) -> bool:
        return Scope.INTERNAL in self.scope or Scope.EXTERNAL in self.scope


def _r(proto: Protocol, ports: int | tuple[int, int], managers: bool, workers: bool, scope: str, purpose: str) -> PortRule:
    lo, hi = (ports, ports) if isinstance(ports, int) else ports
    return PortRule(proto, lo, hi, managers, workers, frozenset(Scope(s) for s in scope.split(",")), purpose)


T, U = Protocol.TCP, Protocol.UDP
M, W, MW = (True, False), (False, True), (True, True)

_UCP_3_2: tuple[PortRule, ...] = (
    _r(T, 179, *MW, "internal", "BGP peers (Calico, Kubernetes)"),
    _r(T, 443, *M, "external,internal", "UCP web UI and API"),
    _r(T, 2376, *M, "internal", "Docker swarm (legacy)"),
    _r(T, 2377, *M, "internal", "Swarm cluster management"),
    _r(U, 4789, *MW, "internal", "overlay networking (VXLAN)"),
    _r(T, 6443, *M, "external,internal", "Kubernetes API server"),
    _r(T, 6444, *MW, "self", "Kubernetes API reverse proxy"),
    _r(T, 7946, *MW, "internal", "gossip / node discovery"),
    _r(U, 7946, *MW, "internal", "gossip / node discovery"),
    _r(T, 9099, *MW, "self", "Calico health check"),
    _r(T, 10250, *MW, "internal", "kubelet"),
    _r(T, 12376, *MW, "internal", "TLS auth proxy to the Docker engine"),
    _r(T, 12378, *MW, "self", "etcd reverse proxy"),
    _r(T, (12379, 12386), *M, "internal", "etcd, UCP CAs, auth store, auth API, auth worker"),
    _r(T, 12388, *M, "internal", "Kubernetes API proxy"),
)

# UCP 3.0 listed 12387 (metrics) and neither 9099 nor 12388.
_UCP_3_0: tuple[PortRule, ...] = (
    *tuple(r for r in _UCP_3_2 if (r.from_port, r.protocol) not in {(9099, T), (12388, T)}),
    _r(T, 12387, *M, "internal", "UCP metrics"),
)

_MKE_3_7: tuple[PortRule, ...] = (
    *_UCP_3_2,
    _r(T, 9055, *M, "internal", "MKE 3.7 manager service"),
    _r(T, 9091, *MW, "internal", "MKE 3.7 node metrics"),
    _r(T, 9100, *MW, "internal", "MKE 3.7 node exporter"),
)

# MKE 3.8 and 3.9 tell you to open TCP 12387 and 12390 on managers besides 3.7's ports before
# nodes join (their `install` references, above). 12387 is the managers' Prometheus (the MKE 3.5
# "Open ports" page: "Managers, TCP 12387, Internal"). Mirantis' MKE 4 upgrade summary also names
# 12389, 12391 and 12392 among the MKE 3.8 ports, without hosts or scope: not opened here, since
# no 3.8/3.9 page asks for them between nodes.
# 12379-12388 are then one block of manager ports, one rule: security groups count rules, and
# the management group holds one set per environment.
_MKE_3_8: tuple[PortRule, ...] = (
    *(r for r in _MKE_3_7 if (r.protocol, r.from_port) not in {(T, 12379), (T, 12388)}),
    _r(T, (12379, 12388), *M, "internal", "etcd, MKE CAs, auth store, auth API, auth worker, Prometheus, Kubernetes API proxy"),
    _r(T, 12390, *M, "internal", "MKE manager port the install reference lists for joining nodes"),
)
_MKE_3_9: tuple[PortRule, ...] = _MKE_3_8  # the 3.9 install reference lists the same ports


@dataclass(frozen=True)
class Release:
    """What one UCP / MKE release ships, from Mirantis' (or Docker's) documentation of it."""

    ports: tuple[PortRule, ...]
    kubernetes: tuple[int, int]  # its Kubernetes (release notes): which NetworkPolicy selectors work there
    calico_ip_in_ip: bool  # its default Calico encapsulation is IP-in-IP (else VXLAN)
    end_of_life: str | None  # the date Mirantis printed on the release's archived docs; None: supported


# Kubernetes: UCP 3.0 1.8, UCP 3.2 1.14 (Docker's release notes), MKE 3.7 1.27; MKE 3.8 moved to
# 1.31 ("the container hash calculation change introduced in Kubernetes 1.31", the 3.9 release
# notes' note on upgrading 3.7 -> 3.8), MKE 3.9.0 ships 1.34.3
# (https://docs.mirantis.com/mke4/3.9/release-notes/3-9-0/).
# Calico: UCP 3.x encapsulated with IP-in-IP (Docker's system requirements tell AWS users to allow
# IP protocol 4); MKE's default is VXLAN ("Calico networking", the same text for 3.5, 3.7, 3.8 and
# https://docs.mirantis.com/mke4/3.9/install/predeployment/configure-networking/calico-networking/).
# End of life: the dates on Mirantis' archived doc sets (3.7: 2025-08-29). UCP 3.0 and 3.2 ended
# with Docker Enterprise, long before.
RELEASES: dict[str, Release] = {
    "3.0": Release(_UCP_3_0, (1, 8), True, "long past (Docker Enterprise)"),
    "3.2": Release(_UCP_3_2, (1, 14), True, "long past (Docker Enterprise)"),
    "3.7": Release(_MKE_3_7, (1, 27), False, "2025-08-29"),
    "3.8": Release(_MKE_3_8, (1, 31), False, None),
    "3.9": Release(_MKE_3_9, (1, 34), False, None),
}
PORT_TABLES: dict[str, tuple[PortRule, ...]] = {version: r.ports for version, r in RELEASES.items()}
KUBERNETES_VERSIONS: dict[str, tuple[int, int]] = {version: r.kubernetes for version, r in RELEASES.items()}
SUPPORTED = tuple(version for version, r in RELEASES.items() if r.end_of_life is None)


def default_ip_in_ip(ucp_version: str) -> bool:
    """Whether the release's Calico encapsulates with IP-in-IP unless told otherwise."""
    return RELEASES[ucp_version].calico_ip_in_ip

# IP protocols that cross between the management VLAN and the application VLANs.
IP_IN_IP = PortRule(Protocol.IP_IN_IP, 0, 0, True, True, frozenset({Scope.INTERNAL}), "Calico IP-in-IP pod network")
ESP = PortRule(Protocol.ESP, 0, 0, True, True, frozenset({Scope.INTERNAL}), "IPsec ESP for encrypted overlay networks")

# Ports UCP itself publishes on managers and workers: an Interlock proxy port must avoid them.
EPHEMERAL_PORTS = (1024, 65535)  # what any client may use (Windows and macOS from 49152, the NLB from 1024)
# The nodes' own ephemeral range (Linux net.ipv4.ip_local_port_range): replies to connections a
# node opens land here, also through a NAT gateway, which restores the node's port. It holds no
# platform port (all below 32768), so a NACL allow of it shadows none of them.
NODE_EPHEMERAL_PORTS = (32768, 60999)
# Windows' ephemeral range (AWS's NACL guidance; `netsh int ipv4 show dynamicport tcp`): replies to
# connections a Windows worker opens land here. With Linux's it makes one range, so a NACL that
# covers Windows workers (or answers them) admits both in one entry: no entry more to count.
WINDOWS_EPHEMERAL_PORTS = (49152, 65535)
LINUX_AND_WINDOWS_EPHEMERAL_PORTS = (NODE_EPHEMERAL_PORTS[0], WINDOWS_EPHEMERAL_PORTS[1])


def reply_ports(windows: bool) -> tuple[int, int]:
    """Where replies land on nodes: Linux's ephemeral range, widened to Windows' where Windows is."""
    return LINUX_AND_WINDOWS_EPHEMERAL_PORTS if windows else NODE_EPHEMERAL_PORTS

# The only ports workers may use towards the internet (image pulls, package mirrors): 0.0.0.0/0
# also holds every environment's range inside the VPC, so any other port goes to named networks.
WORLD_EGRESS_PORTS = (80, 443)
ADMIN_PORTS = (443, 6443)


def port_table(ucp_version: str) -> tuple[PortRule, ...]:
    return PORT_TABLES[ucp_version]


def encapsulation(calico_ip_in_ip: bool, esp: bool = True) -> tuple[PortRule, ...]:
    return tuple(rule for rule, on in ((IP_IN_IP, calico_ip_in_ip), (ESP, esp)) if on)


def manager_ports(ucp_version: str, calico_ip_in_ip: bool, esp: bool = True) -> tuple[PortRule, ...]:
    """What managers listen on for other nodes: the management SG admits these from workers."""
    return tuple(r for r in port_table(ucp_version) if r.managers and r.between_hosts) + encapsulation(calico_ip_in_ip, esp)


def worker_ports(ucp_version: str, calico_ip_in_ip: bool, esp: bool = True) -> tuple[PortRule, ...]:
    """What workers listen on for managers: the worker SG admits these from the management SG."""
    return tuple(r for r in port_table(ucp_version) if r.workers and r.between_hosts) + encapsulation(calico_ip_in_ip, esp)


# The overlay data plane (VXLAN and gossip): what crosses between the application groups of an
# environment, which share its overlay networks.
OVERLAY_DATA_PLANE = ((Protocol.UDP, 4789), (Protocol.TCP, 7946), (Protocol.UDP, 7946))


def overlay_data_plane(ucp_version: str, calico_ip_in_ip: bool, esp: bool = True) -> tuple[PortRule, ...]:
    """Between workers of one environment in different application groups: VXLAN, gossip, and
    the encapsulations (IP-in-IP with Calico, ESP for encrypted overlays)."""
    table = tuple(r for r in port_table(ucp_version) if (r.protocol, r.from_port) in OVERLAY_DATA_PLANE and r.workers)
    return table + encapsulation(calico_ip_in_ip, esp)


def reserved_ports(ucp_version: str) -> dict[int, str]:
    """Every TCP port a UCP node already uses (any scope), with its purpose."""
    used: dict[int, str] = {}
    for r in port_table(ucp_version):
        if r.protocol is Protocol.TCP:
            for p in range(r.from_port, r.to_port + 1):
                used.setdefault(p, f"UCP {r.purpose}")
    return used
