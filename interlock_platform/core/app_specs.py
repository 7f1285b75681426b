"""App specs as an app team writes them in its stack config (`<project>:apps`, camelCase), read
into `AppServiceSpec`s. Every problem at once, each naming the app, the field and the fix; a
misspelt field is refused with the field it most likely meant. Pure: no Pulumi."""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError
from pydantic.alias_generators import to_camel

from interlock_platform.core.app_labels import AppServiceSpec, AppSpecError


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True)


class RedirectConfig(_Spec):
    source: StrictStr  # http://old.<domain>
    target: StrictStr  # https://new.<domain>


class AppConfig(_Spec):
    """One entry of `<project>:apps`. Strict types: YAML's `port: "8080"` or `tls: "yes"` is a
    typo to fix, not a value to guess at."""

    name: StrictStr
    image: StrictStr
    port: StrictInt
    hosts: list[StrictStr] = []
    host_prefix: StrictStr | None = None
    replicas: StrictInt = 2
    tls: StrictBool = False
    ssl_passthrough: StrictBool = False
    backend_mode: StrictStr = "task"
    redirects: list[RedirectConfig] = []
    context_root: StrictStr | None = None
    context_root_rewrite: StrictBool = False
    websocket_endpoints: list[StrictStr] = []
    sticky_session_cookie: StrictStr | None = None
    ip_hash: StrictBool = False
    networks: list[StrictStr] = []
    runtime: StrictStr = "swarm"  # or kubernetes: checked with the rest against the environment (app_labels.check)

    def to_spec(self) -> AppServiceSpec:
        return AppServiceSpec(
            name=self.name, image=self.image, port=self.port, host_prefix=self.host_prefix, hosts=tuple(self.hosts),
            replicas=self.replicas, tls=self.tls, websocket_endpoints=tuple(self.websocket_endpoints),
            sticky_session_cookie=self.sticky_session_cookie, ip_hash=self.ip_hash, networks=tuple(self.networks),
            ssl_passthrough=self.ssl_passthrough, backend_mode=self.backend_mode,
            redirects=tuple((r.source, r.target) for r in self.redirects),
            context_root=self.context_root, context_root_rewrite=self.context_root_rewrite, runtime=self.runtime,
        )  # fmt: skip


FIELDS = {name: to_camel(name) for name in AppConfig.model_fields}  # snake_case -> the config's camelCase
_SNAKE_FIELD = re.compile(r"\b(" + "|".join(sorted((n for n in FIELDS if "_" in n), key=len, reverse=True)) + r")\b")
EXAMPLE = "{name: shop, image: registry/shop:1.0, port: 8080, hostPrefix: shop}"
REDIRECT_EXAMPLE = "{source: http://old.<domain>, target: https://shop.<domain>}"


def in_config_terms(problem: str) -> str:
    """A problem from `app_labels.check` in the words of the stack config: `ssl_passthrough` ->
    `sslPassthrough`."""
    return _SNAKE_FIELD.sub(lambda m: FIELDS[m.group(1)], problem)


def _field_problem(app: str, error: Any) -> str:
    loc = [str(p) for p in error["loc"]]
    field = ".".join(loc) if loc else "(the entry)"
    kind = error["type"]
    if kind == "extra_forbidden":
        known = list(FIELDS.values()) if len(loc) == 1 else list(RedirectConfig.model_fields)
        near = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6) or difflib.get_close_matches(
            loc[-1].lower(), [k.lower() for k in known], n=1, cutoff=0.6
        )
        if near:
            meant = next(k for k in known if k.lower() == near[0].lower())
            return f"{app}: unknown field '{field}'; did you mean '{meant}'?"
        return f"{app}: unknown field '{field}'; the fields are {', '.join(known)}"
    if kind == "missing":
        example = f"a redirect is {REDIRECT_EXAMPLE}" if loc[0] == "redirects" else f"an app is at least {EXAMPLE}"
        return f"{app}: field '{field}' is missing; give it ({example})"
    return f"{app}: field '{field}': {error['msg']} (got {error['input']!r}); fix the value's type"


def parse_apps(raw: Any) -> list[AppServiceSpec]:
    """`<project>:apps` as the config holds it (a list of mappings), or AppSpecError with every
    problem. The semantic checks against the environment (`app_labels.check_all`) come after."""
    if not isinstance(raw, list) or not raw:
        raise AppSpecError([f"apps: give a list of app specs, e.g. [{EXAMPLE}] (got {type(raw).__name__})"])
    problems, specs = [], []
    for i, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry, dict) else None
        app = f"app '{name}' (apps[{i}])" if isinstance(name, str) else f"apps[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{app}: is {type(entry).__name__}, not a mapping; write {EXAMPLE}")
            continue
        try:
            config = AppConfig.model_validate(entry)
        except ValidationError as err:
            problems += [_field_problem(app, e) for e in err.errors(include_url=False)]
            continue
        if config.hosts and config.host_prefix is not None:
            problems.append(f"{app}: both hosts and hostPrefix given; hostPrefix serves <prefix>.<domain>, hosts full names: keep one")
            continue
        specs.append(config.to_spec())
    if problems:
        raise AppSpecError(problems)
    return specs


def in_config(spec: AppServiceSpec) -> dict[str, Any]:
    """The spec as a `<project>:apps` entry: what a test or a generator writes into a stack file."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if value == f.default:
            continue
        if f.name == "redirects":
            value = [{"source": s, "target": t} for s, t in value]
        out[FIELDS[f.name]] = list(value) if isinstance(value, tuple) else value
    return out
