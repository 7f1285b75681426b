"""`InterlockService`: an app team's Swarm service, routed by its environment's Interlock
service cluster. Give it the env stack's StackReference and an app spec; it reads the stack's
outputs, refuses a bad spec before creating anything, and creates the `pulumi_docker.Service`
with the labels, networks and placement the environment needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from interlock_platform.core import app_labels, app_routes, app_specs
from interlock_platform.core.app_labels import AppServiceSpec, AppSpecError, EnvironmentContract
from interlock_platform.stack_config import InvalidAppSpec, read_stack_outputs


@dataclass
class InterlockServiceArgs:
    environment: EnvironmentContract  # from `await validate(StackReference("<org>/interlock-platform/<env>"), app)`
    app: AppServiceSpec
    provider: pulumi.ProviderResource | None = None  # a pulumi_docker.Provider for the same UCP


def check_apps(
    env: EnvironmentContract, *apps: AppServiceSpec, config_key: str | None = None, team: str | None = None
) -> None:
    """Refuse every bad spec at once, before anything is created: each app's own problems, and
    those between the apps (a canary in VIP mode, two paths on one host), whatever their runtime
    (`runtime: kubernetes` apps need `team`: whose Gateway backends they are). With `config_key`
    (the apps came from that config key), the problems say the config's camelCase field names."""
    try:
        app_routes.check_all(apps, env, team)
    except AppSpecError as err:
        if config_key is None:
            raise InvalidAppSpec(err.problems) from None
        raise InvalidAppSpec([f"{config_key}: {app_specs.in_config_terms(p)}" for p in err.problems]) from None


async def validate(
    environment: pulumi.StackReference, *apps: AppServiceSpec, config_key: str | None = None, team: str | None = None
) -> EnvironmentContract:
    """Read the env stack's outputs and refuse any bad spec: await it before creating anything
    (in the `async def main()` that `pulumi.run` runs). `team`: the app team, for apps of runtime
    kubernetes (the Gateway's proxies reach only the team apps the platform declares)."""
    try:
        env = EnvironmentContract.from_outputs(await read_stack_outputs(environment, EnvironmentContract.OUTPUTS))
    except AppSpecError as err:
        raise InvalidAppSpec(err.problems) from None
    check_apps(env, *apps, config_key=config_key, team=team)
    return env


async def team_namespace(environment: pulumi.StackReference, team: str, config_key: str | None = None) -> str:
    """The Kubernetes namespace the env stack on-boarded `team` into (its `teamNamespaces`
    output), or InvalidAppSpec naming the team, the environment's teams and the fix: await it
    before creating anything."""
    namespaces = (await read_stack_outputs(environment, ("teamNamespaces",))).get("teamNamespaces") or {}
    if team in namespaces:
        return str(namespaces[team])
    where = f"{config_key}: " if config_key else ""
    known = ", ".join(sorted(namespaces)) or "none yet"
    raise InvalidAppSpec([
        f"{where}team {team!r} is not on-boarded in this environment; use one of its teams ({known}), or ask the platform "
        f"team to on-board '{team}' (interlock-platform:teams in the platform's stack file for this environment)"
    ])  # fmt: skip


def apps_from_config(config: pulumi.Config, key: str = "apps") -> list[AppServiceSpec]:
    """The app specs listed under `<project>:<key>` in the stack config (camelCase fields, as
    docs/app-teams.md lists them), or InvalidAppSpec naming each app, field and fix."""
    where = config.full_key(key)
    raw: Any = config.get(key)
    if raw is None:
        raise InvalidAppSpec([f"{where}: not set; list the apps in the stack file, e.g. {where}: [{app_specs.EXAMPLE}]"])
    try:
        return app_specs.parse_apps(json.loads(raw))
    except ValueError as err:
        problems = err.problems if isinstance(err, AppSpecError) else [f"apps: is not a YAML list of mappings ({err})"]
        raise InvalidAppSpec([f"{where}: {p}" for p in problems]) from None


class InterlockService(pulumi.ComponentResource):
    service: docker.Service
    hosts: tuple[str, ...]

    def __init__(self, name: str, args: InterlockServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        env = args.environment
        if args.app.runtime != app_labels.SWARM:
            raise InvalidAppSpec([
                f"app '{args.app.name}': runtime is {args.app.runtime}, not swarm; deploy it with GatewayApp "
                "(interlock_platform.kubernetes.gateway_app), as the template does"
            ])  # fmt: skip
        check_apps(env, args.app)  # before the component itself is registered
        super().__init__("interlock-platform:apps:InterlockService", name, None, opts)
        spec = args.app
        self.hosts = app_labels.hosts(spec, env)
        self.service = docker.Service(
            f"{name}-service",
            name=f"{env.environment}-{spec.name}",
            labels=[docker.ServiceLabelArgs(label=k, value=v) for k, v in app_labels.service_labels(spec, env).items()],
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(image=spec.image),
                networks_advanceds=[
                    docker.ServiceTaskSpecNetworksAdvancedArgs(id=n) for n in app_labels.networks(spec, env)
                ],  # Swarm takes a name as the id
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=app_labels.placement_constraints(env)),
            ),
            mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=spec.replicas)),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.register_outputs({"hosts": list(self.hosts), "serviceName": self.service.name})
