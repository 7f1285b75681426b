"""Faster equivalents of three costs the Pulumi Python SDK pays in-process, for the offline tools.

The offline preview runs the program under the SDK's mock runtime, where nothing waits on a
network: what is left is the SDK's own Python. Profiling a dev preview (bench/preview.py) put
most of the time beyond the imports in three places, each replaced here by something that
gives the same answer:

- `pulumi.runtime.resource._get_stack_trace`, called for every resource, builds the stack with
  `traceback.extract_stack`, which stats every file on the stack and reads its source lines.
  The engine keeps only each frame's file and line; `stack_trace` walks the frames directly.
- `pulumi._utils.is_empty_function`, called for every property of every generated input type
  while a provider SDK loads (23,000 times for ec2, lb and Kubernetes), copies the function's
  constants before it compares bytecode. `is_empty_function` compares the bytecode first.
- The garbage collector: loading the provider SDKs leaves about a million long-lived objects,
  and each full collection walks them all. With the defaults (700, 10, 10) an env preview ran
  five, ~0.1 s each. `tune_gc_for_a_short_run` sets thresholds for a process that runs one
  preview and exits; the dev preview's peak memory stays within a few MiB of the default's.

tests/test_sdk_speedups.py holds the first two equal to the SDK's own (the stack trace over
every registration of a preview); pulumi is pinned in requirements.txt, and those tests are
what to run when the pin moves.
"""

from __future__ import annotations

import gc
import pathlib
import sys
from collections.abc import Callable
from typing import Any

from pulumi import _utils as pulumi_utils
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.proto import source_pb2

# the SDK's own, kept for the tests that hold ours equal to them
sdk_stack_trace = pulumi_resource._get_stack_trace
sdk_is_empty_function = pulumi_utils.is_empty_function

SHORT_RUN_GC_THRESHOLDS = (10_000, 50, 1_000)

_uris: dict[str, str | None] = {}


def _frame_uri(filename: str) -> str | None:
    if filename not in _uris:
        try:
            _uris[filename] = pathlib.Path(filename).as_uri() if filename else None
        except ValueError:  # "<frozen runpy>" and other relative names have no file URI
            _uris[filename] = None
    return _uris[filename]


def stack_trace() -> source_pb2.StackTrace:
    """`_get_stack_trace`'s result: the frames above the third `__init__` (Resource,
    Custom/ComponentResource, the concrete class), innermost first, as file URI and line."""
    frames = []
    frame = sys._getframe(0)  # the SDK's walk starts at _get_stack_trace's own frame
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    inits = 0
    i = 0
    for i in range(len(frames) - 1, -1, -1):
        if frames[i].f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                break
    if i < 1:
        return source_pb2.StackTrace()
    stack_frames = []
    for f in reversed(frames[:i]):
        uri = _frame_uri(f.f_code.co_filename)
        position = None if uri is None or f.f_lineno is None else source_pb2.SourcePosition(uri=uri, line=f.f_lineno)
        stack_frames.append(source_pb2.StackFrame(pc=position))
    return source_pb2.StackTrace(frames=stack_frames)


# (bytecode, constants) of the four empty bodies the SDK recognises
_EMPTY_BODIES = tuple(
    (getattr(pulumi_utils, name).__code__.co_code, getattr(pulumi_utils, f"_consts{name}"))
    for name in ("_empty", "_empty_doc", "_empty_lambda", "_empty_lambda_doc")
)


def is_empty_function(fn: Callable[..., Any]) -> bool:
    """`is_empty_function`'s result; the constants are compared only when the bytecode is that
    of an empty body (a generated getter or setter almost never is)."""
    code = fn.__code__.co_code
    return any(code == body and pulumi_utils._consts(fn) == consts for body, consts in _EMPTY_BODIES)


def install() -> None:
    """Swap in the equivalents; idempotent. Before a provider SDK loads, to speed its loading."""
    pulumi_resource._get_stack_trace = stack_trace
    pulumi_utils.is_empty_function = is_empty_function


def tune_gc_for_a_short_run() -> None:
    """For command-line entry points only: a long-lived process (pytest) keeps the defaults."""
    gc.set_threshold(*SHORT_RUN_GC_THRESHOLDS)
