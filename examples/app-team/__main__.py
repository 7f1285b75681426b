"""An app team's program: the template app teams copy. Its apps are listed in its stack config
(`app-team-demo:apps` in Pulumi.<env>.yaml), one Swarm service each, routed by the environment's
Interlock service cluster; or, with `runtime: kubernetes`, a Deployment, a Service and an
HTTPRoute in the team's namespace, routed by the environment's Gateway (docs/migrating.md).

Everything environment-specific comes from the platform's env stack, by StackReference: the
domain, the ingress network, the service cluster, the collection, the TLS secrets, whether the
environment is HTTPS-only, the team's namespace. `pulumi up -s dev` deploys to dev; the same
program goes to test and prod, each with its own list of apps.
"""

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from interlock_platform.core.app_labels import KUBERNETES
from interlock_platform.core.k8s_manifests import AppSpec, Port
from interlock_platform.kubernetes.gateway_app import GatewayApp, GatewayAppArgs
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
    team = config.require("team")
    platform = pulumi.StackReference(f"{config.require('platformOrg')}/interlock-platform/{environment}")
    namespace = await team_namespace(platform, team, config_key=config.full_key("team"))  # a team not there stops here
    env = await validate(platform, *apps, config_key=config.full_key("apps"), team=team)  # and a spec the environment refuses

    ucp = docker.Provider(
        "ucp", host=config.require("ucpHost"), ca_material=config.require_secret("ucpCaCert"),
        cert_material=config.require_secret("ucpClientCert"), key_material=config.require_secret("ucpClientKey"),
    )  # fmt: skip
    cluster = k8s.Provider("cluster", kubeconfig=config.require_secret("kubeconfig"))
    # Each app on its runtime: Swarm through Interlock (the default), or Kubernetes through the Gateway
    services = {app.name: InterlockService(app.name, InterlockServiceArgs(env, app, ucp)) for app in apps if app.runtime != KUBERNETES}
    routed = {
        app.name: GatewayApp(app.name, GatewayAppArgs(env, app, team, namespace, cluster)) for app in apps if app.runtime == KUBERNETES
    }

    # The team's Kubernetes side: the ingress controller may reach its demo pods
    AppIngressPolicy(
        "demo",
        AppIngressPolicyArgs(
            namespace,
            AppSpec("demo", {"app": "demo"}, (Port(8080),), ingress=True),
            ingress_namespace_selector=platform.get_output("ingressControllerNamespaceSelector"),
            provider=cluster,
        ),
    )

    pulumi.export("hosts", {name: list(app.hosts) for name, app in {**services, **routed}.items()})
    pulumi.export("serviceCluster", env.environment)
    pulumi.export("httpsOnly", env.https_only)


pulumi.run(main)
