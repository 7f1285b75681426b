"""Process settings for the offline tools' command-line entry points, which run one preview and exit.

Loading the provider SDKs leaves about a million long-lived objects, and each full collection
walks them all: with the interpreter's defaults (700, 10, 10) an environment's preview runs
several, ~0.1 s each. `tune_gc_for_a_short_run` raises the thresholds for a process that runs
one preview and exits, before its imports (the SDKs' objects are built while they load); peak memory stays within a few MiB of the default's (bench/preview.py
prints both). The entry points also exit without interpreter teardown (`os._exit` after
flushing), which frees nothing a finished process needs. Public interpreter settings only: the
SDK itself runs unpatched.
"""

from __future__ import annotations

import gc

SHORT_RUN_GC_THRESHOLDS = (10_000, 50, 1_000)


def tune_gc_for_a_short_run() -> None:
    """For command-line entry points only: a long-lived process (pytest) keeps the defaults."""
    gc.set_threshold(*SHORT_RUN_GC_THRESHOLDS)
