"""The offline preview: run one stack's program under Pulumi's mock runtime, with its stack
file's config, no cloud credentials and no Pulumi CLI.

    interlock-platform preview --stack <name> [--json FILE] [--out DIR] [--interlock-base FILE] ...
    interlock-platform preview --project DIR --stack <env> [--platform-outputs FILE] [--json FILE] [--out DIR]

An env stack's StackReference to `shared` is served the shared stack's outputs as its state
would hold them, from its stack file through the pure model (interlock_platform/tooling/shared_state.py).
`--project DIR` previews another Pulumi project (an app team's, e.g. examples/app-team), its
StackReference to the platform's env stack of the same name served from `--platform-outputs
FILE` (`pulumi stack output --json`; interlock_platform/tooling/platform_outputs.py), or, in a
platform checkout, from that environment's offline preview. The policy pack in policy/ checks
a platform stack over the engine's own protocol, each resource as it registers. Exit status: 0
when nothing mandatory is violated, 1 when a mandatory policy is violated, 2 when the input is
invalid (config, files, --out), 3 when the policy pack could not run, so nothing was checked
(messages on stderr).

Where its time goes: bench/preview.py and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pulumi
import yaml

from interlock_platform.core import firewall_plan, interlock_toml, labels
from interlock_platform.core.config_keys import SECRET_KEYS
from interlock_platform.core.config_reader import InvalidConfig, Problem
from interlock_platform.core.interlock_toml import InterlockConfigError
from interlock_platform.core.model import endpoint_sg
from interlock_platform.core.topology import PROJECT, parse_shared
from interlock_platform.stack_config import InvalidStackConfig
from interlock_platform.swarm.interlock_service import InvalidAppSpec
from interlock_platform.swarm.providers.interlock import spec_of
from interlock_platform.tooling import cloudformation, fleet, out_folder, policy_config, policy_harness, report
from interlock_platform.tooling.masking import Masker, found_in
from interlock_platform.tooling.mock_runtime import ProgramRun, as_engine_state, run_program
from interlock_platform.tooling.platform_outputs import read_platform_outputs
from interlock_platform.tooling.shared_state import shared_state
from interlock_platform.tooling.stack_files import (
    ROOT,
    FileProblem,
    InvalidProjectFiles,
    offline_config,
    offline_project_stack,
    offline_stack,
    project_file,
    require_platform,
    stack_names,
)  # fmt: skip

EXIT_OK, EXIT_VIOLATION, EXIT_INVALID, EXIT_PACK_FAILED = 0, 1, 2, 3
SECRET = "[secret]"


@dataclass
class Preview:
    run: ProgramRun
    # the shared stack: for an env stack its state (interlock_platform/tooling/shared_state.py), for itself this run
    shared: ProgramRun
    violations: list[dict[str, Any]] = field(default_factory=list)
    stood_in: list[str] = field(default_factory=list)  # secrets replaced by a placeholder
    # the pack's verdicts while it is still answering (run_preview(..., wait=False)); `settle` waits
    pending: Callable[[], list[dict[str, Any]]] | None = None

    def settle(self) -> Preview:
        """The preview with the pack's verdicts in `violations`: waits for them, raising
        PolicyPackError as the analysis would."""
        if self.pending is not None:
            self.violations, self.pending = self.pending(), None
        return self

    @property
    def exit_code(self) -> int:
        if self.pending is not None:
            raise RuntimeError("the pack's verdicts are pending: settle() the preview first")
        return EXIT_VIOLATION if any(v["enforcement"] == "mandatory" for v in self.violations) else EXIT_OK


def _shared_stack_file(stack: str, config: dict[str, Any]) -> str:
    qualified = config.get(f"{PROJECT}:sharedStack")
    local = str(qualified).rsplit("/", 1)[-1] if qualified else "shared"
    if local not in stack_names():
        raise InvalidConfig(
            [
                Problem(
                    stack,
                    "sharedStack",
                    f"{qualified!r} names stack '{local}', which has no stack file here",
                    f"use one of {', '.join(stack_names())}",
                )
            ]
        )
    return local


def policy_configuration(shared_outputs: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pack's config from the shared stack's registry, plus a policy-config file's overrides
    (as `--policy-pack-config` gives the CLI)."""
    config = policy_config.from_shared_outputs(shared_outputs)
    for name, entry in (overrides or {}).items():
        config[name] = {**config.get(name, {}), **(entry if isinstance(entry, dict) else {"enforcementLevel": entry})}
    return config


