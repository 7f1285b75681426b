"""An app team's program: the template app teams copy. Its apps are listed in its stack config
(`app-team-demo:apps` in Pulumi.<env>.yaml), one Swarm service each, routed by the environment's
Interlock service cluster.

Everything environment-specific comes from the platform's env stack, by StackReference: the
domain, the ingress network, the service cluster, the collection, the TLS secrets, whether the
environment is HTTPS-only, the team's namespace. `pulumi up -s dev` deploys to dev; the same
program goes to test and prod, each with its own list of apps.
"""

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from interlock_platform.core.k8s_manifests import AppSpec, Port
from interlock_platform.kubernetes.layer import AppIngressPolicy, AppIngressPolicyArgs
from interlock_platform.swarm.interlock_service import (
    InterlockService,
    InterlockServiceArgs,
    apps_from_config,
    team_namespace,
    validate,
)

config = pulumi.Config()
environment = pulumi.get_stack()  # dev, test or prod


async def main() -> None:
    apps = apps_from_config(config, "apps")  # a misspelt field or a wrong type stops here
    platform = pulumi.StackReference(f"{config.require('platformOrg')}/interlock-platform/{environment}")
    env = await validate(platform, *apps, config_key=config.full_key("apps"))  # and a spec the environment refuses
    namespace = await team_namespace(platform, config.require("team"), config_key=config.full_key("team"))  # and a team not there

    ucp = docker.Provider(
        "ucp", host=config.require("ucpHost"), ca_material=config.require_secret("ucpCaCert"),
        cert_material=config.require_secret("ucpClientCert"), key_material=config.require_secret("ucpClientKey"),
    )  # fmt: skip
    services = {app.name: InterlockService(app.name, InterlockServiceArgs(env, app, ucp)) for app in apps}

    # The team's Kubernetes side: the ingress controller may reach its demo pods
    cluster = k8s.Provider("cluster", kubeconfig=config.require_secret("kubeconfig"))
    AppIngressPolicy(
        "demo",
        AppIngressPolicyArgs(
            namespace,
            AppSpec("demo", {"app": "demo"}, (Port(8080),), ingress=True),
            ingress_namespace_selector=platform.get_output("ingressControllerNamespaceSelector"),
            provider=cluster,
        ),
    )

    pulumi.export("hosts", {name: list(service.hosts) for name, service in services.items()})
    pulumi.export("serviceCluster", env.environment)
    pulumi.export("httpsOnly", env.https_only)


pulumi.run(main)
