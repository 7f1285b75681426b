"""tools/sdk_speedups.py replaces SDK internals for speed; these hold each equal to the SDK's."""

from __future__ import annotations

import subprocess
import sys

from tools import sdk_speedups
from tools.stack_files import ROOT


def test_stack_trace_is_the_sdks_for_every_registration(monkeypatch):
    """Run the dev preview (shared, then dev) computing both traces for every resource."""
    from pulumi.runtime import resource as pulumi_resource

    from tools.preview import run_preview

    fast, sdk = sdk_speedups.stack_trace, sdk_speedups.sdk_stack_trace
    assert sdk.__module__ == pulumi_resource.__name__ and sdk is not fast
    compared: list[int] = []

    def both() -> object:
        ours, theirs = fast(), sdk()
        assert ours == theirs
        compared.append(len(theirs.frames))
        return theirs

    monkeypatch.setattr(sdk_speedups, "stack_trace", both)
    monkeypatch.setattr(pulumi_resource, "_get_stack_trace", pulumi_resource._get_stack_trace)  # restored after
    preview = run_preview("dev")
    registered = len(preview.run.resources) + len(preview.shared.resources)
    assert len(compared) >= registered and max(compared) > 3  # every resource, with user frames


def _empty() -> None: ...


def _empty_doc() -> None:
    """Only a docstring."""


def _setter(self, value) -> None:  # the shape of a generated setter
    self.value = value


def _returns_a_constant() -> int:
    return 1


def test_is_empty_function_agrees_on_each_shape():
    cases = [_empty, _empty_doc, lambda: None, lambda: ..., _setter, _returns_a_constant, lambda: 1]
    assert [sdk_speedups.is_empty_function(f) for f in cases] == [sdk_speedups.sdk_is_empty_function(f) for f in cases]
    assert sdk_speedups.is_empty_function(_empty) and sdk_speedups.is_empty_function(_empty_doc)
    assert not sdk_speedups.is_empty_function(_setter)


AGREES_WHILE_LOADING = """
import pulumi._utils as u
from tools import sdk_speedups
calls, differ = [0], []
def both(fn):
    calls[0] += 1
    theirs = sdk_speedups.sdk_is_empty_function(fn)
    if sdk_speedups.is_empty_function(fn) != theirs:
        differ.append(fn.__qualname__)
    return theirs
u.is_empty_function = both
import pulumi_aws
pulumi_aws.ec2.Vpc, pulumi_aws.lb.LoadBalancer, pulumi_aws.vpc.SecurityGroupIngressRule
import pulumi_docker, pulumi_kubernetes.core.v1, pulumi_kubernetes.networking.v1, pulumi_kubernetes.rbac.v1
print(calls[0], differ)
"""


def test_is_empty_function_agrees_on_every_property_the_provider_sdks_declare():
    """In a fresh interpreter, so the SDKs load under the comparison."""
    out = subprocess.run(
        [sys.executable, "-c", AGREES_WHILE_LOADING], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split(" ", 1)
    assert int(out[0]) > 10_000 and out[1].strip() == "[]"
