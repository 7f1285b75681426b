"""Process settings for the offline tools' command-line entry points, which run one preview and exit.

Loading the provider SDKs builds about a million objects, and a preview builds hundreds of
thousands more: the cyclic collector walks them again and again. With the interpreter's defaults
(700, 10, 10) an environment's preview runs several full collections, ~0.1 s each; with raised
thresholds it still spent ~0.07 s of a dev preview in young collections. A process that runs one
preview and exits does without it: reference counting frees almost everything the preview drops,
and the cycles it leaves are few (peak memory, bench/preview.py's sweep: 145 MiB either way for
one application group and one team; 230 MiB instead of 220 for 50 of each). `tune_gc_for_a_short_run` turns it off before the
entry point's imports. The entry points also exit without interpreter teardown (`os._exit` after
flushing), which frees nothing a finished process needs. Public interpreter settings only: the
SDK itself runs unpatched.
"""

from __future__ import annotations

import gc


def tune_gc_for_a_short_run() -> None:
    """For command-line entry points only: a long-lived process (pytest) keeps the collector."""
    gc.disable()
