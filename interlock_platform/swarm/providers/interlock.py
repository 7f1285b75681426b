"""Interlock on a live Swarm, as two dynamic resources:

- `interlock:ServiceCluster` (env stacks): owns `[Extensions.<env>]` in ucp-interlock's config;
  `diff` compares against what is running, so a repeated `pulumi up` rotates nothing.
- `interlock:Settings` (shared stack): the cluster-wide part. It captures the template
  extension, then retires `[Extensions.default]` and its stale services when configured.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn

from interlock_platform.core import interlock_toml, labels
from interlock_platform.core.interlock_toml import ServiceClusterSpec
from interlock_platform.swarm.providers.engine import SwarmProvider

# The rotation engine (and with it docker-py) is imported by the methods that talk to the
# engine: registering these resources, as a preview does, never needs it. See engine.py.

SPEC_KEYS = ("environment", "httpPort", "httpsPort", "proxyReplicas", "network", "template", "templateToml")


def _template_is_secret(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The template extension is copied from the running config, which may hold Interlock's
    AdminPass or other credentials: the engine keeps it encrypted in state and in outputs."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["templateToml"]))


def rotation_settings(props: dict[str, Any]) -> dict[str, Any]:
    """How a rotation runs, from the shared stack's interlock settings."""
    return {"stack": props["stack"], "keep": int(props["keepConfigs"]), "health_seconds": float(props["healthSeconds"])}


def spec_of(props: dict[str, Any]) -> ServiceClusterSpec:
    return ServiceClusterSpec(
        props["environment"],
        int(props["httpPort"]),
        int(props["httpsPort"]),
        int(props["proxyReplicas"]),
        props["network"],
        props["template"],
    )


# The resource's properties that a running [Extensions.<env>] section holds, by its keys
RUNNING_KEYS = {
    "httpPort": ("PublishedPort", int), "httpsPort": ("PublishedSSLPort", int), "proxyReplicas": ("ProxyReplicas", int),
    "serviceCluster": ("ServiceCluster", str), "serviceName": ("ServiceName", str),
    "proxyServiceName": ("ProxyServiceName", str), "publishMode": ("PublishMode", str),
}  # fmt: skip


def running_props(running: dict[str, Any]) -> dict[str, Any]:
    """The properties a running section sets (a value of another type is left to `diff`)."""
    props = {
        prop: running[key] for prop, (key, type_) in RUNNING_KEYS.items()
        if isinstance(running.get(key), type_) and not isinstance(running.get(key), bool)
    }  # fmt: skip
    networks = running.get("Networks")
    if isinstance(networks, list) and len(networks) == 1 and isinstance(networks[0], str):
        props["network"] = networks[0]
    return props


