"""The config contract, declared once as pydantic models: every key's type, default, range or
pattern, description, and the fix a user is told when a value is wrong. Pure; no Pulumi.

`SharedConfig` is the shared stack's config, `EnvironmentConfig` an env stack's; a key both
declare (`role`, `interlock`, `ucpHost`, the client bundle) is read by both roles. Everything
else is derived from these classes: `config_keys.KEYS` (and from it Pulumi.yaml's `config:`
block), docs/config.schema.json, the README's table (`python -m interlock_platform project-file --write`),
and the shape checks of `topology.parse_shared` / `parse_environment`, which validate each
top-level key on its own (`validate_key`) so that a malformed key does not hide the semantic
checks of the others.

Field metadata (`json_schema_extra`), read by `validate_key` (for its messages) and the generators:
- `fix`: what to tell the user when the field's value is wrong;
- `invalid`: how to say that a value fails the field's pattern or choice ("is not a NAT layout");
- `roleRequires`: the key's role needs it. Its default is then the empty value (the CLI contract in
  `config_keys`), which validation reports as "is not set";
- `secret`: the value is a credential, set with `pulumi config set --secret`.
- `excludesWhenTrue`: a flag that, when true, the named key may not be set with (networkOnly: ingressNodes).

Config arrives from the engine as strings ("365", "true", JSON for lists and objects) or, from
tests and the shared stack's outputs, already decoded: the scalar types below accept both, and
nothing else (no "yes" for true, no 3.5 for a whole number).

To add a key: add a field to `SharedConfig` or `EnvironmentConfig` (both, if both roles read
it) with a description, a default and a fix; read it in `topology.py`; run
`python -m interlock_platform project-file --write`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from interlock_platform.core import gateway, k8s_manifests, model, ports
from interlock_platform.core.config_reader import LABEL_KEY_RE, LABEL_VALUE_RE, Problems

# --------------------------------------------------------------------------------------------
# Value types

CUSTOM_ERROR = "config"  # the error type of our own validators: ctx holds `message` and, optionally, `fix`


def refuse(message: str, fix: str | None = None) -> PydanticCustomError:
    """A validation error that carries its own message (and fix), word for word."""
    return PydanticCustomError(CUSTOM_ERROR, "{message}", {"message": message, **({"fix": fix} if fix else {})})


def show(value: Any, limit: int = 80) -> str:
    """A value as a message quotes it, shortened: a megabyte-long string must not fill the terminal."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _whole_from_text(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,30}\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _bool_from_text(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _text_from_number(value: Any) -> Any:
    """ucpVersion: 3.2 unquoted in YAML is a number."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


Whole = Annotated[int, BeforeValidator(_whole_from_text), Strict()]
Flag = Annotated[bool, BeforeValidator(_bool_from_text), Strict()]
Text = Annotated[str, Strict(), StringConstraints(min_length=1)]
Port = Annotated[Whole, Field(ge=1, le=65535)]


OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"  # 0-255 without leading zeros, as ipaddress reads it
CIDR_PATTERN = rf"^\s*(?:{OCTET}\.){{3}}{OCTET}/(?:3[0-2]|[12]?\d)\s*$"  # host bits are checked by _cidr alone


def _cidr(value: Any) -> ipaddress.IPv4Network:
    if not isinstance(value, str):
        raise refuse(f"must be an IPv4 CIDR string such as 10.40.0.0/16, got {show(value)}")
    try:
        net = ipaddress.IPv4Network(value.strip(), strict=False)
    except ValueError:
        raise refuse(f"{show(value)} is not an IPv4 CIDR", "write it as address/prefix, e.g. 10.40.0.0/24") from None
    if "/" not in value:
        raise refuse(f"{show(value)} has no prefix length", "write it as address/prefix, e.g. 10.40.0.0/24")
    if str(net) != value.strip():
        raise refuse(f"{show(value)} has host bits set (the network is {net})", f"write {net}")
    return net


Cidr = Annotated[
    ipaddress.IPv4Network,
    PlainValidator(_cidr),
    WithJsonSchema({"type": "string", "pattern": CIDR_PATTERN}),
]


def matching(pattern: str, invalid: str, fix: str | None = None) -> Any:
    """A string that matches `pattern`; otherwise "'<value>' <invalid>"."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise refuse(f"{show(value)} {invalid}", fix)
        return value

    return Annotated[str, Strict(), AfterValidator(check), WithJsonSchema({"type": "string", "pattern": pattern})]


def checked(valid: Callable[[str], bool], invalid: str, fix: str | None = None, pattern: str | None = None) -> Any:
    """A string for which `valid` holds; otherwise "'<value>' <invalid>". `pattern`: the same
    rule as a regex, for docs/config.schema.json (a test holds the two to each other)."""

    def check(value: str) -> str:
        if not valid(value):
            raise refuse(f"{show(value)} {invalid}", fix)
        return value

    if pattern is None:
        return Annotated[str, Strict(), AfterValidator(check)]
    return Annotated[str, Strict(), AfterValidator(check), WithJsonSchema({"type": "string", "pattern": pattern})]


DNS_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def valid_dns_name(name: str) -> bool:
    """A domain of two labels or more whose top-level label is not all digits (RFC 3696 2):
    `65535` or `10.40.0.1` would make `*.65535` records no one can resolve."""
    if len(name) > 253 or name.endswith(".") or not name or "." not in name or name.rsplit(".", 1)[-1].isdigit():
        return False
    return all(DNS_LABEL_RE.match(label) for label in name.split("."))


_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# valid_dns_name as one regex: at most 253 characters, two labels or more, the last not all digits
DNS_NAME_PATTERN = rf"^(?=.{{1,253}}$)(?:{_DNS_LABEL}\.)+(?![0-9]+$){_DNS_LABEL}$"


def valid_selector(selector: str) -> bool:
    key, sep, value = selector.partition("=")
    return bool(sep) and bool(LABEL_KEY_RE.match(key)) and bool(LABEL_VALUE_RE.match(value)) and len(key.split("/")[-1]) <= 63


# valid_selector as one regex: a label key, '=', a label value
SELECTOR_PATTERN = f"^{LABEL_KEY_RE.pattern[1:-1]}={LABEL_VALUE_RE.pattern[1:-1]}$"
AZ_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d[a-z]$"
INSTANCE_ID_PATTERN = r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$"
KMS_KEY_ARN_PATTERN = r"^arn:aws[a-z-]*:kms:[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d:\d{12}:key/[A-Za-z0-9-]{1,64}$"
HOSTED_ZONE_PATTERN = r"^Z[A-Z0-9]{1,31}$"
STACK_NAME_PATTERN = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"
COLLECTION_PATTERN = r"^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"
UCP_HOST_PATTERN = r"^(unix|tcp|ssh)://\S+$"
NETWORK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
GROUP_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
DNS_1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# A Kubernetes quantity (k8s.io/apimachinery resource.Quantity): 500m, 16Gi, 2, 1.5
QUANTITY_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"

