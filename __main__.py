"""interlock-platform: read config -> topology model -> components -> exports.

`shared` builds the cluster-wide layer; `dev`, `test` and `prod` build one environment each,
reading the shared stack's registry through a StackReference. Config is validated in full
before the first resource is registered.
"""

import pulumi

from interlock_platform import stack_config
from interlock_platform.aws.environment_firewall import EnvironmentFirewall, EnvironmentFirewallArgs
from interlock_platform.aws.environment_network import EnvironmentNetwork, EnvironmentNetworkArgs
from interlock_platform.aws.ingress_lb import IngressLoadBalancer, IngressLoadBalancerArgs
from interlock_platform.aws.management_firewall import ManagementFirewall, ManagementFirewallArgs
from interlock_platform.aws.shared_network import SharedNetwork, SharedNetworkArgs
from interlock_platform.aws.vpc_endpoints import VpcEndpoints, VpcEndpointsArgs
from interlock_platform.core import gateway, model, topology
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.kubernetes.layer import EnvironmentKubernetes, EnvironmentKubernetesArgs
from interlock_platform.swarm.layer import EnvironmentSwarm, EnvironmentSwarmArgs, SharedSwarm, SharedSwarmArgs


def shared_stack(topo: topology.SharedTopology) -> None:
    network = SharedNetwork("shared", SharedNetworkArgs(topo))
    endpoints = VpcEndpoints("shared-endpoints", VpcEndpointsArgs(topo, network.vpc.id, network.management_subnet_ids))
    endpoint_sgs = {service: sg.id for service, sg in endpoints.security_groups.items()}
    firewall = ManagementFirewall(
        "shared-fw",
        ManagementFirewallArgs(topo, network.vpc.id, network.management_subnet_ids, endpoint_sgs, network.s3_prefix_list_id),
    )
    swarm = SharedSwarm("shared-swarm", SharedSwarmArgs(topo))

    pulumi.export("vpcId", network.vpc.id)
    pulumi.export("managementSecurityGroupId", firewall.security_group.id)
    pulumi.export("managementPeersSecurityGroupId", firewall.peers_security_group.id)
    pulumi.export("managementSubnetIds", list(network.management_subnet_ids.values()))
    pulumi.export("edgeSubnetIds", list(network.edge_subnet_ids.values()))
    pulumi.export("natGatewayIds", network.nat_gateway_ids)
    pulumi.export("vpcEndpointSecurityGroupIds", endpoint_sgs)  # env stacks admit their workers to each
    pulumi.export("interlockTemplate", pulumi.Output.secret(swarm.settings.templateToml))  # may hold AdminPass
    for key, value in topo.to_outputs().items():  # the registry and settings, for env stacks
        pulumi.export(key, value)


