"""Every benchmark runs in its fast mode and prints its figures, so none can rot unseen (the
rotation benchmark once crashed on a key the provider had gained, and nothing ran it)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from interlock_platform.tooling.stack_files import ROOT

# What each benchmark must print: the figures a reader compares, each with a number.
FIGURES = {
    "bench.rotation": [
        *(
            rf"{case}.*:\n\s+provider\s+\d+\.\d+ s.*\n\s+runbook CLI \+ evidence\s+\d+\.\d+ s.*\n\s+ratio .*: \d+\.\d+"
            r".*\n\s+the rotation's settle wait before it updates: median \d+\.\d+ s"
            for case in ("run steadily for longer than the window", "right after a restart")
        ),
        r"runbook CLI alone .* median \d+\.\d+ s",
        r"no-op diff .* median \d+\.\d+ ms",
    ],
    "bench.preview": [r"dev\s+\d+\s+\d+\.\d+s\s+\d+\.\d+s", r"the installed command, `interlock-platform preview`", r"the policy pack alone", r"prod\s+\d+\.\d+s\s+\d+\.\d+\s+\d+\.\d+s", r"^\s+1\s+\d+\s+\d+\.\d+\s+\d+\s+\d+/60"],
    "bench.group_sweep": [
        r"^\s+3\s+9\s+\d+\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+\s+\d+\s+\d+/\d+\s+\d+/\d+$",  # resources, wall, CPU, CPU/resource, MiB
        r"past the quota, N = \d+ \(\d+ subnets\): the preview exits 2",
        r"applicationGroups: \d+ groups x \d+ zones = \d+ subnets, over this environment's share .* Fix: use fewer application groups",
    ],
    "bench.group_quotas": [r"in\s+\d+/60\s+out\s+\d+/60", r"accepted at the default quotas|refused at the default quotas"],
}


@pytest.mark.timeout(900)  # the preview benchmark runs ~40 previews and floors; on a loaded machine, minutes
@pytest.mark.parametrize("module", sorted(FIGURES))
def test_the_benchmark_runs_in_its_fast_mode_and_prints_its_figures(module: str, client) -> None:  # client: the engine
    run = subprocess.run(
        [sys.executable, "-m", module, "--fast"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    for figure in FIGURES[module]:
        assert re.search(figure, run.stdout, re.MULTILINE), f"{module} --fast did not print {figure!r}:\n{run.stdout[-2000:]}"
