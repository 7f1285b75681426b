"""The Swarm layer: what the runbook's operator did by hand in UCP, as resources.

- `SharedSwarm` (shared stack): Layer 7 routing turned on and kept on the MKE release (with
  `interlock.enableLayer7Routing`), then the cluster-wide Interlock settings (retiring `default`).
- `EnvironmentSwarm` (env stacks): the ingress node labels, the environment's overlay networks,
  its `[Extensions.<env>]` service cluster, its TLS certificate as Swarm secrets, and its teams'
  UCP grants (`teams[].ucpGrants`: a UCP team, a role, the environment's collection or one under it).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from interlock_platform.core import labels
from interlock_platform.core.interlock_toml import ServiceClusterSpec
from interlock_platform.core.model import EnvironmentTopology, SharedTopology, UcpConnection
from interlock_platform.core.topology import PROJECT
from interlock_platform.swarm.providers.interlock import InterlockSettings, ServiceCluster
from interlock_platform.swarm.providers.layer7 import Layer7Routing
from interlock_platform.swarm.providers.node_labels import NodeLabels
from interlock_platform.swarm.providers.ucp_grants import UcpGrants


def docker_provider(name: str, ucp: UcpConnection, parent: pulumi.Resource) -> docker.Provider:
    """The client bundle's keys reach the provider only as Pulumi secrets."""
    cfg = pulumi.Config(PROJECT)
    tls = {}
    if ucp.uses_tls:
        tls = {
            "ca_material": cfg.require_secret("ucpCaCert"),
            "cert_material": cfg.require_secret("ucpClientCert"),
            "key_material": cfg.require_secret("ucpClientKey"),
        }
    return docker.Provider(name, host=ucp.host, opts=pulumi.ResourceOptions(parent=parent), **tls)


@dataclass
class SharedSwarmArgs:
    topology: SharedTopology


class SharedSwarm(pulumi.ComponentResource):
    layer7: Layer7Routing | None
    settings: InterlockSettings

    def __init__(self, name: str, args: SharedSwarmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:swarm:SharedSwarm", name, None, opts)
        topo = args.topology
        interlock = topo.interlock
        self.layer7 = None
        if interlock.enable_layer7_routing:
            self.layer7 = Layer7Routing(
                f"{name}-layer7-routing", http_port=interlock.layer7_http_port, https_port=interlock.layer7_https_port,
                stack=topo.stack, keep_configs=interlock.keep_configs, health_seconds=interlock.health_seconds,
                opts=pulumi.ResourceOptions(parent=self),
            )  # fmt: skip
        # Turning Layer 7 on starts Interlock on its default config: the platform's part is rotated in after it
        self.settings = InterlockSettings(
            f"{name}-interlock-settings", retire_default=interlock.retire_default_extension, template=interlock.template,
            stack=topo.stack, keep_configs=interlock.keep_configs, health_seconds=interlock.health_seconds,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.layer7] if self.layer7 else None),
        )  # fmt: skip
        self.register_outputs({"interlockTemplate": self.settings.templateToml})


@dataclass
class EnvironmentSwarmArgs:
    topology: EnvironmentTopology
    template_toml: pulumi.Input[str | None]  # the template the shared stack captured


class EnvironmentSwarm(pulumi.ComponentResource):
    networks: dict[str, docker.Network]
    service_cluster: ServiceCluster
    tls_secret_names: dict[str, pulumi.Output[str]]
    ucp_grants: UcpGrants | None

    def __init__(self, name: str, args: EnvironmentSwarmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("interlock-platform:swarm:EnvironmentSwarm", name, None, opts)
        topo = args.topology
        env, collection = topo.env, topo.env.collection
        provider = docker_provider(f"{name}-ucp", topo.ucp, self)
        on_ucp = pulumi.ResourceOptions(parent=self, provider=provider)

        self.networks = {}
        for net in topo.overlay.all:
            self.networks[net] = docker.Network(
                f"{name}-net-{net}", name=net, driver="overlay", attachable=True,
                labels=[docker.NetworkLabelArgs(label=labels.UCP_ACCESS, value=collection),
                        docker.NetworkLabelArgs(label=labels.MANAGED_BY_STACK, value=topo.stack)],
                # IPsec between nodes; the firewall layer opens ESP (IP protocol 50) for it.
                options={"encrypted": "true"} if topo.overlay.encrypted else {},
                opts=on_ucp,
            )  # fmt: skip

        nodes = NodeLabels(
            f"{name}-ingress-nodes",
            env.name,
            collection,
            [n.hostname for n in topo.ingress_nodes],
            [n.instance_id for n in topo.ingress_nodes],
            opts=pulumi.ResourceOptions(parent=self),
        )
        spec = ServiceClusterSpec(
            env.name, env.http_port, env.https_port, topo.proxy_replicas, topo.overlay.ingress, topo.shared.interlock.template
        )
        # The proxies attach to the ingress network and are placed on the labelled nodes: both first.
        self.service_cluster = ServiceCluster(
            f"{name}-service-cluster", spec=spec, stack=topo.stack, keep_configs=topo.shared.interlock.keep_configs,
            health_seconds=topo.shared.interlock.health_seconds, template_toml=args.template_toml,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[nodes, self.networks[topo.overlay.ingress]]),
        )  # fmt: skip

        self.tls_secret_names = {}
        if topo.tls:
            cfg = pulumi.Config(PROJECT)
            for kind, key, suffix in (("certificate", "tlsCertificate", "crt"), ("key", "tlsKey", "key")):
                pem = cfg.require_secret(key)
                # Swarm secrets are immutable: the name follows the certificate, so a renewal
                # creates a new pair next to the old one and services move over.
                fingerprint = cfg.require_secret("tlsCertificate").apply(lambda c: hashlib.sha256(c.encode()).hexdigest()[:12])
                secret_name = pulumi.Output.unsecret(
                    fingerprint.apply(lambda f, suffix=suffix: f"{env.name}-wildcard-{f}.{suffix}")
                )
                secret = docker.Secret(
                    f"{name}-tls-{kind}", name=secret_name, data=pem.apply(lambda v: base64.b64encode(v.encode()).decode()),
                    labels=[docker.SecretLabelArgs(label=labels.UCP_ACCESS, value=collection),
                            docker.SecretLabelArgs(label=labels.MANAGED_BY_STACK, value=topo.stack)],
                    opts=on_ucp,
                )  # fmt: skip
                self.tls_secret_names[kind] = secret.name
        grants = [g for team in topo.teams for g in team.ucp_grants]
        self.ucp_grants = None
        if grants:  # who may deploy into the collection: UCP's grants, through UCP's API
            self.ucp_grants = UcpGrants(f"{name}-ucp-grants", env.name, collection, grants, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"ingressNetwork": topo.overlay.ingress, "serviceCluster": env.name})
