"""Layer 7 routing (Interlock) turned on by code, and Interlock's images kept on the MKE release.

`interlock:Layer7Routing` (shared stack):

- **Turning it on** takes the documented manual route (Docker's "Deploy a layer 7 routing
  solution", section "Enable layer 7 routing manually"): the `ucp-interlock` overlay network,
  the config `com.docker.ucp.interlock.conf-<N>` and the `ucp-interlock` service, which Interlock
  uses to start its extension and proxy. It goes through the Docker API with the client bundle
  the stack already has; the UI's `POST /api/interlock` is undocumented and would need an admin
  password (see docs/swarm.md for the evidence that decided it). The names, the first config and
  the service's shape are what the UI's switch creates (same page, "Enable layer 7 routing via
  UCP"), so the config rotations and UCP's own tools find it where they look.
- **An Interlock that is already on is adopted**: nothing is created, whoever turned it on.
- **Its images follow the release.** The release is read from the running `ucp-agent` service
  (`core/interlock_release.py`); when `ucp-interlock` or any extension's Interlock image is not
  on it (after an MKE upgrade, which leaves a customised Interlock alone), one config rotation
  names the new extension and proxy images and moves `ucp-interlock` to the new core image in
  the same service update, with rollback on failure (`rotation.rotate(..., image=...)`).
  Interlock then rolls its extension and proxy services onto the images the config names.

The shared stack's `interlock:Settings` depends on this resource, so the platform's part of the
config is rotated in after Interlock starts on its default config.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi.dynamic as dyn

from interlock_platform.core import interlock_release, labels
from interlock_platform.core.interlock_release import Release
from interlock_platform.swarm.providers.engine import SwarmProvider

if TYPE_CHECKING:
    import docker

# docker-py and the rotation engine are imported where the engine is called (see engine.py).

INTERLOCK_NETWORK = "ucp-interlock"
# The Docker socket Interlock's core uses on the manager it runs on (Docker's manual route mounts it)
DOCKER_SOCKET = "/var/run/docker.sock"
SETTINGS_KEYS = ("stack", "keepConfigs", "healthSeconds")


class Layer7Error(RuntimeError):
    pass


def read_release(client: docker.DockerClient) -> Release:
    """The MKE release this cluster runs, from its `ucp-agent` service."""
    from docker.errors import NotFound

    try:
        spec = client.api.inspect_service(interlock_release.AGENT_SERVICE)["Spec"]
    except NotFound:
        raise Layer7Error(
            f"there is no {interlock_release.AGENT_SERVICE} service on the engine this stack reaches, so it is not an MKE (UCP) "
            "cluster and its release cannot be read; check interlock-platform:ucpHost and the client bundle (an admin's)"
        ) from None
    try:
        return interlock_release.release_of(spec["TaskTemplate"]["ContainerSpec"]["Image"], spec.get("Labels"))
    except interlock_release.ReleaseError as err:
        raise Layer7Error(str(err)) from None


def _service(client: docker.DockerClient, name: str) -> dict[str, Any] | None:
    from docker.errors import NotFound

    try:
        return dict(client.api.inspect_service(name))
    except NotFound:
        return None


def _network_id(client: docker.DockerClient, stack: str) -> str:
    """The `ucp-interlock` overlay: the one there is, or a new one."""
    from docker.errors import APIError

    found = [n for n in client.api.networks(names=[INTERLOCK_NETWORK]) if n["Name"] == INTERLOCK_NETWORK]
    if found:
        if found[0].get("Driver") != "overlay" or found[0].get("Scope") != "swarm":
            raise Layer7Error(
                f"a network named {INTERLOCK_NETWORK} exists but is a {found[0].get('Scope')} {found[0].get('Driver')} network, "
                f"not a Swarm overlay; Interlock needs the overlay. Remove it (`docker network rm {INTERLOCK_NETWORK}`) and run "
                "`pulumi up` again"
            )
        return str(found[0]["Id"])
    try:
        return str(client.api.create_network(INTERLOCK_NETWORK, driver="overlay", labels={labels.MANAGED_BY_STACK: stack})["Id"])
    except APIError as err:
        if err.status_code == 409:  # created meanwhile (UCP, or another run)
            return _network_id(client, stack)
        raise


def _first_config_name(client: docker.DockerClient) -> str:
    """conf-1, or the number after any a disabled Interlock left behind (configs are immutable)."""
    from interlock_platform.swarm.providers.rotation import CONFIG_NAME_RE

    numbers = [int(m.group(1)) for c in client.api.configs() if (m := CONFIG_NAME_RE.match(c["Spec"]["Name"]))]
    return f"{labels.INTERLOCK_CONFIG_PREFIX}{max(numbers, default=0) + 1}"


def turn_on(
    client: docker.DockerClient,
    release: Release,
    *,
    http_port: int,
    https_port: int,
    stack: str,
    health_seconds: float,
    docker_socket: str = DOCKER_SOCKET,
) -> bool:
    """Create what enabling Layer 7 routing creates, unless `ucp-interlock` exists (then adopt
    it). True when this call created the service."""
    from docker.errors import APIError

    if _service(client, labels.INTERLOCK_SERVICE) is not None:
        return False
    network_id = _network_id(client, stack)
    text = interlock_release.default_config(release, http_port, https_port)
    for _ in range(5):  # another run may take the number between reading and creating
        config_name = _first_config_name(client)
        try:
            config_id = client.api.create_config(config_name, text.encode(), labels={labels.MANAGED_BY_STACK: stack})["ID"]
            break
        except APIError as err:
            if err.status_code != 409:
                raise
    else:
        raise Layer7Error(f"other changes kept taking the next {labels.INTERLOCK_CONFIG_PREFIX}<N> name; run `pulumi up` again")
    monitor = int(health_seconds * 1_000_000_000)
    task_template = {
        "ContainerSpec": {
            "Image": release.core,
            "Args": ["run", "-c", labels.INTERLOCK_CONFIG_PATH],
            # Interlock's core drives Swarm through the manager's engine: why it runs on a manager
            "Mounts": [{"Type": "bind", "Source": docker_socket, "Target": DOCKER_SOCKET}],
            "Configs": [{"ConfigID": config_id, "ConfigName": config_name,
                         "File": {"Name": labels.INTERLOCK_CONFIG_PATH, "UID": "0", "GID": "0", "Mode": 0o444}}],
        },
        "Placement": {"Constraints": ["node.role==manager"]},
        "Networks": [{"Target": network_id}],
    }  # fmt: skip
    try:
        client.api.create_service(
            task_template, name=labels.INTERLOCK_SERVICE, labels={labels.MANAGED_BY_STACK: stack},
            # a config or image Interlock cannot run with is rolled back by Swarm, as on UCP
            update_config={"Parallelism": 1, "FailureAction": "rollback", "Monitor": monitor, "Order": "stop-first"},
            rollback_config={"Parallelism": 1, "Monitor": monitor},
        )  # fmt: skip
    except APIError as err:
        client.api.remove_config(config_id)
        if err.status_code == 409:  # turned on meanwhile (the UI, or another run): adopt it
            return False
        raise Layer7Error(
            f"the engine refused to create {labels.INTERLOCK_SERVICE}: {err.explanation or err}; nothing else was changed "
            f"but the {INTERLOCK_NETWORK} network. Check the client bundle is an admin's, then run `pulumi up` again"
        ) from None
    return True


def follow_release(client: docker.DockerClient, release: Release, *, stack: str, keep: int, health_seconds: float) -> Any:
    """Interlock's images onto `release` through the safe rotation (a no-op when they are on it,
    after waiting for Interlock to settle). Returns the RotationResult."""
    from interlock_platform.swarm.providers.rotation import RotationFailed, read_current, rotate

    core = read_current(client).image
    target = None if interlock_release.same_image(core, release.moved(core)) else release.moved(core)
    try:
        return rotate(
            client, lambda text: interlock_release.follow(text, release), image=target, stack=stack, keep=keep,
            health_seconds=health_seconds,
        )  # fmt: skip
    except RotationFailed as err:
        raise RotationFailed(
            f"moving Interlock to MKE {release.tag}'s images ({release.core}, {release.extension}, {release.proxy}) failed, and "
            f"Swarm put {labels.INTERLOCK_SERVICE} back on {core}: Interlock keeps the previous release's images. Check that the "
            "managers can pull these images (an offline install mirrors them first), then run `pulumi up` again. What failed:\n"
            f"{err}"
        ) from None


def wait_for_service(client: docker.DockerClient, timeout: float = 30.0) -> None:
    """A service just created is visible at once to the manager that created it; wait briefly
    when the engine answers from another."""
    deadline = time.monotonic() + timeout
    while _service(client, labels.INTERLOCK_SERVICE) is None:
        if time.monotonic() > deadline:
            raise Layer7Error(f"{labels.INTERLOCK_SERVICE} was created but the engine does not show it; run `pulumi up` again")
        time.sleep(0.2)


class Layer7RoutingProvider(SwarmProvider):
    docker_socket = DOCKER_SOCKET  # the tests' private engine has its socket elsewhere

    def _observe(self, client: docker.DockerClient, props: dict[str, Any], release: Release) -> dict[str, Any]:
        from interlock_platform.swarm.providers.rotation import read_current

        current = read_current(client)
        return {
            **props, "release": release.tag, "interlockImage": current.image.split("@", 1)[0], "configName": current.config_name,
            "staleImages": interlock_release.stale_images(current.text, current.image, release),
        }  # fmt: skip

    def _apply(self, props: dict[str, Any], created_before: bool) -> dict[str, Any]:
        client = self.connection.client()
        release = read_release(client)
        created = turn_on(
            client, release, http_port=int(props["httpPort"]), https_port=int(props["httpsPort"]), stack=props["stack"],
            health_seconds=float(props["healthSeconds"]), docker_socket=self.docker_socket,
        )  # fmt: skip
        wait_for_service(client)
        follow_release(
            client, release, stack=props["stack"], keep=int(props["keepConfigs"]), health_seconds=float(props["healthSeconds"])
        )
        return {**self._observe(client, props, release), "createdByStack": created or created_before}

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult("layer7-routing", self._apply(props, False))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        changed = any(olds.get(k) != news.get(k) for k in SETTINGS_KEYS)
        if not changed:  # the cluster is the truth: Interlock turned off, or an MKE upgrade since
            client = self.connection.client()
            if _service(client, labels.INTERLOCK_SERVICE) is None:
                changed = True
            else:
                changed = bool(self._observe(client, news, read_release(client))["staleImages"])
        # the ports are the default cluster's when Interlock is first turned on; later they change nothing
        return dyn.DiffResult(changes=changed, replaces=[], stables=["httpPort", "httpsPort"], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(self._apply(news, bool(olds.get("createdByStack"))))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        client = self.connection.client()
        if _service(client, labels.INTERLOCK_SERVICE) is None:
            return dyn.ReadResult(id_, {})
        return dyn.ReadResult(id_, self._observe(client, props, read_release(client)))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Interlock stays on: turning it off removes every environment's routing at once, so it
        stays a deliberate act (docs/swarm.md says how)."""


class Layer7Routing(dyn.Resource, module="interlock", name="Layer7Routing"):
    """Registers as `pulumi-python:dynamic/interlock:Layer7Routing`."""

    release: pulumi.Output[str]
    interlockImage: pulumi.Output[str]  # noqa: N815 (the output's wire name)
    configName: pulumi.Output[str]  # noqa: N815

    def __init__(
        self,
        name: str,
        *,
        http_port: int,
        https_port: int,
        stack: str,
        keep_configs: int,
        health_seconds: float,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "httpPort": http_port, "httpsPort": https_port, "stack": stack, "keepConfigs": keep_configs,
            "healthSeconds": health_seconds,
            "release": None, "interlockImage": None, "configName": None, "staleImages": None, "createdByStack": None,
        }  # fmt: skip
        super().__init__(Layer7RoutingProvider(), name, props, opts)
