"""UCP grants per team: a UCP team (subject), a role, a collection, the three parts of UCP's
grant model ("Each grant is a 1:1:1 mapping of subject, role, collection", Docker's UCP access
control docs). Pure; called by `teams.check_teams` so that its problems are listed with all
the others, before anything is created.

A grant reaches its collection and every collection under it. So an environment's teams may be
granted only its own collection (the registry's `environments.<env>.collection`) or one under
it. Refused: `/` (the root: every environment), `/Shared` and what lies under it (UCP's
collection every user can reach, shared by every environment), another environment's
collection, and anything outside the environment's. The role `fullcontrol` is refused too:
unlike Restricted Control it lets a team mount node directories, `exec` into containers and run
privileged containers, which reaches past the collection to the node itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# UCP's built-in role IDs (the `id` of GET /roles): None, View Only, Restricted Control,
# Scheduler, Full Control.
VIEW_ONLY, RESTRICTED_CONTROL, FULL_CONTROL = "viewonly", "restrictedcontrol", "fullcontrol"
REFUSED_ROLES = {FULL_CONTROL: "lets the team mount node directories, exec into containers and run privileged containers"}
SHARED_COLLECTION = "/Shared"  # UCP's own: every user's private collection lives under /Shared/Private
DEFAULT_ORGANIZATION = "docker-datacenter"  # where UCP places every new user by default


@dataclass(frozen=True)
class UcpGrantSpec:
    """One grant, by name: the provider resolves the names to UCP's IDs at apply time."""

    organization: str
    team: str
    role: str
    collection: str


def within(path: str, collection: str) -> bool:
    """`path` is `collection` or lies under it (by path segment: /devx is not under /dev)."""
    return path == collection or path.startswith(collection.rstrip("/") + "/")


def collection_problem(path: str, env_name: str, env_collection: str, registry: Mapping[str, str]) -> tuple[str, str] | None:
    """(message, fix) when a grant on `path` would reach beyond the environment, else None.
    `registry`: every environment's collection, by environment name."""
    fix = f"grant {env_collection} or a collection under it, e.g. {env_collection.rstrip('/')}/<team>"
    if path == "/":
        return f"{path} is the root collection: a grant there reaches every environment", fix
    if within(path, SHARED_COLLECTION):
        return f"{path} is UCP's /Shared collection, which every environment shares", fix
    for other, collection in sorted(registry.items()):
        if other != env_name and (within(path, collection) or within(collection, path)):
            return f"{path} reaches environment '{other}' (its collection is {collection})", fix
    if not within(path, env_collection):
        return f"{path} is outside this environment's collection {env_collection}", fix
    return None


def default_role(env_name: str | None, people: bool) -> str:
    """Prod's people read; pipelines (and every group outside prod) deploy."""
    return VIEW_ONLY if env_name == "prod" and people else RESTRICTED_CONTROL
