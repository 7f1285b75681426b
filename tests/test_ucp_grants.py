"""UCP grants as code (issue 21, item 4): who may deploy into which collection.

Validation: each hostile grant (a dev team granting itself prod's collection, /Shared, the root,
Full Control) is refused before anything is registered, with the key and the fix; its benign twin
(/dev, /dev/payments, Restricted Control) passes.

The provider: against a stand-in for UCP's API on 127.0.0.1 that speaks the request and response
shapes of Docker's UCP API reference (UCP 3.2 `docs.json`: GET /accounts/{org}/teams/{team},
GET /collectionByPath, GET /roles/{role}, PUT/GET/DELETE /collectionGrants) and enforces what
the reference says: a grant is keyed by subjectID/objectID/roleID, PUT answers 201 and DELETE
204, GET /collectionGrants filters by subjectID and pages with `nextPageStart` (default limit
10), and only a client presenting a certificate of the bundle's CA is served (TLS). Where the
reference is silent the stand-in answers as a REST server would and the test says so (404 for
an unknown team, collection, role or grant)."""

from __future__ import annotations

import copy
import http.server
import json
import re
import ssl
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from interlock_platform.core.topology import parse_environment
from interlock_platform.stack_config import InvalidStackConfig
from interlock_platform.swarm.providers.engine import EngineConnection
from interlock_platform.swarm.providers.ucp_grants import UcpGrantError, UcpGrantsProvider
from interlock_platform.tooling.mock_runtime import PlatformMocks, RecordingMonitor, run_program
from tests.conftest import SHARED_REF, copy_project, full_config, preview_cli, raw, refused_dev, shared_outputs
from tests.test_engine_connection import bundle  # noqa: F401  (the client bundle fixture: CA, server and client certificates)

# --- validation: hostile case and benign twin


def dev_grants(*grants: dict, stack: str = "dev") -> dict:
    cfg = raw(stack)
    cfg["teams"][0]["ucpGrants"] = [copy.deepcopy(g) for g in grants]
    return cfg


@pytest.mark.parametrize(
    ("collection", "says"),
    [
        ("/prod", "/prod reaches environment 'prod' (its collection is /prod)"),
        ("/prod/payments", "/prod/payments reaches environment 'prod'"),
        ("/Shared", "/Shared is UCP's /Shared collection, which every environment shares"),
        ("/Shared/Private/alice", "/Shared/Private/alice is UCP's /Shared collection"),
        ("/", "/ is the root collection: a grant there reaches every environment"),
        ("/System", "/System is outside this environment's collection /dev"),
        ("/devx", "/devx is outside this environment's collection /dev"),
    ],
)
def test_a_dev_team_cannot_grant_itself_a_collection_beyond_dev(collection, says):
    problems = refused_dev(dev_grants({"group": "payments-developers", "collection": collection}))
    problem = problems["teams[0].ucpGrants[0].collection"]
    assert says in problem
    assert problem.startswith("stack 'dev': interlock-platform:teams[0].ucpGrants[0].collection: ")
    assert "Fix: grant /dev or a collection under it, e.g. /dev/<team>." in problem


@pytest.mark.parametrize("collection", ["/dev", "/dev/payments", "/dev/payments/batch", None])
def test_a_dev_team_may_be_granted_dev_or_a_collection_under_it(collection):
    grant = {"group": "payments-developers", **({"collection": collection} if collection else {})}
    (spec,) = parse_environment("dev", dev_grants(grant), shared_outputs()).teams[0].ucp_grants
    assert (spec.organization, spec.team, spec.role, spec.collection) == (
        "docker-datacenter", "payments-developers", "restrictedcontrol", collection or "/dev",
    )  # fmt: skip


