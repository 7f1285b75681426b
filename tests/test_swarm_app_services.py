"""The app-team example's services on a real Docker engine in Swarm mode: what InterlockService
registers (under the mock runtime, the example's own stack files) is created on the engine as
pulumi_docker's Service creates it (service labels, networks by name, placement, replicas), and
the labels Interlock reads are read back through docker-py as Interlock's watcher sees them."""

from __future__ import annotations

import contextlib
import time

import pytest
from docker.errors import APIError, NotFound
from docker.types import EndpointSpec, ServiceMode

from interlock_platform.core import labels
from tests.swarm_support import IMAGE
from tests.test_app_team import run_example

PREFIX = "approuting-"  # the services this module creates, removed by exact name


def registered_services(preview, env: str) -> list[dict]:
    return [r.inputs for r in run_example(preview, env).of_type("docker:index/service:Service")]


@pytest.fixture
def overlay(client):
    """The environment's overlay networks the example's services join, as the platform's env stack creates them."""
    made = []

    def ensure(name: str) -> None:
        if not client.networks.list(names=[name]):
            made.append(client.networks.create(name, driver="overlay", attachable=True))

    yield ensure
    for svc in client.services.list():
        if svc.name.startswith(PREFIX):
            svc.remove()
    for net in made:
        for _ in range(50):  # a removed service's network attachment goes away shortly after
            with contextlib.suppress(APIError, NotFound):
                net.remove()
                break
            time.sleep(0.2)


def create_as_registered(client, inputs: dict):
    """One registered docker:index/service:Service, created by its inputs. The image is the test
    image: the example's image cannot be pulled here, and the engine stores the rest as given."""
    task = inputs["taskSpec"]
    return client.services.create(
        IMAGE,
        command=["sleep", "1000000"],
        name=PREFIX + inputs["name"],
        labels={item["label"]: item["value"] for item in inputs["labels"]},
        networks=[n["id"] for n in task["networksAdvanceds"]],  # Swarm resolves a name given as the id
        constraints=task["placement"]["constraints"],
        mode=ServiceMode("replicated", replicas=int(inputs["mode"]["replicated"]["replicas"])),  # the wire carries doubles
        endpoint_spec=EndpointSpec(),
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_routing_feature_reaches_the_engine_as_interlock_reads_it(client, overlay, preview, env):
    services = registered_services(preview, env)
    for inputs in services:
        for net in inputs["taskSpec"]["networksAdvanceds"]:
            overlay(net["id"])
    for inputs in services:
        create_as_registered(client, inputs)

    domain = preview(env).run.outputs["domain"]
    for inputs in services:
        spec = client.services.get(PREFIX + inputs["name"]).attrs["Spec"]  # as Interlock's watcher reads a service
        wanted = {item["label"]: item["value"] for item in inputs["labels"]}
        assert spec["Labels"] == wanted
        assert spec["TaskTemplate"]["Placement"]["Constraints"] == inputs["taskSpec"]["placement"]["constraints"]
        attached = {client.networks.get(n["Target"]).name for n in spec["TaskTemplate"]["Networks"]}
        assert attached == {n["id"] for n in inputs["taskSpec"]["networksAdvanceds"]}
        assert spec["Labels"][labels.LB_NETWORK] in attached  # the proxy reaches the service on a network it joined
        for host in spec["Labels"][labels.LB_HOSTS].split(","):
            assert host.endswith("." + domain)

    got = {s.name.removeprefix(PREFIX + f"{env}-"): s.attrs["Spec"]["Labels"] for s in client.services.list() if s.name.startswith(PREFIX)}
    assert got["payments-api"][labels.LB_SSL_PASSTHROUGH] == "true"
    assert got["inventory"][labels.LB_BACKEND_MODE] == "vip"
    assert got["reports"][labels.LB_CONTEXT_ROOT] == "/reports" and got["reports"][labels.LB_CONTEXT_ROOT_REWRITE] == "true"
    # Interlock's redirects format: <source>,<target> pairs separated by ';'
    pairs = [pair.split(",") for pair in got["storefront"][labels.LB_REDIRECTS].split(";")]
    assert all(len(p) == 2 and p[0].split("://")[1] in got["storefront"][labels.LB_HOSTS].split(",") for p in pairs)
    if env == "prod":  # HTTPS-only: each host of a TLS-terminated app redirects to itself over https
        for name, lbls in got.items():
            if name == "payments-api":
                assert labels.LB_REDIRECTS not in lbls
                continue
            redirects = dict(p.split(",") for p in lbls[labels.LB_REDIRECTS].split(";"))
            assert all(redirects.get(f"http://{h}", "").startswith("https://") for h in lbls[labels.LB_HOSTS].split(","))