class ServiceClusterProvider(SwarmProvider):
    def _rotate_in(self, props: dict[str, Any]) -> dict[str, Any]:
        from interlock_platform.swarm.providers.rotation import rotate

        spec = spec_of(props)
        result = rotate(
            self.connection.client(), lambda text: interlock_toml.merge(text, spec, props.get("templateToml")),
            **rotation_settings(props),
        )  # fmt: skip
        return {**props, "configName": result.config_name, "rotated": result.changed}

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult(f"interlock-{props['environment']}", self._rotate_in(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        if olds.get("environment") != news.get("environment"):
            return dyn.DiffResult(changes=True, replaces=["environment"], stables=[], delete_before_replace=True)
        changed = any(olds.get(k) != news.get(k) for k in (*SPEC_KEYS, "keepConfigs", "stack"))
        if not changed:  # inputs as before: is the running config still what they describe?
            from interlock_platform.swarm.providers.rotation import read_current

            current = read_current(self.connection.client()).text
            changed = interlock_toml.merge(current, spec_of(news), news.get("templateToml")) != current
        return dyn.DiffResult(changes=changed, replaces=[], stables=["environment"], delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(self._rotate_in(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from interlock_platform.swarm.providers.rotation import remove_services, rotate

        client = self.connection.client()
        name = props["environment"]
        rotate(client, lambda text: interlock_toml.remove(text, name), **rotation_settings(props))
        remove_services(client, [labels.extension_service(name), labels.proxy_service(name)])

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        """What the cluster runs, so `pulumi refresh` shows drift (a port changed by hand): the
        section's own values in place of the inputs'; nothing when the section is gone."""
        from interlock_platform.swarm.providers.rotation import read_current

        current = read_current(self.connection.client())
        running = interlock_toml.section(current.text, props["environment"])
        if running is None:
            return dyn.ReadResult(id_, {})
        return dyn.ReadResult(id_, {**props, **running_props(running), "configName": current.config_name})


class ServiceCluster(dyn.Resource, module="interlock", name="ServiceCluster"):
    """Registers as `pulumi-python:dynamic/interlock:ServiceCluster`: `[Extensions.<env>]`."""

    proxyServiceName: pulumi.Output[str]  # noqa: N815 (the output's wire name)
    publishMode: pulumi.Output[str]  # noqa: N815
    configName: pulumi.Output[str]  # noqa: N815

    def __init__(
        self,
        name: str,
        *,
        spec: ServiceClusterSpec,
        stack: str,
        keep_configs: int,
        health_seconds: float,
        template_toml: pulumi.Input[str | None],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "environment": spec.name, "serviceCluster": spec.name, "httpPort": spec.http_port, "httpsPort": spec.https_port,
            "proxyReplicas": spec.proxy_replicas, "network": spec.network, "template": spec.template, "publishMode": "host",
            "constraint": spec.constraint, "serviceName": spec.service_name, "proxyServiceName": spec.proxy_service_name,
            "templateToml": template_toml, "stack": stack, "keepConfigs": keep_configs, "healthSeconds": health_seconds,
            "configName": None, "rotated": None,
        }  # fmt: skip
        super().__init__(ServiceClusterProvider(), name, props, _template_is_secret(opts))


class InterlockSettingsProvider(SwarmProvider):
    def _apply(self, props: dict[str, Any], previous_template: str | None) -> dict[str, Any]:
        from interlock_platform.swarm.providers.rotation import read_current, remove_services, rotate

        client = self.connection.client()
        current = read_current(client)
        template = interlock_toml.template_section(current.text, props["template"]) or previous_template
        removed: list[str] = []
        config_name = current.config_name
        if props["retireDefaultExtension"]:
            result = rotate(client, lambda text: interlock_toml.remove(text, "default"), **rotation_settings(props))
            config_name = result.config_name
            # Interlock leaves the default cluster's services running, still publishing 8080/8443.
            removed = remove_services(client, [labels.extension_service(None), labels.proxy_service(None)])
        return {**props, "templateToml": template, "configName": config_name, "removedServices": removed}

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult("interlock-settings", self._apply(props, None))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        changed = any(olds.get(k) != news.get(k) for k in ("retireDefaultExtension", "keepConfigs", "template", "stack"))
        if not changed and news["retireDefaultExtension"]:
            from interlock_platform.swarm.providers.rotation import read_current

            changed = interlock_toml.section(read_current(self.connection.client()).text, "default") is not None
        return dyn.DiffResult(changes=changed, replaces=[], stables=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(self._apply(news, olds.get("templateToml")))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing to undo: a retired default cluster is not brought back (its ports belong to prod)."""


class InterlockSettings(dyn.Resource, module="interlock", name="Settings"):
    """Registers as `pulumi-python:dynamic/interlock:Settings`: the shared stack's part of the config."""

    template_toml: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        *,
        retire_default: bool,
        template: str,
        stack: str,
        keep_configs: int,
        health_seconds: float,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "retireDefaultExtension": retire_default, "template": template, "stack": stack, "keepConfigs": keep_configs,
            "healthSeconds": health_seconds,
            "templateToml": None, "configName": None, "removedServices": None,
        }  # fmt: skip
        super().__init__(InterlockSettingsProvider(), name, props, _template_is_secret(opts))