AvailabilityZone = matching(AZ_PATTERN, "is not an availability zone name", "use names such as eu-west-1a")
NetworkName = matching(
    NETWORK_NAME_PATTERN, "is not a Docker network name", "use letters, digits, '_', '.' and '-', starting with a letter or digit"
)
NamespaceName = matching(
    DNS_1123_LABEL_PATTERN, "is not a Kubernetes namespace name", "use at most 63 lower-case letters, digits and '-'"
)
# An image reference with a tag or a digest (the grammar of the distribution project's reference
# package, without the untagged form, which pulls whatever :latest is that day)
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_PATTERN = (
    rf"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
    rf"{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$"
)
TaggedImage = matching(
    IMAGE_PATTERN, "is not an image reference with a tag or digest", "give <repository>:<tag>, e.g. mirantis/ucp-envoy-proxy:3.9.0"
)


def _quantity(value: Any) -> Any:
    text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not re.match(QUANTITY_PATTERN, text):
        raise refuse(f"{show(value)} is not a Kubernetes quantity", "write a number with an optional unit, e.g. 8, 500m, 16Gi")
    return value


Quantity = Annotated[
    Any,
    AfterValidator(_quantity),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": "number"}]}),
]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _port_kind(value: Any) -> str:
    return "spec" if isinstance(value, dict) else "number"


