"""Every config key of the project, declared once: its type, which stack role reads it, its
default, whether it is a secret, and what it means. Pure; no Pulumi.

`Pulumi.yaml`'s `config:` block is generated from this table (`python -m tools.project_file
--write`; a test keeps the two in step). The Pulumi CLI merges that block into every stack
before the program runs (`mergeConfig` in pulumi/pulumi): a project key with no `default` that
a stack does not set stops `pulumi preview` for that stack. So every key but `role` has a
default, and for a key that a role requires the default is its empty value ("", [], {}),
which validation reports as "not set" with the fix. The program then treats a key that holds
its declared default as absent, so the other role's keys, which the CLI merges into every
stack, are not mistaken for settings.

Secrets are not declared `secret: true` in Pulumi.yaml: the CLI refuses a `secret: true` key
that a stack does not set (its default is not encrypted), and no stack needs all of them. The
offline preview, which every pull request runs, refuses instead a secret written in plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

PROJECT = "interlock-platform"
SHARED, ENVIRONMENT = "shared", "environment"
BOTH = (SHARED, ENVIRONMENT)
REQUIRED: Any = object()  # no default: every stack must set the key (only `role`)

ConfigType = Literal["string", "integer", "boolean", "array", "object"]

# The default egress of an environment's workers; explicit `egress: []` means none at all.
DEFAULT_EGRESS: tuple[dict[str, Any], ...] = (
    {"description": "HTTPS to container registries for image pulls", "cidr": "0.0.0.0/0", "protocol": "tcp", "port": 443},
)


@dataclass(frozen=True)
class ConfigKey:
    name: str
    type: ConfigType
    roles: tuple[str, ...]
    description: str
    default: Any = REQUIRED
    items: ConfigType | None = None  # the element type of an array
    secret: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def holds_default(self, value: Any) -> bool:
        """True when `value` (as the engine hands it over: a string, JSON for arrays and objects;
        or already decoded) is this key's declared default."""
        return not self.required and canonical(self.type, value) == canonical(self.type, self.default)


def canonical(type_: ConfigType, value: Any) -> Any:
    """A config value in one form, whichever way it arrived: "365" and 365, "true" and True,
    "[]" and [] compare equal."""
    if isinstance(value, str):
        text = value.strip()
        if type_ in ("array", "object") and text[:1] in ("[", "{"):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return value
        if type_ == "integer" and text.lstrip("-").isdigit():
            return int(text)
        if type_ == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
    if isinstance(value, tuple):
        return [dict(v) if isinstance(v, dict) else v for v in value]
    return value


KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("role", "string", BOTH, "'shared' for the cluster-wide stack; 'environment' for dev, test and prod."),
    # The shared stack
    ConfigKey("vpcCidr", "string", (SHARED,), "The VPC's IPv4 block (/16 to /28). Every subnet and environment is carved from it.", ""),
    ConfigKey(
        "availabilityZones", "array", (SHARED,),
        "The availability zones the platform spans, all in the stack's aws:region, e.g. [eu-west-1a, eu-west-1b, eu-west-1c].",
        [], items="string",
    ),
    ConfigKey(
        "managementCidrs", "array", (SHARED,),
        "Management VLAN subnets (UCP managers, DTR), one per availability zone, in zone order. NACLs admit the smallest "
        "block holding all of them, so keep them contiguous and aligned.",
        [], items="string",
    ),
    ConfigKey(
        "edgeCidrs", "array", (SHARED,), "Public subnets for the load balancers and NAT gateways, one per availability zone.",
        [], items="string",
    ),
    ConfigKey(
        "adminCidrs", "array", (SHARED,),
        "Networks allowed to reach UCP (TCP 443) and the Kubernetes API (TCP 6443). Never 0.0.0.0/0.", [], items="string",
    ),
    ConfigKey("ucpVersion", "string", (SHARED,), "UCP / MKE release; selects the port table (3.0, 3.2, 3.7).", ""),
    ConfigKey(
        "calicoIpInIp", "boolean", (SHARED,),
        "Open IP protocol 4 for Calico IP-in-IP between the VLANs (false for VXLAN, the MKE 3.8 default).", True,
    ),
    ConfigKey(
        "natGateways", "string", (SHARED,),
        "'perAz' (one NAT gateway per zone) or 'single' (cheaper; one zone's outage cuts egress).", "perAz",
    ),
    ConfigKey("flowLogRetentionDays", "integer", (SHARED,), "Retention of the VPC flow log group in CloudWatch Logs.", 365),
    ConfigKey(
        "flowLogKmsKeyArn", "string", (SHARED,),
        "The customer-managed KMS key that encrypts the VPC flow log group; its policy must let CloudWatch Logs use it. "
        "Default: the stack creates one, with rotation on.", "",
    ),
    ConfigKey(
        "awsQuotas", "object", (SHARED,),
        "Your account's quotas, used by validation: {securityGroupRulesPerDirection: 60, naclRulesPerDirection: 20, "
        "subnetsPerVpc: 200}. Raise them only after AWS raised yours.", {},
    ),
    ConfigKey(
        "environments", "object", (SHARED,),
        "The environment registry, the one source of truth every env stack reads: name -> {cidr, collection, httpPort, "
        "httpsPort, collectionNodeSelector, maxSubnets (optional), allowEsp (optional)}.", {},
    ),
    ConfigKey(
        "interlock", "object", BOTH,
        "Shared stack: cluster-wide Interlock settings {retireDefaultExtension (default false; removes "
        "[Extensions.default] and its stale services), template (default 'default'; the extension new service "
        "clusters are cloned from), keepConfigs (default 3), healthSeconds (default 20; how long Interlock must run a new "
        "config without failing before a rotation succeeds)}. Environment stacks: {proxyReplicas (default 2)}.", {},
    ),
    # Every stack: how it reaches UCP (the dynamic providers read the same keys)
    ConfigKey("ucpHost", "string", BOTH, "The UCP address from the client bundle, e.g. tcp://ucp.example.com:443.", ""),
    ConfigKey(
        "ucpCaCert", "string", BOTH,
        "The client bundle's ca.pem. A secret: `pulumi config set --secret interlock-platform:ucpCaCert < ca.pem`.",
        "", secret=True,
    ),
    ConfigKey("ucpClientCert", "string", BOTH, "The client bundle's cert.pem. A secret: set it with --secret.", "", secret=True),
    ConfigKey("ucpClientKey", "string", BOTH, "The client bundle's key.pem. A secret: set it with --secret.", "", secret=True),
    # The environment stacks
    ConfigKey("environment", "string", (ENVIRONMENT,), "Which environment of the shared registry this stack deploys (dev, test, prod).", ""),
    ConfigKey("sharedStack", "string", (ENVIRONMENT,), "The shared stack's fully qualified name, <org>/interlock-platform/shared.", ""),
    ConfigKey(
        "applicationGroups", "array", (ENVIRONMENT,),
        "The environment's application-group VLANs: [{name, prefixLength, firstSubnet, allowFrom}]. Each group gets one "
        "subnet per zone: blocks firstSubnet, firstSubnet+1, ... of size /prefixLength in the environment's CIDR. With "
        "isolation: applicationGroup, allowFrom: [{group, ports, protocol (default tcp)}] lists the host ports other "
        "groups may reach on this one.",
        [], items="object",
    ),
    ConfigKey(
        "isolation", "string", (ENVIRONMENT,),
        "'environment': every application group reaches every other on every port; 'applicationGroup': each group has "
        "its own NACL and security group, and groups reach each other only on the flows their allowFrom declares.",
        "environment",
    ),
    ConfigKey(
        "ingressNodes", "array", (ENVIRONMENT,),
        "The nodes running this environment's Interlock proxies: [{hostname, instanceId, availabilityZone}].",
        [], items="object",
    ),
    ConfigKey("domain", "string", (ENVIRONMENT,), "The environment's DNS domain; applications are served as <name>.<domain>.", ""),
    ConfigKey(
        "hostedZoneId", "string", (ENVIRONMENT,),
        "Route 53 hosted zone for the domain. When set, *.<domain> is an alias of the load balancer.", "",
    ),
    ConfigKey(
        "loadBalancer", "object", (ENVIRONMENT,),
        "{scheme: internet-facing (default) | internal, clientCidrs (default 0.0.0.0/0, or the VPC when internal), "
        "deletionProtection (default true for prod)}.", {},
    ),
    ConfigKey(
        "egress", "array", (ENVIRONMENT,),
        "Where workers may connect outside the cluster: [{description, cidr, protocol: tcp|udp, port or fromPort/toPort}]. "
        "[] means nowhere.", [dict(e) for e in DEFAULT_EGRESS], items="object",
    ),
    ConfigKey(
        "overlayNetworks", "object", (ENVIRONMENT,),
        "{ingress (default ingress_<env>; the network Interlock's proxies use), additional (list of further overlay "
        "networks), encrypted (default true for prod)}. Every network is attachable and labelled with the collection.", {},
    ),
    ConfigKey(
        "tls", "boolean", (ENVIRONMENT,),
        "Store the domain's wildcard certificate and key as Swarm secrets for Interlock TLS termination.", False,
    ),
    ConfigKey(
        "httpsOnly", "boolean", (ENVIRONMENT,),
        "Every app's HTTP host redirects to HTTPS (Interlock redirects; the load balancer still listens on 80). Every app "
        "must then serve HTTPS: tls: true here, or sslPassthrough.", False,
    ),
    ConfigKey(
        "tlsCertificate", "string", (ENVIRONMENT,),
        "The wildcard certificate for *.<domain>, PEM (needed when tls is true). A secret: set it with --secret.", "", secret=True,
    ),
    ConfigKey(
        "tlsKey", "string", (ENVIRONMENT,),
        "The wildcard certificate's private key, PEM (needed when tls is true). A secret: set it with --secret.", "", secret=True,
    ),
    ConfigKey(
        "kubeconfig", "string", (ENVIRONMENT,),
        "The client bundle's kube.yml, needed when teams are on-boarded. A secret: "
        "`pulumi config set --secret interlock-platform:kubeconfig < kube.yml`.", "", secret=True,
    ),
    ConfigKey(
        "kubernetes", "object", (ENVIRONMENT,),
        "{ingressControllerNamespace (default ingress-nginx), dnsNamespace (default kube-system): the namespaces the "
        "platform labels and team policies select; resourceQuota and limitRange (specs given to every team namespace; "
        "optional)}.", {},
    ),
    ConfigKey(
        "teams", "array", (ENVIRONMENT,),
        "The teams on-boarded in this environment: [{name, namespace (default <name>-<env>), groups, apps: [{name, "
        "podSelector, ports, ingress}], egress: {dns (default true), cidrs: [{cidr, ports}], namespaces: [{namespace, "
        "ports}]}}].", [], items="object",
    ),
)  # fmt: skip

BY_NAME = {k.name: k for k in KEYS}
SHARED_KEYS = tuple(k.name for k in KEYS if SHARED in k.roles)
ENVIRONMENT_KEYS = tuple(k.name for k in KEYS if ENVIRONMENT in k.roles)
SECRET_KEYS = tuple(k.name for k in KEYS if k.secret)
ALL_KEYS = tuple(k.name for k in KEYS)


def without_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """The keys a stack really sets: those holding their declared default are dropped, as if
    unset. The CLI merges every declared default into every stack; this undoes that."""
    return {k: v for k, v in raw.items() if not (k in BY_NAME and BY_NAME[k].holds_default(v))}


def project_config_block() -> dict[str, Any]:
    """Pulumi.yaml's `config:` block, as the CLI reads it."""
    block: dict[str, Any] = {}
    for key in KEYS:
        decl: dict[str, Any] = {"type": key.type}
        if key.items:
            decl["items"] = {"type": key.items}
        decl["description"] = key.description
        if not key.required:
            decl["default"] = key.default
        block[key.name] = decl
    return block
