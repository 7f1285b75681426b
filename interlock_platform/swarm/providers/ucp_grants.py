"""`swarm:UcpGrants`: an environment's UCP grants (a UCP team, a role, a collection), the part of
the runbooks' Swarm tenancy that was clicked in UCP's UI. Through UCP's own API as Docker's UCP
API reference documents it (UCP 3.2, `docs.docker.com/reference/ucp/3.2/api/`, the swagger
`docs.json` that MKE 3.x keeps serving):

- `GET /accounts/{orgNameOrID}/teams/{teamNameOrID}` -> `responses.Team` (`id`, `orgID`, `name`...);
- `GET /collectionByPath?path=<path>` -> `authz.Collection` (`id`, `path`, `parent_ids`...);
- `GET /roles/{role}` -> `role.Role` (`id`, `name`, `system_role`, `operations`);
- `PUT /collectionGrants/{subjectID}/{objectID}/{roleID}` -> 201, no body ("Creates a collection grant");
- `GET /collectionGrants?subjectID=&objectID=&roleID=&start=&limit=` -> `responses.Grants`
  (`grants: [{subjectID, objectID, roleID}]`, `subjects`, `nextPageStart`, `resourceCount`), paged;
- `DELETE /collectionGrants/{subjectID}/{objectID}/{roleID}` -> 204.

The client bundle's certificate and key authenticate the calls (UCP accepts a bundle on its API
as on the Docker API); they come from the stack config (`configure`), never from inputs or
state. State holds names and UCP's IDs only. Every write is read back; a grant someone deleted
in the UI shows as a diff and is put back; grants this resource did not make are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

import pulumi
import pulumi.dynamic as dyn

from interlock_platform.core.ucp_grants import SHARED_COLLECTION, UcpGrantSpec, within
from interlock_platform.swarm.providers.engine import EngineConnection, SwarmProvider

PAGE = 100  # grants per page of GET /collectionGrants (UCP's default is 10)
Triple = tuple[str, str, str]  # (subjectID, objectID, roleID): how UCP keys a grant


class UcpGrantError(RuntimeError):
    pass


class UcpApi:
    """UCP's own REST API at the stack's ucpHost, authenticated by the client bundle."""

    def __init__(self, connection: EngineConnection, timeout: float = 30) -> None:
        host = connection.host or ""
        if not host.startswith("tcp://") or not (connection.cert_pem and connection.key_pem):
            raise UcpGrantError(
                f"UCP grants are made through UCP's API, which needs interlock-platform:ucpHost as tcp://<ucp>:443 and the client "
                f"bundle (ucpClientCert, ucpClientKey, ucpCaCert); ucpHost is {host or 'not set'}"
            )
        import requests  # with docker-py: only when UCP is called, never in a preview

        self.base = "https://" + host.removeprefix("tcp://").rstrip("/")
        paths, self._release = connection.bundle_files()
        self.cert = (paths["cert.pem"], paths["key.pem"])
        # an explicit CA path: requests would let REQUESTS_CA_BUNDLE replace a `True` (see engine.py)
        self.verify: str | bool = paths.get("ca.pem", True)
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()
        self._release()

    def __enter__(self) -> UcpApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def call(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        import requests

        try:
            return self.session.request(
                method, self.base + path, params=params, cert=self.cert, verify=self.verify, timeout=self.timeout
            )
        except requests.RequestException as err:
            raise UcpGrantError(f"cannot reach UCP's API at {self.base}: {err}. Check ucpHost and the client bundle") from None

    def _get(self, path: str, missing: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        resp = self.call("GET", path, params)
        if resp.status_code == 404:
            raise UcpGrantError(missing)
        self._check(resp, f"GET {path}")
        body: dict[str, Any] = resp.json()
        return body

    @staticmethod
    def _check(resp: Any, what: str) -> None:
        if resp.status_code >= 300:
            detail = resp.text[:300]
            hint = " (the client bundle must be an admin's: only admins create grants)" if resp.status_code in (401, 403) else ""
            raise UcpGrantError(f"UCP refused {what}: HTTP {resp.status_code} {detail}{hint}")

    def team_id(self, organization: str, team: str) -> str:
        body = self._get(
            f"/accounts/{quote(organization, safe='')}/teams/{quote(team, safe='')}",
            f"UCP has no team '{team}' in organization '{organization}': create it (or sync it from LDAP) in UCP, or fix the "
            "grant's group or organization",
        )
        return str(body["id"])

    def collection_id(self, path: str) -> str:
        body = self._get(
            "/collectionByPath",
            f"UCP has no collection {path}: create it in UCP (under the environment's collection), or grant one that exists",
            {"path": path},
        )
        if body.get("path") != path:  # never grant a collection other than the one asked for
            raise UcpGrantError(f"UCP answered collection {body.get('path')!r} for {path}; refusing to grant it")
        return str(body["id"])

    def role_id(self, role: str) -> str:
        body = self._get(
            f"/roles/{quote(role, safe='')}", f"UCP has no role '{role}': use a built-in role ID or create the role in UCP"
        )
        return str(body["id"])

    def grants(self, subject_id: str) -> set[Triple]:
        """Every grant of a subject, all pages."""
        out: set[Triple] = set()
        start = ""
        for _ in range(10_000):  # a bound, whatever the server says
            params = {"subjectID": subject_id, "limit": str(PAGE), **({"start": start} if start else {})}
            body = self._get("/collectionGrants", f"UCP has no grants endpoint at {self.base}", params)
            out |= {(g["subjectID"], g["objectID"], g["roleID"]) for g in body.get("grants") or []}
            start = body.get("nextPageStart") or ""
            if not start:
                return out
        raise UcpGrantError("UCP's grant list did not end")

    def put_grant(self, grant: Triple) -> None:
        resp = self.call("PUT", "/collectionGrants/" + "/".join(quote(part, safe="") for part in grant))
        self._check(resp, f"the grant {grant}")

    def delete_grant(self, grant: Triple) -> None:
        resp = self.call("DELETE", "/collectionGrants/" + "/".join(quote(part, safe="") for part in grant))
        if resp.status_code != 404:  # already gone is what was asked for
            self._check(resp, f"deleting the grant {grant}")


def resolve(api: UcpApi, environment_collection: str, grants: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """Each grant by name, with UCP's IDs. Refuses, before any write, a collection outside the
    environment's or under /Shared (validation refused them already: this holds if UCP's tree
    differs from the config's)."""
    out = []
    for g in grants:
        spec = UcpGrantSpec(**g)
        if not within(spec.collection, environment_collection) or within(spec.collection, SHARED_COLLECTION):
            raise UcpGrantError(
                f"refusing to grant {spec.collection}: it is not under the environment's collection {environment_collection}"
            )
        out.append({
            **asdict(spec),
            "subjectID": api.team_id(spec.organization, spec.team),
            "objectID": api.collection_id(spec.collection),
            "roleID": api.role_id(spec.role),
        })  # fmt: skip
    return out


