"""Interlock's images per MKE release, told by the running ucp-agent (pure)."""

from __future__ import annotations

import tomllib

import pytest

from interlock_platform.core import interlock_release, interlock_toml
from interlock_platform.core.interlock_release import Release, ReleaseError, parse_image, release_of
from tests.swarm_support import FIXTURE

MKE_397 = Release("mirantis", "3.9.7")


@pytest.mark.parametrize(
    ("agent", "org", "tag"),
    [
        ("mirantis/ucp-agent:3.9.7", "mirantis", "3.9.7"),
        # Swarm pins a digest on the spec; another image's digest cannot be derived from it
        ("mirantis/ucp-agent:3.8.10@sha256:" + "a" * 64, "mirantis", "3.8.10"),
        ("docker/ucp-agent:3.2.5", "docker", "3.2.5"),
        # an offline install's mirror, with a registry port: its org is kept as it is
        ("registry.corp:5000/mirantis/ucp-agent:3.9.6", "registry.corp:5000/mirantis", "3.9.6"),
    ],
)
def test_the_release_is_the_agent_image_tag_under_its_org(agent, org, tag):
    release = release_of(agent, {"com.docker.ucp.version": tag, "com.docker.ucp.InstanceID": "abc"})
    assert (release.org, release.tag, release.instance_id) == (org, tag, "abc")
    assert release.core == f"{org}/ucp-interlock:{tag}"
    assert release.extension == f"{org}/ucp-interlock-extension:{tag}" and release.proxy == f"{org}/ucp-interlock-proxy:{tag}"


@pytest.mark.parametrize(
    "agent",
    ["mirantis/ucp-agent", "mirantis/ucp-agent@sha256:" + "b" * 64, "mirantis/ucp-controller:3.9.7", "registry:5000/ucp-agent"],
)
def test_no_release_is_guessed_from_an_agent_image_that_does_not_tell_it(agent):
    with pytest.raises(ReleaseError, match="cannot be told"):
        release_of(agent)


def test_a_registry_port_is_not_a_tag():
    assert parse_image("registry:5000/mirantis/ucp-interlock") == interlock_release.ImageRef("registry:5000/mirantis/ucp-interlock", None)


def test_follow_moves_every_interlock_image_and_keeps_every_other_byte():
    base = FIXTURE.read_text()
    moved = interlock_release.follow(base, MKE_397)
    default = interlock_toml.section(moved, "default")
    assert default["Image"] == "mirantis/ucp-interlock-extension:3.9.7"
    assert default["ProxyImage"] == "mirantis/ucp-interlock-proxy:3.9.7"
    # only those two values changed
    changed = [(a, b) for a, b in zip(base.splitlines(), moved.splitlines(), strict=True) if a != b]
    assert [a.split("=")[0].strip() for a, _ in changed] == ["Image", "ProxyImage"]
    assert interlock_release.follow(moved, MKE_397) == moved  # idempotent, byte for byte
    assert interlock_release.stale_images(moved, "mirantis/ucp-interlock:3.9.7@sha256:" + "c" * 64, MKE_397) == []


def test_images_of_other_names_are_the_operators_and_stay():
    """The hostile twin of a mistake: a custom proxy must not be replaced by Mirantis' image."""
    text = FIXTURE.read_text().replace("docker/ucp-interlock-proxy:3.2.5", "corp/hardened-nginx-proxy:1.27")
    moved = interlock_release.follow(text, MKE_397)
    assert interlock_toml.section(moved, "default")["ProxyImage"] == "corp/hardened-nginx-proxy:1.27"
    assert interlock_release.stale_images(moved, "corp/interlock-fork:2", MKE_397) == []
    # and an Interlock image of the old release is reported, whatever its digest
    assert interlock_release.stale_images(text, "mirantis/ucp-interlock:3.9.6", MKE_397) == [
        "ucp-interlock runs mirantis/ucp-interlock:3.9.6",
        "[Extensions.default] Image = docker/ucp-interlock-extension:3.2.5",
    ]


def test_the_first_config_is_the_documented_default_at_the_release():
    release = Release("mirantis", "3.9.7", "3.9.7", "k3ulpzd0wq1qfh4ny5vu7ebie")
    text = interlock_release.default_config(release, 8080, 8443)
    doc = tomllib.loads(text)  # an independent TOML reader
    default = doc["Extensions"]["default"]
    assert (default["Image"], default["ProxyImage"]) == (release.extension, release.proxy)
    assert (default["PublishedPort"], default["PublishedSSLPort"], default["ProxyReplicas"]) == (8080, 8443, 2)
    assert "node.platform.os==linux" in default["ProxyConstraints"]
    for table in ("Labels", "ContainerLabels", "ProxyLabels", "ProxyContainerLabels"):
        assert default[table] == {"com.docker.ucp.InstanceID": "k3ulpzd0wq1qfh4ny5vu7ebie"}
    # the keys UCP 3.2 wrote, as the fixture has them, are all there, with UCP's values
    ucp = tomllib.loads(FIXTURE.read_text())["Extensions"]["default"]
    for key in ("ServiceName", "ProxyServiceName", "ProxyConfigPath", "PublishMode", "TargetPort", "TargetSSLPort", "Constraints"):
        assert default[key] == ucp[key], key
    # the platform's transform applies to it as to UCP's own
    assert interlock_toml.template_section(text) is not None
    assert "InstanceID" not in interlock_release.default_config(Release("mirantis", "3.9.7"), 8080, 8443)
