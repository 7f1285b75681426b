"""Layer 7 routing turned on by code, and Interlock's images following the MKE release, on a
real Swarm (the tests' private engine): stand-in release images, a stand-in `ucp-agent` that
tells the release, and the stand-in Interlock as `ucp-interlock`'s entrypoint."""

from __future__ import annotations

import pytest
from docker.errors import NotFound

from interlock_platform.core import interlock_toml, labels
from interlock_platform.swarm.providers.interlock import InterlockSettingsProvider, ServiceClusterProvider
from interlock_platform.swarm.providers.layer7 import Layer7Error, Layer7RoutingProvider
from interlock_platform.swarm.providers.rotation import RotationFailed, read_current
from tests.swarm_support import (
    BAD_INTERLOCK,
    INSTANCE_ID,
    interlock_configs,
    release_images,
    remove_release,
    set_release,
    start_interlock,
)
from tools import test_engine

HEALTH_SECONDS = 2
PROPS = {"httpPort": 8080, "httpsPort": 8443, "stack": "shared", "keepConfigs": 3, "healthSeconds": HEALTH_SECONDS}


def provider() -> Layer7RoutingProvider:
    found = Layer7RoutingProvider()
    # Interlock's core mounts its engine's socket; the private engine's is not /var/run/docker.sock
    found.docker_socket = str(test_engine.socket_path())
    return found


@pytest.fixture
def cluster(client):
    """A stand-in MKE cluster at release 1, with Layer 7 routing off."""
    remove_release(client)
    release_images(client, "1")
    set_release(client, "1")
    yield client
    remove_release(client)


def images(client) -> tuple[str, str, str]:
    current = read_current(client)
    default = interlock_toml.section(current.text, "default") or {}
    return current.image, str(default.get("Image")), str(default.get("ProxyImage"))


def test_turns_layer7_on_by_the_manual_route_then_the_platform_config_is_rotated_in(cluster):
    client = cluster
    created = provider().create(dict(PROPS))
    outs = created.outs
    assert outs["createdByStack"] is True and outs["release"] == "1" and outs["staleImages"] == []
    # what the UI's switch creates: the overlay, conf-1 (the default config, at the release), the service
    (network,) = client.api.networks(names=["ucp-interlock"])
    assert (network["Driver"], network["Scope"], network["Labels"][labels.MANAGED_BY_STACK]) == ("overlay", "swarm", "shared")
    assert interlock_configs(client) == ["com.docker.ucp.interlock.conf-1"]
    svc = client.api.inspect_service("ucp-interlock")["Spec"]
    assert svc["TaskTemplate"]["Placement"]["Constraints"] == ["node.role==manager"]
    assert svc["TaskTemplate"]["ContainerSpec"]["Args"] == ["run", "-c", "/config.toml"]
    assert svc["UpdateConfig"]["FailureAction"] == "rollback"
    assert images(client) == ("local/ucp-interlock:1", "local/ucp-interlock-extension:1", "local/ucp-interlock-proxy:1")
    default = interlock_toml.section(read_current(client).text, "default")
    assert (default["PublishedPort"], default["PublishedSSLPort"], default["Labels"][labels.UCP_INSTANCE_ID]) == (8080, 8443, INSTANCE_ID)

    # idempotent: nothing to do, and a second apply (a lost state, another run) adopts what is there
    assert provider().diff(created.id, outs, dict(PROPS)).changes is False
    again = provider().create(dict(PROPS))
    assert again.outs["createdByStack"] is False and interlock_configs(client) == ["com.docker.ucp.interlock.conf-1"]
    assert len([s for s in client.api.services() if s["Spec"]["Name"] == "ucp-interlock"]) == 1

    # Interlock started on the default config: the platform's part is rotated in afterwards
    settings = InterlockSettingsProvider().create(
        {"retireDefaultExtension": True, "template": "default", "stack": "shared", "keepConfigs": 3, "healthSeconds": HEALTH_SECONDS}
    )
    ServiceClusterProvider().create(
        {"environment": "prod", "serviceCluster": "prod", "httpPort": 8080, "httpsPort": 8443, "proxyReplicas": 2,
         "network": "ingress_prod", "template": "default", "templateToml": settings.outs["templateToml"], "stack": "prod",
         "keepConfigs": 3, "healthSeconds": HEALTH_SECONDS}
    )  # fmt: skip
    running = read_current(client).text
    assert interlock_toml.service_clusters(running) == ["prod"]
    assert interlock_toml.section(running, "prod")["ProxyImage"] == "local/ucp-interlock-proxy:1"


