"""An app team's program: the demo app of the Interlock service-cluster runbook, on its environment.

Everything environment-specific comes from the platform's env stack, by StackReference: the
domain, the ingress network, the service cluster, the collection, the TLS secrets, the team's
namespace. `pulumi up -s dev` deploys to dev; the same program goes to test and prod.
"""

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from interlock_platform.core.app_labels import AppServiceSpec
from interlock_platform.core.k8s_manifests import AppSpec, Port
from interlock_platform.kubernetes.layer import AppIngressPolicy, AppIngressPolicyArgs
from interlock_platform.swarm.interlock_service import InterlockService, InterlockServiceArgs, validate

config = pulumi.Config()
environment = pulumi.get_stack()  # dev, test or prod


async def main() -> None:
    platform = pulumi.StackReference(f"{config.require('platformOrg')}/interlock-platform/{environment}")
    demo = AppServiceSpec(
        name="demo", image="ehazlett/docker-demo", port=8080, host_prefix=config.require("hostPrefix"), replicas=2
    )
    env = await validate(platform, demo)  # a bad spec stops here, before anything is created

    ucp = docker.Provider(
        "ucp", host=config.require("ucpHost"), ca_material=config.require_secret("ucpCaCert"),
        cert_material=config.require_secret("ucpClientCert"), key_material=config.require_secret("ucpClientKey"),
    )  # fmt: skip
    app = InterlockService("demo", InterlockServiceArgs(env, demo, ucp))

    cluster = k8s.Provider("cluster", kubeconfig=config.require_secret("kubeconfig"))
    namespace = platform.get_output("teamNamespaces").apply(lambda namespaces: namespaces[config.require("team")])
    AppIngressPolicy(
        "demo",
        AppIngressPolicyArgs(
            namespace,
            AppSpec("demo", {"app": "demo"}, (Port(8080),), ingress=True),
            ingress_namespace_selector=platform.get_output("ingressControllerNamespaceSelector"),
            provider=cluster,
        ),
    )

    pulumi.export("hosts", list(app.hosts))
    pulumi.export("serviceCluster", env.environment)


pulumi.run(main)
