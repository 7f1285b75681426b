"""An environment's network load balancer: TCP 443 -> its Interlock HTTPS port and TCP 80 ->
its HTTP port, targeting only its ingress nodes, plus the wildcard DNS record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from interlock_platform.core.model import EnvironmentTopology
from interlock_platform.core.tagging import tags


@dataclass
class IngressLoadBalancerArgs:
    topology: EnvironmentTopology
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]  # the edge subnets
    security_group_id: pulumi.Input[str]
    # what the target groups wait for: the environment's Gateway once it has the load balancer
    # (ready when Programmed), so traffic moves only to proxies that can take it
    depends_on: Sequence[pulumi.Resource] = ()


def listener_map(topo: EnvironmentTopology) -> tuple[tuple[str, int, int], ...]:
    """(purpose, listener port, target port): the one place the LB's port mapping is decided (the
    target ports are Interlock's, or the Gateway's NodePorts after the cut-over)."""
    (http, _, _), (https, _, _) = topo.proxy_ports
    return (("https", 443, https), ("http", 80, http))


class IngressLoadBalancer(pulumi.ComponentResource):
    load_balancer: aws.lb.LoadBalancer

    def __init__(self, name: str, args: IngressLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:ingress:IngressLoadBalancer", name, None, opts)
        topo = args.topology
        env, stack = topo.name, topo.stack
        child = pulumi.ResourceOptions(parent=self)
        # The NLB's SG can only be attached at creation (AWS, Aug 2023): it is set here, always.
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            load_balancer_type="network",
            internal=topo.load_balancer.internal,
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=topo.load_balancer.deletion_protection,
            tags=tags(stack, env, f"{name}-nlb"),
            opts=child,
        )
        for purpose, listen, target in listener_map(topo):
            # Client IP preservation off: the workers then see the NLB's edge addresses, which is
            # what the environment NACL and the worker SG admit on the proxy ports.
            tg = aws.lb.TargetGroup(
                f"{name}-{purpose}",
                port=target,
                protocol="TCP",
                target_type="instance",
                vpc_id=args.vpc_id,
                preserve_client_ip="false",
                health_check=aws.lb.TargetGroupHealthCheckArgs(
                    protocol="TCP", port="traffic-port", healthy_threshold=3, unhealthy_threshold=3, interval=10
                ),
                tags=tags(stack, env, f"{name}-{purpose}"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
            aws.lb.Listener(
                f"{name}-{purpose}",
                load_balancer_arn=self.load_balancer.arn,
                port=listen,
                protocol="TCP",
                default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=tg.arn)],
                tags=tags(stack, env, f"{name}-{purpose}-listener"),
                opts=pulumi.ResourceOptions(parent=self.load_balancer),
            )
            for node in topo.ingress_nodes:
                aws.lb.TargetGroupAttachment(
                    f"{name}-{purpose}-{node.instance_id}",
                    target_group_arn=tg.arn,
                    target_id=node.instance_id,
                    port=target,
                    opts=pulumi.ResourceOptions(parent=tg),
                )
        if topo.hosted_zone_id:
            aws.route53.Record(
                f"{name}-wildcard",
                zone_id=topo.hosted_zone_id,
                name=f"*.{topo.domain}",
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=self.load_balancer.dns_name, zone_id=self.load_balancer.zone_id, evaluate_target_health=True
                    )
                ],
                opts=child,
            )
        self.register_outputs({"dnsName": self.load_balancer.dns_name})
