"""The Swarm layer against a real Docker engine in Swarm mode (installed and started by
tools/test.sh): Interlock config rotation, node labels, overlay networks, failure handling."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pulumi.dynamic as dyn
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from interlock_platform.core import interlock_toml, labels
from interlock_platform.core.interlock_toml import InterlockConfigError, ServiceClusterSpec
from interlock_platform.swarm.providers.engine import EngineConnection, EngineUnreachable
from interlock_platform.swarm.providers.interlock import InterlockSettingsProvider, ServiceClusterProvider
from interlock_platform.swarm.providers.node_labels import NodeLabelError, NodeLabelsProvider
from interlock_platform.swarm.providers.rotation import RotationFailed, read_current, rotate
from interlock_platform.tooling.stack_files import ROOT
from tests.swarm_support import FIXTURE, dummy_service, interlock_configs, reset, start_interlock

HEALTH_SECONDS = 2  # the stand-in fails within a second of starting, or 7 s in (see its script)


def cluster_props(env: str, http: int, https: int, replicas: int = 2, template_toml: str | None = None) -> dict:
    return {
        "environment": env, "serviceCluster": env, "httpPort": http, "httpsPort": https, "proxyReplicas": replicas,
        "network": f"ingress_{env}", "template": "default", "templateToml": template_toml, "stack": env, "keepConfigs": 3,
        "healthSeconds": HEALTH_SECONDS,
    }  # fmt: skip


DEV = cluster_props("dev", 8082, 8445)
TEST = cluster_props("test", 8081, 8444)


def running_section(client, name):
    return interlock_toml.section(read_current(client).text, name)


def test_service_cluster_create_noop_update_delete(interlock):
    client = interlock
    provider = ServiceClusterProvider()
    created = provider.create(dict(DEV))
    assert created.outs["configName"] == "com.docker.ucp.interlock.conf-2"
    dev = running_section(client, "dev")
    assert (dev["PublishedPort"], dev["PublishedSSLPort"], dev["PublishMode"], dev["ServiceCluster"]) == (
        8082,
        8445,
        "host",
        "dev",
    )
    assert dev["Networks"] == ["ingress_dev"]
    assert "node.labels.com.docker.interlock.service.cluster==dev" in dev["ProxyConstraints"]

    # no-op: same inputs, running config already right -> no change, no rotation
    assert provider.diff(created.id, created.outs, dict(DEV)).changes is False
    assert read_current(client).config_name == "com.docker.ucp.interlock.conf-2"

    # update: more proxies
    bigger = {**DEV, "proxyReplicas": 3}
    assert provider.diff(created.id, created.outs, bigger).changes is True
    updated = provider.update(created.id, created.outs, bigger)
    assert updated.outs["configName"] == "com.docker.ucp.interlock.conf-3"
    assert running_section(client, "dev")["ProxyReplicas"] == 3

    # drift: someone edited the running config by hand -> diff sees it
    rotate(
        client, lambda text: interlock_toml.merge(text, ServiceClusterSpec("dev", 8082, 8445, 1, "ingress_dev")), stack="someone",
        health_seconds=HEALTH_SECONDS,
    )
    assert provider.diff(created.id, updated.outs, bigger).changes is True

    # delete: the section goes through the same rotation, and the cluster's services go too
    dummy_service(client, labels.proxy_service("dev"))
    dummy_service(client, labels.extension_service("dev"))
    provider.delete(created.id, bigger)
    assert running_section(client, "dev") is None
    assert running_section(client, "default") is not None
    names = {s["Spec"]["Name"] for s in client.api.services()}
    assert labels.proxy_service("dev") not in names and labels.extension_service("dev") not in names
    assert read_current(client).text == FIXTURE.read_text()


def test_two_environments_rotating_concurrently_keep_both_sections(interlock):
    client = interlock
    results: dict[str, object] = {}

    def deploy(props):
        try:
            results[props["environment"]] = ServiceClusterProvider().create(dict(props))
        except Exception as err:
            results[props["environment"]] = err

    threads = [threading.Thread(target=deploy, args=(p,)) for p in (DEV, TEST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert all(not isinstance(r, Exception) for r in results.values()), results
    text = read_current(client).text
    assert interlock_toml.section(text, "dev") is not None and interlock_toml.section(text, "test") is not None
    # each rotation created one config; the loser of the race re-read and built on the winner's
    assert read_current(client).config_name == "com.docker.ucp.interlock.conf-3"


def test_a_bad_config_rolls_back_with_the_reason_and_leaves_no_orphan(interlock):
    client = interlock
    before = read_current(client)
    with pytest.raises(RotationFailed) as err:
        rotate(client, lambda text: text.replace("ProxyReplicas = 2\n", ""), stack="dev", health_seconds=HEALTH_SECONDS)
    message = str(err.value)
    assert "rolled back to com.docker.ucp.interlock.conf-1" in message
    assert "ProxyReplicas is missing in [Extensions.default]" in message  # from the failing task's log
    assert "non-zero exit" in message  # from the task's status
    after = read_current(client)
    assert after.config_id == before.config_id and after.text == before.text
    assert interlock_configs(client) == ["com.docker.ucp.interlock.conf-1"]


FIXTURE_TEXT = FIXTURE.read_text()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (FIXTURE_TEXT.encode("utf-16"), "is UTF-16"),
        (b"\xef\xbb\xbf" + FIXTURE_TEXT.encode(), "byte-order mark"),
        (FIXTURE_TEXT.replace("3s", "3\xe9s").encode("latin-1"), "is not UTF-8"),
    ],
    ids=["utf-16", "utf-8-bom", "latin-1"],
)
def test_a_running_config_in_another_encoding_is_refused_with_the_reason(client, data, reason):
    """What the engine holds is read as Interlock reads it; the provider says why, never a
    UnicodeDecodeError, and rotates nothing."""
    try:
        start_interlock(client, data=data, wait=False)
        provider = ServiceClusterProvider()
        with pytest.raises(InterlockConfigError, match=reason):
            provider.diff("interlock-dev", cluster_props("dev", 8082, 8445), cluster_props("dev", 8082, 8445))
        with pytest.raises(InterlockConfigError, match=reason):
            provider.create(cluster_props("dev", 8082, 8445))
        assert interlock_configs(client) == [f"{labels.INTERLOCK_CONFIG_PREFIX}1"]
    finally:
        reset(client)


def test_ports_taken_by_default_are_refused_before_any_rotation(interlock):
    client = interlock
    with pytest.raises(interlock_toml.InterlockConfigError, match="retireDefaultExtension"):
        ServiceClusterProvider().create(cluster_props("prod", 8080, 8443))
    assert interlock_configs(client) == ["com.docker.ucp.interlock.conf-1"]


def test_shared_settings_retire_default_and_its_stale_services(interlock):
    client = interlock
    dummy_service(client, labels.extension_service(None))
    dummy_service(client, labels.proxy_service(None))
    settings = InterlockSettingsProvider().create(
        {"retireDefaultExtension": True, "template": "default", "stack": "shared", "keepConfigs": 3, "healthSeconds": 2}
    )
    assert running_section(client, "default") is None
    assert set(settings.outs["removedServices"]) == {"ucp-interlock-extension", "ucp-interlock-proxy"}
    template = settings.outs["templateToml"]
    assert interlock_toml.section(template, "default") == interlock_toml.section(FIXTURE.read_text(), "default")
    # prod's ports were default's: now prod can have them, cloned from the captured template
    ServiceClusterProvider().create(cluster_props("prod", 8080, 8443, template_toml=template))
    prod = running_section(client, "prod")
    assert prod["PublishedSSLPort"] == 8443 and prod["Labels"]["com.docker.ucp.InstanceID"] == "k3ulpzd0wq1qfh4ny5vu7ebie"
    again = InterlockSettingsProvider()
    assert again.diff("interlock-settings", settings.outs, {**settings.outs}).changes is False


def test_old_configs_are_pruned_to_the_last_k(interlock):
    client = interlock
    for replicas in (2, 3, 4, 5):
        rotate(
            client,
            lambda text, r=replicas: interlock_toml.merge(text, ServiceClusterSpec("dev", 8082, 8445, r, "ingress_dev")),
            stack="dev",
            keep=3,
            health_seconds=HEALTH_SECONDS,
        )
    assert interlock_configs(client) == [f"com.docker.ucp.interlock.conf-{n}" for n in (3, 4, 5)]


# --------------------------------------------------------------------------------------------
# Node labels


@pytest.fixture
def node(client):
    (n,) = client.api.nodes()
    original = dict(n["Spec"].get("Labels") or {})

    def set_labels(values):
        current = client.api.inspect_node(n["ID"])
        client.api.update_node(n["ID"], current["Version"]["Index"], {**current["Spec"], "Labels": values})

    set_labels({labels.UCP_ACCESS: "/dev", "com.example.rack": "r12"})
    yield n["Description"]["Hostname"], n["ID"], set_labels
    set_labels(original)


def node_props(hostname, collection="/dev"):
    return {
        "environment": "dev",
        "collection": collection,
        "nodes": [hostname],
        "labelKey": labels.SERVICE_CLUSTER_NODE,
        "labelValue": "dev",
        "nodeIds": None,
    }


def node_labels(client, node_id):
    return client.api.inspect_node(node_id)["Spec"]["Labels"]


def test_node_labels_merge_preserve_and_remove(client, node):
    hostname, node_id, _ = node
    provider = NodeLabelsProvider()
    created = provider.create(node_props(hostname))
    assert created.outs["nodeIds"] == {hostname: node_id}
    assert node_labels(client, node_id) == {
        labels.UCP_ACCESS: "/dev",
        "com.example.rack": "r12",
        labels.SERVICE_CLUSTER_NODE: "dev",
    }
    assert provider.diff(created.id, created.outs, node_props(hostname)).changes is False
    provider.delete(created.id, created.outs)
    assert node_labels(client, node_id) == {labels.UCP_ACCESS: "/dev", "com.example.rack": "r12"}
    assert provider.diff(created.id, created.outs, node_props(hostname)).changes is True  # the label is gone: put it back


def test_a_node_outside_the_collection_is_refused(client, node):
    hostname, node_id, set_labels = node
    set_labels({labels.UCP_ACCESS: "/prod"})
    with pytest.raises(NodeLabelError) as err:
        NodeLabelsProvider().create(node_props(hostname))
    assert f"node {hostname} is in collection /prod, not /dev" in str(err.value)
    assert labels.SERVICE_CLUSTER_NODE not in node_labels(client, node_id)


def test_a_node_moved_to_another_collection_loses_the_environment_label(client, node):
    """Labelled in /dev, then moved to /prod in UCP: `diff` sees it, the next `up` takes dev's
    label off (a prod node must not run dev's proxies) and stops with the fix; `read` no longer
    counts it as dev's."""
    hostname, node_id, set_labels = node
    provider = NodeLabelsProvider()
    created = provider.create(node_props(hostname))
    set_labels({**node_labels(client, node_id), labels.UCP_ACCESS: "/prod"})
    assert provider.diff(created.id, created.outs, node_props(hostname)).changes is True
    assert provider.read(created.id, created.outs).outs["nodes"] == []
    with pytest.raises(NodeLabelError, match=f"node {hostname} is in collection /prod, not /dev"):
        provider.update(created.id, created.outs, node_props(hostname))
    assert labels.SERVICE_CLUSTER_NODE not in node_labels(client, node_id)
    assert node_labels(client, node_id)["com.example.rack"] == "r12"  # nothing else touched


def test_a_move_between_the_check_and_the_write_is_not_labelled(client, node, monkeypatch):
    """The write carries the version index of the inspection that checked the collection: a move
    in between (here, just before the write reaches the engine) makes the engine refuse it as out
    of sequence, and the retry sees the move and refuses."""
    hostname, node_id, set_labels = node
    real_client, moved = EngineConnection.client, []

    def racing_client(self, timeout=60):
        c = real_client(self, timeout)
        update = c.api.update_node

        def move_then_update(node_id_, version, spec):
            if not moved:  # UCP moves the node to /prod after our check, before our write
                moved.append(True)
                set_labels({**node_labels(client, node_id), labels.UCP_ACCESS: "/prod"})
            return update(node_id_, version, spec)

        c.api.update_node = move_then_update
        return c

    monkeypatch.setattr(EngineConnection, "client", racing_client)
    with pytest.raises(NodeLabelError, match=f"node {hostname} left collection /dev"):
        NodeLabelsProvider().create(node_props(hostname))
    assert moved and labels.SERVICE_CLUSTER_NODE not in node_labels(client, node_id)


def test_an_unknown_node_is_refused(client, node):
    with pytest.raises(NodeLabelError, match=r"node ip-10-40-64-99\.eu-west-1\.compute\.internal is not in the swarm"):
        NodeLabelsProvider().create(node_props("ip-10-40-64-99.eu-west-1.compute.internal"))


def test_delete_leaves_a_label_someone_else_set(client, node):
    hostname, node_id, set_labels = node
    provider = NodeLabelsProvider()
    created = provider.create(node_props(hostname))
    set_labels({**node_labels(client, node_id), labels.SERVICE_CLUSTER_NODE: "test"})
    provider.delete(created.id, created.outs)
    assert node_labels(client, node_id)[labels.SERVICE_CLUSTER_NODE] == "test"


# --------------------------------------------------------------------------------------------
# Connection and packaging


def test_an_unreachable_engine_gives_a_clear_error():
    provider = ServiceClusterProvider()
    provider.configure(
        dyn.ConfigureRequest(dyn.Config({"interlock-platform:ucpHost": "tcp://127.0.0.1:9"}, "interlock-platform"))
    )
    with pytest.raises(EngineUnreachable) as err:
        provider.create(dict(DEV))
    assert str(err.value).startswith("cannot reach the Docker engine at tcp://127.0.0.1:9")
    assert "interlock-platform:ucpHost" in str(err.value)


def test_the_connection_comes_from_stack_config_and_never_shows_keys():
    conn = EngineConnection.from_config(
        {"interlock-platform:ucpHost": "tcp://ucp:443", "interlock-platform:ucpClientKey": "-----BEGIN KEY-----"}.get
    )
    assert conn.host == "tcp://ucp:443" and "BEGIN KEY" not in repr(conn)
    # the CLI merges Pulumi.yaml's default "" into a stack that does not set ucpHost: the engine is DOCKER_HOST's
    merged = EngineConnection.from_config({"interlock-platform:ucpHost": "", "interlock-platform:ucpClientKey": ""}.get)
    assert merged.host is None and merged.key_pem is None


def test_providers_survive_pulumis_serialization(interlock, client):
    """Pulumi pickles the provider into the state with dill and runs it in another process: the
    provider host, started in the project directory. That process imports docker-py only when
    the provider first calls the engine, and the rotation works from there."""
    serialized = serialize_provider(ServiceClusterProvider())
    provider_host = (
        "import base64, json, sys, dill, pulumi.dynamic as dyn\n"
        "provider = dill.loads(base64.b64decode(sys.stdin.readline()))\n"
        "docker_before = 'docker' in sys.modules\n"
        # what the CLI hands a stack without ucpHost: Pulumi.yaml's defaults, "" (the engine from DOCKER_HOST)
        "unset = {f'interlock-platform:{k}': '' for k in ('ucpHost', 'ucpCaCert', 'ucpClientCert', 'ucpClientKey')}\n"
        "provider.configure(dyn.ConfigureRequest(dyn.Config(unset, 'interlock-platform')))\n"
        "outs = provider.create(json.loads(sys.stdin.readline())).outs\n"
        "print(json.dumps([type(provider).__module__, docker_before, outs['configName']]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", provider_host], input=f"{serialized}\n{json.dumps(DEV)}\n",
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    module, docker_before, config_name = json.loads(result.stdout.strip().splitlines()[-1])
    assert module == "interlock_platform.swarm.providers.interlock"
    assert docker_before is False
    assert config_name == "com.docker.ucp.interlock.conf-2"
    assert running_section(client, "dev") is not None


def _allocated(client, network_id, timeout=30.0):
    """Swarm allocates a new network asynchronously: until then its driver reads as ''."""
    deadline = time.monotonic() + timeout
    while True:
        inspected = client.api.inspect_network(network_id, scope="swarm")
        if inspected.get("Driver") or time.monotonic() > deadline:
            return inspected
        time.sleep(0.2)


def test_the_encrypted_overlay_networks_prod_registers_are_accepted_by_the_engine(client, preview):
    """pulumi-docker's provider does not run here: give the engine exactly what the program
    registers for prod and check that it makes encrypted, attachable, labelled overlays."""
    nets = preview("prod").run.of_type("docker:index/network:Network")
    assert nets
    created = []
    try:
        for net in nets:
            i = net.inputs
            created.append(client.api.create_network(
                i["name"], driver=i["driver"], options=i.get("options"), attachable=i["attachable"],
                labels={item["label"]: item["value"] for item in i["labels"]}, scope="swarm",
            )["Id"])  # fmt: skip
            inspected = _allocated(client, created[-1])
            assert inspected["Driver"] == "overlay" and inspected["Attachable"] is True, (i, inspected)
            assert inspected["Options"].get("encrypted") == "true"
            assert inspected["Labels"][labels.UCP_ACCESS] == "/prod"
    finally:
        for net_id in created:
            client.api.remove_network(net_id)
