"""Stack config in, validated model out: parsing and the semantic checks.

`parse_shared` reads the shared stack's config; `parse_environment` reads an env stack's config
together with what the shared stack exports (the same keys, so one parser serves both). The
shapes (types, ranges, patterns, defaults, fixes) are the pydantic models of `config_models`:
each top-level key is validated on its own, so a malformed key is reported and the semantic
checks below still run over every key that parsed (a check that needs a broken key is
skipped). The result is the `model`, and the quota checks count what `firewall_plan` will
build. Every problem found is collected, and `InvalidConfig` carries all of them, each naming
the stack, the config key and the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from interlock_platform.core import config_models as cm
from interlock_platform.core import firewall_plan, gateway, names, ports
from interlock_platform.core import teams as team_config
from interlock_platform.core.config_keys import ENVIRONMENT_KEYS, PROJECT, SHARED_KEYS, without_defaults
from interlock_platform.core.config_models import FIELDS, validate_key
from interlock_platform.core.config_reader import InvalidConfig, Problem, Problems
from interlock_platform.core.k8s_manifests import NAMESPACE_AND_POD_PEERS_SINCE
from interlock_platform.core.model import (
    EC2_HOSTNAME_ADDRESS,
    VPC_ENDPOINT_SERVICES,
    WORLD,
    ApplicationGroup,
    EgressRule,
    EnvironmentSpec,
    EnvironmentTopology,
    GroupFlow,
    IngressNode,
    InstanceFacts,
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
STACK_NAME_RE = re.compile(cm.STACK_NAME_PATTERN)
# What EC2 accepts in a security group's or rule's description (the provider checks only the length)
EC2_DESCRIPTION_RE = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
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


def _read(p: Problems, role: str, raw: Mapping[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every key of the role, validated one by one: its value, or None when it is unset (and has
    no default) or malformed (the problem is recorded)."""
    values = {key: validate_key(p, role, key, raw) for key in FIELDS[role] if key != "role" and key not in skip}
    return {key: None if value is cm.NOT_SET else value for key, value in values.items()}


# --------------------------------------------------------------------------------------------
# The shared stack


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
    if not from_outputs:
        raw = without_defaults(dict(raw))
        _check_role_keys(p, raw, "shared")
    c = _read(p, "shared", raw, skip=("ucpHost", *UCP_BUNDLE_KEYS) if from_outputs else ())

    vpc: ipaddress.IPv4Network | None = c["vpcCidr"]
    if vpc is not None and not AWS_LARGEST_VPC <= vpc.prefixlen <= AWS_SMALLEST_SUBNET:
        p.add("vpcCidr", f"{vpc} has prefix /{vpc.prefixlen}; AWS VPCs are /16 to /28", "choose a block between /16 and /28")
        vpc = None

    azs_raw: list[str] | None = c["availabilityZones"]
    azs: list[str] = []
    if azs_raw is not None:
        for i, az in enumerate(azs_raw):
            if az in azs:
                p.add(f"availabilityZones[{i}]", f"{az} is listed twice", "list each zone once")
            else:
                azs.append(az)
        regions = {az[:-1] for az in azs}
        if len(regions) > 1:
            p.add("availabilityZones", f"zones span several regions ({', '.join(sorted(regions))})", "list zones of one region")
        elif regions and aws_region is not None:
            _check_region(p, aws_region, regions.pop(), "the availability zones are")

    def per_az(key: str) -> list[ipaddress.IPv4Network]:
        nets: list[ipaddress.IPv4Network] | None = c[key]
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

    mgmt = per_az("managementCidrs")
    edge = per_az("edgeCidrs")
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

    admins: list[ipaddress.IPv4Network] | None = c["adminCidrs"]
    for i, n in enumerate(admins or []):
        if n.prefixlen == 0:
            p.add(
                f"adminCidrs[{i}]",
                "0.0.0.0/0 opens the UCP API and the Kubernetes API to the whole internet",
                "list your admin networks instead",
            )

    version: str | None = c["ucpVersion"]
    retention: int | None = c["flowLogRetentionDays"]
    if retention is not None and retention not in FLOW_LOG_RETENTION_DAYS:
        p.add(
            "flowLogRetentionDays",
            f"{retention} is not a CloudWatch Logs retention period",
            f"use one of {', '.join(map(str, FLOW_LOG_RETENTION_DAYS))}",
        )
    kms_key: str | None = c["flowLogKmsKeyArn"]
    if kms_key is not None and azs and kms_key.split(":")[3] != azs[0][:-1]:
        p.add(
            "flowLogKmsKeyArn",
            f"the key is in {kms_key.split(':')[3]}, the flow logs in {azs[0][:-1]}",
            "give a key of the stack's region: CloudWatch Logs cannot use a key of another region",
        )

    q: cm.AwsQuotas | None = c["awsQuotas"]
    quotas = (
        Quotas(q.security_group_rules_per_direction, q.nacl_rules_per_direction, q.subnets_per_vpc) if q is not None else Quotas()
    )
    envs = _check_registry(p, c["environments"], vpc, mgmt, edge, blocks, version, quotas, len(mgmt) + len(edge))
    settings: cm.SharedInterlock | None = c["interlock"]
    interlock = InterlockSettings()
    if settings is not None:
        interlock = InterlockSettings(
            settings.retire_default_extension, settings.template, settings.keep_configs, settings.health_seconds,
            settings.enable_layer7_routing, settings.layer7_http_port, settings.layer7_https_port,
        )  # fmt: skip
    _check_layer7_ports(p, interlock, envs)
    ucp = None if from_outputs else _ucp(p, c["ucpHost"], raw)
    endpoints: list[str] = []
    for i, service in enumerate(c["vpcEndpoints"] or []):
        if service in endpoints:
            p.add(f"vpcEndpoints[{i}]", f"{service} is listed twice", "list each service once")
        else:
            endpoints.append(service)
    proxy = _check_proxy(p, c["proxy"], "the managers")
    p.raise_if_any()

    assert vpc is not None and version is not None and retention is not None  # reported above when not
    shared = SharedTopology(
        stack=stack,
        vpc_cidr=vpc,
        availability_zones=tuple(azs),
        management_cidrs=tuple(mgmt),
        edge_cidrs=tuple(edge),
        admin_cidrs=tuple(admins or ()),
        ucp_version=version,
        # false (the declared default, so also "unset") means the release's own encapsulation
        calico_ip_in_ip=bool(c["calicoIpInIp"]) or ports.default_ip_in_ip(version),
        nat_gateways=str(c["natGateways"]),
        flow_log_retention_days=retention,
        quotas=quotas,
        environments=envs,
        interlock=interlock,
        ucp=ucp,
        flow_log_kms_key_arn=kms_key,
        vpc_endpoints=tuple(s for s in VPC_ENDPOINT_SERVICES if s in endpoints),
        management_internet_egress=bool(c["managementInternetEgress"]),
        proxy=proxy,
    )
    if not from_outputs:
        _check_shared_quotas(p, shared)
    p.raise_if_any()
    return shared