def setting(
    description: str,
    fix: str,
    default: Any = ...,
    *,
    invalid: str | None = None,
    required: bool = False,
    secret: bool = False,
    excludes: str | None = None,
    **constraints: Any,
) -> Any:
    """A field: its description, its default, the fix, and the metadata the generators read."""
    extra: dict[str, Any] = {"fix": fix}
    if invalid:
        extra["invalid"] = invalid
    if excludes:
        extra["excludesWhenTrue"] = excludes
    if required:
        extra["roleRequires"] = True
    if secret:
        extra["secret"] = True
    if isinstance(default, (list, dict)):
        return Field(default_factory=lambda: _copy(default), description=description, json_schema_extra=extra, **constraints)
    return Field(default, description=description, json_schema_extra=extra, **constraints)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class Settings(BaseModel):
    """Every config object: camelCase keys, and no key the model does not declare."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True, validate_default=True)
    # Keys a former release read, with what replaced them: refused with that fix, not as unknown.
    replaced: ClassVar[dict[str, tuple[str, str]]] = {}


# --------------------------------------------------------------------------------------------
# The shared stack


class AwsQuotas(Settings):
    security_group_rules_per_direction: Whole = setting(
        "Security group rules per direction (inbound or outbound).", "AWS allows up to 1000 (rules x groups per ENI <= 1000)",
        60, ge=1, le=1000,
    )  # fmt: skip
    nacl_rules_per_direction: Whole = setting(
        "Network ACL rules per direction.", "AWS allows at most 40 rules per NACL direction", 20, ge=1, le=40
    )
    subnets_per_vpc: Whole = setting("Subnets per VPC.", "use your account's subnets-per-VPC quota", 200, ge=1, le=10000)


class RegistryEntry(Settings):
    """One environment of the registry the shared stack owns."""

    cidr: Cidr = setting("The environment's VLAN block, inside the VPC.", "give the environment's VLAN block inside the VPC")
    collection: matching(COLLECTION_PATTERN, "is not a collection path") = setting(  # type: ignore[valid-type]
        "The UCP collection of the environment's nodes and services, e.g. /prod.",
        "write it as /name, e.g. /prod or /prod/payments",
    )
    http_port: Port = setting(
        "The Interlock proxy's published HTTP port (the load balancer forwards 80 to it).",
        "give the Interlock proxy's published port (1-65535), e.g. 8080-8089",
    )
    https_port: Port = setting(
        "The Interlock proxy's published HTTPS port (the load balancer forwards 443 to it).",
        "give the Interlock proxy's published port (1-65535), e.g. 8443-8449",
    )
    collection_node_selector: checked(  # type: ignore[valid-type]
        valid_selector, "is not a Kubernetes label selector key=value (values cannot contain '/')", pattern=SELECTOR_PATTERN
    ) = setting(
        "The node label of the collection, key=value.",
        "use the collection's node label, e.g. com.docker.ucp.collection.prod=true",
    )
    domain: checked(valid_dns_name, "is not a DNS name", pattern=DNS_NAME_PATTERN) = setting(  # type: ignore[valid-type]
        "The environment's DNS domain; its apps are served as <name>.<domain>. The registry holds it so that no two "
        "environments share a domain or nest one in another (a cookie for a domain reaches every name under it).",
        "give the DNS domain whose wildcard points at this environment's load balancer, e.g. dev.apps.example.com, "
        "disjoint from the other environments' domains",
    )
    max_subnets: Whole | None = setting(
        "The environment's share of the VPC's subnets. Default: what the shared subnets leave, split evenly.",
        "give this environment's share of the VPC's subnets",
        None, ge=1,
    )  # fmt: skip
    allow_esp: Flag = setting(
        "Open IP protocol 50 (ESP) between the VLANs, which encrypted overlay networks need.",
        "set false only if no overlay network of this environment is encrypted",
        True,
    )


class SharedInterlock(Settings):
    retire_default_extension: Flag = setting(
        "Remove [Extensions.default] and its stale services.",
        "set true to remove [Extensions.default] and its stale services",
        False,
    )
    template: Text = setting(
        "The extension new service clusters are cloned from.",
        "name the extension new service clusters are cloned from",
        "default",
    )
    keep_configs: Whole = setting(
        "How many Interlock config objects to keep for rollback.", "give how many Interlock config objects to keep for rollback (2-50)",
        3, ge=2, le=50,
    )  # fmt: skip
    health_seconds: Whole = setting(
        "How long Interlock must run a new config without failing before a rotation succeeds.",
        "give how many seconds Interlock must run a new config without failing (5-600; it must cover Interlock's start)",
        20, ge=5, le=600,
    )  # fmt: skip
    enable_layer7_routing: Flag = setting(
        "Turn Layer 7 routing (Interlock) on when it is off (an Interlock already on is adopted), and keep Interlock's "
        "images on the MKE release the cluster runs.",
        "set true to turn Layer 7 routing on and keep Interlock's images on the cluster's release",
        False,
    )
    layer7_http_port: Port = setting(
        "The HTTP port of the default service cluster Interlock starts with when this stack turns it on (UCP's default 8080).",
        "give the default service cluster's HTTP port (1-65535)",
        8080,
    )
    layer7_https_port: Port = setting(
        "The HTTPS port of the default service cluster Interlock starts with when this stack turns it on (UCP's default 8443).",
        "give the default service cluster's HTTPS port (1-65535)",
        8443,
    )


ROLE = Literal["shared", "environment"]
ROLE_DESCRIPTION = "'shared' for the cluster-wide stack; 'environment' for dev, test and prod."
ROLE_FIX = "set it to 'shared' for the cluster-wide stack or 'environment' for dev, test and prod"
UCP_HOST_DESCRIPTION = "The UCP address from the client bundle, e.g. tcp://ucp.example.com:443."
UCP_HOST_FIX = (
    "give the UCP address from the client bundle, e.g. tcp://ucp.example.com:443 (or unix:///var/run/docker.sock on a manager)"
)
UcpHost = matching(
    UCP_HOST_PATTERN, "is not a Docker engine address", "write tcp://<ucp-host>:443 (or unix:///var/run/docker.sock on a manager)"
)


def _bundle(file: str, key: str, extra: str = "") -> Any:
    return setting(
        f"The client bundle's {file}. A secret: {extra or 'set it with --secret.'}",
        f"run `pulumi config set --secret interlock-platform:{key} < {file}` in the unzipped client bundle",
        "", secret=True,
    )  # fmt: skip


class Proxy(Settings):
    cidr: Cidr | None = setting("The proxy's address or block, e.g. 192.0.2.64/27.", "give the proxy's address or block", None)
    port: Port | None = setting("The proxy's TCP port, e.g. 3128.", "give the proxy's TCP port (1-65535)", None)


PROXY_DESCRIPTION = (
    "The corporate HTTP(S) proxy {cidr, port}: beside the VPC endpoints, the nodes' only way out. In the shared stack "
    "for the managers, in an env stack for its workers (one security-group rule and NACL entries each way). Default: none."
)
PROXY_FIX = "give {cidr, port} of the corporate proxy, e.g. {cidr: 192.0.2.64/27, port: 3128}, or remove the key"


class SharedConfig(Settings):
    """The shared stack: the VPC, the management and edge VLANs, and the environment registry."""

    # Validated key by key (ADAPTERS), never whole: its own validator is not built until asked for.
    model_config = ConfigDict(defer_build=True)

    role: ROLE = setting(ROLE_DESCRIPTION, ROLE_FIX, invalid="is not a stack role")
    vpc_cidr: Cidr = setting(
        "The VPC's IPv4 block (/16 to /28). Every subnet and environment is carved from it.",
        "set the VPC's IPv4 block, a /16 to /28", "", required=True,
    )  # fmt: skip
    availability_zones: list[AvailabilityZone] = setting(  # type: ignore[valid-type]
        "The availability zones the platform spans, all in the stack's aws:region, e.g. [eu-west-1a, eu-west-1b, eu-west-1c].",
        "list the availability zones, e.g. [eu-west-1a, eu-west-1b, eu-west-1c]", [], required=True, min_length=1,
    )  # fmt: skip
    management_cidrs: list[Cidr] = setting(
        "Management VLAN subnets (UCP managers, DTR), one per availability zone, in zone order. NACLs admit the smallest "
        "block holding all of them, so keep them contiguous and aligned.",
        "list one management VLAN subnet per availability zone", [], required=True, min_length=1,
    )  # fmt: skip
    edge_cidrs: list[Cidr] = setting(
        "Public subnets for the load balancers and NAT gateways, one per availability zone.",
        "list one edge (public) subnet per availability zone", [], required=True, min_length=1,
    )  # fmt: skip
    admin_cidrs: list[Cidr] = setting(
        "Networks allowed to reach UCP (TCP 443) and the Kubernetes API (TCP 6443). Never 0.0.0.0/0.",
        "list the networks that may reach UCP on 443 and 6443 (your admin VPN or bastion ranges)", [], required=True, min_length=1,
    )  # fmt: skip
    ucp_version: Annotated[Literal[tuple(ports.PORT_TABLES)], BeforeValidator(_text_from_number)] = setting(  # type: ignore[valid-type]
        f"UCP / MKE release; selects the port table, the Kubernetes and the Calico default ({', '.join(ports.PORT_TABLES)}; "
        f"supported by Mirantis: {', '.join(ports.SUPPORTED)}).",
        f"use one of {', '.join(ports.PORT_TABLES)}, or add the release's table to interlock_platform/core/ports.py from its "
        "system requirements page",
        "", invalid="has no port table", required=True,
    )  # fmt: skip
    calico_ip_in_ip: Flag = setting(
        "The cluster's Calico encapsulates with IP-in-IP: open IP protocol 4 between the VLANs. false (default): the "
        "release's own encapsulation, VXLAN on UDP 4789 for MKE 3.7, 3.8 and 3.9 (Mirantis' default), IP-in-IP on UCP 3.0 "
        "and 3.2, whose Calico used it.",
        "set true when the cluster was installed with Calico IP-in-IP, or remove it for the release's default (VXLAN on MKE)",
        False,
    )  # fmt: skip
    nat_gateways: Literal["perAz", "single"] = setting(
        "'perAz' (one NAT gateway per zone) or 'single' (cheaper; one zone's outage cuts egress).",
        "use perAz (one NAT gateway per zone, survives a zone outage) or single", "perAz", invalid="is not a NAT layout",
    )  # fmt: skip
    flow_log_retention_days: Whole = setting(
        "Retention of the VPC flow log group in CloudWatch Logs.",
        "use a CloudWatch Logs retention (1-3653 days)",
        365,
        ge=1,
        le=3653,
    )
    flow_log_kms_key_arn: matching(KMS_KEY_ARN_PATTERN, "is not a KMS key ARN") = setting(  # type: ignore[valid-type]
        "The customer-managed KMS key that encrypts the VPC flow log group; its policy must let CloudWatch Logs use it. "
        "Default: the stack creates one, with rotation on.",
        "give arn:aws:kms:<region>:<account>:key/<key-id> (a key, not an alias), or remove it to let the stack create one", "",
    )  # fmt: skip
    vpc_endpoints: list[Literal[model.VPC_ENDPOINT_SERVICES]] = setting(  # type: ignore[valid-type]
        "The AWS services the nodes reach through VPC endpoints instead of the internet: any of "
        f"{', '.join(model.VPC_ENDPOINT_SERVICES)} (ECR's API and registry and S3 for image pulls, CloudWatch Logs, STS). "
        "s3 is a gateway endpoint each stack attaches to its own route tables; the others are interface endpoints with "
        "private DNS in the management subnets, each with its own security group admitting TCP 443 from the managers and "
        "from each environment's workers only. Default: none.",
        f"list services of {', '.join(model.VPC_ENDPOINT_SERVICES)}, each once", [], invalid="is not a VPC endpoint the platform knows",
    )  # fmt: skip
    management_internet_egress: Flag = setting(
        "The managers reach any internet address on TCP 443 (registries, AWS APIs). Set false when vpcEndpoints and "
        "proxy cover what they need: their security group then sends nowhere beyond the VPC but the proxy and S3.",
        "set false once vpcEndpoints (and proxy) cover what the managers fetch", True,
    )  # fmt: skip
    proxy: Proxy = setting(PROXY_DESCRIPTION, PROXY_FIX, {})
    aws_quotas: AwsQuotas = setting(
        "Your account's quotas, used by validation: {securityGroupRulesPerDirection: 60, naclRulesPerDirection: 20, "
        "subnetsPerVpc: 200}. Raise them only after AWS raised yours.",
        "give the quotas of your AWS account: {securityGroupRulesPerDirection, naclRulesPerDirection, subnetsPerVpc}", {},
    )  # fmt: skip
    environments: dict[str, RegistryEntry] = setting(
        "The environment registry, the one source of truth every env stack reads: name -> {cidr, collection, httpPort, "
        "httpsPort, collectionNodeSelector, domain, maxSubnets (optional), allowEsp (optional)}. No two environments share "
        "a CIDR, collection, port, node selector or domain; no collection or domain nests in another's.",
        "map each environment name to {cidr, collection, httpPort, httpsPort, collectionNodeSelector, domain}", {},
        required=True,
    )  # fmt: skip
    interlock: SharedInterlock = setting(
        "Shared stack: cluster-wide Interlock settings {retireDefaultExtension (default false; removes "
        "[Extensions.default] and its stale services), template (default 'default'; the extension new service "
        "clusters are cloned from), keepConfigs (default 3), healthSeconds (default 20; how long Interlock must run a new "
        "config without failing before a rotation succeeds), enableLayer7Routing (default false; turns Layer 7 routing on "
        "and keeps Interlock's images on the cluster's MKE release), layer7HttpPort, layer7HttpsPort (default 8080, 8443; "
        "the default service cluster's ports when it is turned on)}.",
        "give {retireDefaultExtension, template, keepConfigs, healthSeconds, enableLayer7Routing, layer7HttpPort, layer7HttpsPort}",
        {},
    )  # fmt: skip
    ucp_host: UcpHost = setting(UCP_HOST_DESCRIPTION, UCP_HOST_FIX, "", required=True)  # type: ignore[valid-type]
    ucp_ca_cert: Text = _bundle("ca.pem", "ucpCaCert", "`pulumi config set --secret interlock-platform:ucpCaCert < ca.pem`.")
    ucp_client_cert: Text = _bundle("cert.pem", "ucpClientCert")
    ucp_client_key: Text = _bundle("key.pem", "ucpClientKey")


# --------------------------------------------------------------------------------------------
# Environment stacks

# The default egress of an environment's workers; explicit `egress: []` means none at all.
DEFAULT_EGRESS: tuple[dict[str, Any], ...] = (
    {"description": "HTTPS to container registries for image pulls", "cidr": "0.0.0.0/0", "protocol": "tcp", "port": 443},
)


class GroupFlow(Settings):
    group: Text = setting("The application group the flow comes from.", "name the application group the flow comes from")
    ports: list[Port] = setting(
        "The host ports that group may reach on this one.", "list the ports the group may reach, e.g. [8080, 5432]", min_length=1
    )
    protocol: Literal["tcp", "udp"] = setting(
        "tcp (default) or udp.", "use tcp or udp, and list the ports", "tcp", invalid="is not allowed between groups"
    )


OS = Literal["linux", "windows"]


class ApplicationGroup(Settings):
    name: matching(GROUP_NAME_PATTERN, "is not a usable name") = setting(  # type: ignore[valid-type]
        "The group's name, e.g. payments.",
        "use lower-case letters, digits and '-', starting with a letter, at most 31 characters",
    )
    prefix_length: Whole = setting(
        "The size of each zone's subnet, a prefix length.",
        "give the size of each zone's subnet, a prefix between the environment's and /28", ge=0, le=32,
    )  # fmt: skip
    first_subnet: Whole = setting(
        "The index of the group's first subnet within the environment block (blocks of size /prefixLength).",
        "give the index of the group's first subnet within the environment block", ge=0, le=1 << 16,
    )  # fmt: skip
    allow_from: list[GroupFlow] = setting(
        "With isolation: applicationGroup, the flows other groups may open to this one: [{group, ports, protocol}].",
        "list the flows into this group: [{group, ports: [8080], protocol: tcp}]", [],
    )  # fmt: skip
    os: OS = setting(
        "The workers' operating system: linux (default) or windows. A Windows group needs Calico VXLAN and unencrypted "
        "overlay networks; its NACL admits replies on Windows' ephemeral ports 49152-65535.",
        "use linux or windows", "linux", invalid="is not a worker operating system",
    )  # fmt: skip


class IngressNode(Settings):
    hostname: checked(valid_dns_name, "is not a valid hostname", pattern=DNS_NAME_PATTERN) = setting(  # type: ignore[valid-type]
        "The node's hostname as `docker node ls` shows it.",
        "use the name `docker node ls` shows, e.g. ip-10-40-64-10.eu-west-1.compute.internal",
    )
    instance_id: matching(INSTANCE_ID_PATTERN, "is not an EC2 instance id") = setting(  # type: ignore[valid-type]
        "The node's EC2 instance id.", "write i- followed by 8 or 17 hex digits, e.g. i-0a1b2c3d4e5f60718"
    )
    availability_zone: Text = setting("The node's availability zone.", "give the node's availability zone")


class LoadBalancer(Settings):
    scheme: Literal["internet-facing", "internal"] = setting(
        "internet-facing (default) or internal.", "use internet-facing or internal", "internet-facing",
        invalid="is not a load balancer scheme",
    )  # fmt: skip
    client_cidrs: list[Cidr] | None = setting(
        "Who may connect on 80 and 443. Default: 0.0.0.0/0, or the VPC when internal.",
        "list who may connect to the load balancer on 80 and 443", None,
    )  # fmt: skip
    deletion_protection: Flag | None = setting(
        "Protect the load balancer from deletion. Default: true for prod.",
        "set true to protect the load balancer from deletion (default for prod)", None,
    )  # fmt: skip


class EgressRule(Settings):
    description: Text = setting(
        "What the workers reach there.", "say what the workers reach there (AWS and auditors want a description on every rule)"
    )
    cidr: Cidr = setting("The destination block.", "give the destination block")
    protocol: Literal["tcp", "udp"] = setting(
        "tcp (default) or udp.", "use tcp or udp; all-protocol egress to the world is never allowed from workers", "tcp",
        invalid="is not allowed for egress",
    )  # fmt: skip
    port: Port | None = setting("One port.", "give a port (1-65535)", None)
    from_port: Port | None = setting("The first port of a range.", "give port, or fromPort and toPort (1-65535)", None)
    to_port: Port | None = setting("The last port of a range.", "give port, or fromPort and toPort (1-65535)", None)


class EnvironmentInterlock(Settings):
    proxy_replicas: Whole = setting(
        "How many Interlock proxies this environment runs.", "give how many Interlock proxies this environment runs (1-20)", 2,
        ge=1, le=20,
    )  # fmt: skip


class OverlayNetworks(Settings):
    ingress: NetworkName | None = setting(  # type: ignore[valid-type]
        "The network Interlock's proxies reach the apps on. Default: ingress_<env>.",
        "name the network Interlock's proxies reach the apps on", None,
    )  # fmt: skip
    additional: list[NetworkName] = setting(  # type: ignore[valid-type]
        "Further overlay networks of this environment.", "list further overlay networks of this environment", []
    )
    encrypted: Flag | None = setting(
        "IPsec-encrypted overlay networks. Default: true for prod.",
        "set true for IPsec-encrypted overlay networks (default for prod)", None,
    )  # fmt: skip


class PortSpec(Settings):
    port: Port = setting("The port.", "use a port between 1 and 65535")
    protocol: Annotated[Literal["TCP", "UDP", "SCTP"], BeforeValidator(_upper)] = setting(
        "TCP (default), UDP or SCTP.", "use TCP, UDP or SCTP", "TCP", invalid="is not a Kubernetes protocol"
    )


# A Kubernetes port: a number, or {port, protocol}. The tag picks the arm, so an error names one.
KubePort = Annotated[Annotated[Port, Tag("number")] | Annotated[PortSpec, Tag("spec")], Discriminator(_port_kind)]


class App(Settings):
    name: matching(DNS_1123_LABEL_PATTERN, "is not a usable app name") = setting(  # type: ignore[valid-type]
        "The app's name, e.g. web.", "use a unique lower-case name"
    )
    pod_selector: dict[str, Any] = setting(
        "The labels of the app's pods.", "give the labels of the app's pods, e.g. {app: payments-web}"
    )
    ports: list[KubePort] = setting(
        "The app's ports: numbers or {port, protocol}.", "list ports as numbers or {port, protocol}", min_length=1
    )
    ingress: Flag = setting(
        "The ingress controller routes to the app.", "set true when the ingress controller routes to the app", False
    )


class CidrEgress(Settings):
    cidr: Cidr = setting("The destination block.", "give the destination block")
    ports: list[KubePort] = setting("The ports; [] means every port.", "list ports as numbers or {port, protocol}", [])


class NamespaceEgress(Settings):
    namespace: Text = setting("A team namespace of this environment.", "name a namespace on-boarded here")
    ports: list[KubePort] = setting("The ports; [] means every port.", "list ports as numbers or {port, protocol}", [])


class TeamEgress(Settings):
    dns: Flag = setting("DNS to the cluster's DNS pods.", "set false only for pods that resolve nothing", True)
    cidrs: list[CidrEgress] = setting("Destinations outside the cluster: [{cidr, ports}].", "list [{cidr, ports}]", [])
    namespaces: list[NamespaceEgress] = setting(
        "Other team namespaces of this environment: [{namespace, ports}].", "list [{namespace, ports}]", []
    )


UCP_ROLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
UCP_ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$"
# a grant may be written on the root collection `/`: the shape admits it, so the refusal can say why
GRANT_COLLECTION_PATTERN = r"^/([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?$"


class UcpGrant(Settings):
    """One UCP grant: a UCP team (subject), a role, a collection (UCP's grant model)."""

    group: matching(UCP_ACCOUNT_PATTERN, "is not a UCP team name") = setting(  # type: ignore[valid-type]
        "The UCP team the grant is for: one of the team's groups or pipelineGroups.",
        "name one of the team's groups or pipelineGroups",
    )
    organization: matching(UCP_ACCOUNT_PATTERN, "is not a UCP organization name") = setting(  # type: ignore[valid-type]
        "The UCP organization that holds the team. Default: docker-datacenter, UCP's default organization.",
        "give the UCP organization the team belongs to", "docker-datacenter",
    )  # fmt: skip
    role: matching(UCP_ROLE_ID_PATTERN, "is not a UCP role ID") | None = setting(  # type: ignore[valid-type]
        "The UCP role ID: viewonly, restrictedcontrol, scheduler or a custom role's ID (never fullcontrol). Default: "
        "restrictedcontrol, except viewonly for a group of people (groups) in prod.",
        "use viewonly, restrictedcontrol, scheduler or a custom role's ID", None,
    )  # fmt: skip
    collection: matching(GRANT_COLLECTION_PATTERN, "is not a collection path") | None = setting(  # type: ignore[valid-type]
        "The collection: the environment's (the default) or one under it, e.g. /dev/payments.",
        "give the environment's collection or a sub-collection of it, e.g. /dev/payments", None,
    )  # fmt: skip


class Team(Settings):
    name: matching(DNS_1123_LABEL_PATTERN, "is not a usable team name") = setting(  # type: ignore[valid-type]
        "The team's name, e.g. payments.", "use lower-case letters, digits and '-'"
    )
    namespace: NamespaceName | None = setting(  # type: ignore[valid-type]
        "The team's namespace. Default: <name>-<env>.", "use at most 63 lower-case letters, digits and '-'", None
    )
    groups: list[Text] = setting(
        "The UCP / LDAP groups that get access to the namespace.", "list the UCP / LDAP groups that get access to the namespace",
        min_length=1,
    )  # fmt: skip
    apps: list[App] = setting(
        "The team's apps: [{name, podSelector, ports, ingress}].", "list [{name, podSelector, ports, ingress}]", []
    )
    egress: TeamEgress = setting(
        "Where the team's pods may connect: {dns, cidrs, namespaces}.", "give {dns, cidrs, namespaces}", {}
    )
    os: OS = setting(
        "The OS of the nodes the team's pods run on (kubernetes.io/os), pinned where the environment has Windows groups: "
        "linux (default) or windows (needs an application group with os: windows).",
        "use linux or windows", "linux", invalid="is not a node operating system",
    )  # fmt: skip
    pipeline_groups: list[Text] = setting(
        "UCP / LDAP groups of the team's deployment pipeline: they get the pipeline's deploy rights, as does the "
        "namespace's `deployer` ServiceAccount. Never the groups of people.",
        "list the groups of the team's CI identity, e.g. [payments-ci]", [],
    )  # fmt: skip
    ucp_grants: list[UcpGrant] = setting(
        "UCP grants for the team's Swarm resources: [{group, role, collection, organization}]. Each group gets the role on "
        "the collection: the environment's collection (the default) or a sub-collection; never another environment's, "
        "/Shared or /. Default: none (UCP grants nothing).",
        "list [{group, role, collection}], e.g. [{group: payments-developers, role: restrictedcontrol, collection: /dev/payments}]",
        [],
    )  # fmt: skip


class ResourceQuota(Settings):
    hard: dict[str, Quantity] = setting(
        "resource -> quantity.", "write a map of resource -> quantity, e.g. {pods: '50', requests.cpu: '8'}", {}
    )
    scopes: list[Text] = setting("Scope names, e.g. [NotTerminating].", "write e.g. [NotTerminating]", [])


QuantityMap = dict[str, Quantity]
QUANTITY_FIX = "write a map of resource -> quantity, e.g. {cpu: 500m, memory: 512Mi}"


class LimitRangeItem(Settings):
    type: Literal["Container", "Pod", "PersistentVolumeClaim"] = setting(
        "Container, Pod or PersistentVolumeClaim.",
        "use one of Container, Pod, PersistentVolumeClaim",
        invalid="is not a LimitRange type",
    )
    max: QuantityMap | None = setting("Maximum per resource.", QUANTITY_FIX, None)
    min: QuantityMap | None = setting("Minimum per resource.", QUANTITY_FIX, None)
    default: QuantityMap | None = setting("Default limits.", QUANTITY_FIX, None)
    default_request: QuantityMap | None = setting("Default requests.", QUANTITY_FIX, None)
    max_limit_request_ratio: QuantityMap | None = setting("Maximum limit / request ratio.", QUANTITY_FIX, None)


class LimitRange(Settings):
    limits: list[LimitRangeItem] = setting("The LimitRange's limits.", "list [{type: Container, default: {...}}]", min_length=1)


class Kubernetes(Settings):
    replaced: ClassVar[dict[str, tuple[str, str]]] = {
        # selectors by kubernetes.io/metadata.name matched nothing before Kubernetes 1.21
        "ingressNamespaceSelector": (
            "is replaced: the platform derives the selector from the namespace's name for the cluster's Kubernetes",
            "write kubernetes.ingressControllerNamespace: <the namespace's name>",
        ),
        "dnsNamespaceSelector": (
            "is replaced: the platform derives the selector from the namespace's name for the cluster's Kubernetes",
            "write kubernetes.dnsNamespace: <the namespace's name>",
        ),
    }
    ingress_controller_namespace: NamespaceName = setting(  # type: ignore[valid-type]
        "The ingress controller's namespace, which team policies select (by its name from Kubernetes 1.21; on UCP 3.2 "
        "by the label the platform puts on it).",
        "give the namespace's name, e.g. ingress-nginx", "ingress-nginx",
    )  # fmt: skip
    dns_namespace: NamespaceName = setting(  # type: ignore[valid-type]
        "Where the cluster DNS pods run.", "give the namespace's name, e.g. kube-system", "kube-system"
    )
    resource_quota: ResourceQuota | None = setting(
        "A ResourceQuota spec given to every team namespace.", "give a ResourceQuota spec, e.g. {hard: {pods: '50'}}", None
    )
    limit_range: LimitRange | None = setting(
        "A LimitRange spec given to every team namespace.",
        "give a LimitRange spec, e.g. {limits: [{type: Container, ...}]}",
        None,
    )
    team_access: Literal[k8s_manifests.PEOPLE_ACCESS] | None = setting(  # type: ignore[valid-type]
        "What the teams' people may do in their namespaces: 'develop' (workloads, secrets, exec, attach, port-forward) "
        "or 'view' (read workloads and logs; no secrets, no way into a pod). Default: view for prod, develop elsewhere. "
        "Deployments go through the pipeline (the `deployer` ServiceAccount and pipelineGroups) in every environment.",
        "use develop or view (prod's default; people deploy there through the pipeline)", None,
        invalid="is not a team access level",
    )  # fmt: skip
    pod_security: Literal[k8s_manifests.POD_SECURITY_LEVELS] | None = setting(  # type: ignore[valid-type]
        "The Pod Security Standard enforced on team namespaces (Kubernetes 1.25 and later). Default: restricted for "
        "prod, baseline elsewhere; restricted is warned and audited everywhere.",
        "use baseline or restricted (privileged is never given to a team namespace)", None,
        invalid="is not a Pod Security level for a team namespace",
    )  # fmt: skip
    service_types: list[Literal[k8s_manifests.GRANTABLE_SERVICE_TYPES]] = setting(  # type: ignore[valid-type]
        "The Service types teams may create, enforced by admission (Kubernetes 1.30 and later). externalIPs are refused "
        "whatever this says (CVE-2020-8554).",
        "list Service types from ClusterIP, NodePort, LoadBalancer; ClusterIP is always allowed", ["ClusterIP"],
        invalid="is not a Service type the platform can grant",
    )  # fmt: skip


class Gateway(Settings):
    enabled: Flag = setting(
        "Create the environment's own Gateway API Gateway (MKE 3.9's Envoy Gateway, beside Interlock).",
        "set true to create the environment's Gateway, false to leave it out", False,
    )  # fmt: skip
    class_name: NamespaceName = setting(  # type: ignore[valid-type]
        "The GatewayClass the cluster's Envoy Gateway controller serves. Default: envoy-gatewayingress, MKE 3.9's.",
        "give the GatewayClass name `kubectl get gatewayclass` shows, e.g. envoy-gatewayingress", gateway.MKE_GATEWAY_CLASS,
    )  # fmt: skip
    namespace: NamespaceName | None = setting(  # type: ignore[valid-type]
        "The namespace of the environment's Gateway, its EnvoyProxy and its redirect. Default: gateway-<env>.",
        "name it <something>-<env>, e.g. gateway-prod (the default when namespace is not set)", None,
    )  # fmt: skip
    proxy_namespace: NamespaceName = setting(  # type: ignore[valid-type]
        "Where the Envoy Gateway controller runs the Gateway's Envoy proxies: its own namespace (its default mode; "
        "GatewayNamespace mode is not supported). Team namespaces admit the proxies of this environment's Gateway from "
        "there, by the labels Envoy Gateway puts on them.",
        "give the namespace `kubectl get pods -A -l gateway.envoyproxy.io/owning-gateway-name=<env>` shows",
        gateway.ENVOY_GATEWAY_NAMESPACE,
    )  # fmt: skip
    http_node_port: Port | None = setting(
        "The NodePort the Gateway's HTTP listener takes on the environment's ingress nodes. Default: 32768 plus the "
        "environment's Interlock HTTP port modulo 86 (dev's 8082: 32852). Within 32768-32853, the static band of MKE's "
        "NodePort range 32768-35535 (Kubernetes gives a Service that asks for no NodePort one from the band only when the "
        "rest is full), and none another environment's Gateway takes by default.",
        "give a free port in 32768-32853", None,
    )  # fmt: skip
    proxy_image: TaggedImage | None = setting(  # type: ignore[valid-type]
        "The Envoy image the Gateway's proxies run, e.g. MKE's mirantis/ucp-envoy-proxy:<MKE version>. Default: none: the "
        "image the GatewayClass's EnvoyProxy or Envoy Gateway's defaults give (the Gateway's EnvoyProxy merges onto them). "
        "Set it where the GatewayClass names its image for a Deployment only: the Gateway's proxies are a DaemonSet.",
        "give <repository>:<tag>, e.g. mirantis/ucp-envoy-proxy:3.9.0", None,
    )  # fmt: skip
    load_balancer: Flag = setting(
        "The cut-over: the environment's load balancer forwards 443 and 80 to the Gateway's NodePorts on its ingress "
        "nodes instead of Interlock's proxy ports (needs tls: true). false (default): Interlock keeps the load balancer.",
        "set true to send the load balancer's traffic to the Gateway, false to keep it on Interlock", False,
    )  # fmt: skip
    https_node_port: Port | None = setting(
        "The NodePort the Gateway's HTTPS listener takes on the environment's ingress nodes. Default: 32768 plus the "
        "environment's Interlock HTTPS port modulo 86 (dev's 8445: 32785). Within 32768-32853, as httpNodePort.",
        "give a free port in 32768-32853", None,
    )  # fmt: skip


ISOLATION = Literal["environment", "applicationGroup"]


class EnvironmentConfig(Settings):
    """An env stack (dev, test, prod): its VLANs, firewall, load balancer, Interlock and teams."""

    # Validated key by key (ADAPTERS), never whole: its own validator is not built until asked for.
    model_config = ConfigDict(defer_build=True)

    role: ROLE = setting(ROLE_DESCRIPTION, ROLE_FIX, invalid="is not a stack role")
    environment: Text = setting(
        "Which environment of the shared registry this stack deploys (dev, test, prod).",
        "name the environment this stack deploys (a key of the shared stack's environments)", "", required=True,
    )  # fmt: skip
    shared_stack: matching(STACK_NAME_PATTERN, "is not a fully qualified stack name") = setting(  # type: ignore[valid-type]
        "The shared stack's fully qualified name, <org>/interlock-platform/shared.",
        "give the shared stack's fully qualified name, <org>/interlock-platform/shared", "", required=True,
    )  # fmt: skip
    application_groups: list[ApplicationGroup] = setting(
        "The environment's application-group VLANs: [{name, prefixLength, firstSubnet, allowFrom, os}]. Each group gets one "
        "subnet per zone: blocks firstSubnet, firstSubnet+1, ... of size /prefixLength in the environment's CIDR. With "
        "isolation: applicationGroup, allowFrom: [{group, ports, protocol (default tcp)}] lists the host ports other "
        "groups may reach on this one. os: linux (default) or windows.",
        "list the application groups (VLANs) of this environment: [{name, prefixLength, firstSubnet}]", [], required=True,
        min_length=1,
    )  # fmt: skip
    isolation: ISOLATION = setting(
        "'environment': every application group reaches every other on every port; 'applicationGroup': each group has "
        "its own NACL and security group, and groups reach each other only on the flows their allowFrom declares.",
        "use environment or applicationGroup", "environment", invalid="is not an isolation mode",
    )  # fmt: skip
    ingress_nodes: list[IngressNode] = setting(
        "The nodes running this environment's Interlock proxies: [{hostname, instanceId, availabilityZone}]. Required, "
        "except in the network pass (networkOnly).",
        "list the nodes that run this environment's Interlock proxies: [{hostname, instanceId, availabilityZone}]; before "
        "they exist (the environment's first pulumi up), set networkOnly: true (docs/deploying.md)", [],
        required=True, min_length=1,
    )  # fmt: skip
    network_only: Flag = setting(
        "The environment's first pulumi up, before its nodes exist: only its network and firewall (subnets, route tables, "
        "NACLs, security groups, its rules on the managers' and the endpoints' groups), so that its nodes can be launched "
        "into them. No load balancer, DNS record, Swarm or Kubernetes part; ingressNodes is left out (refused with it, "
        "since an environment with nodes is up). Remove the key once the ingress nodes run in its subnets, and list them.",
        "set true for the environment's first pulumi up only, or remove the key", False, excludes="ingressNodes",
    )  # fmt: skip
    domain: checked(valid_dns_name, "is not a DNS name", pattern=DNS_NAME_PATTERN) = setting(  # type: ignore[valid-type]
        "The environment's DNS domain. Default: the one the shared stack's registry gives the environment "
        "(environments.<env>.domain), which it must equal when set.",
        "remove the key (the registry's environments.<env>.domain is used), or change the domain in the shared stack's registry",
        "",
    )  # fmt: skip
    hosted_zone_id: matching(HOSTED_ZONE_PATTERN, "is not a Route 53 hosted zone id") = setting(  # type: ignore[valid-type]
        "Route 53 hosted zone for the domain. When set, *.<domain> is an alias of the load balancer.",
        "copy the id from Route 53, e.g. Z0123456789ABCDEFGHIJ, or remove the key to skip DNS", "",
    )  # fmt: skip
    load_balancer: LoadBalancer = setting(
        "{scheme: internet-facing (default) | internal, clientCidrs (default 0.0.0.0/0, or the VPC when internal), "
        "deletionProtection (default true for prod)}.",
        "give {scheme, clientCidrs, deletionProtection}", {},
    )  # fmt: skip
    egress: list[EgressRule] = setting(
        "Where workers may connect outside the cluster: [{description, cidr, protocol: tcp|udp, port or fromPort/toPort}]. "
        "[] means nowhere.",
        "list where workers may connect: [{description, cidr, protocol, port}]", [dict(e) for e in DEFAULT_EGRESS],
    )  # fmt: skip
    proxy: Proxy = setting(PROXY_DESCRIPTION, PROXY_FIX, {})
    overlay_networks: OverlayNetworks = setting(
        "{ingress (default ingress_<env>; the network Interlock's proxies use), additional (list of further overlay "
        "networks), encrypted (default true for prod)}. Every network is attachable and labelled with the collection.",
        "give {ingress, additional, encrypted}", {},
    )  # fmt: skip
    tls: Flag = setting(
        "Store the domain's wildcard certificate and key as Swarm secrets for Interlock TLS termination.",
        "set true to store the domain's wildcard certificate as Swarm secrets", False,
    )  # fmt: skip
    https_only: Flag = setting(
        "Every app's HTTP host redirects to HTTPS (Interlock redirects; the load balancer still listens on 80). Every app "
        "must then serve HTTPS: tls: true here, or sslPassthrough.",
        "set true to redirect every app's HTTP host to HTTPS", False,
    )  # fmt: skip
    tls_certificate: Text = setting(
        "The wildcard certificate for *.<domain>, PEM (needed when tls is true). A secret: set it with --secret.",
        "run `pulumi config set --secret interlock-platform:tlsCertificate < <PEM file>`", "", secret=True,
    )  # fmt: skip
    tls_key: Text = setting(
        "The wildcard certificate's private key, PEM (needed when tls is true). A secret: set it with --secret.",
        "run `pulumi config set --secret interlock-platform:tlsKey < <PEM file>`", "", secret=True,
    )  # fmt: skip
    interlock: EnvironmentInterlock = setting("Environment stacks: {proxyReplicas (default 2)}.", "give {proxyReplicas}", {})
    ucp_host: UcpHost = setting(UCP_HOST_DESCRIPTION, UCP_HOST_FIX, "", required=True)  # type: ignore[valid-type]
    ucp_ca_cert: Text = _bundle("ca.pem", "ucpCaCert", "`pulumi config set --secret interlock-platform:ucpCaCert < ca.pem`.")
    ucp_client_cert: Text = _bundle("cert.pem", "ucpClientCert")
    ucp_client_key: Text = _bundle("key.pem", "ucpClientKey")
    kubeconfig: Text = setting(
        "The client bundle's kube.yml, needed when teams are on-boarded. A secret: "
        "`pulumi config set --secret interlock-platform:kubeconfig < kube.yml`.",
        "run `pulumi config set --secret interlock-platform:kubeconfig < kube.yml` from the UCP client bundle", "", secret=True,
    )  # fmt: skip
    kubernetes: Kubernetes = setting(
        "{ingressControllerNamespace (default ingress-nginx), dnsNamespace (default kube-system): the namespaces team "
        "policies select (labelled by the platform only before Kubernetes 1.21); resourceQuota and limitRange (specs given to every team namespace; "
        "optional); teamAccess (develop or view; default view for prod, develop elsewhere); podSecurity (baseline or "
        "restricted; default restricted for prod, baseline elsewhere); serviceTypes (default [ClusterIP])}.",
        "give {ingressControllerNamespace, dnsNamespace, resourceQuota, limitRange, teamAccess, podSecurity, serviceTypes}",
        {},
    )  # fmt: skip
    gateway: Gateway = setting(
        "{enabled (default false), className (default envoy-gatewayingress), namespace (default gateway-<env>), "
        "proxyNamespace (default envoy-gateway-system), httpNodePort and httpsNodePort (default 32768 plus the Interlock "
        "ports modulo 86: the static band of MKE's NodePort range), proxyImage (optional), loadBalancer (default false: the load balancer stays on Interlock)}: the environment's own Gateway API Gateway for *.<domain>, admitting routes "
        "from its team namespaces only (docs/gateway.md).",
        "give {enabled: true} and, where the cluster differs from MKE 3.9's defaults, className or proxyNamespace", {},
    )  # fmt: skip
    teams: list[Team] = setting(
        "The teams on-boarded in this environment: [{name, namespace (default <name>-<env>), groups, pipelineGroups "
        "(default []; the CI's groups, with the deployer ServiceAccount's deploy rights), apps: [{name, podSelector, ports, "
        "ingress}], egress: {dns (default true), cidrs: [{cidr, ports}], namespaces: [{namespace, ports}]}, os (linux or "
        "windows; pinned with kubernetes.io/os where the environment has Windows groups), ucpGrants: [{group, role, "
        "collection, organization}] (default []; UCP grants on the environment's collection or one under it)}].",
        "list the teams on-boarded in this environment", [],
    )  # fmt: skip


MODELS: dict[str, type[Settings]] = {"shared": SharedConfig, "environment": EnvironmentConfig}


# --------------------------------------------------------------------------------------------
# Validation, one key at a time, with pydantic's errors said as a user needs them


def aliases(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the key users write (the camelCase alias)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def metadata(info: FieldInfo | None, name: str) -> Any:
    extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
    return extra.get(name)


FIELDS: dict[str, dict[str, FieldInfo]] = {role: aliases(model) for role, model in MODELS.items()}
# One adapter per top-level key, built once: a malformed key fails alone, and the others are checked on.
ADAPTERS: dict[str, dict[str, TypeAdapter[Any]]] = {
    role: {
        alias: TypeAdapter(Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation)
        for alias, info in fields.items()
    }
    for role, fields in FIELDS.items()
}
NOT_SET = object()  # validate_key's value for a key that holds no value


def _entry_model(tp: Any) -> type[BaseModel] | None:
    """M, for a key of type list[M] or dict[str, M]."""
    if get_origin(tp) in (list, dict):
        entry = get_args(tp)[-1]
        return entry if isinstance(entry, type) and issubclass(entry, BaseModel) else None
    return None


# The entries of a list or map of objects, checked one by one when the whole is malformed
ITEM_ADAPTERS: dict[str, dict[str, TypeAdapter[Any]]] = {
    role: {alias: TypeAdapter(model) for alias, info in fields.items() if (model := _entry_model(info.annotation)) is not None}
    for role, fields in FIELDS.items()
}
SALVAGE_LIMIT = 1000  # entries: beyond, a malformed list is refused whole (the quota checks refuse it anyway)


def decode(value: Any) -> Any:
    """The engine hands lists and objects over as JSON text."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value


def validate_key(p: Problems, role: str, key: str, raw: Mapping[str, Any]) -> Any:
    """The validated value of a top-level key; None when it is unset and has no default ("" is
    how the contract writes "none"); NOT_SET when it is malformed or required and missing, except
    that a malformed list or map of objects keeps its well-formed entries (`_salvage`). Every
    problem goes to `p`."""
    info = FIELDS[role][key]
    if key not in raw or raw[key] is None:
        if metadata(info, "roleRequires"):
            p.add(key, "is not set", metadata(info, "fix"))
            return NOT_SET
        default = info.get_default(call_default_factory=True)
        if default == "" or default is None:
            return None
        value = default
    else:
        value = decode(raw[key])
    try:
        return ADAPTERS[role][key].validate_python(value)
    except ValidationError as err:
        for error in err.errors(include_url=False):
            p.add(*_problem(key, info, value, error))
    return _salvage(role, key, value)


def _salvage(role: str, key: str, value: Any) -> Any:
    """What can be checked of a malformed list or map of objects: its well-formed entries (a list
    keeps None where an entry is malformed, so indices still name the user's entries), that the
    semantic checks run on them too. NOT_SET for any other malformed value."""
    item = ITEM_ADAPTERS[role].get(key)
    if item is None or not isinstance(value, (list, dict)) or len(value) > SALVAGE_LIMIT:
        return NOT_SET

    def entry(v: Any) -> Any:
        try:
            return item.validate_python(v)
        except ValidationError:
            return None

    if isinstance(value, list):
        return [entry(v) for v in value]
    entries = {k: v for k, v in ((k, entry(v)) for k, v in value.items()) if v is not None}
    return entries or NOT_SET  # none left: not "empty", which would be a problem of its own


def unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """`tp` without Annotated and Optional, and the Annotated metadata it carried."""
    found: list[Any] = []
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            found.extend(tp.__metadata__)
            tp = get_args(tp)[0]
        elif origin in (Union, UnionType) and len([a for a in get_args(tp) if a is not type(None)]) == 1:
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp, found


def _model(tp: Any) -> type[BaseModel] | None:
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _bounds(info: FieldInfo | None, found: list[Any]) -> tuple[Any, Any]:
    lo = hi = None
    pending = [*(info.metadata if info is not None else ()), *found]
    while pending:
        item = pending.pop()
        if isinstance(item, FieldInfo):
            pending.extend(item.metadata)
        lo = getattr(item, "ge", lo) if lo is None else lo
        hi = getattr(item, "le", hi) if hi is None else hi
    return lo, hi


def _hidden(value: Any) -> str:
    return "(a secret: not shown)"


def _problem(key: str, root: FieldInfo, value: Any, error: Mapping[str, Any]) -> tuple[str, str, str]:
    """(key path, message, fix) for one pydantic error of top-level key `key`."""
    path, node, reading = key, value, True
    field: FieldInfo | None = root
    owner: type[BaseModel] | None = None
    tp, found = unwrap(root.annotation)
    found = [*found]
    for part in error["loc"]:
        model = _model(tp)
        if get_origin(tp) in (Union, UnionType):  # a tagged union: the tag names the arm, not a key
            arm = next(
                (a for a in get_args(tp) if any(getattr(m, "tag", None) == part for m in getattr(a, "__metadata__", ()))), None
            )
            if arm is not None:
                tp, more = unwrap(arm)
                found.extend(more)
                continue
        if isinstance(part, int):
            args = get_args(tp)
            tp, found = unwrap(args[0] if args else Any)
        elif model is not None:
            owner, field = model, aliases(model).get(str(part))
            tp, found = unwrap(field.annotation) if field is not None else (Any, [])
        elif get_origin(tp) is dict:
            tp, found = unwrap(get_args(tp)[1])
        # The path follows what the user wrote: a port written as a number has no `.port`.
        if reading and isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            path, node = f"{path}[{part}]", node[part]
        elif reading and isinstance(part, str) and isinstance(node, dict):
            path, node = f"{path}.{part}", node.get(part)
        else:
            reading = False
    ctx = error.get("ctx") or {}
    kind, got = error["type"], error.get("input")
    quote = _hidden if metadata(root, "secret") else show  # a credential is never quoted in a message
    fix = ctx.get("fix") or metadata(field, "fix") or metadata(root, "fix")
    if kind == CUSTOM_ERROR:
        return path, ctx["message"], fix
    if kind == "missing":
        return path, "is not set", fix
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        if owner is not None and name in owner.replaced:
            return path, *owner.replaced[name]
        known = list(aliases(owner)) if owner is not None else []
        near = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{near[0]}'?" if near else f"allowed keys are {', '.join(known)}"
        return path, "is not a known setting", f"remove it ({hint})"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return path, f"must be a whole number, got {quote(got)}", fix
    if kind in ("bool_type", "bool_parsing"):
        return path, f"must be true or false, got {quote(got)}", fix
    if kind == "string_type":
        return path, f"must be a string, got {type_name(got)} {quote(got)}", fix
    if kind == "string_too_short":
        return path, "is empty", fix
    if kind == "list_type":
        return path, f"must be a list, got {type_name(got)}", fix
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return path, f"must be an object, got {type_name(got)}", fix
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return path, f"needs at least {n} entr{'y' if n == 1 else 'ies'}, got {ctx.get('actual_length', 0)}", fix
    if kind in ("greater_than_equal", "less_than_equal"):
        lo, hi = _bounds(field, found)
        span = f"{lo}..{hi}" if lo is not None and hi is not None else (f"at least {lo}" if lo is not None else f"at most {hi}")
        return path, f"{quote(got)} is out of range {span}", fix
    if kind in ("literal_error", "string_pattern_mismatch"):
        invalid = metadata(field, "invalid")
        return path, f"{quote(got)} {invalid}" if invalid else f"{quote(got)} is not one of {ctx.get('expected', '')}", fix
    text = str(error.get("msg", "is invalid"))
    return path, f"{text[:1].lower()}{text[1:]}, got {quote(got)}", fix


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