def test_a_collection_that_contains_another_environments_is_refused():
    # /nonprod/dev and /nonprod/test side by side: a grant on /nonprod reaches test's collection
    shared = shared_outputs()
    shared["environments"]["dev"]["collection"] = "/nonprod/dev"
    shared["environments"]["test"]["collection"] = "/nonprod/test"
    with pytest.raises(Exception) as err:
        parse_environment("dev", dev_grants({"group": "payments-developers", "collection": "/nonprod"}), shared)
    assert "/nonprod reaches environment 'test' (its collection is /nonprod/test)" in str(err.value)
    ok = parse_environment("dev", dev_grants({"group": "payments-developers", "collection": "/nonprod/dev/payments"}), shared)
    assert ok.teams[0].ucp_grants[0].collection == "/nonprod/dev/payments"


def test_full_control_is_refused_and_restricted_control_passes():
    problems = refused_dev(dev_grants({"group": "payments-developers", "role": "fullcontrol"}))
    assert "fullcontrol lets the team mount node directories, exec into containers" in problems["teams[0].ucpGrants[0].role"]
    assert "Fix: use restrictedcontrol" in problems["teams[0].ucpGrants[0].role"]
    topo = parse_environment("dev", dev_grants({"group": "payments-developers", "role": "restrictedcontrol"}), shared_outputs())
    assert topo.teams[0].ucp_grants[0].role == "restrictedcontrol"


def test_a_grant_names_one_of_the_teams_own_groups():
    problems = refused_dev(dev_grants({"group": "ledger-operators"}))  # the ledger team's group, not payments'
    assert "'ledger-operators' is not one of this team's groups or pipelineGroups" in problems["teams[0].ucpGrants[0].group"]
    assert parse_environment("dev", dev_grants({"group": "payments-developers"}), shared_outputs()).teams[0].ucp_grants


def test_a_grant_listed_twice_is_refused():
    g = {"group": "payments-developers", "collection": "/dev/payments"}
    assert "is the same grant as teams[0].ucpGrants[0]" in refused_dev(dev_grants(g, g))["teams[0].ucpGrants[1]"]


def test_prods_people_read_and_its_pipeline_deploys_by_default():
    cfg = raw("prod")
    team = cfg["teams"][0]
    people, pipeline = team["groups"][0], (team.get("pipelineGroups") or ["payments-ci"])[0]
    team["pipelineGroups"] = [pipeline]
    team["ucpGrants"] = [{"group": people}, {"group": pipeline}]
    shared = shared_outputs()
    roles = {g.team: g.role for g in parse_environment("prod", cfg, shared).teams[0].ucp_grants}
    assert roles == {people: "viewonly", pipeline: "restrictedcontrol"}


def test_grants_need_ucps_api_over_tcp():
    cfg = dev_grants({"group": "payments-developers"})
    cfg["ucpHost"] = "unix:///var/run/docker.sock"
    assert "grants are made through UCP's API" in refused_dev(cfg)["ucpHost"]


def test_no_grants_by_default():
    assert all(not t.ucp_grants for t in parse_environment("dev", raw("dev"), shared_outputs()).teams)


# --- the program: refused before anything is registered; registered without key material


def test_the_program_refuses_a_grant_on_prod_before_registering_anything(preview):
    teams = dev_grants({"group": "payments-developers", "collection": "/prod"})["teams"]
    monitor = RecordingMonitor(PlatformMocks({}))
    with pytest.raises(InvalidStackConfig) as err:
        run_program("dev", full_config("dev", teams=teams), {SHARED_REF: preview("shared").run.outputs}, monitor=monitor)
    assert monitor.registrations == []
    assert "teams[0].ucpGrants[0].collection" in {p.key for p in err.value.problems}


def test_the_program_registers_the_grants_under_the_swarm_layer_without_the_bundle(preview):
    teams = dev_grants({"group": "payments-developers", "collection": "/dev/payments"})["teams"]
    run = run_program("dev", full_config("dev", teams=teams), {SHARED_REF: preview("shared").run.outputs})
    (grants,) = run.of_type("pulumi-python:dynamic/swarm:UcpGrants")
    assert grants.name == "dev-swarm-ucp-grants" and grants.parent.endswith("EnvironmentSwarm::dev-swarm")
    assert grants.inputs["grants"] == [
        {
            "organization": "docker-datacenter",
            "team": "payments-developers",
            "role": "restrictedcontrol",
            "collection": "/dev/payments",
        }
    ]
    assert grants.inputs["collection"] == "/dev"
    assert "PRIVATE KEY" not in json.dumps(grants.inputs) and "CERTIFICATE" not in json.dumps(grants.inputs)


