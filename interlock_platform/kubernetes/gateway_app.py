"""`GatewayApp`: an app team's app with `runtime: kubernetes`, routed by its environment's
Gateway API Gateway: a Deployment, a Service and an HTTPRoute (and one per redirect) in the
team's namespace, from the pure `core/app_routes.py`. The Kubernetes twin of `InterlockService`:
the same app spec, the same environment contract, refused before anything is created."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from interlock_platform.core import app_routes
from interlock_platform.core.app_labels import AppServiceSpec, AppSpecError, EnvironmentContract
from interlock_platform.kubernetes.layer import create
from interlock_platform.stack_config import InvalidAppSpec


@dataclass
class GatewayAppArgs:
    environment: EnvironmentContract  # from `await validate(StackReference(...), *apps, team=...)`
    app: AppServiceSpec  # runtime: kubernetes
    team: str  # whose namespace runs it, and whose `allow-gateway-<app>` admits the proxies
    namespace: str  # the team's namespace (`await team_namespace(...)`)
    provider: pulumi.ProviderResource | None = None  # a pulumi_kubernetes.Provider for the cluster


class GatewayApp(pulumi.ComponentResource):
    hosts: tuple[str, ...]

    def __init__(self, name: str, args: GatewayAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        try:  # before the component itself is registered: nothing half-built
            manifests = app_routes.manifests(args.app, args.environment, args.team, args.namespace)
        except AppSpecError as err:
            raise InvalidAppSpec(err.problems) from None
        super().__init__("interlock-platform:apps:GatewayApp", name, None, opts)
        self.hosts = app_routes.own_hosts(args.app, args.environment)
        deployment, service, *routes = manifests
        on = pulumi.ResourceOptions(parent=self, provider=args.provider)
        create(f"{name}-deployment", deployment, on)
        backend = create(f"{name}-service", service, on)
        after = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[backend])  # a route's backend first
        for route in routes:
            create(f"{name}-httproute-{route['metadata']['name']}", route, after)
        self.register_outputs({"hosts": list(self.hosts), "routes": [r["metadata"]["name"] for r in routes]})
