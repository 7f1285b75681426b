"""Shared helpers: the reference stack configs, and cached offline previews of them."""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from interlock_platform.core import k8s_manifests
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.model import REGISTRY_OUTPUTS, EnvironmentTopology, SharedTopology
from interlock_platform.core.topology import PROJECT, parse_environment, parse_shared
from interlock_platform.tooling.preview import Preview, run_preview
from interlock_platform.tooling.stack_files import ROOT, offline_config
from tools import test_engine

STACKS = ("shared", "dev", "test", "prod")
ENVIRONMENTS = ("dev", "test", "prod")
SHARED_REF = "acme/interlock-platform/shared"

# Whatever engine the user's shell points at (after a runbook's `source env.sh`: a real cluster),
# this process and every command it starts see only the tests' private engine.
test_engine.confine(os.environ)

# The real-Swarm fixtures (`client`, `interlock`) for every test module that asks for them
pytest_plugins = ["tests.swarm_support"]

# The suite's tiers, by what a module's tests need (registered in pyproject.toml); a module in
# more than one takes the heaviest: `pytest -m "not docker"` runs all but the real-Swarm tests.
#   pure: the pure core and the pack's helpers, in process, no program run
#   mock: the program under the SDK's mock runtime (offline previews without the pack)
#   cli: commands run as a user runs them (python -m interlock_platform preview, the scanners, a subprocess)
#   pack: the policy pack over its gRPC protocol, in its own process
#   docker: a real Docker engine in Swarm mode, started by tools/test.sh
TIERS = {
    "pure": (
        "test_boundaries", "test_config_models", "test_engine_connection", "test_gateway_api_rules", "test_interlock_release",
        "test_interlock_toml",
        "test_policy_helpers", "test_ports", "test_topology",
    ),
    "mock": (
        "test_app_label_grammar", "test_app_routing", "test_app_team", "test_cloudformation", "test_config_corpus",
        "test_deploying", "test_group_isolation", "test_iam_policy", "test_shared_state", "test_stack_outputs", "test_stacks",
    ),
    "cli": (
        "test_app_preview", "test_app_routes", "test_architecture", "test_cli_config", "test_command", "test_gateway", "test_installed", "test_kubernetes",
        "test_malformed_input", "test_masking", "test_out_folder", "test_platform_outputs",
        "test_preview", "test_project_files", "test_shared_names", "test_swarm_stack", "test_ucp_grants", "test_workflows",
    ),
    "pack": (  # the corpus: a CLI sample too
        "test_fuzz", "test_policy", "test_policy_corpus", "test_policy_properties", "test_tenant_rights", "test_vpc_endpoints",
        "test_windows",
    ),
    "docker": (
        "test_benchmarks", "test_swarm", "test_swarm_app_services", "test_swarm_layer7", "test_swarm_rotation_faults",
        "test_swarm_steady", "test_test_engine",
    ),
}  # fmt: skip
TIER_OF = {module: tier for tier, modules in TIERS.items() for module in modules}

# Hypothesis draws the same examples on every run (CI reproducible); `--hypothesis-profile=explore`
# draws new ones, to look for what the fixed ones miss.
settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
settings.register_profile("explore", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test gets its module's tier marker; a module not in TIERS is an error, not untiered."""
    for item in items:
        module = item.path.stem
        if module not in TIER_OF:
            raise pytest.UsageError(f"{item.path.name} has no tier: add it to TIERS in tests/conftest.py")
        item.add_marker(getattr(pytest.mark, TIER_OF[module]))


def raw(stack: str) -> dict[str, Any]:
    """A stack's `interlock-platform:` keys, unprefixed, as the program reads them (decoded)."""
    prefix = f"{PROJECT}:"
    config, _, _ = offline_config(stack)
    return {k[len(prefix) :]: copy.deepcopy(v) for k, v in config.items() if k.startswith(prefix)}


def full_config(stack: str, **overrides: Any) -> dict[str, Any]:
    """A stack's full config with some `interlock-platform:` keys replaced (None removes one)."""
    cfg = copy.deepcopy(offline_config(stack)[0])
    for key, value in overrides.items():
        if value is None:
            cfg.pop(f"{PROJECT}:{key}", None)
        else:
            cfg[f"{PROJECT}:{key}"] = value
    return cfg


def manifest_path(m: dict[str, Any]) -> str:
    """Where network-config-analyzer is given a manifest: `<namespace>/<kind>-<name>.yaml`, a
    namespace itself under its own name."""
    return f"{m['metadata'].get('namespace', m['metadata']['name'])}/{m['kind'].lower()}-{m['metadata']['name']}.yaml"


def team_manifests(topo: EnvironmentTopology) -> dict[str, dict[str, Any]]:
    """An environment's team manifests as network-config-analyzer is given them, by path: each
    team's on-boarding and the ingress policy of each of its ingress apps."""
    rendered = {}
    for team in topo.teams:
        for m in k8s_manifests.onboarding(team, topo.name, topo.env.collection_node_selector, topo.kubernetes):
            rendered[manifest_path(m)] = m
        for app in (a for a in team.apps if a.ingress):
            m = k8s_manifests.app_ingress_policy(team.namespace, app, topo.kubernetes.ingress_selector)
            rendered[manifest_path(m)] = m
    return rendered


@cache
def reference_shared() -> SharedTopology:
    return parse_shared("shared", raw("shared"))


def assert_registry_is_the_config(outputs: dict[str, Any], config: SharedTopology) -> None:
    """The shared stack's `outputs`, read back as an env stack reads them, hold the registry and
    settings of `config` (the shared stack's parsed config): what the outputs do not carry (the
    UCP connection, NAT, flow-log and the managers' egress settings) is left out of the comparison."""
    read = parse_shared(config.stack, {k: outputs[k] for k in REGISTRY_OUTPUTS}, from_outputs=True)
    not_exported = ("ucp", "nat_gateways", "flow_log_retention_days", "flow_log_kms_key_arn", "management_internet_egress", "proxy")
    assert dataclasses.replace(read, **{f: getattr(config, f) for f in not_exported}) == config


def shared_outputs() -> dict[str, Any]:
    return copy.deepcopy(reference_shared().to_outputs())


def refused_dev(cfg: dict[str, Any]) -> dict[str, str]:
    """dev with config `cfg` (unprefixed keys), which must be refused: each problem by its key."""
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    return {p.key: str(p) for p in err.value.problems}


@cache
def _preview(stack: str) -> Preview:
    return run_preview(stack)


@cache
def _environment_isolated(stack: str) -> Preview:
    """An env stack as it is with `isolation: environment` (the default): the layout every
    environment had before application groups got firewalls of their own."""
    groups = [{k: v for k, v in g.items() if k != "allowFrom"} for g in raw(stack)["applicationGroups"]]
    return run_preview(stack, config=full_config(stack, isolation=None, applicationGroups=groups))


@pytest.fixture
def environment_isolated():
    return _environment_isolated


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def preview():
    return _preview


def preview_cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`python -m interlock_platform preview ARGS` as a user runs it, in `cwd` (the project, or a scratch copy)."""
    return subprocess.run(
        [sys.executable, "-m", "interlock_platform", "preview", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def copy_project(dest: Path) -> Path:
    """A scratch copy of the project to edit (stack files, program), without caches or venvs."""
    shutil.copytree(
        ROOT,
        dest,
        ignore=shutil.ignore_patterns(
            ".git", "__pycache__", ".pytest_cache", "venv", ".venv", ".ruff_cache", ".hypothesis", "out", ".scanners", "build"
        ),
    )
    return dest