def _ucp(p: Problems, host: str | None, raw: Mapping[str, Any]) -> UcpConnection | None:
    if host is None:
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


def _check_layer7_ports(p: Problems, interlock: InterlockSettings, envs: Mapping[str, EnvironmentSpec]) -> None:
    """The default service cluster Interlock starts with publishes its ports in ingress mode, on
    every node: an environment on the same port could not get its own cluster until it is retired."""
    if not interlock.enable_layer7_routing:
        return
    if interlock.layer7_http_port == interlock.layer7_https_port:
        p.add("interlock.layer7HttpsPort", f"{interlock.layer7_https_port} is also layer7HttpPort", "give HTTP and HTTPS different ports")
    if interlock.retire_default_extension:
        return
    for key, port in (("interlock.layer7HttpPort", interlock.layer7_http_port), ("interlock.layer7HttpsPort", interlock.layer7_https_port)):
        for env in envs.values():
            if port in (env.http_port, env.https_port):
                p.add(
                    key, f"{port} is also environment '{env.name}''s Interlock port, and the default service cluster would keep it",
                    "set interlock.retireDefaultExtension: true (the default cluster goes once the stack has turned Layer 7 on), "
                    "or give the default cluster a port no environment uses",
                )  # fmt: skip


def _check_registry(
    p: Problems,
    registry: dict[str, cm.RegistryEntry] | None,
    vpc: ipaddress.IPv4Network | None,
    mgmt: list[ipaddress.IPv4Network],
    edge: list[ipaddress.IPv4Network],
    blocks: list[tuple[str, ipaddress.IPv4Network]],
    version: str | None,
    quotas: Quotas,
    shared_subnets: int,
) -> dict[str, EnvironmentSpec]:
    if registry is None:
        return {}
    if not registry:
        p.add("environments", "is empty", "register at least one environment (dev, test, prod)")
        return {}
    reserved = ports.reserved_ports(version) if version else {}
    seen_cidrs: list[tuple[str, ipaddress.IPv4Network]] = []
    seen_ports: dict[int, str] = {}
    seen_collections: dict[str, str] = {}
    seen_selectors: dict[str, str] = {}
    seen_domains: dict[str, str] = {}
    for name, e in registry.items():
        key = f"environments.{name}"
        if not ENV_NAME_RE.match(name):
            p.add(
                key,
                f"'{name}' is not a usable environment name",
                "use lower-case letters, digits and '-', starting with a letter, at most 16 characters",
            )
        cidr = e.cidr
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
                p.add(f"{key}.cidr", f"{cidr} overlaps managementCidrs[{i}] {n}", "keep environments out of the management VLAN")
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
        if e.collection in seen_collections:
            p.add(
                f"{key}.collection",
                f"{e.collection} is already the collection of '{seen_collections[e.collection]}'",
                "give each environment its own collection",
            )
        else:
            for other_collection, other in seen_collections.items():
                inner, outer = sorted((e.collection, other_collection), key=len, reverse=True)
                if inner.startswith(outer + "/"):
                    p.add(
                        f"{key}.collection",
                        f"{e.collection} and the collection {other_collection} of '{other}' nest: UCP grants on {outer} reach every "
                        f"node and service in {inner}",
                        "give each environment a collection of its own beside the others, e.g. /dev, /test, /prod",
                    )
            seen_collections[e.collection] = name
        if e.collection_node_selector in seen_selectors:
            p.add(
                f"{key}.collectionNodeSelector",
                f"{e.collection_node_selector} is already the node selector of '{seen_selectors[e.collection_node_selector]}': "
                "team namespaces of both would be pinned to one set of nodes",
                "give each environment the node label of its own collection, e.g. com.docker.ucp.collection.<env>=true",
            )
        else:
            seen_selectors[e.collection_node_selector] = name
        for other, domain in seen_domains.items():
            if e.domain == domain or e.domain.endswith("." + domain) or domain.endswith("." + e.domain):
                inner, outer = sorted((e.domain, domain), key=len, reverse=True)
                p.add(
                    f"{key}.domain",
                    f"{e.domain} is the domain of '{other}'"
                    if e.domain == domain
                    else f"{e.domain} and '{other}''s {domain} nest: {outer}'s wildcard and cookies reach every name under {inner}",
                    "give each environment a domain of its own that is neither above nor under another's, e.g. "
                    "dev.apps.example.com, test.apps.example.com, prod.apps.example.com",
                )
        seen_domains[name] = e.domain
        for pk, port in (("httpPort", e.http_port), ("httpsPort", e.https_port)):
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
        if e.max_subnets is not None and e.max_subnets > quotas.subnets_per_vpc:
            p.add(
                f"{key}.maxSubnets",
                f"{e.max_subnets} is out of range 1..{quotas.subnets_per_vpc} (awsQuotas.subnetsPerVpc)",
                "give this environment's share of the VPC's subnets",
            )

    explicit = sum(e.max_subnets or 0 for e in registry.values())
    unset = [n for n, e in registry.items() if e.max_subnets is None]
    remaining = quotas.subnets_per_vpc - shared_subnets - explicit
    if remaining < len(unset) or (not unset and remaining < 0):
        p.add(
            "environments",
            f"the environments' subnet shares ({explicit} set explicitly) plus the {shared_subnets} shared subnets exceed the {quotas.subnets_per_vpc} subnets AWS allows per VPC",
            "lower environments.<name>.maxSubnets, or raise awsQuotas.subnetsPerVpc after AWS raised your quota",
        )
        return {}
    default_share = remaining // len(unset) if unset else 0
    return {
        name: EnvironmentSpec(
            name, e.cidr, e.collection, e.http_port, e.https_port, e.collection_node_selector, e.max_subnets or default_share,
            e.allow_esp, e.domain,
        )
        for name, e in registry.items()
    }  # fmt: skip


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


