"""Interlock config rotation under faults, on a real Swarm with the stand-in ucp-interlock
(tests/swarm/stand-in-interlock.sh): two stacks rotating at once with one bad change, a config
that fails after Swarm's monitor window, a rotation killed with SIGKILL, a service someone left
failing, a config over Swarm's size limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from docker.errors import APIError

from interlock_platform.core import interlock_toml, labels
from interlock_platform.core.interlock_toml import ServiceClusterSpec
from interlock_platform.swarm.providers.rotation import RotationError, RotationFailed, read_current, rotate
from interlock_platform.tooling.stack_files import ROOT
from tests.swarm_support import add, interlock_configs, reset, start_interlock

HEALTH_SECONDS = 2
DEV = ServiceClusterSpec("dev", 8082, 8445, 2, "ingress_dev")
TEST = ServiceClusterSpec("test", 8081, 8444, 2, "ingress_test")


def orphans(client) -> set[str]:
    """Interlock config objects that are neither attached nor recorded as known good."""
    current = read_current(client)
    return set(interlock_configs(client)) - {current.config_name, *current.known_good}


def test_a_good_and_a_bad_rotation_at_once_end_right_ten_times_in_ten(client):
    """dev adds a good section while test adds one the stand-in rejects, both at once; in
    alternate runs the bad one starts a little earlier. Every time: dev succeeds, test fails
    with the reason, the service runs dev's section and not test's, and nothing is orphaned."""
    for run in range(10):
        start_interlock(client)
        results: dict[str, object] = {}
        barrier = threading.Barrier(2)

        def deploy(env: str, transform, delay: float, results=results, barrier=barrier) -> None:
            barrier.wait()
            time.sleep(delay)
            try:
                results[env] = rotate(client, transform, stack=env, health_seconds=HEALTH_SECONDS, timeout=180)
            except Exception as err:  # the assertions below say which
                results[env] = err

        bad_first = run % 2 == 1
        threads = [
            threading.Thread(target=deploy, args=("dev", add(DEV), 0.3 if bad_first else 0.0)),
            threading.Thread(target=deploy, args=("test", add(TEST, PublishMode="bogus"), 0.0)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=400)
        outcomes = {env: f"{type(r).__name__}: {str(r)[:300]}" for env, r in results.items()}
        context = f"run {run + 1} ({'bad' if bad_first else 'good'} first): {outcomes}"
        assert not isinstance(results["dev"], Exception), context
        assert isinstance(results["test"], RotationFailed), context
        assert "PublishMode of test is" in str(results["test"]), context  # the stand-in's own reason
        current = read_current(client)
        assert interlock_toml.section(current.text, "dev") is not None, context
        assert interlock_toml.section(current.text, "test") is None, context
        assert current.update_state in (None, "completed", "rollback_completed"), context
        assert orphans(client) == set(), context
        assert not [
            c for c in client.api.configs(filters={"label": f"{labels.MANAGED_BY_STACK}=test"})
        ], context  # the rejected config is gone
    reset(client)


def test_a_config_that_fails_after_swarms_default_monitor_is_rolled_back_and_reported(interlock):
    """The stand-in accepts an empty extension Image and fails 7 s in. The service's own monitor
    is 2 s; the rotation's health window of 10 s covers the failure, so Swarm rolls back and the
    rotation fails with the reason instead of reporting success."""
    client = interlock
    before = read_current(client)
    with pytest.raises(RotationFailed) as err:
        rotate(client, add(DEV, Image=""), stack="dev", health_seconds=10, timeout=180)
    assert "cannot start extension dev: its Image is empty" in str(err.value)
    after = read_current(client)
    assert after.config_id == before.config_id
    assert interlock_configs(client) == [before.config_name]


def test_after_a_kill_9_during_a_failing_rotation_pruning_keeps_the_known_good(interlock):
    """A rotation of a bad config is killed with SIGKILL while its update runs; Swarm rolls back
    on its own. The next rotation (keep 2) removes the rejected config it left and keeps the
    last known-good one, which a prune by age would have removed."""
    client = interlock
    original = read_current(client).config_name
    script = textwrap.dedent(
        f"""
        import docker
        from interlock_platform.swarm.providers.rotation import rotate
        rotate(docker.from_env(), lambda text: text.replace("ProxyReplicas = 2\\n", ""), stack="killed",
               health_seconds={HEALTH_SECONDS})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while read_current(client).update_state != "updating":
            assert proc.poll() is None, "the rotation ended before its update started"
            assert time.monotonic() < deadline, "the rotation's update never started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 60
    while read_current(client).update_state != "rollback_completed":
        assert time.monotonic() < deadline, f"Swarm did not roll back: {read_current(client).update_state}"
        time.sleep(0.2)
    rejected = set(interlock_configs(client)) - {original}
    assert len(rejected) == 1  # what the killed process left behind

    result = rotate(client, add(DEV), stack="dev", keep=2, health_seconds=HEALTH_SECONDS, timeout=180)
    assert set(interlock_configs(client)) == {original, result.config_name}
    # the new config ran steadily and heads the list; the one the killed rotation built on stays on it
    assert read_current(client).known_good == [result.config_name, original]


