"""The tree is the architecture, and these hold it: the pure core imports no Pulumi, dependencies
run one way with no cycles (imports inside functions included), the program never imports the
offline tooling, and state written before the package move still loads."""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
from pathlib import Path

import dill
import pulumi.dynamic as dyn
import pytest

from interlock_platform.core.model import REGISTRY_OUTPUTS
from interlock_platform.tooling.policy_config import offline_shared_outputs
from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import assert_registry_is_the_config, reference_shared

PACKAGE = ROOT / "interlock_platform"
LAYERS = ("aws", "swarm", "kubernetes")
TOOLING = PACKAGE / "tooling"  # the offline tooling, shipped in the package, never imported by the program


def program_files() -> list[Path]:
    """The program: the repository's __main__.py and the package, but for its tooling and the
    `python -m interlock_platform` entry point, which runs the tooling."""
    return [
        ROOT / "__main__.py",
        *(p for p in PACKAGE.rglob("*.py") if TOOLING not in p.parents and p != PACKAGE / "__main__.py"),
    ]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import statement is (functions included)."""
    return imports_in(path.read_text(), module_name(path).rsplit(".", 1)[0])


def imports_in(source: str, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return found


def graph(*folders: Path) -> dict[str, set[str]]:
    modules = {module_name(p): p for folder in folders or (PACKAGE,) for p in folder.rglob("*.py")}
    return {
        name: {m for m in imports(path) if m in modules and m != name and not name.startswith(m + ".")}
        for name, path in modules.items()
    }


def test_the_core_imports_nothing_from_pulumi_or_the_layers():
    for path in (PACKAGE / "core").rglob("*.py"):
        outside = {
            m for m in imports(path)
            if m.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_docker", "pulumi_kubernetes", "docker", "tools", "policy")
            or (m.startswith("interlock_platform.") and not m.startswith("interlock_platform.core"))
        }  # fmt: skip
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}: the core stays pure"


def test_importing_the_core_loads_no_pulumi():
    """The same, as Python sees it: importing every core module loads no Pulumi SDK."""
    core = sorted(module_name(p) for p in (PACKAGE / "core").glob("*.py"))
    code = f"import sys, importlib; [importlib.import_module(m) for m in {core!r}]; print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_there_is_no_import_cycle_even_inside_functions():
    """In the package and in the offline tooling."""
    edges = graph(PACKAGE, ROOT / "tools")
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])


def test_dependencies_run_one_way():
    """core <- stack_config <- layers <- the program; a layer never imports another layer."""
    for name, deps in graph().items():
        layer = name.split(".")[1] if name.count(".") >= 1 else ""
        for dep in deps:
            dep_layer = dep.split(".")[1] if dep.count(".") >= 1 else ""
            if layer in ("core", "stack_config"):
                assert dep_layer == "core", f"{name} imports {dep}"
            elif layer in LAYERS:
                assert dep_layer in ("core", "stack_config", layer), f"{name} imports {dep}: layers do not import each other"


def test_the_program_never_imports_the_offline_tooling():
    """Not tools/, tests/, bench/, policy/, nor the tooling the package ships (imports inside
    functions included)."""
    files = program_files()
    assert ROOT / "interlock_platform" / "swarm" / "interlock_service.py" in files and not any(TOOLING in p.parents for p in files)
    for path in files:
        bad = {
            m for m in imports(path)
            if m.split(".")[0] in ("tools", "tests", "bench", "policy") or m == "interlock_platform.tooling"
            or m.startswith("interlock_platform.tooling.") or m == "interlock_platform.__main__"
        }  # fmt: skip
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_import_rule_catches_the_tooling():
    """The hostile twin: a layer module importing the tooling, even inside a function or
    relatively, is found; its benign twin (the layer's own modules) is not."""
    source = "def f():\n    from interlock_platform.tooling import preview\n    from ..tooling.stack_files import ROOT\n    from . import layer\n"
    found = imports_in(source, "interlock_platform.swarm")
    assert {"interlock_platform.tooling", "interlock_platform.tooling.stack_files"} <= found
    assert "interlock_platform.swarm.layer" in found


def test_loading_the_program_loads_no_tooling():
    """As Python sees it: importing every module of the program loads nothing of the tooling."""
    modules = sorted(module_name(p) for p in program_files() if p != ROOT / "__main__.py")
    code = f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; print(sorted(m for m in sys.modules if m.startswith('interlock_platform.tooling') or m.split('.')[0] == 'tools'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_providers_pickled_into_state_before_the_package_move_still_load():
    """Pulumi keeps each dynamic provider in state as a dill pickle that names its module; stacks
    deployed before the move name `components.providers.*`. They load, as the new classes."""
    fixture = json.loads((ROOT / "tests" / "fixtures" / "state" / "providers-before-the-package.json").read_text())
    for name, serialized in fixture["providers"].items():
        raw = base64.b64decode(serialized)
        assert b"components.providers" in raw  # what today's state holds
        provider = dill.loads(raw)
        assert type(provider).__name__ == name
        assert type(provider).__module__.startswith("interlock_platform.swarm.providers.")
        provider.configure(dyn.ConfigureRequest(dyn.Config({}, "interlock-platform")))  # as the provider host does
        assert provider.connection.host is None  # no ucpHost: the engine from DOCKER_HOST


def test_the_shared_outputs_env_stacks_read_come_from_the_pure_model(preview):
    """What `pulumi stack output -s shared` gives the env stacks and the policy config (the
    registry and settings), read back as an env stack reads it, is the topology the shared
    stack's config describes: no key lost, renamed or changed on the way through the state."""
    run = preview("shared").run
    assert set(REGISTRY_OUTPUTS) <= set(run.outputs)
    assert set(offline_shared_outputs()) == set(REGISTRY_OUTPUTS)
    assert_registry_is_the_config(run.outputs, reference_shared())


# tomlkit has no public positional insert: the one private name the program uses, outside any SDK
KNOWN_PRIVATE = {("interlock_platform/core/interlock_toml.py", "_insert_after")}


def test_the_program_uses_no_private_names_of_the_sdks_or_libraries():
    """Public API only: no `from x._y import`, no `_name` imported, no `obj._name` on anything but
    our own objects (self, cls). An SDK upgrade must not be able to break the program silently."""
    found = []
    for path in program_files():
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private or any(part.startswith("_") for part in node.module.split(".")):
                    found.append(f"{where}:{node.lineno}: from {node.module} import {', '.join(a.name for a in node.names)}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value.id if isinstance(node.value, ast.Name) else ""
                if owner not in ("self", "cls") and (where, node.attr) not in KNOWN_PRIVATE:
                    found.append(f"{where}:{node.lineno}: .{node.attr}")
    assert not found, "private names in the program:\n" + "\n".join(found)