# --- the provider against a stand-in for UCP's API


class FakeUcp:
    """UCP's accounts, collections, roles and grants, as the API reference shapes them."""

    def __init__(self) -> None:
        self.org = {"id": "org-dd", "name": "docker-datacenter"}
        self.teams = {("docker-datacenter", "payments-developers"): "team-pay", ("docker-datacenter", "payments-ci"): "team-ci"}
        self.collections = {
            "/": "swarm",
            "/Shared": "shared",
            "/dev": "coll-dev",
            "/dev/payments": "coll-pay",
            "/prod": "coll-prod",
        }
        self.roles = {"viewonly", "restrictedcontrol", "scheduler", "fullcontrol", "none"}
        self.grants: list[tuple[str, str, str]] = []
        self.calls: list[tuple[str, str]] = []

    def team(self, org: str, name: str) -> dict | None:
        tid = self.teams.get((org, name))
        return None if tid is None else {"id": tid, "orgID": self.org["id"], "name": name, "description": "", "membersCount": 3}

    def collection(self, path: str) -> dict | None:
        cid = self.collections.get(path)
        if cid is None:
            return None
        parents = [self.collections[p] for p in self.collections if p != path and (p == "/" or path.startswith(p + "/"))]
        return {
            "id": cid, "name": path.rsplit("/", 1)[-1] or "swarm", "path": path, "parent_ids": parents,
            "label_constraints": [], "legacylabelkey": "", "legacylabelvalue": "",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        }  # fmt: skip


