"""The stack outputs are declared once (the models in interlock_platform/core/outputs.py, which
generate docs/stack-outputs.md): the stacks export exactly what is declared, of the declared
types, and what the env stacks and app teams read of another stack is declared there too."""

from __future__ import annotations

import pytest

from interlock_platform.core.app_labels import EnvironmentContract
from interlock_platform.core.config_keys import ENVIRONMENT, SHARED
from interlock_platform.core.model import REGISTRY_OUTPUTS
from interlock_platform.core.outputs import BY_ROLE, MODELS, OUTPUTS
from tests.conftest import STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_every_export_is_declared_and_every_declared_export_exists(preview, stack):
    exported = set(preview(stack).run.outputs)
    declared = BY_ROLE[SHARED if stack == "shared" else ENVIRONMENT]
    names = {o.name for o in declared}
    optional = {o.name for o in declared if o.optional}
    assert exported - names == set(), f"exported but not declared in outputs.py: {sorted(exported - names)}"
    assert names - exported - optional == set(), f"declared but not exported by {stack}: {sorted(names - exported - optional)}"


def test_what_other_stacks_read_is_declared_and_stable():
    shared = {o.name: o for o in BY_ROLE[SHARED]}
    env = {o.name: o for o in BY_ROLE[ENVIRONMENT]}
    for name in REGISTRY_OUTPUTS:  # an env stack validates against these before it registers anything
        assert name in shared and shared[name].stable, name
    for name in EnvironmentContract.OUTPUTS:  # an app team's validate() reads these
        assert name in env and env[name].stable, name


def test_every_output_has_a_type_and_a_meaning_once():
    assert len({(o.role, o.name) for o in OUTPUTS}) == len(OUTPUTS)
    assert all(o.type and o.meaning for o in OUTPUTS)


@pytest.mark.parametrize("stack", STACKS)
def test_every_export_has_its_declared_type(preview, stack):
    """The values, as the engine returns them (numbers as floats), validate against the role's
    output model: a list where a map is declared, or a registry entry of the wrong shape, fails."""
    role = SHARED if stack == "shared" else ENVIRONMENT
    outputs = preview(stack).run.outputs
    MODELS[role].model_validate(outputs)
    broken = {**outputs, next(o.name for o in BY_ROLE[role] if o.type.startswith("map")): ["not", "a", "map"]}
    with pytest.raises(ValueError):
        MODELS[role].model_validate(broken)