def environment_stack(topo: topology.EnvironmentTopology, shared: pulumi.StackReference) -> None:
    vpc_id = shared.get_output("vpcId")
    nats = shared.get_output("natGatewayIds")
    network = EnvironmentNetwork(
        f"{topo.name}-net",
        EnvironmentNetworkArgs(topo, vpc_id, {az: nats.apply(lambda m, az=az: m[az]) for az in topo.shared.availability_zones}),
    )
    endpoint_sgs = shared.get_output("vpcEndpointSecurityGroupIds")
    firewall = EnvironmentFirewall(
        f"{topo.name}-fw",
        EnvironmentFirewallArgs(
            topo,
            vpc_id,
            shared.get_output("managementSecurityGroupId"),
            {s: endpoint_sgs.apply(lambda ids, s=s: ids[s]) for s in topo.shared.interface_endpoints},
            network.s3_prefix_list_id,
        ),
    )
    if topo.network_only:  # the first pass: the nodes are launched into these, then listed, then the rest
        export_network(topo, network, firewall)
        return
    lb_group = firewall.load_balancer
    assert lb_group is not None  # every pass but the network pass makes it
    k8s = None
    if topo.teams or topo.gateway:
        k8s = EnvironmentKubernetes(
            f"{topo.name}-k8s",
            EnvironmentKubernetesArgs(topo.teams, topo.name, topo.env.collection_node_selector, topo.kubernetes, topo.gateway),
        )
    edge = shared.get_output("edgeSubnetIds")
    lb = IngressLoadBalancer(
        f"{topo.name}-lb",
        IngressLoadBalancerArgs(
            topo,
            vpc_id,
            [edge.apply(lambda ids, i=i: ids[i]) for i in range(len(topo.shared.availability_zones))],
            lb_group.id,
            depends_on=k8s.load_balancer_waits_for if k8s is not None else [],
        ),
    )
    swarm = EnvironmentSwarm(f"{topo.name}-swarm", EnvironmentSwarmArgs(topo, shared.get_output("interlockTemplate")))

    export_network(topo, network, firewall)
    pulumi.export("loadBalancerDnsName", lb.load_balancer.dns_name)
    pulumi.export("loadBalancerSecurityGroupId", lb_group.id)
    pulumi.export("ingressNodes", [n.hostname for n in topo.ingress_nodes])
    pulumi.export("ingressNetwork", topo.overlay.ingress)
    pulumi.export("overlayNetworks", list(topo.overlay.all))
    pulumi.export("interlockProxyService", swarm.service_cluster.proxyServiceName)
    pulumi.export("interlockPublishMode", swarm.service_cluster.publishMode)
    pulumi.export("teamNamespaces", {t.name: t.namespace for t in topo.teams})
    pulumi.export("ingressControllerNamespaceSelector", topo.kubernetes.ingress_selector)
    if topo.gateway is not None:  # none when off (a null output is not kept): an app team is told to turn it on
        pulumi.export("gateway", gateway.contract_output(topo.gateway, topo.teams))
    for kind, name in swarm.tls_secret_names.items():
        pulumi.export(f"tls{kind.capitalize()}SecretName", name)


def export_network(topo: topology.EnvironmentTopology, network: EnvironmentNetwork, firewall: EnvironmentFirewall) -> None:
    """What the network pass exports too: the environment, and the subnets and groups its nodes are launched with."""
    env = topo.env
    pulumi.export("environment", env.name)
    pulumi.export("collection", env.collection)
    pulumi.export("collectionNodeSelector", env.collection_node_selector)
    pulumi.export("serviceCluster", env.name)
    pulumi.export("httpPort", env.http_port)
    pulumi.export("httpsPort", env.https_port)
    pulumi.export("domain", topo.domain)
    pulumi.export("httpsOnly", topo.https_only)
    pulumi.export("isolation", topo.isolation)
    pulumi.export("applicationGroupSubnetIds", network.subnet_ids)
    pulumi.export("workerSecurityGroupId", firewall.workers.id)
    if firewall.group_security_groups:
        pulumi.export("applicationGroupSecurityGroupIds", {g: sg.id for g, sg in firewall.group_security_groups.items()})
    pulumi.export("networkOnly", topo.network_only)


async def main() -> None:
    stack = pulumi.get_stack()
    raw, region = stack_config.read(), stack_config.aws_region()
    try:
        if topology.stack_role(stack, raw) == "shared":
            shared_stack(topology.parse_shared(stack, raw, aws_region=region))
            return
        ref = pulumi.StackReference("shared", stack_name=topology.shared_stack_name(stack, raw))
        registry = await stack_config.read_stack_outputs(ref, model.REGISTRY_OUTPUTS)
        topo = topology.parse_environment(stack, raw, registry, aws_region=region)
        # where only the cloud knows: each ingress node's instance id must be one of this environment's
        topology.check_ingress_instances(topo, stack_config.read_instances(n.instance_id for n in topo.ingress_nodes))
        if topo.network_only:  # and only the state knows whether this stack was ever up
            own = pulumi.StackReference("last-update", stack_name=f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}")
            topology.check_network_pass(topo, await stack_config.read_stack_outputs(own, ("networkOnly", "loadBalancerDnsName")))
    except InvalidConfig as err:
        stack_config.fail(err)
    environment_stack(topo, ref)


pulumi.run(main)  # async: the shared stack's registry is awaited before anything depends on it
