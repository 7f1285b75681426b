"""Stack config in, validated model out: parsing and the semantic checks.

`parse_shared` reads the shared stack's config; `parse_environment` reads an env stack's config
together with what the shared stack exports (the same keys, so one parser serves both). Shape
checks come from `config_reader`, the result is the `model`, and the quota checks count what
`firewall_plan` will build. Every problem found is collected, and `InvalidConfig` carries all of
them, each naming the stack, the config key and the fix.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from interlock_platform.core import firewall_plan, ports
from interlock_platform.core import teams as team_config
from interlock_platform.core.config_keys import BY_NAME, DEFAULT_EGRESS, ENVIRONMENT_KEYS, PROJECT, SHARED_KEYS, without_defaults
from interlock_platform.core.config_reader import (
    LABEL_KEY_RE,
    LABEL_VALUE_RE,
    InvalidConfig,
    Problem,
    Problems,
    Reader,
)
from interlock_platform.core.k8s_manifests import NAMESPACE_AND_POD_PEERS_SINCE
from interlock_platform.core.model import (
    ISOLATION_MODES,
    WORLD,
    ApplicationGroup,
    EgressRule,
    EnvironmentSpec,
    EnvironmentTopology,
    GroupFlow,
    IngressNode,
    InterlockSettings,
    LoadBalancerOptions,
    OverlayNetworks,
    Quotas,
    SharedTopology,
    Subnet,
    UcpConnection,
    covering_block,
)

ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
GROUP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
AZ_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d[a-z]$")
INSTANCE_ID_RE = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
KMS_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d:\d{12}:key/[A-Za-z0-9-]{1,64}$")
# What EC2 accepts in a security group's or rule's description (the provider checks only the length)
EC2_DESCRIPTION_RE = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
HOSTED_ZONE_RE = re.compile(r"^Z[A-Z0-9]{1,31}$")
STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
COLLECTION_RE = re.compile(r"^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# EC2 private DNS names carry the address: ip-10-40-64-10.eu-west-1.compute.internal
EC2_HOSTNAME_IP_RE = re.compile(r"^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(\.|$)")
FLOW_LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

AWS_SMALLEST_SUBNET = 28  # AWS subnets and VPCs are /16 .. /28
AWS_LARGEST_VPC = 16

UCP_BUNDLE_KEYS = ("ucpCaCert", "ucpClientCert", "ucpClientKey")
UCP_HOST_RE = re.compile(r"^(unix|tcp|ssh)://\S+$")
NETWORK_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _valid_dns_name(name: str) -> bool:
    """A domain of two labels or more whose top-level label is not all digits (RFC 3696 2):
    `65535` or `10.40.0.1` would make `*.65535` records no one can resolve."""
    if len(name) > 253 or name.endswith(".") or not name or "." not in name or name.rsplit(".", 1)[-1].isdigit():
        return False
    return all(DNS_LABEL_RE.match(label) for label in name.split("."))


# --------------------------------------------------------------------------------------------
# The shared stack


def _default(key: str) -> Any:
    """A key's declared default (interlock_platform/core/config_keys.py): one value, whether the CLI merged it or not."""
    return BY_NAME[key].default


def _check_region(p: Problems, aws_region: str, expected: str, whose: str) -> None:
    """The AWS provider creates everything in aws:region; zones of another region do not exist there."""
    if not aws_region:
        p.add("aws:region", "is not set", f"set it to {expected}: `pulumi config set aws:region {expected} -s {p.stack}`")
    elif aws_region != expected:
        p.add(
            "aws:region",
            f"is {aws_region}, but {whose} in {expected}",
            f"set aws:region to {expected} (`pulumi config set aws:region {expected} -s {p.stack}`), or use zones of {aws_region}",
        )