def stack_role(stack: str, raw: Mapping[str, Any]) -> str:
    role = raw.get("role")
    if role not in ("shared", "environment"):
        raise InvalidConfig(
            [
                Problem(
                    stack,
                    "role",
                    f"is {cm.show(role)}",
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
    raw = without_defaults(dict(raw))
    _check_role_keys(p, raw, "environment")
    # Read first: the network pass is the one that may leave ingressNodes out (its nodes do not exist yet)
    network_only = validate_key(p, "environment", "networkOnly", raw) is True
    if network_only and raw.get("ingressNodes") is not None:
        # Nodes listed means the environment is up: the network pass would delete its load balancer,
        # its Interlock service cluster and its team namespaces, everything but the network.
        p.add(
            "networkOnly",
            "is true, but ingressNodes lists nodes: the network pass is an environment's first pulumi up, before its nodes "
            "exist, and on an environment that is up it would delete everything but its network (load balancer, Interlock, "
            "team namespaces)",
            "remove networkOnly (the full pass); for a first pass, leave ingressNodes out",
        )
    c = _read(p, "environment", raw, skip=("networkOnly", "ingressNodes") if network_only else ("networkOnly",))
    c.setdefault("ingressNodes", [])
    shared_stack: str | None = c["sharedStack"]
    name: str | None = c["environment"]
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
    if name is not None and stack != name:
        # The stack's name is its environment, so a stack file cannot take another's (`pulumi up -s
        # dev` with `environment: prod` would own prod's registry row, nodes and namespaces), and
        # the policy pack, which knows a stack's environment by its name, judges the right one.
        p.add(
            "environment",
            f"is '{name}', but the stack is '{stack}': an env stack manages the environment it is named for",
            f"set environment: {stack}, or run this config as stack '{name}'",
        )
    env: EnvironmentSpec | None = None
    if shared is not None and name is not None:
        env = shared.environments.get(name)
        if env is None:
            p.add(
                "environment",
                f"'{name}' is not in the shared stack's registry (it has {', '.join(sorted(shared.environments)) or 'none'})",
                f"use one of those, or add '{name}' to interlock-platform:environments in the shared stack and run `pulumi up -s shared` first",
            )

    if env is not None and c["domain"] is not None and c["domain"] != env.domain:
        p.add(
            "domain",
            f"is {c['domain']}, but the shared stack's registry gives '{env.name}' the domain {env.domain}: the registry "
            "holds every environment's domain, so that none takes another's",
            f"remove the key (then {env.domain} is used), or change environments.{env.name}.domain in the shared stack and "
            "run `pulumi up -s shared` first",
        )
    groups = _check_groups(p, c["applicationGroups"], env, shared)
    # a malformed group leaves its subnets unknown: no node is then said to be outside every group
    every_group = c["applicationGroups"] is not None and None not in c["applicationGroups"]
    nodes = _check_nodes(p, c["ingressNodes"], env, shared, groups if every_group else [])
    lb = _check_load_balancer(p, c["loadBalancer"], env, shared)
    egress = _check_egress(p, c["egress"], env, shared)
    proxy = _check_proxy(p, c["proxy"], "the workers", env, shared)
    egress += [proxy] if proxy is not None else []
    ucp = _ucp(p, c["ucpHost"], raw)
    settings: cm.EnvironmentInterlock | None = c["interlock"]
    replicas = settings.proxy_replicas if settings is not None else 2
    overlay = _check_overlay(p, c["overlayNetworks"], name, env, tuple(shared.environments) if shared else ())
    tls = bool(c["tls"])
    if tls:
        for key in ("tlsCertificate", "tlsKey"):
            if raw.get(key) is None:
                p.add(
                    key,
                    "is not set, and tls is true",
                    f"run `pulumi config set --secret {PROJECT}:{key} < <PEM file>`, or set tls to false",
                )
    isolation: str | None = c["isolation"]
    _check_group_flows(p, c["applicationGroups"], isolation)
    _check_windows(p, c["applicationGroups"], shared, c["overlayNetworks"], name)

    others = {o.name: o.cidr for o in (shared.environments.values() if shared else ()) if env is None or o.name != env.name}
    windows_groups = any(g is not None and g.os == "windows" for g in c["applicationGroups"] or [])
    kubernetes = team_config.check_kubernetes(
        p, c["kubernetes"], ports.KUBERNETES_VERSIONS.get(shared.ucp_version) if shared else None, name, others,
        c["domain"] or (env.domain if env is not None else None),
    )
    collections = {o.name: o.collection for o in shared.environments.values()} if shared and env else None
    teams = team_config.check_teams(p, c["teams"], name, others, kubernetes.cluster_namespaces, windows_groups, collections)
    if teams and kubernetes.kubernetes_version < NAMESPACE_AND_POD_PEERS_SINCE and shared is not None:
        p.add(
            "teams",
            f"UCP {shared.ucp_version} ships Kubernetes {'.'.join(map(str, kubernetes.kubernetes_version))}, whose NetworkPolicies cannot "
            "select pods of another namespace (the DNS pods in kube-system), so team isolation cannot be built there",
            "upgrade to UCP 3.2 or later, or remove teams from this stack",
        )
    if any(t.ucp_grants for t in teams) and ucp is not None and not ucp.host.startswith("tcp://"):
        p.add(
            "ucpHost",
            f"is {ucp.host}, and teams have ucpGrants: grants are made through UCP's API, which a client bundle reaches over tcp://",
            "give the UCP address from the client bundle, e.g. tcp://ucp.example.com:443, with ucpClientCert and ucpClientKey",
        )
    domain_name = c["domain"] or (env.domain if env is not None else None)
    gateway_spec = _check_gateway(p, c["gateway"], env, shared, teams, nodes, domain_name, tls, bool(c["httpsOnly"]))
    if gateway_spec is not None and not teams and raw.get("kubeconfig") is None:
        p.add(
            "kubeconfig",
            "is not set, and gateway.enabled is true",
            f"run `pulumi config set --secret {PROJECT}:kubeconfig < kube.yml` from the UCP client bundle",
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

    domain: str = c["domain"] or env.domain
    interlock_ports = [(o.http_port, o.https_port) for o in shared.environments.values()]
    kubernetes = dataclasses.replace(kubernetes, gateway_node_ports=gateway.every_gateway_node_port(interlock_ports, gateway_spec))
    assert shared_stack is not None and isolation is not None
    assert ucp is not None and overlay is not None and lb is not None
    topo = EnvironmentTopology(
        stack, shared_stack, shared, env, domain, c["hostedZoneId"], tuple(groups), tuple(nodes), lb, tuple(egress), ucp, replicas,
        overlay, tls, teams, kubernetes, isolation, bool(c["httpsOnly"]), gateway_spec, network_only,
    )  # fmt: skip
    # the network pass is held to the full pass's quotas too (its load balancer's rules included), so
    # that a layout the full pass would refuse is refused before nodes are launched into it
    _check_environment_quotas(p, dataclasses.replace(topo, network_only=False))
    p.raise_if_any()
    return topo


def check_network_pass(topo: EnvironmentTopology, last_outputs: Mapping[str, Any]) -> None:
    """The network pass only on an environment that never had a full one: `last_outputs`, this
    stack's own outputs from its last update (empty for a new stack). The config alone cannot
    tell, since a change that sets networkOnly can also take ingressNodes out; the last update
    can: a full pass exports `networkOnly: false` and the load balancer."""
    if not topo.network_only or not (last_outputs.get("networkOnly") is False or "loadBalancerDnsName" in last_outputs):
        return
    raise InvalidConfig([Problem(
        topo.stack,
        "networkOnly",
        "is true, but this stack's last update was a full pass (it exports its load balancer): the network pass would "
        "delete everything but the environment's network, its load balancer, Interlock service cluster and team namespaces",
        "remove networkOnly and list the ingress nodes; the network pass is only for an environment's first pulumi up",
    )])  # fmt: skip


def _check_gateway(
    p: Problems,
    cfg: cm.Gateway | None,
    env: EnvironmentSpec | None,
    shared: SharedTopology | None,
    teams: tuple[Any, ...],
    nodes: list[Any],
    domain: str | None,
    tls: bool,
    https_only: bool,
) -> gateway.GatewaySpec | None:
    """The environment's Gateway (`gateway`), or None when it is off or its config is wrong (each
    problem reported)."""
    if cfg is None or not cfg.enabled:
        return None
    problems = len(p.items)
    if shared is not None and shared.ucp_version not in gateway.GATEWAY_RELEASES:
        p.add(
            "gateway.enabled",
            f"is true, but the shared stack's ucpVersion is {shared.ucp_version}: MKE ships a Gateway API controller (Envoy "
            f"Gateway) from {', '.join(gateway.GATEWAY_RELEASES)} on",
            "upgrade to MKE 3.9 and set ucpVersion: \"3.9\" in the shared stack, or set gateway.enabled to false",
        )
    if https_only and not tls:
        p.add(
            "gateway.enabled",
            "is true in an HTTPS-only environment without its wildcard certificate (tls: false): the Gateway would have no "
            "HTTPS listener to redirect to",
            "set tls: true with tlsCertificate and tlsKey, or set httpsOnly to false",
        )
    if cfg.load_balancer and not tls:
        p.add(
            "gateway.loadBalancer",
            "is true without the environment's wildcard certificate (tls: false): the Gateway would have no HTTPS listener "
            "for the load balancer's 443",
            "set tls: true with tlsCertificate and tlsKey, or leave the load balancer on Interlock (loadBalancer: false)",
        )
    if env is None or shared is None:
        return None
    registered = tuple(shared.environments)
    ns = cfg.namespace or f"gateway-{env.name}"
    if cfg.namespace is not None and (problem := names.namespace_problem(ns, env.name, registered)) is not None:
        p.add("gateway.namespace", problem[0], f"name it gateway-{env.name} (the default when namespace is not set)")
    if any(t.namespace == ns for t in teams):
        p.add(
            "gateway.namespace",
            f"{ns} is a team's namespace: the Gateway's namespace is the platform's alone, and routes there attach to every "
            "listener of an HTTPS-only Gateway",
            "give the Gateway another namespace, or the team another name or namespace",
        )
    if cfg.proxy_namespace == ns:
        p.add(
            "gateway.proxyNamespace",
            f"is the Gateway's own namespace {ns}: the platform keeps that namespace deny-all, as it holds configuration only; "
            "Envoy Gateway's GatewayNamespace mode is not supported",
            f"run the controller in its default mode and give its namespace, e.g. {gateway.ENVOY_GATEWAY_NAMESPACE}",
        )
    elif (owner := names.namespace_owner(cfg.proxy_namespace, registered)) is not None:
        p.add(
            "gateway.proxyNamespace",
            f"{cfg.proxy_namespace} is a namespace of environment '{owner}' (it ends in -{owner}), not the Envoy Gateway "
            "controller's",
            f"give the controller's namespace, e.g. {gateway.ENVOY_GATEWAY_NAMESPACE}",
        )
    others = {  # every other environment's default NodePorts: the registry's, so no two stacks take one
        port: o.name
        for o in shared.environments.values()
        if o.name != env.name
        for port in (gateway.default_node_port(o.http_port), gateway.default_node_port(o.https_port))
    }
    chosen = {}
    for key, configured, interlock in (
        ("httpNodePort", cfg.http_node_port, env.http_port), ("httpsNodePort", cfg.https_node_port, env.https_port)
    ):  # fmt: skip
        port = configured or gateway.default_node_port(interlock)
        chosen[key] = port
        band = gateway.STATIC_BAND
        fix = (
            f"give a free port in {band.start}-{band[-1]}, the static band of MKE's NodePort range, and none another "
            f"environment's Gateway takes ({', '.join(str(n) for n in sorted(others)) or 'none yet'} are others' defaults)"
        )
        if (why := gateway.node_port_problem(port)) is not None:
            p.add(f"gateway.{key}", f"{why}{'' if configured else ' (derived from the Interlock port)'}", fix)
        elif port in others:
            derived = "" if configured else f" (derived from the Interlock port {interlock}: set gateway.{key})"
            p.add(f"gateway.{key}", f"{port} is environment '{others[port]}''s Gateway NodePort (its default){derived}", fix)
    if chosen["httpNodePort"] == chosen["httpsNodePort"]:
        p.add("gateway.httpsNodePort", f"{chosen['httpsNodePort']} is the HTTP listener's NodePort too", "give the two listeners two ports")
    if len(p.items) > problems or domain is None:
        return None
    return gateway.GatewaySpec(
        env.name, domain, ns, cfg.class_name, cfg.proxy_namespace, chosen["httpNodePort"], chosen["httpsNodePort"],
        tuple(n.hostname for n in nodes if n is not None), env.collection_node_selector,
        tuple(t.namespace for t in teams), tls, https_only, cfg.load_balancer, cfg.proxy_image,
    )  # fmt: skip


def _check_groups(
    p: Problems, items: list[cm.ApplicationGroup | None] | None, env: EnvironmentSpec | None, shared: SharedTopology | None
) -> list[ApplicationGroup]:
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
    for i, g in enumerate(items):
        if g is None:  # malformed: reported, and its neighbours are checked on
            continue
        key = f"applicationGroups[{i}]"
        if g.name in names:
            p.add(f"{key}.name", f"'{g.name}' is listed twice", "give each application group its own name")
        names.add(g.name)
        lo = env.cidr.prefixlen if env else AWS_LARGEST_VPC
        if not lo <= g.prefix_length <= AWS_SMALLEST_SUBNET:
            p.add(
                f"{key}.prefixLength",
                f"/{g.prefix_length} is not between the environment's /{lo} and the smallest AWS subnet /28",
                f"use a prefix length between {lo} and 28",
            )
            continue
        if env is None or shared is None:
            continue
        prefix, first = g.prefix_length, g.first_subnet
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
            taken.append((g.name, s))
        flows = tuple(GroupFlow(f.group, ports.Protocol(f.protocol), tuple(sorted(set(f.ports)))) for f in g.allow_from)
        groups.append(ApplicationGroup(g.name, prefix, first, subnets, flows, g.os))
    return groups


def _check_windows(
    p: Problems, items: list[cm.ApplicationGroup | None] | None, shared: SharedTopology | None, overlay: cm.OverlayNetworks | None,
    env_name: str | None,
) -> None:
    """Windows workers (Mirantis: Calico on Windows is VXLAN only, fixed at install; UCP supports
    no encrypted overlay network on Windows): what a Windows group needs of the cluster and of
    the environment's overlay networks."""
    windows = [(i, g) for i, g in enumerate(items or []) if g is not None and g.os == "windows"]
    if not windows:
        return
    names = ", ".join(f"'{g.name}'" for _, g in windows)
    if shared is not None and shared.calico_ip_in_ip:
        i, _ = windows[0]
        reason = f"UCP {shared.ucp_version}'s Calico" if ports.default_ip_in_ip(shared.ucp_version) else "calicoIpInIp: true"
        p.add(
            f"applicationGroups[{i}].os",
            f"Windows workers ({names}) need Calico VXLAN, and the shared stack's cluster encapsulates with IP-in-IP ({reason}), "
            "which Windows nodes cannot use",
            "run these groups on linux, or use a cluster installed with Calico VXLAN (MKE's default) and set calicoIpInIp to "
            "false in the shared stack",
        )
    if overlay is not None:
        encrypted = overlay.encrypted if overlay.encrypted is not None else env_name == "prod"
        if encrypted:
            why = "overlayNetworks.encrypted is true" if overlay.encrypted else f"{env_name}'s overlay networks are encrypted by default"
            p.add(
                "overlayNetworks.encrypted",
                f"{why}, and UCP supports no encrypted overlay network on Windows, where {names} run",
                "set overlayNetworks.encrypted: false (encrypt in the application, e.g. TLS between services), or run those "
                "groups on linux",
            )


def _check_group_flows(p: Problems, items: list[cm.ApplicationGroup | None] | None, isolation: Any) -> None:
    """allowFrom, by the user's indices: a flow names a group of this environment, not its own."""
    groups = [g for g in items or [] if g is not None]
    names = {g.name for g in groups}
    for i, g in enumerate(items or []):
        if g is None:
            continue
        for j, flow in enumerate(g.allow_from):
            key = f"applicationGroups[{i}].allowFrom[{j}].group"
            if flow.group == g.name:
                p.add(key, f"'{g.name}' allows itself; a group always reaches its own hosts", "remove the flow")
            elif flow.group not in names:
                near = difflib.get_close_matches(flow.group, sorted(names), n=1)
                hint = f"did you mean '{near[0]}'?" if near else f"the groups are {', '.join(sorted(names))}"
                p.add(key, f"'{flow.group}' is not an application group of this environment", f"name one of them ({hint})")
    if isolation == "environment" and any(g.allow_from for g in groups):
        p.add(
            "isolation",
            "is environment, so every group already reaches every other on every port, and allowFrom would have no effect",
            "set isolation: applicationGroup to enforce the flows, or remove allowFrom",
        )


def _check_nodes(
    p: Problems,
    items: list[cm.IngressNode | None] | None,
    env: EnvironmentSpec | None,
    shared: SharedTopology | None,
    groups: list[ApplicationGroup],
) -> list[IngressNode]:
    nodes: list[IngressNode] = []
    hostnames: dict[str, int] = {}
    ids: dict[str, int] = {}
    for i, n in enumerate(items or []):
        if n is None:
            continue
        key = f"ingressNodes[{i}]"
        for field, value, seen in (("hostname", n.hostname, hostnames), ("instanceId", n.instance_id, ids)):
            if value in seen:
                p.add(f"{key}.{field}", f"{value} is already ingressNodes[{seen[value]}]", "list each node once")
            else:
                seen[value] = i
        az: str | None = n.availability_zone
        if shared is not None and az not in shared.availability_zones:
            p.add(
                f"{key}.availabilityZone",
                f"{az} has no subnet: the shared stack spans {', '.join(shared.availability_zones)}",
                "place the node in one of those zones",
            )
            az = None
        if az is not None and env is not None and shared is not None:
            _check_node_address(p, f"{key}.hostname", n.hostname, az, env, shared, groups)
        if az is not None:
            nodes.append(IngressNode(n.hostname, n.instance_id, az))
    return nodes


def _check_node_address(
    p: Problems, key: str, host: str, az: str, env: EnvironmentSpec, shared: SharedTopology, groups: list[ApplicationGroup]
) -> None:
    """An EC2 hostname carries its address: it must sit in this environment, in the node's zone."""
    m = EC2_HOSTNAME_ADDRESS.match(host)
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


def check_ingress_instances(topo: EnvironmentTopology, found: Mapping[str, InstanceFacts | str]) -> None:
    """The ingress nodes' instance ids against what EC2 says of them (`found`: the facts, or why
    EC2 could not say): the load balancer targets those ids and the node labels follow them, so an
    id must name an instance in one of this environment's application-group subnets, in the
    node's zone, and the machine the hostname names. Only the cloud knows where an id is: a
    stack file cannot show that another environment's instance id was listed here."""
    p = Problems(topo.stack)
    env = topo.env
    for i, node in enumerate(topo.ingress_nodes):
        key = f"ingressNodes[{i}].instanceId"
        facts = found.get(node.instance_id, "EC2 did not describe it")
        if isinstance(facts, str):
            p.add(
                key,
                f"{node.instance_id} is not an instance EC2 knows in this account and region ({facts})",
                f"give the id of the node {node.hostname}: `aws ec2 describe-instances --filters "
                f"Name=private-dns-name,Values={node.hostname}`",
            )
            continue
        if not facts.private_ip:  # EC2 gives every VPC instance one: this is the offline preview, which cannot know
            continue
        try:
            ip = ipaddress.IPv4Address(facts.private_ip)
        except ValueError:
            p.add(key, f"EC2 gives {node.instance_id} the address {facts.private_ip!r}", "list a running instance of this environment")
            continue
        fix = f"list only instances of {env.name}'s application-group subnets, each with the id of the node its hostname names"
        if ip not in env.cidr:
            owner = next((f"environment '{o.name}' ({o.cidr})" for o in topo.shared.environments.values() if ip in o.cidr), None)
            owner = owner or ("the management VLAN" if any(ip in c for c in topo.shared.management_cidrs) else "no environment")
            p.add(key, f"{node.instance_id} is at {ip}, which belongs to {owner}, not to '{env.name}' ({env.cidr})", fix)
            continue
        homes = [(g.name, s) for g, s in topo.subnets if ip in s.cidr]
        if not homes:
            p.add(key, f"{node.instance_id} is at {ip}, in no application-group subnet of '{env.name}'", fix)
        elif homes[0][1].availability_zone != node.availability_zone or facts.availability_zone != node.availability_zone:
            p.add(
                f"ingressNodes[{i}].availabilityZone",
                f"{node.instance_id} runs in {facts.availability_zone}, but is listed in {node.availability_zone}",
                f"set its availabilityZone to {facts.availability_zone}",
            )
        if node.address is not None and node.address != ip:
            p.add(
                key,
                f"{node.instance_id} is at {ip}, but the hostname {node.hostname} is the machine at {node.address}: they are two nodes",
                f"give the instance id of {node.hostname}",
            )
    p.raise_if_any()


def _check_load_balancer(
    p: Problems, lb: cm.LoadBalancer | None, env: EnvironmentSpec | None, shared: SharedTopology | None
) -> LoadBalancerOptions | None:
    if lb is None:
        return None
    internal = lb.scheme == "internal"
    clients = lb.client_cidrs
    if clients is None:
        clients = [shared.vpc_cidr] if internal and shared else [ipaddress.IPv4Network(WORLD)]
    protection = lb.deletion_protection if lb.deletion_protection is not None else (env is not None and env.name == "prod")
    if shared is not None and env is not None:
        for i, c in enumerate(clients):
            for o in shared.environments.values():
                if o.name != env.name and c.overlaps(o.cidr) and c.prefixlen > 0:
                    p.add(
                        f"loadBalancer.clientCidrs[{i}]",
                        f"{c} admits environment '{o.name}' ({o.cidr}) to {env.name}'s load balancer",
                        "remove it; environments reach each other only through their public entry points",
                    )
    return LoadBalancerOptions(internal, tuple(clients), protection)


def _check_egress(
    p: Problems, items: list[cm.EgressRule | None] | None, env: EnvironmentSpec | None, shared: SharedTopology | None
) -> list[EgressRule]:
    rules: list[EgressRule] = []
    for i, e in enumerate(items or []):
        if e is None:
            continue
        key = f"egress[{i}]"
        ok = True
        if not EC2_DESCRIPTION_RE.match(e.description):
            bad = sorted({c for c in e.description if not EC2_DESCRIPTION_RE.match(c)}) if len(e.description) <= 255 else []
            p.add(
                f"{key}.description",
                f"{cm.show(e.description)} would be refused by EC2: "
                + (f"it may not contain {' '.join(map(repr, bad))}" if bad else "over 255 characters"),
                "use letters, digits, spaces and . _ - : / ( ) # , @ [ ] + = & ; { } ! $ * only",
            )
            ok = False
        if e.port is not None:
            lo = hi = e.port
        elif e.from_port is None or e.to_port is None:
            p.add(
                f"{key}.{'toPort' if e.from_port is not None else 'fromPort'}",
                "is not set",
                "give port, or fromPort and toPort (1-65535)",
            )
            continue
        else:
            lo, hi = e.from_port, e.to_port
            if lo > hi:
                p.add(f"{key}.fromPort", f"{lo} is above toPort {hi}", "swap them")
                ok = False
        cidr = e.cidr
        world = cidr.prefixlen == 0 or (cidr.prefixlen < 8 and not cidr.is_private)
        if world and not (e.protocol == "tcp" and lo == hi and lo in ports.WORLD_EGRESS_PORTS):
            p.add(
                f"{key}.cidr",
                f"{cidr} is the internet, and inside the VPC every environment's range: workers may reach it on "
                f"TCP {' or '.join(map(str, ports.WORLD_EGRESS_PORTS))} only, not {e.protocol} {lo if lo == hi else f'{lo}-{hi}'}",
                "give the block of the servers they need (your NTP or DNS servers, a partner's range), one port each",
            )
        if shared is not None and env is not None:
            for o in shared.environments.values():
                if o.name != env.name and cidr.overlaps(o.cidr) and cidr.prefixlen > 0:
                    p.add(
                        f"{key}.cidr",
                        f"{cidr} reaches environment '{o.name}' ({o.cidr})",
                        "environments must not reach each other; remove the rule",
                    )
        if ok:
            rules.append(EgressRule(e.description, cidr, ports.Protocol(e.protocol), lo, hi))
    return rules


def _check_proxy(
    p: Problems, cfg: cm.Proxy | None, who: str, env: EnvironmentSpec | None = None, shared: SharedTopology | None = None
) -> EgressRule | None:
    """The corporate proxy as one more egress destination: TCP to its port, nothing else."""
    if cfg is None or (cfg.cidr is None and cfg.port is None):
        return None
    if cfg.cidr is None or cfg.port is None:
        p.add(f"proxy.{'port' if cfg.port is None else 'cidr'}", "is not set", cm.PROXY_FIX)
        return None
    if cfg.cidr.prefixlen < 8:
        p.add("proxy.cidr", f"{cfg.cidr} is not a proxy but a large part of the internet", "give the proxy's address or its own small block")
        return None
    if shared is not None and env is not None:
        for o in shared.environments.values():
            if o.name != env.name and cfg.cidr.overlaps(o.cidr):
                p.add("proxy.cidr", f"{cfg.cidr} lies in environment '{o.name}' ({o.cidr})", "environments must not reach each other; give the proxy's own address")
                return None
    return EgressRule(f"corporate proxy for {who}", cfg.cidr, ports.Protocol.TCP, cfg.port, cfg.port)


def _check_overlay(
    p: Problems,
    cfg: cm.OverlayNetworks | None,
    env_name: str | None,
    env: EnvironmentSpec | None,
    registered: tuple[str, ...] = (),
) -> OverlayNetworks | None:
    """`registered`: the registry's environment names, which own the networks named after them."""
    if cfg is None:
        return None
    ingress = cfg.ingress or f"ingress_{env_name or 'env'}"
    encrypted = cfg.encrypted if cfg.encrypted is not None else env_name == "prod"
    seen: dict[str, str] = {}
    for key, net in [
        ("overlayNetworks.ingress", ingress),
        *((f"overlayNetworks.additional[{i}]", n) for i, n in enumerate(cfg.additional)),
    ]:
        owned = names.network_problem(net, env_name, registered) if env_name else None
        if owned is not None:
            p.add(key, *owned)
        if net in seen:
            p.add(key, f"{net} is already {seen[net]}", "name each network once")
        else:
            seen[net] = key
    if encrypted and env is not None and not env.allow_esp:
        p.add(
            "overlayNetworks.encrypted",
            f"encrypted overlay networks need IP protocol 50 (ESP) between the VLANs, and the shared registry closes it for '{env.name}' (allowEsp: false)",
            f"set environments.{env.name}.allowEsp to true in the shared stack and deploy it first, or set encrypted: false",
        )
    return OverlayNetworks(ingress, tuple(cfg.additional), encrypted)


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