def test_a_service_left_failing_by_hand_is_refused_with_the_fix_and_left_alone(interlock):
    """Someone swapped in a config by hand, without a rollback (the runbook's command minus
    --update-failure-action), and Interlock crash-loops. A rotation does not build on it and does
    not wait out its whole timeout: it says what is wrong and how to restore a good config."""
    client = interlock
    good = read_current(client)
    bad = client.api.create_config(f"{labels.INTERLOCK_CONFIG_PREFIX}2", good.text.replace("ProxyReplicas = 2\n", "").encode())
    spec = good.spec
    template = dict(spec["TaskTemplate"])
    container = dict(template["ContainerSpec"])
    container["Configs"] = [{**container["Configs"][0], "ConfigID": bad["ID"], "ConfigName": f"{labels.INTERLOCK_CONFIG_PREFIX}2"}]
    template["ContainerSpec"] = container
    client.api.update_service(
        good.service_id, version=good.version, task_template=template, name=spec["Name"],
        update_config={**spec["UpdateConfig"], "FailureAction": "continue"},
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(RotationError) as err:
        rotate(client, add(DEV), stack="dev", health_seconds=HEALTH_SECONDS, timeout=180)
    elapsed = time.monotonic() - started
    message = str(err.value)
    assert "ucp-interlock is stuck on com.docker.ucp.interlock.conf-2" in message
    assert "ProxyReplicas is missing" in message  # the failing tasks' logs
    assert "Nothing was changed" in message and "docker service update --config-rm" in message
    assert elapsed < 60, f"the rotation waited {elapsed:.0f}s"
    assert read_current(client).config_name == f"{labels.INTERLOCK_CONFIG_PREFIX}2"
    assert interlock_configs(client) == [f"{labels.INTERLOCK_CONFIG_PREFIX}{n}" for n in (1, 2)]


def test_a_config_over_swarms_size_limit_is_refused_with_the_limit(interlock):
    client = interlock
    before = read_current(client)
    with pytest.raises(RotationError) as err:
        rotate(client, lambda text: text + "# " + "x" * 1_100_000 + "\n", stack="dev", health_seconds=HEALTH_SECONDS)
    message = str(err.value)
    assert "refused to create the Interlock config" in message and "1,024,000 bytes" in message
    assert "Traceback" not in message and "APIError" not in message
    assert read_current(client).config_id == before.config_id
    assert interlock_configs(client) == [before.config_name]


def test_a_rotation_on_a_never_updated_service_ends_when_another_stack_relabels_it(interlock):
    """Swarm clears a service's update status on every spec change, a label-only one too: the
    one another stack makes when it records its known-good config. On a service never updated
    before, the rotation once read that cleared status as "not started yet" and waited out its
    timeout (seen in CI: two stacks rotating at once). Here a second writer relabels the service
    all through the rotation; the rotation still ends, applied."""
    client = interlock
    assert read_current(client).update_started is None  # the case: no update before this rotation
    done = threading.Event()

    def relabel() -> None:
        n = 0
        while not done.is_set():
            svc = client.api.inspect_service(labels.INTERLOCK_SERVICE)
            spec = svc["Spec"]
            n += 1
            with contextlib.suppress(APIError):  # out of sequence with the rotation's own update: next time
                client.api.update_service(
                    svc["ID"], version=svc["Version"]["Index"], task_template=spec["TaskTemplate"], name=spec["Name"],
                    labels={**(spec.get("Labels") or {}), "test.relabelled": str(n)}, mode=spec.get("Mode"),
                    update_config=spec.get("UpdateConfig"), rollback_config=spec.get("RollbackConfig"),
                )  # fmt: skip
            time.sleep(0.3)

    writer = threading.Thread(target=relabel)
    writer.start()
    try:
        result = rotate(client, add(DEV), stack="dev", health_seconds=HEALTH_SECONDS, timeout=60)
    finally:
        done.set()
        writer.join()
    assert result.changed
    assert interlock_toml.section(read_current(client).text, "dev") is not None
