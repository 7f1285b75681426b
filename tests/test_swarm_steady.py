"""The Swarm layer under the faults that remained (a crash loop taken for health, a squatted
config name, a service that cannot run, Swarm's exact size limit, a blind `read`, a known-good
list that lost track), on a real Swarm with the stand-in ucp-interlock. Each test failed on the
code before the fix."""

from __future__ import annotations

import contextlib
import time

import pytest
from docker.errors import NotFound

from interlock_platform.core import interlock_toml, labels
from interlock_platform.core.interlock_toml import SWARM_CONFIG_LIMIT, InterlockConfigError, ServiceClusterSpec
from interlock_platform.swarm.providers.interlock import ServiceClusterProvider, spec_of
from interlock_platform.swarm.providers.rotation import MAX_NAME_LENGTH, RotationError, read_current, rotate
from tests.swarm_support import FIXTURE, IMAGE, add, interlock_configs, reset, start_interlock, wait_running

HEALTH_SECONDS = 2
PREFIX = labels.INTERLOCK_CONFIG_PREFIX
DEV = ServiceClusterSpec("dev", 8082, 8445, 2, "ingress_dev")
TEST = ServiceClusterSpec("test", 8081, 8444, 2, "ingress_test")
DEV_PROPS = {
    "environment": "dev", "serviceCluster": "dev", "httpPort": 8082, "httpsPort": 8445, "proxyReplicas": 2,
    "network": "ingress_dev", "template": "default", "templateToml": None, "stack": "dev", "keepConfigs": 3,
    "healthSeconds": HEALTH_SECONDS,
}  # fmt: skip