def _check_policy_config(pack: policy_harness.PolicyPackProcess, overrides: dict[str, Any] | None) -> None:
    """As the CLI checks `--policy-pack-config` against the pack: every name is a policy of the pack
    (a misspelt one would change nothing, silently), and its properties match the policy's
    config schema (GetAnalyzerInfo's configSchema)."""
    if not overrides:
        return
    # imported here, for a policy-config file only: jsonschema alone costs every preview ~50 ms
    import jsonschema
    from google.protobuf import json_format

    policies = {policy.name: policy for policy in pack.info().policies}
    known = sorted(policies)
    problems = []
    for name, entry in overrides.items():
        if name not in policies and name != "all":
            near = difflib.get_close_matches(name, known, n=1)
            problems.append(FileProblem(
                "--policy-config", None, f"{name!r} is not a policy of the pack",
                f"write '{near[0]}'" if near else f"use one of {', '.join(known)}",
            ))  # fmt: skip
            continue
        properties = {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {}
        schema = json_format.MessageToDict(policies[name].configSchema) if name in policies else {}
        if properties and schema:
            for error in jsonschema.Draft7Validator({"type": "object", **schema}).iter_errors(properties):
                where = ".".join(str(p) for p in error.absolute_path) or "(the entry)"
                problems.append(FileProblem(
                    "--policy-config", None, f"{name}: {where}: {error.message}", "give each property the type the policy's schema declares"
                ))  # fmt: skip
    if problems:
        raise InvalidProjectFiles(problems)


def run_preview(
    stack: str,
    config: dict[str, Any] | None = None,
    pack: policy_harness.PolicyPackProcess | None = None,
    policy_overrides: dict[str, Any] | None = None,
    offline: tuple[dict[str, Any], list[str], list[str]] | None = None,
    wait: bool = True,
    program: Path = ROOT / "__main__.py",
) -> Preview:
    """Raises InvalidStackConfig / InvalidConfig when this stack's (or shared's) config is invalid.
    With `wait=False` the pack's last answers are left pending (`Preview.settle`), so a caller
    can render its reports while the pack analyzes the stack.

    An env stack reads the shared stack's outputs as the engine reads them from state: here from
    the shared stack file through the pure model (interlock_platform/tooling/shared_state.py), without running the
    shared program. With a `pack`, the preview's violations are filled in: the pack is configured
    from those outputs as soon as its interpreter is up (the program does not wait for it), and
    analyzes each resource as it registers, as the engine does, so it works while the program runs.
    `program`: another copy of the program (its folder holds its Pulumi.yaml), e.g. one with a change."""
    if pack is not None:
        _check_policy_config(pack, policy_overrides)
    if config is None:
        config, secrets, stood_in = offline or offline_config(stack)
    else:
        secrets, stood_in = _secret_keys(config), []
    references: dict[str, ProgramRun] = {}
    if config.get(f"{PROJECT}:role") != "environment":
        shared = shared_state(stack, config) if pack is not None else None  # the pack's config; the run is the stack
    else:
        shared_name = _shared_stack_file(stack, config)
        shared = shared_state(shared_name, offline_config(shared_name)[0])
        references[config[f"{PROJECT}:sharedStack"]] = shared
    if pack is not None and shared is not None:
        # configured once its interpreter is up, which the program does not wait for; a pack
        # that fails is raised by `analyze`, after the program, so config problems come first
        pack.stream(policy_configuration(shared.outputs, policy_overrides))
    run = run_program(
        stack, config, {name: ref.outputs for name, ref in references.items()}, program=program, secret_keys=secrets,
        on_register=pack.submit if pack is not None else None, secret_outputs={name: ref.secret_outputs for name, ref in references.items()},
    )  # fmt: skip
    p = Preview(run, shared if references and shared else run, stood_in=stood_in)
    if pack is not None:
        p.pending = pack.start_analysis(run.resources).result
    return p.settle() if wait else p


class PlatformStack(Mapping[str, Any]):
    """One platform env stack's outputs under every name a StackReference may give it:
    `<org>/interlock-platform/<env>` for any org, or `interlock-platform/<env>`."""

    def __init__(self, env: str, value: Any) -> None:
        self.env, self.value = env, value

    def _names_it(self, name: object) -> bool:
        parts = str(name).split("/")
        return len(parts) in (2, 3) and parts[-2:] == [PROJECT, self.env]

    def __contains__(self, name: object) -> bool:
        return self._names_it(name)

    def __getitem__(self, name: str) -> Any:
        if not self._names_it(name):
            raise KeyError(name)
        return self.value

    def __iter__(self) -> Iterator[str]:
        return iter([f"<org>/{PROJECT}/{self.env}"])

    def __len__(self) -> int:
        return 1


def project_program(root: Path) -> Path:
    """The program Pulumi runs for the project at `root`: Pulumi.yaml's `main` (a file, or a
    folder holding `__main__.py`, relative to the project), else the project's `__main__.py`."""
    try:
        project = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InvalidProjectFiles([FileProblem(str(root / "Pulumi.yaml"), None, f"cannot be read: {err}", "give a valid Pulumi.yaml")]) from None
    main = project.get("main") if isinstance(project, dict) else None
    path = root / str(main) if main else root
    program = path / "__main__.py" if path.is_dir() else path
    if not program.is_file():
        said = f"main: {main} names no program" if main else "the project has no __main__.py"
        raise InvalidProjectFiles([FileProblem(
            str(root / "Pulumi.yaml"), None, f"{said} ({program} does not exist)",
            "put the program in the project's __main__.py, or point `main:` at its file or at a folder holding __main__.py",
        )])  # fmt: skip
    return program


def run_project_preview_from_outputs(
    root: Path, stack: str, offline: tuple[dict[str, Any], list[str], list[str]], outputs: Mapping[str, Any], secret: set[str]
) -> Preview:
    """Another Pulumi project's stack (an app team's), its StackReference to the platform's env
    stack `stack` served `outputs` (read_platform_outputs), as the engine serves them from the
    stack's state: no platform checkout is read. Raises InvalidAppSpec for a spec the program refuses."""
    state, secret = as_engine_state(outputs, secret)
    config, secrets, stood_in = offline
    run = run_program(
        stack, config, PlatformStack(stack, state), program=project_program(root), project_root=root, secret_keys=secrets,
        secret_outputs=PlatformStack(stack, secret), instances={},
    )  # fmt: skip
    return Preview(run, run, stood_in=stood_in)


def run_project_preview(root: Path, stack: str, offline: tuple[dict[str, Any], list[str], list[str]]) -> Preview:
    """Another Pulumi project's stack (the app-team example), its StackReference to the
    platform's env stack `stack` served from that environment's offline preview. Raises
    InvalidAppSpec for a spec the program refuses, InvalidProjectFiles when the platform has no
    such environment. The policy pack is the platform's, written for the platform's stacks (it
    looks for the networks and NACLs a stack creates): it is not run here."""
    environments = [s for s in stack_names() if offline_config(s)[0].get(f"{PROJECT}:role") == "environment"]
    if stack not in environments:
        raise InvalidProjectFiles([FileProblem(
            str(root / f"Pulumi.{stack}.yaml"), None,
            f"stack '{stack}' reads the platform's env stack '{stack}', which has no stack file in {ROOT / 'stacks'}",
            f"name the app's stack after an environment: {', '.join(environments)}",
        )])  # fmt: skip
    env = run_preview(stack)
    config, secrets, stood_in = offline
    run = run_program(
        stack, config, PlatformStack(stack, env.run.outputs), program=project_program(root), project_root=root, secret_keys=secrets,
        secret_outputs=PlatformStack(stack, env.run.secret_outputs),
    )  # fmt: skip
    return Preview(run, env.shared, stood_in=stood_in)


def routes(run: ProgramRun) -> list[str]:
    """Each Swarm service's Interlock labels, one line per service: what the proxies will route."""
    lines = []
    for service in sorted(run.of_type("docker:index/service:Service"), key=lambda r: str(r.inputs.get("name"))):
        got = {item["label"]: item["value"] for item in service.inputs.get("labels", [])}
        extras = [
            f"{key.removeprefix('com.docker.lb.')}={value}"
            for key, value in got.items()
            if key.startswith("com.docker.lb.") and key not in (labels.LB_HOSTS, labels.LB_PORT, labels.LB_NETWORK, labels.LB_SERVICE_CLUSTER)
        ]
        joined = [n["id"] for n in service.inputs.get("taskSpec", {}).get("networksAdvanceds", [])]
        extras += [f"+network {n}" for n in joined if n != got.get(labels.LB_NETWORK)]
        lines.append(f"    {service.inputs.get('name')}: {got.get(labels.LB_HOSTS)} -> :{got.get(labels.LB_PORT)}" + "".join(f"  {e}" for e in extras))
    return ["  routes (Interlock labels):", *lines] if lines else []


def gateway_routes(run: ProgramRun) -> list[str]:
    """Each HTTPRoute, one line per route: the Gateway listener it attaches to, its hosts and
    paths, and where it sends them (a Service, or a redirect)."""

    def num(value: Any) -> Any:  # state keeps whole numbers as floats
        return int(value) if isinstance(value, float) and value.is_integer() else value

    lines = []
    for route in sorted(run.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"), key=lambda r: r.name):
        meta, spec = route.inputs.get("metadata", {}), route.inputs.get("spec", {})
        parents = ",".join(f"{p.get('namespace', meta.get('namespace'))}/{p.get('name')}:{p.get('sectionName', '*')}" for p in spec.get("parentRefs", []))
        for rule in spec.get("rules", []):
            paths = [m["path"]["value"] for m in rule.get("matches", []) if "path" in m] or ["/"]
            to = [f"{b.get('name')}:{num(b.get('port'))}" for b in rule.get("backendRefs", [])]
            for f in rule.get("filters", []):
                if f.get("type") == "URLRewrite":
                    to.append(f"rewrite {f['urlRewrite']['path'].get('replacePrefixMatch')}")
                if f.get("type") == "RequestRedirect":
                    r = f["requestRedirect"]
                    to.append(f"redirect {num(r.get('statusCode'))} {r.get('scheme')}://{r.get('hostname')}")
            hosts = ",".join(spec.get("hostnames", []))
            lines.append(f"    {meta.get('namespace')}/{meta.get('name')}: {hosts}{','.join(paths)} -> {'  '.join(to)}  via {parents}")
    return ["  routes (Gateway API HTTPRoutes):", *lines] if lines else []


def _secret_keys(config: dict[str, Any]) -> list[str]:
    return [k for k in config if k.split(":", 1)[-1] in SECRET_KEYS]


def _mask(value: Any) -> Any:
    from pulumi.runtime.rpc import is_rpc_secret

    if is_rpc_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def stack_outputs(run: ProgramRun) -> dict[str, Any]:
    """The stack's outputs as `pulumi stack output --json` prints them: secrets as "[secret]", and
    whole numbers (which state keeps as floats) as integers, as Go's JSON encoder writes them."""

    def printed(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: printed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [printed(v) for v in value]
        return value

    return {k: SECRET if k in run.secret_outputs else printed(_mask(v)) for k, v in run.outputs.items()}


def to_json(p: Preview) -> dict[str, Any]:
    run = p.run
    return {
        "project": run.project,
        "stack": run.stack,
        "resources": [  # by URN, as ProgramRun keeps them: reviewers diff this file
            {"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom, "inputs": _mask(r.inputs)}
            for r in run.resources
        ],
        "outputs": stack_outputs(run),
        "violations": p.violations,
    }


def _quotas_and_projection(p: Preview) -> tuple[int, int, dict[str, tuple[int, int]]]:
    shared = parse_shared(p.shared.stack, p.shared.outputs, from_outputs=True)
    projected = {}
    names = {"management": "shared-fw-management", "management-peers": "shared-fw-management-peers"}
    names.update({endpoint_sg(s): f"shared-endpoints-{s.replace('.', '-')}-sg" for s in shared.interface_endpoints})
    for role, rules in firewall_plan.projected_management_rules(shared).items():
        projected[names[role]] = (sum(r.direction == "ingress" for r in rules), sum(r.direction == "egress" for r in rules))
    return shared.quotas.security_group_rules_per_direction, shared.quotas.nacl_rules_per_direction, projected


SERVICE_CLUSTER = "pulumi-python:dynamic/interlock:ServiceCluster"
DEFAULT_INTERLOCK_BASE = ROOT / "tests" / "fixtures" / "interlock" / "ucp-3.2-default.toml"


def render_interlock(p: Preview, base: str, captured_template: str | None = None) -> str | None:
    """The config ucp-interlock runs after this stack's change: the shared stack's settings
    (capture the template, retire `default`), then this stack's section, applied to `base` by
    the same transform the provider runs. None for a stack without a service cluster."""
    interlock_toml.parse(base)  # a base the provider would refuse is refused for every stack
    clusters = p.run.of_type(SERVICE_CLUSTER)
    if not clusters:
        return None
    settings = p.shared.outputs["interlock"]  # the shared stack's Interlock settings, as it exports them
    template = interlock_toml.template_section(base, settings["template"]) or captured_template
    text = interlock_toml.remove(base, "default") if settings["retireDefaultExtension"] else base
    for cluster in clusters:
        text = interlock_toml.merge(text, spec_of(cluster.inputs), template)
    return text


def masked(p: Preview, masker: Masker) -> Preview:
    """The preview with every secret-looking value masked (interlock_platform/tooling/masking.py), in the resources,
    the outputs and the violations' messages."""

    def run_of(run: ProgramRun) -> ProgramRun:
        resources = [masker.registration(r) for r in run.resources]
        return dataclasses.replace(run, resources=resources, outputs=masker.value(run.outputs))

    def masked_violations(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**v, "message": masker.text(v["message"])} for v in violations]

    run = run_of(p.run)
    shared = run if p.shared is p.run else run_of(p.shared)  # report_files tells the shared stack by identity
    pending = p.pending
    return Preview(
        run, shared, masked_violations(p.violations), p.stood_in, (lambda: masked_violations(pending())) if pending else None
    )


def report_files(p: Preview, out: Path, interlock: str | None, masker: Masker | None = None) -> dict[Path, str]:
    """What a reviewer reads, by path under `out`, each text through `masker` (by default, the
    secret-looking patterns alone). `interlock`: the rendered Interlock config
    (`render_interlock`), None for the shared stack."""
    masker = masker or Masker()
    names = report.security_group_names([p.shared, p.run])
    files = {out / "security" / "matrix.md": report.security_matrix_markdown(p.run, names)}
    if interlock is not None:  # a file reviewers and job summaries show: no Interlock credential in it
        files[out / "interlock" / "config.toml"] = interlock_toml.redacted(interlock)
    for relative, manifest in report.kubernetes_manifests(p.run).items():
        files[out / "kubernetes" / relative] = yaml.safe_dump(manifest, sort_keys=False)
    foreign = [] if p.shared is p.run else p.shared.resources  # the stacks it reads by StackReference
    template = cloudformation.render(p.run.stack, p.run.resources, foreign)
    files[out / "cloudformation" / "template.json"] = json.dumps(template, indent=2) + "\n"
    if report.load_balancer_map(p.run):
        files[out / "security" / "load-balancer.md"] = report.load_balancer_markdown(p.run)
    # as `pulumi stack output --json` prints them: what an app team's --platform-outputs reads
    files[out / "stack-outputs.json"] = json.dumps(stack_outputs(p.run), indent=2) + "\n"
    return {path: masker.text(text) for path, text in files.items()}


def check_destinations(args: argparse.Namespace) -> None:
    """`--out` and `--json`, refused before anything runs when they cannot be written
    (out_folder.OutProblem naming the path and the fix)."""
    if args.out is not None:
        out_folder.check(args.out)
    if args.json is not None:
        if args.json.is_dir():
            raise out_folder.OutProblem(args.json, "--json names a folder", "give a file name, e.g. out/preview.json")
        if args.out is not None and args.json.resolve().is_relative_to(args.out.resolve()):
            inside = args.json.resolve().relative_to(args.out.resolve())
            if inside.parts and inside.parts[0] in out_folder.ENTRIES:
                raise out_folder.OutProblem(
                    args.json, f"--json is inside {inside.parts[0]}, which --out replaces", f"write it beside them, e.g. {args.out / 'preview.json'}"
                )  # fmt: skip


def write_files(out: Path | None, files: Mapping[Path, str]) -> list[Path]:
    return out_folder.write(out, files) if out is not None else []


def main(argv: list[str] | None = None, prog: str = "interlock-platform preview") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the stack to preview: a stacks/Pulumi.<stack>.yaml file")
    parser.add_argument(
        "--project", type=Path,
        help="preview this Pulumi project instead (e.g. examples/app-team); its StackReference to the platform's env stack is served from that environment's offline preview",
    )  # fmt: skip
    parser.add_argument(
        "--platform-outputs", type=Path, metavar="FILE",
        help="with --project: the platform env stack's outputs, as `pulumi stack output --json -s <org>/interlock-platform/<stack>` "
        "prints them (or a platform preview's --out DIR/stack-outputs.json); then no platform checkout is needed",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="write resources, outputs and violations as JSON to this file")
    parser.add_argument(
        "--out",
        type=Path,
        help="write what a reviewer reads (security matrix, load balancer port map, Interlock config, Kubernetes manifests, CloudFormation rendering) under this directory",
    )
    parser.add_argument(
        "--interlock-base", type=Path, default=DEFAULT_INTERLOCK_BASE,
        help="the running Interlock config to merge into (default: the UCP 3.2 default config in tests/fixtures)",
    )  # fmt: skip
    parser.add_argument(
        "--policy-config", type=Path,
        help="a policy-config file, as `pulumi preview --policy-pack-config` takes (e.g. to change enforcement levels)",
    )  # fmt: skip
    parser.add_argument(
        "--interlock-template", type=Path,
        help="the template the shared stack captured, for a base that no longer has it (`pulumi stack output interlockTemplate --show-secrets -s shared`)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.project is not None:
        return _main_project(args)
    if args.platform_outputs is not None:
        parser.error("--platform-outputs goes with --project DIR (an app team's project); a platform stack reads its own stack files")
    try:
        require_platform("a preview of the platform's stacks")
        stacks = stack_names()
        if args.stack not in stacks:
            folder = project_file().get("stackConfigDir", ".")  # Pulumi.yaml's; "." when it names none
            message = (
                f"error: {Path(folder) / f'Pulumi.{args.stack}.yaml'}: no stack '{args.stack}'; the stacks are "
                f"{', '.join(stacks) or 'none'} (files Pulumi.<stack>.yaml in '{folder}', Pulumi.yaml's stackConfigDir). "
                f"Fix: use one of them, or create the stack's file (`pulumi stack init {args.stack}`)"
            )
            print(_shortened(Masker().text(message)), file=sys.stderr)  # the folder is a value of Pulumi.yaml
            return EXIT_INVALID
        check_destinations(args)
        config, secrets, stood_in, warnings = offline_stack(args.stack)
        overrides = policy_config.read_overrides(args.policy_config) if args.policy_config else None
        base = _read_text(args.interlock_base, "--interlock-base", "the running Interlock config (`docker config inspect`)")
        template = (
            _read_text(args.interlock_template, "--interlock-template", "the captured template")
            if args.interlock_template
            else None
        )
    except InvalidProjectFiles as err:
        return _invalid(err.problems)
    except out_folder.OutProblem as err:
        return _unwritable(err)
    for warning in warnings:
        print(_shortened(Masker().text(warning)), file=sys.stderr)
    pack = policy_harness.PolicyPackProcess()  # its interpreter starts while the program runs
    try:
        p = run_preview(args.stack, pack=pack, policy_overrides=overrides, offline=(config, secrets, stood_in), wait=False)
        fleet.check_fleet(args.stack, config)  # a second layer over every stack file, after the program's own checks
        masker = Masker(found_in([config, *(r.inputs for r in p.run.resources + p.shared.resources), p.run.outputs, p.shared.outputs]))
        p = masked(p, masker)  # before anything is rendered: every output reads the masked copy
        interlock = render_interlock(p, base, template)  # checked with or without --out
        files = report_files(p, args.out, interlock, masker) if args.out else {}  # while the pack analyzes the stack
        p.settle()  # the pack's verdicts: a pack that failed raises here, before any file is written
        written = write_files(args.out, files)
    except policy_harness.PolicyPackError as err:
        print(Masker().text(f"error: stack '{args.stack}': {err}"), file=sys.stderr)
        print("  the policies were not checked", file=sys.stderr)
        if isinstance(err, policy_harness.PolicyPackDidNotStart):
            requirements = ROOT / "policy" / "requirements.txt"  # the pack runs under this interpreter (policy_harness)
            print(f"  install the pack's requirements: {sys.executable} -m pip install -r {requirements}", file=sys.stderr)
        return EXIT_PACK_FAILED
    except InterlockConfigError as err:
        print(
            f"error: stack '{args.stack}': {args.interlock_base}: the Interlock config would be refused: {Masker().text(str(err))}. "
            "Fix: give --interlock-base the config ucp-interlock runs, as TOML "
            "(docker config inspect --format '{{printf \"%s\" .Spec.Data}}' <its config>), or change what the message names",
            file=sys.stderr,
        )
        return EXIT_INVALID
    except (InvalidProjectFiles, InvalidStackConfig, InvalidConfig) as err:
        return _invalid(err.problems)
    except out_folder.OutProblem as err:
        return _unwritable(err)
    finally:
        pack.close()

    sg_quota, nacl_quota, projected = _quotas_and_projection(p)
    names = report.security_group_names([p.shared, p.run])
    print(masker.text(report.summary(p.run, names, sg_quota, nacl_quota, projected, p.violations)))
    return _finish(p, args, masker, written)


def _main_project(args: argparse.Namespace) -> int:
    """`--project DIR`: another project's stack; exit 0, or 2 for invalid input (a bad app spec)."""
    root = args.project.resolve()
    try:
        if not (root / "Pulumi.yaml").is_file():
            raise InvalidProjectFiles(
                [FileProblem(str(args.project), None, "holds no Pulumi.yaml", "give the folder of a Pulumi project, e.g. examples/app-team")]
            )
        stacks = stack_names(root)
        if args.stack not in stacks:
            raise InvalidProjectFiles([FileProblem(
                str(args.project / f"Pulumi.{args.stack}.yaml"), None, f"no stack '{args.stack}'",
                f"use one of {', '.join(stacks) or 'none'}, or create the stack's file (`pulumi stack init {args.stack}`)",
            )])  # fmt: skip
        check_destinations(args)
        project_program(root)  # a program Pulumi would not find is refused before anything runs
        config, secrets, stood_in, warnings = offline_project_stack(args.stack, root)
        if args.platform_outputs is not None:
            platform = read_platform_outputs(args.platform_outputs, args.stack)
        else:
            require_platform("an app's preview without --platform-outputs FILE (served from the platform's own preview)")
    except InvalidProjectFiles as err:
        return _invalid(err.problems)
    except out_folder.OutProblem as err:
        return _unwritable(err)
    for warning in warnings:
        print(_shortened(Masker().text(warning)), file=sys.stderr)
    try:
        if args.platform_outputs is not None:
            p = run_project_preview_from_outputs(root, args.stack, (config, secrets, stood_in), *platform)
        else:
            p = run_project_preview(root, args.stack, (config, secrets, stood_in))
        masker = Masker(found_in([config, *(r.inputs for r in p.run.resources), p.run.outputs]))
        p = masked(p, masker)
        written = write_files(args.out, report_files(p, args.out, None, masker) if args.out else {})
    except InvalidAppSpec as err:
        return _invalid([f"{args.project / f'Pulumi.{args.stack}.yaml'}: {problem}" for problem in err.problems])
    except (InvalidProjectFiles, InvalidStackConfig, InvalidConfig) as err:
        return _invalid(err.problems)
    except out_folder.OutProblem as err:
        return _unwritable(err)
    except pulumi.RunError as err:  # what the Pulumi CLI prints without a traceback: the program refused its config
        return _invalid([f"{args.project / f'Pulumi.{args.stack}.yaml'}: {Masker().text(str(err))}"])
    custom = [r for r in p.run.resources if r.custom and r.type != "pulumi:pulumi:StackReference"]
    against = f"the outputs in {args.platform_outputs}" if args.platform_outputs else "offline preview"
    lines = [f"{p.run.project} / {p.run.stack}: {len(custom)} resources, against the platform's {args.stack} stack ({against})"]
    lines += [f"    {n:>4}  {t}" for t, n in sorted(Counter(r.type for r in custom).items())]
    lines += routes(p.run) + gateway_routes(p.run)
    lines.append("  policy pack: not run (it checks the platform's own stacks)")
    print(masker.text("\n".join(lines)))
    return _finish(p, args, masker, written)


def _finish(p: Preview, args: argparse.Namespace, masker: Masker, written: list[Path]) -> int:
    """What every preview prints after its summary: the stood-in secrets, the JSON and the files
    it wrote; then its exit status."""
    if p.stood_in:
        print(f"  secrets not in the stack file, stood in for by a placeholder: {', '.join(k.split(':', 1)[1] for k in p.stood_in)}")
    if args.json:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(masker.text(json.dumps(to_json(p), indent=2, sort_keys=False) + "\n"))
        except OSError as err:
            return _unwritable(out_folder.OutProblem(args.json, f"--json cannot be written ({err.strerror})", "give a file you can write"))
        print(f"  wrote {args.json}")
    for path in written:
        print(f"  wrote {path}")
    return p.exit_code


def _unwritable(err: out_folder.OutProblem) -> int:
    print(f"error: {err}", file=sys.stderr)
    return EXIT_INVALID


def _invalid(problems: list[Any]) -> int:
    print(
        f"error: the configuration is invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''}); nothing was registered:",
        file=sys.stderr,
    )
    for problem in problems[:MAX_PROBLEMS_SHOWN]:  # a message may quote a value: a pasted key is masked here too
        print(_shortened(Masker().text(f"  - {problem}")), file=sys.stderr)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN:,} more; fix these first", file=sys.stderr)
    return EXIT_INVALID


# A list repeated 300 times gave 405,000 overlap problems (20 MB of stderr); the first ones say what to fix
MAX_PROBLEMS_SHOWN = 100


def _shortened(text: str, longest: int = 200) -> str:
    """A message that quotes a megabyte-long value (a fuzzed aws:region quoted it twice) keeps
    its words, and shows each long value's ends."""
    return re.sub(
        rf"\S{{{longest + 1},}}", lambda m: f"{m.group(0)[:60]}...({len(m.group(0)):,} characters)...{m.group(0)[-20:]}", text
    )


def _read_text(path: Path, flag: str, what: str) -> str:
    """An Interlock config named on the command line, as text (UTF-8, as Interlock reads it), or
    InvalidProjectFiles naming the flag."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InvalidProjectFiles(
            [FileProblem(str(path), None, f"{flag}: cannot be read ({err.strerror})", f"give {what}")]
        ) from None
    try:
        return interlock_toml.decode(data, "the file")
    except InterlockConfigError as err:
        raise InvalidProjectFiles([FileProblem(str(path), None, f"{flag}: {err}", f"give {what} as UTF-8 TOML")]) from None


def exit_without_teardown(code: int) -> NoReturn:
    """Leave as soon as the output is flushed. The interpreter's teardown frees every object the
    provider SDKs loaded, one by one: ~0.8 s for an env preview, a third of its wall time, for a
    process that is about to end anyway (mypy ends the same way). The policy pack is closed and
    every file written and closed before this."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_without_teardown(main())