def _check_role_keys(p: Problems, raw: Mapping[str, Any], role: str) -> None:
    own, other = (SHARED_KEYS, ENVIRONMENT_KEYS) if role == "shared" else (ENVIRONMENT_KEYS, SHARED_KEYS)
    for key in raw:
        if key in own:
            continue
        if key in other:
            where = "environment stacks" if role == "shared" else "the shared stack"
            p.add(key, f"belongs to {where}, not to a {role} stack", f"remove it from stacks/Pulumi.{p.stack}.yaml")
        else:
            near = difflib.get_close_matches(key, own, n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"the {role} keys are {', '.join(own)}"
            p.add(key, "is not a known key", f"remove or rename it ({hint})")


def parse_shared(
    stack: str, raw: Mapping[str, Any], *, from_outputs: bool = False, aws_region: str | None = None
) -> SharedTopology:
    """Validate the shared stack's config (or, from an env stack, the shared stack's outputs).
    `aws_region`, when given ("" when unset), must hold the availability zones."""
    p = Problems(stack)
    r = Reader(p)
    if not from_outputs:
        raw = without_defaults(dict(raw))
        _check_role_keys(p, raw, "shared")

    vpc = r.cidr("vpcCidr", raw.get("vpcCidr"), "set the VPC's IPv4 block, a /16 to /28")
    if vpc is not None and not AWS_LARGEST_VPC <= vpc.prefixlen <= AWS_SMALLEST_SUBNET:
        p.add("vpcCidr", f"{vpc} has prefix /{vpc.prefixlen}; AWS VPCs are /16 to /28", "choose a block between /16 and /28")
        vpc = None

    azs_raw = r.listing(
        "availabilityZones",
        raw.get("availabilityZones"),
        "list the availability zones, e.g. [eu-west-1a, eu-west-1b, eu-west-1c]",
    )
    azs: list[str] = []
    if azs_raw is not None:
        for i, az in enumerate(azs_raw):
            if not isinstance(az, str) or not AZ_RE.match(az):
                p.add(f"availabilityZones[{i}]", f"{az!r} is not an availability zone name", "use names such as eu-west-1a")
            elif az in azs:
                p.add(f"availabilityZones[{i}]", f"{az} is listed twice", "list each zone once")
            else:
                azs.append(az)
        regions = {az[:-1] for az in azs}
        if len(regions) > 1:
            p.add("availabilityZones", f"zones span several regions ({', '.join(sorted(regions))})", "list zones of one region")
        elif regions and aws_region is not None:
            _check_region(p, aws_region, regions.pop(), "the availability zones are")

    def per_az(key: str, what: str) -> list[ipaddress.IPv4Network]:
        nets = r.cidr_list(key, raw.get(key), f"list one {what} subnet per availability zone")
        if nets is None:
            return []
        if azs_raw is not None and len(nets) != len(azs_raw):
            p.add(
                key,
                f"has {len(nets)} subnets for {len(azs_raw)} availability zones",
                "give exactly one subnet per zone, in the order of availabilityZones",
            )
        for i, n in enumerate(nets):
            if n.prefixlen > AWS_SMALLEST_SUBNET:
                p.add(f"{key}[{i}]", f"{n} is smaller than AWS allows (/28)", "use a /28 or larger")
            if vpc is not None and not n.subnet_of(vpc):
                p.add(f"{key}[{i}]", f"{n} is outside the VPC {vpc}", f"carve it from {vpc}")
        return nets

    mgmt = per_az("managementCidrs", "management VLAN")
    edge = per_az("edgeCidrs", "edge (public)")
    blocks: list[tuple[str, ipaddress.IPv4Network]] = []
    for key, nets in (("managementCidrs", mgmt), ("edgeCidrs", edge)):
        if nets:
            blocks.append((key, covering_block(nets)))
    all_subnets = [("managementCidrs", i, n) for i, n in enumerate(mgmt)] + [("edgeCidrs", i, n) for i, n in enumerate(edge)]
    for a in range(len(all_subnets)):
        for b in range(a + 1, len(all_subnets)):
            ka, ia, na = all_subnets[a]
            kb, ib, nb = all_subnets[b]
            if na.overlaps(nb):
                p.add(f"{kb}[{ib}]", f"{nb} overlaps {ka}[{ia}] {na}", "give every subnet its own block")
    if (
        len(blocks) == 2
        and blocks[0][1].overlaps(blocks[1][1])
        and not any(na.overlaps(nb) for _, _, na in all_subnets[: len(mgmt)] for _, _, nb in all_subnets[len(mgmt) :])
    ):
        p.add(
            "managementCidrs",
            f"the management VLAN block {blocks[0][1]} (the smallest prefix holding every management subnet, which NACLs admit as one entry) overlaps the edge block {blocks[1][1]}",
            "choose contiguous, aligned management and edge subnets, e.g. 10.40.0.0/24-10.40.2.0/24 and 10.40.4.0/24-10.40.6.0/24",
        )

    admins = r.cidr_list(
        "adminCidrs",
        raw.get("adminCidrs"),
        "list the networks that may reach UCP on 443 and 6443 (your admin VPN or bastion ranges)",
    )
    for i, n in enumerate(admins or []):
        if n.prefixlen == 0:
            p.add(
                f"adminCidrs[{i}]",
                "0.0.0.0/0 opens the UCP API and the Kubernetes API to the whole internet",
                "list your admin networks instead",
            )

    version = raw.get("ucpVersion")
    version = str(version) if isinstance(version, (int, float)) and not isinstance(version, bool) else version
    if (
        r.string("ucpVersion", version, f"set the UCP / MKE release, one of {', '.join(ports.PORT_TABLES)}") is not None
        and version not in ports.PORT_TABLES
    ):
        p.add(
            "ucpVersion",
            f"'{version}' has no port table",
            f"use one of {', '.join(ports.PORT_TABLES)}, or add the release's table to interlock_platform/core/ports.py from its system requirements page",
        )
        version = None
    calico = (
        _default("calicoIpInIp")
        if raw.get("calicoIpInIp") is None
        else r.boolean(
            "calicoIpInIp",
            raw.get("calicoIpInIp"),
            "set true when Calico uses IP-in-IP (UCP 3.x), false for VXLAN (MKE 3.8 default)",
        )
    )

    nat = raw.get("natGateways", _default("natGateways"))
    if nat not in ("perAz", "single"):
        p.add(
            "natGateways",
            f"{nat!r} is not a NAT layout",
            "use perAz (one NAT gateway per zone, survives a zone outage) or single",
        )
    retention = r.integer(
        "flowLogRetentionDays",
        raw.get("flowLogRetentionDays", _default("flowLogRetentionDays")),
        "use a CloudWatch Logs retention",
        1,
        3653,
    )
    if retention is not None and retention not in FLOW_LOG_RETENTION_DAYS:
        p.add(
            "flowLogRetentionDays",
            f"{retention} is not a CloudWatch Logs retention period",
            f"use one of {', '.join(map(str, FLOW_LOG_RETENTION_DAYS))}",
        )

    kms_key = raw.get("flowLogKmsKeyArn")
    if kms_key is not None and (not isinstance(kms_key, str) or not KMS_KEY_ARN_RE.match(kms_key)):
        p.add(
            "flowLogKmsKeyArn",
            f"{kms_key!r} is not a KMS key ARN",
            "give arn:aws:kms:<region>:<account>:key/<key-id> (a key, not an alias), or remove it to let the stack create one",
        )
        kms_key = None
    elif kms_key is not None and azs and kms_key.split(":")[3] != azs[0][:-1]:
        p.add(
            "flowLogKmsKeyArn",
            f"the key is in {kms_key.split(':')[3]}, the flow logs in {azs[0][:-1]}",
            "give a key of the stack's region: CloudWatch Logs cannot use a key of another region",
        )

    quotas = _parse_quotas(r, raw.get("awsQuotas"))
    envs = _parse_registry(p, r, raw.get("environments"), vpc, mgmt, edge, blocks, version, quotas, len(mgmt) + len(edge))
    interlock = _parse_interlock_settings(r, raw.get("interlock"))
    ucp = None if from_outputs else _parse_ucp(p, r, raw)
    p.raise_if_any()

    assert vpc is not None and version is not None and calico is not None and retention is not None  # checked above
    shared = SharedTopology(
        stack=stack,
        vpc_cidr=vpc,
        availability_zones=tuple(azs),
        management_cidrs=tuple(mgmt),
        edge_cidrs=tuple(edge),
        admin_cidrs=tuple(admins or ()),
        ucp_version=version,
        calico_ip_in_ip=calico,
        nat_gateways=str(nat),
        flow_log_retention_days=retention,
        quotas=quotas,
        environments=envs,
        interlock=interlock,
        ucp=ucp,
        flow_log_kms_key_arn=kms_key,
    )
    if not from_outputs:
        _check_shared_quotas(p, shared)
    p.raise_if_any()
    return shared


def _parse_ucp(p: Problems, r: Reader, raw: Mapping[str, Any]) -> UcpConnection | None:
    host = r.string("ucpHost", raw.get("ucpHost"), "give the UCP address from the client bundle, e.g. tcp://ucp.example.com:443")
    if host is None:
        return None
    if not UCP_HOST_RE.match(host):
        p.add(
            "ucpHost",
            f"'{host}' is not a Docker engine address",
            "write tcp://<ucp-host>:443 (or unix:///var/run/docker.sock on a manager)",
        )
        return None
    conn = UcpConnection(host)
    if conn.uses_tls:
        for key in UCP_BUNDLE_KEYS:
            if raw.get(key) is None:
                source = {"ucpCaCert": "ca.pem", "ucpClientCert": "cert.pem", "ucpClientKey": "key.pem"}[key]
                p.add(
                    key,
                    f"is not set; {host} needs the client bundle's {source}",
                    f"run `pulumi config set --secret {PROJECT}:{key} < {source}` in the unzipped client bundle",
                )
    return conn


def _parse_interlock_settings(r: Reader, value: Any) -> InterlockSettings:
    fields = ("retireDefaultExtension", "template", "keepConfigs", "healthSeconds")
    cfg = (
        r.mapping("interlock", value, "give {retireDefaultExtension, template, keepConfigs, healthSeconds}", fields)
        if value is not None
        else {}
    ) or {}
    default = InterlockSettings()
    retire = r.boolean(
        "interlock.retireDefaultExtension",
        cfg.get("retireDefaultExtension", False),
        "set true to remove [Extensions.default] and its stale services",
    )
    template = r.string(
        "interlock.template", cfg.get("template", "default"), "name the extension new service clusters are cloned from"
    )
    keep = r.integer(
        "interlock.keepConfigs", cfg.get("keepConfigs", 3), "give how many Interlock config objects to keep for rollback", 2, 50
    )
    health = r.integer(
        "interlock.healthSeconds",
        cfg.get("healthSeconds", default.health_seconds),
        "give how many seconds Interlock must run a new config without failing (it must cover Interlock's start)",
        5,
        600,
    )
    return InterlockSettings(
        default.retire_default_extension if retire is None else retire,
        template or default.template,
        keep or default.keep_configs,
        health or default.health_seconds,
    )


def _parse_quotas(r: Reader, value: Any) -> Quotas:
    if value is None:
        return Quotas()
    fields = ("securityGroupRulesPerDirection", "naclRulesPerDirection", "subnetsPerVpc")
    q = r.mapping("awsQuotas", value, "give the quotas of your AWS account", fields) or {}
    default = Quotas()
    sg = r.integer(
        "awsQuotas.securityGroupRulesPerDirection",
        q.get("securityGroupRulesPerDirection", 60),
        "AWS allows up to 1000 (rules x groups per ENI <= 1000)",
        1,
        1000,
    )
    nacl = r.integer(
        "awsQuotas.naclRulesPerDirection",
        q.get("naclRulesPerDirection", 20),
        "AWS allows at most 40 rules per NACL direction",
        1,
        40,
    )
    subnets = r.integer(
        "awsQuotas.subnetsPerVpc", q.get("subnetsPerVpc", 200), "use your account's subnets-per-VPC quota", 1, 10000
    )
    return Quotas(
        sg or default.security_group_rules_per_direction,
        nacl or default.nacl_rules_per_direction,
        subnets or default.subnets_per_vpc,
    )


ENV_FIELDS = ("cidr", "collection", "httpPort", "httpsPort", "collectionNodeSelector", "maxSubnets", "allowEsp")


def _parse_registry(
    p: Problems,
    r: Reader,
    value: Any,
    vpc: ipaddress.IPv4Network | None,
    mgmt: list[ipaddress.IPv4Network],
    edge: list[ipaddress.IPv4Network],
    blocks: list[tuple[str, ipaddress.IPv4Network]],
    version: str | None,
    quotas: Quotas,
    shared_subnets: int,
) -> dict[str, EnvironmentSpec]:
    registry = r.mapping(
        "environments", value, "map each environment name to {cidr, collection, httpPort, httpsPort, collectionNodeSelector}"
    )
    if registry is None:
        return {}
    if not registry:
        p.add("environments", "is empty", "register at least one environment (dev, test, prod)")
        return {}
    reserved = ports.reserved_ports(version) if version else {}
    seen_cidrs: list[tuple[str, ipaddress.IPv4Network]] = []
    seen_ports: dict[int, str] = {}
    seen_collections: dict[str, str] = {}
    parsed: dict[str, dict[str, Any]] = {}
    for name, entry in registry.items():
        key = f"environments.{name}"
        if not ENV_NAME_RE.match(name):
            p.add(
                key,
                f"'{name}' is not a usable environment name",
                "use lower-case letters, digits and '-', starting with a letter, at most 16 characters",
            )
        e = r.mapping(key, entry, "give {cidr, collection, httpPort, httpsPort, collectionNodeSelector}", ENV_FIELDS)
        if e is None:
            continue
        cidr = r.cidr(f"{key}.cidr", e.get("cidr"), f"give the environment's VLAN block inside the VPC {vpc}")
        if cidr is not None:
            if vpc is not None and not cidr.subnet_of(vpc):
                p.add(f"{key}.cidr", f"{cidr} is outside the VPC {vpc}", f"carve it from {vpc}")
            for other, ocidr in seen_cidrs:
                if cidr.overlaps(ocidr):
                    p.add(
                        f"{key}.cidr",
                        f"{cidr} overlaps environment '{other}' ({ocidr}); environments must not share addresses",
                        "give each environment its own block",
                    )
            for i, n in enumerate(mgmt):
                if cidr.overlaps(n):
                    p.add(
                        f"{key}.cidr", f"{cidr} overlaps managementCidrs[{i}] {n}", "keep environments out of the management VLAN"
                    )
            for i, n in enumerate(edge):
                if cidr.overlaps(n):
                    p.add(f"{key}.cidr", f"{cidr} overlaps edgeCidrs[{i}] {n}", "keep environments out of the edge subnets")
            for bkey, block in blocks:
                if cidr.overlaps(block) and not any(cidr.overlaps(n) for n in mgmt + edge):
                    p.add(
                        f"{key}.cidr",
                        f"{cidr} overlaps the {bkey} block {block}, which NACLs admit as one entry",
                        f"move the environment out of {block}",
                    )
            seen_cidrs.append((name, cidr))
        collection = r.string(f"{key}.collection", e.get("collection"), "give the UCP collection path, e.g. /prod")
        if collection is not None:
            if not COLLECTION_RE.match(collection):
                p.add(
                    f"{key}.collection",
                    f"'{collection}' is not a collection path",
                    "write it as /name, e.g. /prod or /prod/payments",
                )
            elif collection in seen_collections:
                p.add(
                    f"{key}.collection",
                    f"{collection} is already the collection of '{seen_collections[collection]}'",
                    "give each environment its own collection",
                )
            else:
                seen_collections[collection] = name
        env_ports: dict[str, int | None] = {}
        for pk in ("httpPort", "httpsPort"):
            port = r.integer(f"{key}.{pk}", e.get(pk), "give the Interlock proxy's published port", 1, 65535)
            env_ports[pk] = port
            if port is None:
                continue
            if port in reserved:
                p.add(
                    f"{key}.{pk}",
                    f"{port} is used by UCP itself ({reserved[port]})",
                    "pick a free port such as 8080-8089 or 8443-8449",
                )
            elif port in seen_ports:
                p.add(
                    f"{key}.{pk}",
                    f"{port} is already the {seen_ports[port]}; Interlock service clusters need their own ports",
                    "give every environment distinct HTTP and HTTPS ports",
                )
            else:
                seen_ports[port] = f"{pk} of environment '{name}'"
        selector = r.string(
            f"{key}.collectionNodeSelector",
            e.get("collectionNodeSelector"),
            "give the node label of the collection, e.g. com.docker.ucp.collection.prod=true",
        )
        if selector is not None and not _valid_selector(selector):
            p.add(
                f"{key}.collectionNodeSelector",
                f"'{selector}' is not a Kubernetes label selector key=value (values cannot contain '/')",
                "use the collection's node label, e.g. com.docker.ucp.collection.prod=true",
            )
        max_subnets = None
        if e.get("maxSubnets") is not None:
            max_subnets = r.integer(
                f"{key}.maxSubnets",
                e.get("maxSubnets"),
                "give this environment's share of the VPC's subnets",
                1,
                quotas.subnets_per_vpc,
            )
        esp = r.boolean(
            f"{key}.allowEsp", e.get("allowEsp", True), "set false only if no overlay network of this environment is encrypted"
        )
        parsed[name] = {
            "cidr": cidr,
            "collection": collection,
            "selector": selector,
            "max": max_subnets,
            "esp": esp is not False,
            **env_ports,
        }

    explicit = sum(v["max"] or 0 for v in parsed.values())
    unset = [n for n, v in parsed.items() if v["max"] is None]
    remaining = quotas.subnets_per_vpc - shared_subnets - explicit
    if remaining < len(unset) or (not unset and remaining < 0):
        p.add(
            "environments",
            f"the environments' subnet shares ({explicit} set explicitly) plus the {shared_subnets} shared subnets exceed the {quotas.subnets_per_vpc} subnets AWS allows per VPC",
            "lower environments.<name>.maxSubnets, or raise awsQuotas.subnetsPerVpc after AWS raised your quota",
        )
        return {}
    default_share = remaining // len(unset) if unset else 0
    out: dict[str, EnvironmentSpec] = {}
    for name, v in parsed.items():
        if None in (v["cidr"], v["collection"], v["selector"], v["httpPort"], v["httpsPort"]):
            continue
        out[name] = EnvironmentSpec(
            name, v["cidr"], v["collection"], v["httpPort"], v["httpsPort"], v["selector"], v["max"] or default_share, v["esp"]
        )
    return out


def _valid_selector(selector: str) -> bool:
    key, sep, value = selector.partition("=")
    return bool(sep) and bool(LABEL_KEY_RE.match(key)) and bool(LABEL_VALUE_RE.match(value)) and len(key.split("/")[-1]) <= 63


def _check_shared_quotas(p: Problems, shared: SharedTopology) -> None:

    limit = shared.quotas.security_group_rules_per_direction
    for sg, rules in firewall_plan.projected_management_rules(shared).items():
        for direction in ("ingress", "egress"):
            counted = [rule for rule in rules if rule.direction == direction]
            if len(counted) > limit:
                per_env = Counter(
                    rule.peer.value.removeprefix("workers:") for rule in counted if rule.peer.value.startswith("workers:")
                )
                admins = sum(1 for rule in counted if rule.peer.kind == "cidr")
                breakdown = f"{admins} for adminCidrs and egress, " + ", ".join(f"{n} for {env}" for env, n in per_env.items())
                p.add(
                    "environments" if per_env else "adminCidrs",
                    f"the {sg} security group would hold {len(counted)} {direction} rules with every environment deployed ({breakdown}), over the AWS quota of {limit}",
                    "register fewer environments or admin CIDRs, or raise awsQuotas.securityGroupRulesPerDirection after AWS raised your quota",
                )
    nlimit = shared.quotas.nacl_rules_per_direction
    entries = firewall_plan.management_nacl(shared)
    for egress in (False, True):
        n = sum(1 for e in entries if e.egress == egress)
        if n > nlimit:
            p.add(
                "adminCidrs",
                f"the management NACL would hold {n} {'outbound' if egress else 'inbound'} entries, over the quota of {nlimit}",
                "list fewer admin CIDRs or environments, or raise awsQuotas.naclRulesPerDirection (AWS allows up to 40)",
            )


# --------------------------------------------------------------------------------------------
# Environment stacks


GROUP_FIELDS = ("name", "prefixLength", "firstSubnet", "allowFrom")
FLOW_FIELDS = ("group", "ports", "protocol")
NODE_FIELDS = ("hostname", "instanceId", "availabilityZone")
LB_FIELDS = ("scheme", "clientCidrs", "deletionProtection")
EGRESS_FIELDS = ("description", "cidr", "protocol", "port", "fromPort", "toPort")


def stack_role(stack: str, raw: Mapping[str, Any]) -> str:
    role = raw.get("role")
    if role not in ("shared", "environment"):
        raise InvalidConfig(
            [
                Problem(
                    stack,
                    "role",
                    f"is {role!r}",
                    "set it to 'shared' for the cluster-wide stack or 'environment' for dev, test and prod",
                )
            ]
        )
    return str(role)


def parse_environment(
    stack: str, raw: Mapping[str, Any], shared_outputs: Mapping[str, Any] | None, *, aws_region: str | None = None
) -> EnvironmentTopology:
    """Validate an env stack's config against the shared stack's exported registry. `aws_region`,
    when given ("" when unset), must be the shared stack's region."""
    p = Problems(stack)
    r = Reader(p)
    raw = without_defaults(dict(raw))
    _check_role_keys(p, raw, "environment")
    shared_stack = r.string(
        "sharedStack", raw.get("sharedStack"), "give the shared stack's fully qualified name, <org>/interlock-platform/shared"
    )
    if shared_stack is not None and not STACK_NAME_RE.match(shared_stack):
        p.add("sharedStack", f"'{shared_stack}' is not a fully qualified stack name", "write <org>/interlock-platform/shared")
    name = r.string(
        "environment",
        raw.get("environment"),
        "name the environment this stack deploys (a key of the shared stack's environments)",
    )
    shared: SharedTopology | None = None
    if shared_outputs is not None:
        try:
            shared = parse_shared(shared_stack or "shared", shared_outputs, from_outputs=True)
        except InvalidConfig as err:
            for prob in err.problems:
                p.add(
                    "sharedStack",
                    f"the shared stack exports an unusable value: {prob.key}: {prob.message}",
                    "run `pulumi up -s shared` with a valid config first",
                )
    if shared is not None and shared.availability_zones and aws_region is not None:
        _check_region(p, aws_region, shared.availability_zones[0][:-1], "the shared stack's zones are")
    env: EnvironmentSpec | None = None
    if shared is not None and name is not None:
        env = shared.environments.get(name)
        if env is None:
            p.add(
                "environment",
                f"'{name}' is not in the shared stack's registry (it has {', '.join(sorted(shared.environments)) or 'none'})",
                f"use one of those, or add '{name}' to interlock-platform:environments in the shared stack and run `pulumi up -s shared` first",
            )

    domain = r.string(
        "domain",
        raw.get("domain"),
        "give the DNS domain whose wildcard points at this environment's load balancer, e.g. dev.apps.example.com",
    )
    if domain is not None and not _valid_dns_name(domain):
        p.add("domain", f"'{domain}' is not a DNS name", "use lower-case labels separated by dots, e.g. dev.apps.example.com")
    zone = raw.get("hostedZoneId")
    if zone is not None and (not isinstance(zone, str) or not HOSTED_ZONE_RE.match(zone)):
        p.add(
            "hostedZoneId",
            f"{zone!r} is not a Route 53 hosted zone id",
            "copy the id from Route 53, e.g. Z0123456789ABCDEFGHIJ, or remove the key to skip DNS",
        )

    groups = _parse_groups(p, r, raw.get("applicationGroups"), env, shared)
    nodes = _parse_nodes(p, r, raw.get("ingressNodes"), env, shared, groups)
    lb = _parse_load_balancer(p, r, raw.get("loadBalancer"), env, shared)
    egress = _parse_egress(p, r, raw.get("egress"), env, shared)
    ucp = _parse_ucp(p, r, raw)
    replicas = _parse_proxy_replicas(r, raw.get("interlock"))
    overlay = _parse_overlay(p, r, raw.get("overlayNetworks"), name, env)
    tls = _parse_tls(p, r, raw)
    isolation = raw.get("isolation", _default("isolation"))
    if isolation not in ISOLATION_MODES:
        p.add("isolation", f"{isolation!r} is not an isolation mode", "use environment or applicationGroup")
    _check_group_flows(p, groups, isolation)
    https_only = r.boolean(
        "httpsOnly", raw.get("httpsOnly", _default("httpsOnly")), "set true to redirect every app's HTTP host to HTTPS"
    )

    others = {o.name: o.cidr for o in (shared.environments.values() if shared else ()) if env is None or o.name != env.name}
    teams = team_config.parse_teams(p, r, raw.get("teams"), name, others)
    kubernetes = team_config.parse_kubernetes(
        p, r, raw.get("kubernetes"), ports.KUBERNETES_VERSIONS.get(shared.ucp_version) if shared else None
    )
    if teams and kubernetes.kubernetes_version < NAMESPACE_AND_POD_PEERS_SINCE and shared is not None:
        p.add(
            "teams",
            f"UCP {shared.ucp_version} ships Kubernetes {'.'.join(map(str, kubernetes.kubernetes_version))}, whose NetworkPolicies cannot "
            "select pods of another namespace (the DNS pods in kube-system), so team isolation cannot be built there",
            "upgrade to UCP 3.2 or later, or remove teams from this stack",
        )
    if teams and raw.get("kubeconfig") is None:
        p.add(
            "kubeconfig",
            "is not set, and teams are on-boarded",
            f"run `pulumi config set --secret {PROJECT}:kubeconfig < kube.yml` from the UCP client bundle",
        )
    p.raise_if_any()
    if shared is None or env is None:
        raise InvalidConfig(
            [Problem(stack, "sharedStack", "the shared stack's outputs could not be read", "run `pulumi up -s shared` first")]
        )

    assert domain is not None and shared_stack is not None
    assert ucp is not None and overlay is not None
    topo = EnvironmentTopology(
        stack, shared_stack, shared, env, domain, zone, tuple(groups), tuple(nodes), lb, tuple(egress), ucp, replicas, overlay, tls,
        teams, kubernetes, str(isolation), bool(https_only),
    )  # fmt: skip
    _check_environment_quotas(p, topo)
    p.raise_if_any()
    return topo


def _parse_groups(
    p: Problems, r: Reader, value: Any, env: EnvironmentSpec | None, shared: SharedTopology | None
) -> list[ApplicationGroup]:
    items = r.listing(
        "applicationGroups", value, "list the application groups (VLANs) of this environment: [{name, prefixLength, firstSubnet}]"
    )
    if items is None:
        return []
    if env is not None and shared is not None and len(items) * len(shared.availability_zones) > env.max_subnets:
        # the same refusal as _check_environment_quotas, before the pairwise overlap checks below:
        # 1,200 groups took 19 s and printed a problem per overlapping pair
        p.add(
            "applicationGroups",
            f"{len(items)} groups x {len(shared.availability_zones)} zones = {len(items) * len(shared.availability_zones)} subnets, over this environment's share of {env.max_subnets} of the VPC's {shared.quotas.subnets_per_vpc}",
            f"use fewer application groups, or raise environments.{env.name}.maxSubnets in the shared stack",
        )
        return []
    groups: list[ApplicationGroup] = []
    names: set[str] = set()
    taken: list[tuple[str, Subnet]] = []
    for i, item in enumerate(items):
        key = f"applicationGroups[{i}]"
        g = r.mapping(key, item, "give {name, prefixLength, firstSubnet}", GROUP_FIELDS)
        if g is None:
            continue
        gname = r.string(f"{key}.name", g.get("name"), "name the application group, e.g. payments")
        if gname is not None:
            if not GROUP_NAME_RE.match(gname):
                p.add(
                    f"{key}.name",
                    f"'{gname}' is not a usable name",
                    "use lower-case letters, digits and '-', starting with a letter, at most 31 characters",
                )
            elif gname in names:
                p.add(f"{key}.name", f"'{gname}' is listed twice", "give each application group its own name")
            names.add(gname)
        lo = env.cidr.prefixlen if env else AWS_LARGEST_VPC
        prefix = r.integer(
            f"{key}.prefixLength",
            g.get("prefixLength"),
            f"give the size of each zone's subnet, a prefix between /{lo} and /28",
            0,
            32,
        )
        if prefix is not None and not lo <= prefix <= AWS_SMALLEST_SUBNET:
            p.add(
                f"{key}.prefixLength",
                f"/{prefix} is not between the environment's /{lo} and the smallest AWS subnet /28",
                f"use a prefix length between {lo} and 28",
            )
            prefix = None
        first = r.integer(
            f"{key}.firstSubnet",
            g.get("firstSubnet"),
            "give the index of the group's first subnet within the environment block",
            0,
            1 << 16,
        )
        if None in (gname, prefix, first) or env is None or shared is None:
            continue
        assert prefix is not None and first is not None and gname is not None
        blocks = list(env.cidr.subnets(new_prefix=prefix)) if prefix - env.cidr.prefixlen <= 16 else []
        azs = shared.availability_zones
        if first + len(azs) > len(blocks):
            p.add(
                f"{key}.firstSubnet",
                f"subnets {first}..{first + len(azs) - 1} of /{prefix} do not fit in {env.cidr} (it holds {len(blocks)})",
                f"use a firstSubnet of at most {len(blocks) - len(azs)} or a longer prefix",
            )
            continue
        subnets = tuple(Subnet(az, blocks[first + j]) for j, az in enumerate(azs))
        for s in subnets:
            for other, o in taken:
                if s.cidr.overlaps(o.cidr):
                    p.add(
                        f"{key}.firstSubnet",
                        f"subnet {s.cidr} ({s.availability_zone}) overlaps {o.cidr} of group '{other}'",
                        "move the group to a free range of the environment block",
                    )
            taken.append((gname, s))
        flows = _parse_flows(p, r, f"{key}.allowFrom", g.get("allowFrom"))
        groups.append(ApplicationGroup(gname, prefix, first, subnets, flows))
    return groups


def _parse_flows(p: Problems, r: Reader, key: str, value: Any) -> tuple[GroupFlow, ...]:
    """allowFrom: [{group, ports, protocol}]: who may reach this group's hosts, on which ports."""
    if value is None:
        return ()
    items = r.listing(key, value, "list the flows into this group: [{group, ports: [8080], protocol: tcp}]", minimum=0)
    flows: list[GroupFlow] = []
    for i, item in enumerate(items or []):
        fkey = f"{key}[{i}]"
        f = r.mapping(fkey, item, "give {group, ports, protocol}", FLOW_FIELDS)
        if f is None:
            continue
        group = r.string(f"{fkey}.group", f.get("group"), "name the application group the flow comes from")
        proto = f.get("protocol", "tcp")
        if proto not in ("tcp", "udp"):
            p.add(f"{fkey}.protocol", f"{proto!r} is not allowed between groups", "use tcp or udp, and list the ports")
            proto = None
        port_list = r.listing(f"{fkey}.ports", f.get("ports"), "list the ports the group may reach, e.g. [8080, 5432]")
        numbers = [r.integer(f"{fkey}.ports[{j}]", v, "give a port (1-65535)", 1, 65535) for j, v in enumerate(port_list or [])]
        if group is not None and proto is not None and port_list and None not in numbers:
            flows.append(GroupFlow(group, ports.Protocol(proto), tuple(sorted({n for n in numbers if n is not None}))))
    return tuple(flows)


def _check_group_flows(p: Problems, groups: list[ApplicationGroup], isolation: Any) -> None:
    names = {g.name for g in groups}
    for i, g in enumerate(groups):
        for j, flow in enumerate(g.allow_from):
            key = f"applicationGroups[{i}].allowFrom[{j}].group"
            if flow.group == g.name:
                p.add(key, f"'{g.name}' allows itself; a group always reaches its own hosts", "remove the flow")
            elif flow.group not in names:
                near = difflib.get_close_matches(flow.group, sorted(names), n=1)
                hint = f"did you mean '{near[0]}'?" if near else f"the groups are {', '.join(sorted(names))}"
                p.add(key, f"'{flow.group}' is not an application group of this environment", f"name one of them ({hint})")
    if isolation != "applicationGroup" and any(g.allow_from for g in groups):
        p.add(
            "isolation",
            "is environment, so every group already reaches every other on every port, and allowFrom would have no effect",
            "set isolation: applicationGroup to enforce the flows, or remove allowFrom",
        )


def _parse_nodes(
    p: Problems,
    r: Reader,
    value: Any,
    env: EnvironmentSpec | None,
    shared: SharedTopology | None,
    groups: list[ApplicationGroup],
) -> list[IngressNode]:
    items = r.listing(
        "ingressNodes",
        value,
        "list the nodes that run this environment's Interlock proxies: [{hostname, instanceId, availabilityZone}]",
    )
    if items is None:
        return []
    nodes: list[IngressNode] = []
    hostnames: dict[str, int] = {}
    ids: dict[str, int] = {}
    for i, item in enumerate(items):
        key = f"ingressNodes[{i}]"
        n = r.mapping(key, item, "give {hostname, instanceId, availabilityZone}", NODE_FIELDS)
        if n is None:
            continue
        host = r.string(f"{key}.hostname", n.get("hostname"), "give the node's hostname as `docker node ls` shows it")
        host = _unique_node_field(
            p, f"{key}.hostname", host, hostnames, i, _valid_dns_name,
            "is not a valid hostname", "use the name `docker node ls` shows, e.g. ip-10-40-64-10.eu-west-1.compute.internal",
        )  # fmt: skip
        iid = r.string(f"{key}.instanceId", n.get("instanceId"), "give the node's EC2 instance id")
        iid = _unique_node_field(
            p, f"{key}.instanceId", iid, ids, i, lambda v: bool(INSTANCE_ID_RE.match(v)),
            "is not an EC2 instance id", "write i- followed by 8 or 17 hex digits, e.g. i-0a1b2c3d4e5f60718",
        )  # fmt: skip
        az = r.string(f"{key}.availabilityZone", n.get("availabilityZone"), "give the node's availability zone")
        if az is not None and shared is not None and az not in shared.availability_zones:
            p.add(
                f"{key}.availabilityZone",
                f"{az} has no subnet: the shared stack spans {', '.join(shared.availability_zones)}",
                "place the node in one of those zones",
            )
            az = None
        if host is not None and az is not None and env is not None and shared is not None:
            _check_node_address(p, f"{key}.hostname", host, az, env, shared, groups)
        if host and iid and az:
            nodes.append(IngressNode(host, iid, az))
    return nodes


def _unique_node_field(
    p: Problems,
    key: str,
    value: str | None,
    seen: dict[str, int],
    index: int,
    valid: Callable[[str], bool],
    invalid: str,
    fix: str,
) -> str | None:
    """A node's hostname or instance id: well formed, and listed once."""
    if value is None:
        return None
    if not valid(value):
        p.add(key, f"'{value}' {invalid}", fix)
        return None
    if value in seen:
        p.add(key, f"{value} is already ingressNodes[{seen[value]}]", "list each node once")
        return value
    seen[value] = index
    return value


def _check_node_address(
    p: Problems, key: str, host: str, az: str, env: EnvironmentSpec, shared: SharedTopology, groups: list[ApplicationGroup]
) -> None:
    """An EC2 hostname carries its address: it must sit in this environment, in the node's zone."""
    m = EC2_HOSTNAME_IP_RE.match(host)
    if not m:
        return
    try:
        ip = ipaddress.IPv4Address(".".join(m.groups()[:4]))
    except ValueError:
        p.add(key, f"{host} encodes an invalid address", "check the hostname")
        return
    if ip not in env.cidr:
        owner = next((f"environment '{o.name}' ({o.cidr})" for o in shared.environments.values() if ip in o.cidr), None)
        owner = owner or ("the management VLAN" if any(ip in c for c in shared.management_cidrs) else "no environment")
        p.add(
            key,
            f"{host} has address {ip}, which belongs to {owner}, not to '{env.name}' ({env.cidr})",
            f"list only nodes of the {env.name} VLAN",
        )
        return
    homes = [(g.name, s) for g in groups for s in g.subnets if ip in s.cidr]
    if groups and not homes:
        p.add(
            key,
            f"{host} has address {ip}, which is in no application-group subnet of '{env.name}'",
            "check the node, or add the application group it lives in",
        )
    elif homes and homes[0][1].availability_zone != az:
        gname, s = homes[0]
        p.add(
            key,
            f"{host} has address {ip} in subnet {s.cidr} of group '{gname}' in {s.availability_zone}, but is listed in {az}",
            f"set its availabilityZone to {s.availability_zone}",
        )


def _parse_load_balancer(
    p: Problems, r: Reader, value: Any, env: EnvironmentSpec | None, shared: SharedTopology | None
) -> LoadBalancerOptions:
    lb = (
        r.mapping("loadBalancer", value, "give {scheme, clientCidrs, deletionProtection}", LB_FIELDS) if value is not None else {}
    )
    lb = lb or {}
    scheme = lb.get("scheme", "internet-facing")
    if scheme not in ("internet-facing", "internal"):
        p.add("loadBalancer.scheme", f"{scheme!r} is not a load balancer scheme", "use internet-facing or internal")
    internal = scheme == "internal"
    default_clients = [str(shared.vpc_cidr)] if internal and shared else [WORLD]
    clients = (
        r.cidr_list(
            "loadBalancer.clientCidrs",
            lb.get("clientCidrs", default_clients),
            "list who may connect to the load balancer on 80 and 443",
        )
        or []
    )
    protection_default = env is not None and env.name == "prod"
    protection = r.boolean(
        "loadBalancer.deletionProtection",
        lb.get("deletionProtection", protection_default),
        "set true to protect the load balancer from deletion (default for prod)",
    )
    if shared is not None and env is not None:
        for i, c in enumerate(clients):
            for o in shared.environments.values():
                if o.name != env.name and c.overlaps(o.cidr) and c.prefixlen > 0:
                    p.add(
                        f"loadBalancer.clientCidrs[{i}]",
                        f"{c} admits environment '{o.name}' ({o.cidr}) to {env.name}'s load balancer",
                        "remove it; environments reach each other only through their public entry points",
                    )
    return LoadBalancerOptions(internal, tuple(clients), bool(protection))


def _parse_egress(
    p: Problems, r: Reader, value: Any, env: EnvironmentSpec | None, shared: SharedTopology | None
) -> list[EgressRule]:
    items = r.listing(
        "egress",
        value if value is not None else list(DEFAULT_EGRESS),
        "list where workers may connect: [{description, cidr, protocol, port}]",
        minimum=0,
    )
    rules: list[EgressRule] = []
    for i, item in enumerate(items or []):
        key = f"egress[{i}]"
        e = r.mapping(key, item, "give {description, cidr, protocol, port} or fromPort/toPort", EGRESS_FIELDS)
        if e is None:
            continue
        desc = r.string(
            f"{key}.description",
            e.get("description"),
            "say what the workers reach there (AWS and auditors want a description on every rule)",
        )
        if desc is not None and not EC2_DESCRIPTION_RE.match(desc):
            bad = sorted({c for c in desc if not EC2_DESCRIPTION_RE.match(c)}) if len(desc) <= 255 else []
            p.add(
                f"{key}.description",
                f"{desc!r} would be refused by EC2: "
                + (f"it may not contain {' '.join(map(repr, bad))}" if bad else "over 255 characters"),
                "use letters, digits, spaces and . _ - : / ( ) # , @ [ ] + = & ; { } ! $ * only",
            )
            desc = None
        cidr = r.cidr(f"{key}.cidr", e.get("cidr"), "give the destination block")
        proto = e.get("protocol", "tcp")
        if proto not in ("tcp", "udp"):
            p.add(
                f"{key}.protocol",
                f"{proto!r} is not allowed for egress",
                "use tcp or udp; all-protocol egress to the world is never allowed from workers",
            )
            continue
        if "port" in e:
            lo = hi = r.integer(f"{key}.port", e.get("port"), "give a port", 1, 65535)
        else:
            lo = r.integer(f"{key}.fromPort", e.get("fromPort"), "give port or fromPort and toPort", 1, 65535)
            hi = r.integer(f"{key}.toPort", e.get("toPort"), "give port or fromPort and toPort", 1, 65535)
            if lo is not None and hi is not None and lo > hi:
                p.add(f"{key}.fromPort", f"{lo} is above toPort {hi}", "swap them")
        world = cidr is not None and (cidr.prefixlen == 0 or (cidr.prefixlen < 8 and not cidr.is_private))
        if world and lo is not None and not (proto == "tcp" and lo == hi and lo in ports.WORLD_EGRESS_PORTS):
            p.add(
                f"{key}.cidr",
                f"{cidr} is the internet, and inside the VPC every environment's range: workers may reach it on "
                f"TCP {' or '.join(map(str, ports.WORLD_EGRESS_PORTS))} only, not {proto} {lo if lo == hi else f'{lo}-{hi}'}",
                "give the block of the servers they need (your NTP or DNS servers, a partner's range), one port each",
            )
        if cidr is not None and shared is not None and env is not None:
            for o in shared.environments.values():
                if o.name != env.name and cidr.overlaps(o.cidr) and cidr.prefixlen > 0:
                    p.add(
                        f"{key}.cidr",
                        f"{cidr} reaches environment '{o.name}' ({o.cidr})",
                        "environments must not reach each other; remove the rule",
                    )
        if desc and cidr is not None and lo is not None and hi is not None:
            rules.append(EgressRule(desc, cidr, ports.Protocol(proto), lo, hi))
    return rules


def _parse_proxy_replicas(r: Reader, value: Any) -> int:
    cfg = (r.mapping("interlock", value, "give {proxyReplicas}", ("proxyReplicas",)) if value is not None else {}) or {}
    replicas = r.integer(
        "interlock.proxyReplicas", cfg.get("proxyReplicas", 2), "give how many Interlock proxies this environment runs", 1, 20
    )
    return replicas or 2


def _parse_overlay(
    p: Problems, r: Reader, value: Any, env_name: str | None, env: EnvironmentSpec | None
) -> OverlayNetworks | None:
    fields = ("ingress", "additional", "encrypted")
    cfg = (
        r.mapping("overlayNetworks", value, "give {ingress, additional, encrypted}", fields) if value is not None else {}
    ) or {}
    name = env_name or "env"
    ingress = r.string(
        "overlayNetworks.ingress", cfg.get("ingress", f"ingress_{name}"), "name the network Interlock's proxies reach the apps on"
    )
    additional = (
        r.listing(
            "overlayNetworks.additional",
            cfg.get("additional", []),
            "list further overlay networks of this environment",
            minimum=0,
        )
        or []
    )
    encrypted = r.boolean(
        "overlayNetworks.encrypted",
        cfg.get("encrypted", env_name == "prod"),
        "set true for IPsec-encrypted overlay networks (default for prod)",
    )
    names: dict[str, str] = {}
    for key, net in [
        ("overlayNetworks.ingress", ingress),
        *((f"overlayNetworks.additional[{i}]", n) for i, n in enumerate(additional)),
    ]:
        if not isinstance(net, str) or not NETWORK_NAME_RE.match(net):
            p.add(
                key,
                f"{net!r} is not a Docker network name",
                "use letters, digits, '_', '.' and '-', starting with a letter or digit",
            )
        elif net in names:
            p.add(key, f"{net} is already {names[net]}", "name each network once")
        else:
            names[net] = key
    if encrypted and env is not None and not env.allow_esp:
        p.add(
            "overlayNetworks.encrypted",
            f"encrypted overlay networks need IP protocol 50 (ESP) between the VLANs, and the shared registry closes it for '{env.name}' (allowEsp: false)",
            f"set environments.{env.name}.allowEsp to true in the shared stack and deploy it first, or set encrypted: false",
        )
    if ingress is None or encrypted is None:
        return None
    return OverlayNetworks(ingress, tuple(str(n) for n in additional), encrypted)


def _parse_tls(p: Problems, r: Reader, raw: Mapping[str, Any]) -> bool:
    tls = r.boolean(
        "tls", raw.get("tls", _default("tls")), "set true to store the domain's wildcard certificate as Swarm secrets"
    )
    if tls:
        for key in ("tlsCertificate", "tlsKey"):
            if raw.get(key) is None:
                p.add(
                    key,
                    "is not set, and tls is true",
                    f"run `pulumi config set --secret {PROJECT}:{key} < <PEM file>`, or set tls to false",
                )
    return bool(tls)


def _check_environment_quotas(p: Problems, topo: EnvironmentTopology) -> None:
    # isolation: applicationGroup: the per-group firewalls, counted and explained by the plan
    group_problems = firewall_plan.group_isolation_problems(topo) if firewall_plan.isolates_groups(topo) else []
    for problem in group_problems:
        p.add(problem.key, problem.message, problem.fix)
    limit = topo.shared.quotas.security_group_rules_per_direction
    for sg, rules in () if firewall_plan.isolates_groups(topo) else firewall_plan.environment_security_groups(topo).items():
        for direction in ("ingress", "egress"):
            n = sum(1 for rule in rules if rule.direction == direction)
            if n > limit:
                key = {"workers": "egress", "loadBalancer": "loadBalancer.clientCidrs"}.get(sg, "environment")
                p.add(
                    key,
                    f"the {sg} security group would hold {n} {direction} rules, over the AWS quota of {limit}",
                    "merge CIDRs into fewer blocks, or raise awsQuotas.securityGroupRulesPerDirection in the shared stack after AWS raised your quota",
                )
    nlimit = topo.shared.quotas.nacl_rules_per_direction
    entries = [] if firewall_plan.isolates_groups(topo) else firewall_plan.environment_nacl(topo)
    for egress in (False, True):
        n = sum(1 for e in entries if e.egress == egress)
        if n > nlimit:
            p.add(
                "egress" if egress else "environment",
                f"the {topo.name} NACL would hold {n} {'outbound' if egress else 'inbound'} entries, over the quota of {nlimit}",
                "list fewer egress destinations, or raise awsQuotas.naclRulesPerDirection in the shared stack (AWS allows up to 40)",
            )
    subnets = len(topo.subnets)
    if subnets > topo.env.max_subnets:
        p.add(
            "applicationGroups",
            f"{len(topo.application_groups)} groups x {len(topo.shared.availability_zones)} zones = {subnets} subnets, over this environment's share of {topo.env.max_subnets} of the VPC's {topo.shared.quotas.subnets_per_vpc}",
            f"use fewer application groups, or raise environments.{topo.name}.maxSubnets in the shared stack",
        )


def shared_stack_name(stack: str, raw: Mapping[str, Any]) -> str:
    """Checked on its own first: the StackReference needs it before anything else is known."""
    name = raw.get("sharedStack")
    if isinstance(name, str) and STACK_NAME_RE.match(name):
        return name
    # Without the shared stack nothing else can be checked against it: report every problem
    # that can be found from this stack's config alone (the sharedStack one among them).
    parse_environment(stack, raw, None)
    raise AssertionError("unreachable: parse_environment reports the malformed sharedStack")
