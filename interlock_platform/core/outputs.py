"""Every stack output, declared once: its name, which stacks export it, its type, what it means and
whether app teams may build on it. docs/stack-outputs.md is generated from this table
(`python -m tools.project_file --write`); tests hold the stacks' exports to it. Pure; no Pulumi."""

from __future__ import annotations

from dataclasses import dataclass

from interlock_platform.core.config_keys import ENVIRONMENT, SHARED


@dataclass(frozen=True)
class StackOutput:
    name: str
    role: str  # SHARED or ENVIRONMENT
    type: str
    meaning: str
    stable: bool = True  # False: informational, may change with any release
    optional: bool = False  # exported only with some config (tls: true)


OUTPUTS: tuple[StackOutput, ...] = (
    StackOutput('vpcId', SHARED, 'string', 'the VPC'),
    StackOutput('vpcCidr', SHARED, 'string', "the VPC's block"),
    StackOutput('availabilityZones', SHARED, 'list of strings', 'the zones the platform spans, in order'),
    StackOutput('managementSecurityGroupId', SHARED, 'string', "the managers' security group; env stacks attach their rules to it"),
    StackOutput('managementPeersSecurityGroupId', SHARED, 'string', 'managers and DTR among themselves'),
    StackOutput('managementCidrs', SHARED, 'list of strings', 'management VLAN subnets, in zone order'),
    StackOutput('managementSubnetIds', SHARED, 'list of strings', 'management VLAN subnet ids, in zone order'),
    StackOutput('edgeCidrs', SHARED, 'list of strings', 'edge (public) subnets, in zone order'),
    StackOutput('edgeSubnetIds', SHARED, 'list of strings', 'edge subnet ids, in zone order'),
    StackOutput('natGatewayIds', SHARED, 'map zone -> string', "the NAT gateway each zone's private subnets leave through"),
    StackOutput('adminCidrs', SHARED, 'list of strings', 'who may reach UCP 443 and Kubernetes 6443'),
    StackOutput('ucpVersion', SHARED, 'string', 'the UCP / MKE release whose port table applies'),
    StackOutput('calicoIpInIp', SHARED, 'bool', 'whether IP protocol 4 is open between the VLANs'),
    StackOutput('awsQuotas', SHARED, 'object', '`{securityGroupRulesPerDirection, naclRulesPerDirection, subnetsPerVpc}` validation uses'),
    StackOutput('environments', SHARED, 'map name -> object', 'the registry: `{cidr, collection, httpPort, httpsPort, collectionNodeSelector, maxSubnets, allowEsp}`'),
    StackOutput('interlock', SHARED, 'object', '`{retireDefaultExtension, template, keepConfigs, healthSeconds}`'),
    StackOutput('interlockTemplate', SHARED, 'secret string or null', 'the template extension (TOML) captured before `[Extensions.default]` was retired; a secret, since it may hold Interlock credentials', stable=False),
    StackOutput('environment', ENVIRONMENT, 'string', "the environment's name"),
    StackOutput('serviceCluster', ENVIRONMENT, 'string', 'its Interlock service cluster (`com.docker.lb.service_cluster`)'),
    StackOutput('collection', ENVIRONMENT, 'string', 'its UCP collection (`com.docker.ucp.access.label`)'),
    StackOutput('collectionNodeSelector', ENVIRONMENT, 'string', "the collection's node label, `key=value`"),
    StackOutput('httpPort', ENVIRONMENT, 'int', 'its Interlock proxy ports (what its load balancer forwards 80 and 443 to)'),
    StackOutput('httpsPort', ENVIRONMENT, 'int', 'its Interlock proxy ports (what its load balancer forwards 80 and 443 to)'),
    StackOutput('interlockPublishMode', ENVIRONMENT, 'string', 'how its proxies publish their ports: `host`'),
    StackOutput('interlockProxyService', ENVIRONMENT, 'string', 'its proxy service, `ucp-interlock-proxy-<env>`'),
    StackOutput('domain', ENVIRONMENT, 'string', 'apps are served as `<name>.<domain>`'),
    StackOutput('httpsOnly', ENVIRONMENT, 'bool', "whether every app's HTTP host must redirect to HTTPS (`InterlockService` adds the redirect)"),
    StackOutput('isolation', ENVIRONMENT, 'string', '`environment` or `applicationGroup`: whether its application groups have a firewall each'),
    StackOutput('loadBalancerDnsName', ENVIRONMENT, 'string', 'its network load balancer'),
    StackOutput('ingressNetwork', ENVIRONMENT, 'string', 'the overlay network apps join and name in `com.docker.lb.network`'),
    StackOutput('overlayNetworks', ENVIRONMENT, 'list of strings', 'all of its overlay networks, the ingress network first'),
    StackOutput('ingressNodes', ENVIRONMENT, 'list of strings', 'hostnames of the nodes running its proxies', stable=False),
    StackOutput('applicationGroupSubnetIds', ENVIRONMENT, 'map group -> list of strings', 'subnet ids per application group, in zone order'),
    StackOutput('workerSecurityGroupId', ENVIRONMENT, 'string', "its workers' security group"),
    StackOutput('applicationGroupSecurityGroupIds', ENVIRONMENT, 'map group -> string', 'with `isolation: applicationGroup`: the security group of each application group; every worker of the group carries it besides the workers group', optional=True),
    StackOutput('loadBalancerSecurityGroupId', ENVIRONMENT, 'string', "its load balancer's security group"),
    StackOutput('teamNamespaces', ENVIRONMENT, 'map team -> string', 'the Kubernetes namespace of each on-boarded team'),
    StackOutput('ingressControllerNamespaceSelector', ENVIRONMENT, 'map string -> string', "the labels that select the ingress controller's namespace on this cluster's Kubernetes, for an app's ingress NetworkPolicy"),
    StackOutput('tlsCertificateSecretName', ENVIRONMENT, 'string', 'with `tls: true`: the Swarm secrets for `com.docker.lb.ssl_cert` / `ssl_key`', optional=True),
    StackOutput('tlsKeySecretName', ENVIRONMENT, 'string', 'with `tls: true`: the Swarm secrets for `com.docker.lb.ssl_cert` / `ssl_key`', optional=True),
)  # fmt: skip

BY_ROLE = {role: tuple(o for o in OUTPUTS if o.role == role) for role in (SHARED, ENVIRONMENT)}