@pytest.fixture
def ucp(bundle):  # noqa: F811
    state = FakeUcp()

    class Api(http.server.BaseHTTPRequestHandler):
        def _send(self, status: int, body: object | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            state.calls.append((method, self.path))
            if method == "GET" and parts[:1] == ["accounts"] and len(parts) == 4 and parts[2] == "teams":
                team = state.team(parts[1], parts[3])
                return self._send(200, team) if team else self._send(404, {"message": "team not found"})
            if method == "GET" and parts == ["collectionByPath"]:
                coll = state.collection(query.get("path", ""))
                return self._send(200, coll) if coll else self._send(404, {"message": "collection not found"})
            if method == "GET" and parts[:1] == ["roles"] and len(parts) == 2:
                if parts[1] not in state.roles:
                    return self._send(404, {"message": "role not found"})
                return self._send(200, {"id": parts[1], "name": parts[1], "system_role": True, "operations": {}})
            if parts[:1] == ["collectionGrants"] and len(parts) == 4 and method in ("PUT", "DELETE"):
                grant = (parts[1], parts[2], parts[3])
                known_subjects = set(state.teams.values())
                if grant[0] not in known_subjects or grant[1] not in state.collections.values() or grant[2] not in state.roles:
                    return self._send(404, {"message": "no such subject, collection or role"})
                if method == "PUT":
                    if grant not in state.grants:
                        state.grants.append(grant)
                    return self._send(201)
                if grant not in state.grants:
                    return self._send(404, {"message": "no such grant"})
                state.grants.remove(grant)
                return self._send(204)
            if method == "GET" and parts == ["collectionGrants"]:
                rows = [
                    g for g in state.grants
                    if all(not query.get(k) or query[k] == v for k, v in zip(("subjectID", "objectID", "roleID"), g, strict=True))
                ]  # fmt: skip
                start, limit = int(query.get("start") or 0), int(query.get("limit") or 10)
                page = rows[start : start + limit]
                following = str(start + limit) if start + limit < len(rows) else ""
                return self._send(200, {
                    "grants": [{"subjectID": s, "objectID": o, "roleID": r} for s, o, r in page],
                    "subjects": [], "nextPageStart": following, "resourceCount": len(rows),
                })  # fmt: skip
            return self._send(404, {"message": f"no route {method} {url.path}"})

        def do_GET(self):
            self._route("GET")

        def do_PUT(self):
            self._route("PUT")

        def do_DELETE(self):
            self._route("DELETE")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(bundle["server"] / "server.pem")
    ctx.load_verify_locations(bundle["server"] / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED  # the client bundle's certificate is the credential
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.host = f"tcp://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def provider(ucp, bundle, with_key: bool = True) -> UcpGrantsProvider:  # noqa: F811
    p = UcpGrantsProvider()
    p.connection = EngineConnection(ucp.host, bundle["ca"], bundle["cert"], bundle["key"] if with_key else None)
    return p


def props(*grants: tuple[str, str, str]) -> dict:
    return {
        "environment": "dev", "collection": "/dev", "granted": None,
        "grants": [{"organization": "docker-datacenter", "team": t, "role": r, "collection": c} for t, r, c in grants],
    }  # fmt: skip


PAY = ("payments-developers", "restrictedcontrol", "/dev/payments")
CI = ("payments-ci", "restrictedcontrol", "/dev")


def test_create_puts_each_grant_by_ucps_ids_and_reads_it_back(ucp, bundle):  # noqa: F811
    result = provider(ucp, bundle).create(props(PAY, CI))
    assert result.id == "dev-ucp-grants"
    assert sorted(ucp.grants) == [("team-ci", "coll-dev", "restrictedcontrol"), ("team-pay", "coll-pay", "restrictedcontrol")]
    assert [(g["subjectID"], g["objectID"], g["roleID"]) for g in result.outs["granted"]] == [
        ("team-pay", "coll-pay", "restrictedcontrol"), ("team-ci", "coll-dev", "restrictedcontrol"),
    ]  # fmt: skip
    assert any(m == "GET" and p.startswith("/collectionGrants?subjectID=team-pay") for m, p in ucp.calls)  # read back
    assert "PRIVATE KEY" not in json.dumps(result.outs)


def test_create_again_changes_nothing_and_diff_sees_no_change(ucp, bundle):  # noqa: F811
    p = provider(ucp, bundle)
    outs = p.create(props(PAY)).outs
    p.create(props(PAY))
    assert ucp.grants == [("team-pay", "coll-pay", "restrictedcontrol")]
    assert p.diff("dev-ucp-grants", outs, props(PAY)).changes is False


def test_a_grant_removed_in_ucp_is_a_diff_and_the_update_puts_it_back(ucp, bundle):  # noqa: F811
    p = provider(ucp, bundle)
    outs = p.create(props(PAY)).outs
    ucp.grants.clear()  # someone deleted it in UCP's UI
    assert p.diff("dev-ucp-grants", outs, props(PAY)).changes is True
    assert p.read("dev-ucp-grants", outs).outs["grants"] == []
    p.update("dev-ucp-grants", outs, props(PAY))
    assert ucp.grants == [("team-pay", "coll-pay", "restrictedcontrol")]


def test_an_update_adds_first_then_drops_only_its_own_grant(ucp, bundle):  # noqa: F811
    p = provider(ucp, bundle)
    admins = ("team-pay", "coll-dev", "viewonly")  # made in UCP by someone else: not this resource's
    ucp.grants.append(admins)
    outs = p.create(props(PAY)).outs
    outs = p.update("dev-ucp-grants", outs, props(CI)).outs
    assert sorted(ucp.grants) == sorted([admins, ("team-ci", "coll-dev", "restrictedcontrol")])
    p.delete("dev-ucp-grants", outs)
    assert ucp.grants == [admins]


def test_a_grant_that_was_there_before_is_adopted_and_never_deleted(ucp, bundle):  # noqa: F811
    p = provider(ucp, bundle)
    admins = ("team-ci", "coll-dev", "restrictedcontrol")  # the same grant, made in UCP by an admin before
    ucp.grants.append(admins)
    outs = p.create(props(PAY, CI)).outs
    assert [g["adopted"] for g in outs["granted"]] == [False, True]
    outs = p.update("dev-ucp-grants", outs, props(PAY)).outs  # dropped from the config: the admin's stays
    assert admins in ucp.grants
    p.delete("dev-ucp-grants", outs)
    assert ucp.grants == [admins]
    outs = p.create(props(CI)).outs  # adopted again, and the delete leaves it
    p.delete("dev-ucp-grants", outs)
    assert ucp.grants == [admins]


def test_the_diff_of_changed_config_is_a_change(ucp, bundle):  # noqa: F811
    p = provider(ucp, bundle)
    outs = p.create(props(PAY)).outs
    assert p.diff("dev-ucp-grants", outs, props(PAY, CI)).changes is True


def test_an_unknown_team_collection_or_role_is_refused_before_any_write(ucp, bundle):  # noqa: F811
    p = provider(ucp, bundle)
    for grant, says in (
        (("payments-devs", "restrictedcontrol", "/dev"), "UCP has no team 'payments-devs' in organization 'docker-datacenter'"),
        (("payments-developers", "restrictedcontrol", "/dev/cards"), "UCP has no collection /dev/cards"),
        (("payments-developers", "deployer", "/dev"), "UCP has no role 'deployer'"),
    ):
        with pytest.raises(UcpGrantError, match=says):
            p.create(props(PAY, grant))
    assert not [c for c in ucp.calls if c[0] != "GET"] and ucp.grants == []


def test_the_provider_refuses_a_collection_beyond_the_environment_even_if_validation_was_bypassed(ucp, bundle):  # noqa: F811
    for collection in ("/prod", "/Shared", "/"):
        with pytest.raises(UcpGrantError, match=f"refusing to grant {collection}"):
            provider(ucp, bundle).create(props(("payments-developers", "restrictedcontrol", collection)))
    assert ucp.grants == [] and not ucp.calls


def test_grants_are_found_on_later_pages(ucp, bundle):  # noqa: F811
    ucp.collections.update({f"/dev/app{i}": f"coll-app{i}" for i in range(250)})
    ucp.grants.extend(("team-pay", f"coll-app{i}", "viewonly") for i in range(250))  # UCP pages 10 by default
    p = provider(ucp, bundle)
    outs = p.create(props(PAY)).outs
    assert p.diff("dev-ucp-grants", outs, props(PAY)).changes is False
    assert sum(1 for m, path in ucp.calls if m == "GET" and "start=" in path) >= 2


def test_without_the_bundle_the_api_is_not_called(ucp, bundle):  # noqa: F811
    with pytest.raises(UcpGrantError, match="needs interlock-platform:ucpHost as tcp://"):
        provider(ucp, bundle, with_key=False).create(props(PAY))
    p = UcpGrantsProvider()
    p.connection = EngineConnection("unix:///var/run/docker.sock")
    with pytest.raises(UcpGrantError, match=re.escape("is unix:///var/run/docker.sock")):
        p.create(props(PAY))
    assert ucp.calls == []


def test_a_client_without_the_bundles_certificate_is_turned_away(ucp, bundle):  # noqa: F811
    import requests

    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            ucp.host.replace("tcp://", "https://") + "/roles/viewonly", verify=str(bundle["server"] / "ca.pem"), timeout=5
        )
    assert ucp.calls == []


def test_the_offline_preview_exits_2_with_the_fix_for_a_grant_on_shared(tmp_path):
    project = copy_project(tmp_path / "project")
    path = project / "stacks" / "Pulumi.dev.yaml"
    text = path.read_text()
    path.write_text(
        text.replace(
            "      groups: [payments-developers]\n",
            "      groups: [payments-developers]\n      ucpGrants: [{group: payments-developers, collection: /Shared}]\n",
            1,
        )
    )
    done = preview_cli("--stack", "dev", cwd=project)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "stack 'dev': interlock-platform:teams[0].ucpGrants[0].collection: /Shared is UCP's /Shared collection" in done.stderr
    assert "Fix: grant /dev or a collection under it" in done.stderr