def _triple(g: dict[str, str]) -> Triple:
    return (g["subjectID"], g["objectID"], g["roleID"])


def live(api: UcpApi, granted: Iterable[dict[str, str]]) -> set[Triple]:
    """Which of these grants UCP holds."""
    wanted = {_triple(g) for g in granted}
    held: set[Triple] = set()
    for subject in sorted({t[0] for t in wanted}):
        held |= api.grants(subject) & wanted
    return held


class UcpGrantsProvider(SwarmProvider):
    def _apply(self, props: dict[str, Any], previous: list[dict[str, str]]) -> dict[str, Any]:
        with UcpApi(self.connection) as api:
            granted = resolve(api, props["collection"], props["grants"])
            # A grant UCP held before this resource first asked for it (an admin's) is adopted: kept
            # in place, never deleted by this resource
            adopted = {_triple(g): bool(g.get("adopted")) for g in previous}
            held_before = live(api, granted)
            for g in granted:
                t = _triple(g)
                g["adopted"] = adopted.get(t, t in held_before)
                api.put_grant(t)  # PUT: idempotent, a grant that exists stays as it is
            missing = {_triple(g) for g in granted} - live(api, granted)
            if missing:
                raise UcpGrantError(f"UCP accepted the grants but does not list {sorted(missing)}; check UCP's grants page")
            keep = {_triple(g) for g in granted}
            for old in previous:  # dropped from the config: only after the new ones hold, and only its own
                if _triple(old) not in keep and not old.get("adopted"):
                    api.delete_grant(_triple(old))
        return {**props, "granted": granted}

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult(f"{props['environment']}-ucp-grants", self._apply(props, []))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        changed = [k for k in ("environment", "collection", "grants") if olds.get(k) != news.get(k)]
        if not changed and olds.get("granted"):
            with UcpApi(self.connection) as api:
                if live(api, olds["granted"]) != {_triple(g) for g in olds["granted"]}:
                    changed = ["grants"]  # someone deleted a grant in UCP: put it back
        return dyn.DiffResult(changes=bool(changed), replaces=[], stables=["environment"], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(self._apply(news, list(olds.get("granted") or [])))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with UcpApi(self.connection) as api:
            for g in props.get("granted") or []:
                if not g.get("adopted"):  # a grant someone else made before stays
                    api.delete_grant(_triple(g))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        """The grants UCP really holds, of those this resource made."""
        granted = list(props.get("granted") or [])
        with UcpApi(self.connection) as api:
            held = live(api, granted)
        still = [g for g in granted if _triple(g) in held]
        names = [{k: g[k] for k in ("organization", "team", "role", "collection")} for g in still]
        return dyn.ReadResult(id_, {**props, "grants": names, "granted": still})


class UcpGrants(dyn.Resource, module="swarm", name="UcpGrants"):
    """Registers as `pulumi-python:dynamic/swarm:UcpGrants`."""

    def __init__(
        self,
        name: str,
        environment: str,
        collection: str,
        grants: Iterable[UcpGrantSpec],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"environment": environment, "collection": collection, "grants": [asdict(g) for g in grants], "granted": None}
        super().__init__(UcpGrantsProvider(), name, props, opts)