def test_turned_off_by_hand_it_is_turned_on_again(cluster):
    client = cluster
    created = provider().create(dict(PROPS))
    client.api.remove_service("ucp-interlock")
    assert provider().diff(created.id, created.outs, dict(PROPS)).changes is True
    updated = provider().update(created.id, created.outs, dict(PROPS))
    assert updated.outs["createdByStack"] is True
    assert read_current(client).config_name == "com.docker.ucp.interlock.conf-2"  # conf-1 is left as it was


def test_adopts_an_interlock_already_on_and_moves_it_to_the_release(cluster):
    """Turned on before (here: the UCP 3.2 config on the stand-in): nothing is created; its
    extension and proxy images move to the running release's; a core image of another name is
    the operator's and stays."""
    client = cluster
    start_interlock(client)
    before = client.api.inspect_service("ucp-interlock")["ID"]
    created = provider().create(dict(PROPS))
    assert created.outs["createdByStack"] is False
    assert client.api.inspect_service("ucp-interlock")["ID"] == before
    assert images(client) == ("local/busybox:1", "local/ucp-interlock-extension:1", "local/ucp-interlock-proxy:1")
    assert provider().diff(created.id, created.outs, dict(PROPS)).changes is False


def test_an_upgrade_moves_the_images_and_a_bad_one_rolls_back(cluster):
    client = cluster
    created = provider().create(dict(PROPS))

    # MKE upgraded to 2: the next `pulumi up` sees it and moves all three images in one rotation
    release_images(client, "2")
    set_release(client, "2")
    assert provider().diff(created.id, created.outs, dict(PROPS)).changes is True
    upgraded = provider().update(created.id, created.outs, dict(PROPS))
    assert images(client) == ("local/ucp-interlock:2", "local/ucp-interlock-extension:2", "local/ucp-interlock-proxy:2")
    assert (upgraded.outs["release"], upgraded.outs["interlockImage"], upgraded.outs["staleImages"]) == ("2", "local/ucp-interlock:2", [])
    assert provider().diff(created.id, upgraded.outs, dict(PROPS)).changes is False
    good = read_current(client).config_name

    # release 3's core cannot start: Swarm rolls the update back, image and config together
    release_images(client, "3", interlock_script=BAD_INTERLOCK)
    set_release(client, "3")
    with pytest.raises(RotationFailed, match="this image cannot start") as err:
        provider().update(created.id, upgraded.outs, dict(PROPS))
    assert "MKE 3's images (local/ucp-interlock:3," in str(err.value) and "back on local/ucp-interlock:2" in str(err.value)
    assert images(client) == ("local/ucp-interlock:2", "local/ucp-interlock-extension:2", "local/ucp-interlock-proxy:2")
    assert read_current(client).config_name == good
    assert provider().diff(created.id, upgraded.outs, dict(PROPS)).changes is True  # still behind: said again next time


def test_an_engine_without_ucp_agent_is_refused_before_anything_is_created(cluster):
    client = cluster
    client.api.remove_service("ucp-agent")
    with pytest.raises(Layer7Error, match="not an MKE"):
        provider().create(dict(PROPS))
    assert not client.api.networks(names=["ucp-interlock"]) and interlock_configs(client) == []


def test_a_ucp_interlock_network_that_is_not_an_overlay_is_refused(cluster):
    """The hostile twin of adopting the network: a local bridge of that name cannot carry Interlock."""
    client = cluster
    client.api.create_network("ucp-interlock", driver="bridge")
    with pytest.raises(Layer7Error, match="not a Swarm overlay"):
        provider().create(dict(PROPS))
    assert interlock_configs(client) == []
    with pytest.raises(NotFound):
        client.api.inspect_service("ucp-interlock")