def swap_by_hand(client, name: str, text: str) -> None:
    """The runbook's rotation: a config made by hand (no label of ours), swapped in with
    `docker service update --config-rm/--config-add`."""
    current = read_current(client)
    config = client.api.create_config(name, text.encode())
    spec = current.spec
    template = dict(spec["TaskTemplate"])
    container = dict(template["ContainerSpec"])
    container["Configs"] = [{**container["Configs"][0], "ConfigID": config["ID"], "ConfigName": name}]
    template["ContainerSpec"] = container
    client.api.update_service(
        current.service_id, version=current.version, task_template=template, name=spec["Name"], labels=spec.get("Labels"),
        update_config=spec["UpdateConfig"], rollback_config=spec.get("RollbackConfig"),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while read_current(client).update_state != "completed":
        assert time.monotonic() < deadline, "the hand rotation did not complete"
        time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# 1. Health means a steady run


def test_a_crash_loop_is_not_taken_for_health_nor_blessed_as_known_good(interlock):
    """A config that fails 7 s in passes a 5 s window (the late fault itself is inherent). Its
    tasks then crash-loop, each restart running 7 s. The next rotation used to catch a restart
    older than the window, build on the broken config and record it as known good; now it
    refuses, names the last config that ran steadily, and the broken one is off the list."""
    client = interlock
    original = read_current(client).config_name
    late = rotate(client, add(DEV, Image=""), stack="dev", health_seconds=5, timeout=180)
    assert late.changed  # the inherent part: it failed later than the window
    deadline = time.monotonic() + 30
    while not any(t["Status"]["State"] == "failed" for t in client.api.tasks(filters={"service": labels.INTERLOCK_SERVICE})):
        assert time.monotonic() < deadline, "the late fault never showed"
        time.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(RotationError) as err:
        rotate(client, add(TEST), stack="test", health_seconds=5, timeout=180)
    message = str(err.value)
    assert f"ucp-interlock is stuck on {late.config_name}" in message, message
    assert f"source={original}" in message  # the fix: the last config that ran steadily
    assert "cannot start extension dev: its Image is empty" in message  # the failing tasks' logs
    assert time.monotonic() - started < 90
    current = read_current(client)
    assert current.config_name == late.config_name  # nothing was built on it
    assert interlock_toml.section(current.text, "test") is None
    assert late.config_name not in current.known_good and current.known_good[0] == original


@pytest.mark.parametrize("signal", ["tasks failed", "update paused"])
def test_a_failing_interlock_proxy_service_means_the_config_does_not_run_steadily(interlock, signal):
    """Interlock's own signals: the proxy service it runs for the config crash-loops, or its
    update paused on failing tasks, while the core itself runs. A rotation does not build on
    that; a proxy that runs (the benign twin, in the next rotation) is no obstacle."""
    client = interlock
    crash = {"Image": IMAGE, "Command": ["sh", "-c", "sleep 1; exit 1"]}
    sleep = {"Image": IMAGE, "Command": ["sleep", "1000000"]}
    proxy = client.api.create_service(
        {"ContainerSpec": crash if signal == "tasks failed" else sleep,
         "RestartPolicy": {"Condition": "on-failure", "Delay": 200_000_000}},
        name=labels.proxy_service(None), update_config={"FailureAction": "pause", "Monitor": 5_000_000_000},
    )  # fmt: skip
    if signal == "update paused":  # Interlock updates its proxies with the new config; the update fails
        wait_running(client, proxy["ID"])
        svc = client.api.inspect_service(proxy["ID"])
        client.api.update_service(
            proxy["ID"], version=svc["Version"]["Index"], name=svc["Spec"]["Name"],
            task_template={**svc["Spec"]["TaskTemplate"], "ContainerSpec": crash}, update_config=svc["Spec"]["UpdateConfig"],
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        svc = client.api.inspect_service(proxy["ID"])
        failed = any(t["Status"]["State"] == "failed" for t in client.api.tasks(filters={"service": proxy["ID"]}))
        if (svc.get("UpdateStatus") or {}).get("State") == "paused" if signal == "update paused" else failed:
            break
        assert time.monotonic() < deadline, f"the proxy never showed {signal}"
        time.sleep(0.2)
    with pytest.raises(RotationError) as err:
        rotate(client, add(DEV), stack="dev", health_seconds=HEALTH_SECONDS, timeout=120)
    expected = "(tasks failed)" if signal == "tasks failed" else "(update paused)"
    assert f"Interlock reports ucp-interlock-proxy {expected}" in str(err.value)
    assert interlock_configs(client) == [f"{PREFIX}1"]
    client.api.remove_service(proxy["ID"])
    client.api.create_service({"ContainerSpec": sleep}, name=labels.proxy_service(None))
    assert rotate(client, add(DEV), stack="dev", health_seconds=HEALTH_SECONDS, timeout=120).changed


# --------------------------------------------------------------------------------------------
# 2. Rotation names that cannot be squatted


@pytest.mark.parametrize("label", [None, "squatter"], ids=["unlabelled", "with-our-label"])
def test_a_squatted_config_name_of_64_characters_stops_no_rotation(interlock, label):
    """Anyone who can create a config can create `...conf-<34 digits>` (64 characters). Without
    our label it is not taken for ours; with it, the next number would not fit, so the lowest
    free one is used. Either way the name fits Swarm's 64. Without our label the squatter is left
    alone; with it, it claims to be a config a rotation left behind, and prune removes it as such."""
    client = interlock
    squatter = f"{PREFIX}{'9' * 34}"
    assert len(squatter) == MAX_NAME_LENGTH
    client.api.create_config(squatter, b"squat", labels={labels.MANAGED_BY_STACK: label} if label else None)
    first = rotate(client, add(DEV), stack="dev", health_seconds=HEALTH_SECONDS, timeout=120)
    second = rotate(client, add(TEST), stack="test", health_seconds=HEALTH_SECONDS, timeout=120)
    assert (first.config_name, second.config_name) == (f"{PREFIX}2", f"{PREFIX}3")
    assert (squatter in interlock_configs(client)) is (label is None)
    ours = client.api.configs(filters={"label": labels.MANAGED_BY_STACK})
    assert {c["Spec"]["Name"] for c in ours} >= {first.config_name, second.config_name}


def test_someone_elses_config_in_the_way_is_named_in_the_error(interlock, monkeypatch):
    """Someone creates the very name a rotation is about to create: the rotation does not blame
    the config's size, it says whose object is in the way."""
    client = interlock
    create = client.api.create_config

    def someone_first(name, data, labels=None, templating=None):
        create(name, b"someone else's")
        return create(name, data, labels=labels)

    monkeypatch.setattr(client.api, "create_config", someone_first)
    with pytest.raises(RotationError) as err:
        rotate(client, add(DEV), stack="dev", health_seconds=HEALTH_SECONDS, timeout=120, attempts=2)
    message = str(err.value)
    assert f"{PREFIX}2 (created" in message and f"{PREFIX}3 (created" in message
    assert "by someone else (it has no com.docker.interlock-platform.stack label)" in message
    assert "bytes" not in message
    assert read_current(client).config_name == f"{PREFIX}1"


# --------------------------------------------------------------------------------------------
# 4. A service that cannot run is refused at once


def _scale(client, replicas=None, constraints=None):
    current = read_current(client)
    spec = current.spec
    template = dict(spec["TaskTemplate"])
    if constraints is not None:
        template["Placement"] = {"Constraints": constraints}
    mode = {"Replicated": {"Replicas": replicas}} if replicas is not None else spec.get("Mode")
    client.api.update_service(
        current.service_id, version=current.version, task_template=template, name=spec["Name"], mode=mode,
        update_config=spec["UpdateConfig"], rollback_config=spec.get("RollbackConfig"),
    )  # fmt: skip


@pytest.mark.parametrize("case", ["0 replicas", "no suitable node", "global, no eligible node"])
def test_interlock_that_cannot_run_is_refused_at_once_with_the_fix(interlock, case):
    """Nothing can run Interlock, so no config can be checked: refused at once, never after the
    whole timeout. A global service shows it by having no task at all (Swarm leaves no pending one)."""
    client = interlock
    if case == "0 replicas":
        _scale(client, replicas=0)
        expected = ("ucp-interlock is scaled to 0 replicas", "docker service scale ucp-interlock=1")
    elif case == "no suitable node":
        _scale(client, constraints=["node.labels.com.example.nowhere==true"])
        expected = ("no node can run ucp-interlock: no suitable node", "node.labels.com.example.nowhere==true", "--label-add")
    else:  # Swarm cannot change a service's mode: start it global
        start_interlock(client, mode={"Global": {}}, constraints=["node.labels.com.example.nowhere==true"], wait=False)
        expected = ("no node can run ucp-interlock: it is global and no node is eligible", "node.labels.com.example.nowhere==true")
    started = time.monotonic()
    with pytest.raises(RotationError) as err:
        rotate(client, add(DEV), stack="dev", health_seconds=HEALTH_SECONDS, timeout=45)
    elapsed = time.monotonic() - started
    for fragment in expected:
        assert fragment in str(err.value), str(err.value)
    assert elapsed < 15, f"the rotation waited {elapsed:.0f}s"
    assert interlock_configs(client) == [f"{PREFIX}1"]


# --------------------------------------------------------------------------------------------
# 6. Swarm's own size limit


def test_a_config_of_exactly_1024000_bytes_is_refused_before_the_engine_sees_it(client):
    """swarmkit takes fewer than 1,024,000 bytes: a merge that comes to exactly that is refused
    by the provider with the limit, and one byte less is created and run."""
    try:
        spec = spec_of(DEV_PROPS)
        grows = len(interlock_toml.merge(FIXTURE.read_text(), spec).encode()) - len(FIXTURE.read_bytes())
        for size, accepted in ((SWARM_CONFIG_LIMIT, False), (SWARM_CONFIG_LIMIT - 1, True)):
            padding = size - grows - len(FIXTURE.read_bytes()) - len("# \n")
            start_interlock(client, text=f"# {'x' * padding}\n" + FIXTURE.read_text())
            provider = ServiceClusterProvider()
            if accepted:
                assert provider.create(dict(DEV_PROPS)).outs["configName"] == f"{PREFIX}2"
                assert len(read_current(client).text.encode()) == SWARM_CONFIG_LIMIT - 1
            else:
                with pytest.raises(InterlockConfigError, match="would be 1,024,000 bytes; Swarm takes a config of fewer than"):
                    provider.create(dict(DEV_PROPS))
                assert interlock_configs(client) == [f"{PREFIX}1"]
    finally:
        reset(client)


# --------------------------------------------------------------------------------------------
# 7. `read` returns what the cluster runs


def test_read_returns_the_running_port_so_refresh_shows_drift(interlock):
    client = interlock
    provider = ServiceClusterProvider()
    created = provider.create(dict(DEV_PROPS))
    unchanged = provider.read(created.id, created.outs).outs  # the benign twin: no drift, nothing differs
    assert {k: unchanged[k] for k in ("httpPort", "httpsPort", "proxyReplicas", "network")} == {
        "httpPort": 8082, "httpsPort": 8445, "proxyReplicas": 2, "network": "ingress_dev",
    }  # fmt: skip
    rotate(client, add(ServiceClusterSpec("dev", 9082, 8445, 3, "ingress_dev")), stack="someone", health_seconds=HEALTH_SECONDS)
    read = provider.read(created.id, created.outs).outs
    assert (read["httpPort"], read["proxyReplicas"], read["configName"]) == (9082, 3, f"{PREFIX}3")
    assert provider.diff(created.id, read, dict(DEV_PROPS)).changes is True  # and `up` puts 8082 back


# --------------------------------------------------------------------------------------------
# 8. The known-good list follows what ran steadily, hand rotations included


def test_the_known_good_list_follows_steady_runs_through_a_hand_rotation(interlock):
    """The provider's config ran steadily, then someone rotated by hand to a config named
    outside the pattern. The provider's config is on the list (it was never recorded before),
    the hand-made one too, and with keepConfigs 3 prune keeps the provider's (it used to remove it,
    keeping the older conf-1)."""
    client = interlock
    hand_made = "interlock-by-hand-2026-12-07"
    try:
        ours = rotate(client, add(DEV), stack="dev", keep=3, health_seconds=HEALTH_SECONDS, timeout=120)
        assert read_current(client).known_good[0] == ours.config_name
        swap_by_hand(client, hand_made, interlock_toml.merge(read_current(client).text, TEST))
        time.sleep(HEALTH_SECONDS)
        after = rotate(client, add(DEV, ProxyReplicas=3), stack="dev", keep=3, health_seconds=HEALTH_SECONDS, timeout=120)
        assert after.config_name == f"{PREFIX}3"
        assert read_current(client).known_good == [after.config_name, hand_made, ours.config_name]
        assert {ours.config_name, after.config_name} <= set(interlock_configs(client))
        assert hand_made in {c["Spec"]["Name"] for c in client.api.configs()}
    finally:
        reset(client)
        with contextlib.suppress(NotFound):
            client.api.remove_config(hand_made)
