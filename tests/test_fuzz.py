"""Fuzzed stack files: 1,000 seeded mutations of the reference Pulumi.yaml and stack files (wrong
types, deleted keys, huge numbers, wrong nesting, unicode, YAML tags, aliases and multi-docs,
truncation, binary bytes, deep nesting, long strings; tests/stack_fuzz.py) through the preview.

The contract for each (interlock_platform/tooling/preview.py): no traceback; exit 0, 1 only with a mandatory violation
listed, 2 with the file and a fix on stderr, or 3 saying the policies were not checked; no
case over 10 s; and a private key pasted into a value in no output (stdout, stderr, --json, --out). The cases run in two long-lived workers that call the preview's entry point
in-process, each with one policy-pack process (why: tests/stack_fuzz.py); a sample runs through the real CLI as well, which must give the
same exit status and the same stderr.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_project, preview_cli
from tests.stack_fuzz import STACK_FILES, cases, clip

SEED = 15  # the number; change it to explore, keep it fixed in CI
CASES = 1000
WORKERS = 2
CASE_LIMIT_S = 10.0
HANG_S = 60.0  # a worker silent this long is killed and the case counted as a hang
CLI_SAMPLE = 8


class Worker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = (root / "worker-stderr.log").open("ab")  # the pack's and the SDK's own fd-2 output
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.stack_fuzz"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, env={**os.environ, "PYTHONPATH": str(root)}, start_new_session=True,
        )  # fmt: skip
        self.case: dict[str, Any] | None = None
        self.since = 0.0

    def send(self, case: dict[str, Any]) -> None:
        self.case, self.since = case, time.monotonic()
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(case) + "\n").encode())
        self.process.stdin.flush()

    def stop(self) -> None:
        # the whole session: the worker and the policy pack it keeps for its cases, which a kill of
        # the worker alone would leave running, orphaned, after the test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()


def _run_all(roots: list[Path], todo: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    originals = {name: (roots[0] / name).read_bytes() for name in STACK_FILES}
    workers = [Worker(root) for root in roots]
    results: dict[int, dict[str, Any]] = {}
    queue = list(reversed(todo))
    try:
        while queue or any(w.case for w in workers):
            for w in workers:
                if w.case is None and queue:
                    w.send(queue.pop())
            busy = {w.process.stdout: w for w in workers if w.case is not None}
            ready, _, _ = select.select(list(busy), [], [], 1.0)
            for stream in ready:
                w = busy[stream]
                line = stream.readline()
                if line:
                    result = json.loads(line)
                    assert w.case is not None and result["id"] == w.case["id"]
                    results[result["id"]] = {**result, "case": w.case}
                    w.case = None
            for i, w in enumerate(workers):
                if w.case is not None and (w.process.poll() is not None or time.monotonic() - w.since > HANG_S):
                    results[w.case["id"]] = {"id": w.case["id"], "code": None, "seconds": time.monotonic() - w.since,
                                             "crash": "the worker died or hung", "stderr": "", "stdout": "", "case": w.case}  # fmt: skip
                    w.stop()
                    (w.root / w.case["file"]).write_bytes(originals[w.case["file"]])
                    workers[i] = Worker(w.root)
    finally:
        for w in workers:
            w.stop()
    return results


def _broken_contract(result: dict[str, Any]) -> str | None:
    code, stderr, stdout = result["code"], result["stderr"], result["stdout"]
    if result["crash"]:
        return result["crash"]
    if "Traceback" in stderr or "Traceback" in stdout:
        return "a traceback in the output"
    if code == 1 and ("(0 mandatory)" in stdout or "policy violations:" not in stdout):
        return "exit 1 without a mandatory violation"
    if code == 2 and ("Fix:" not in stderr and "usage:" not in stderr):
        return "exit 2 without a fix on stderr"
    if code == 3 and "the policies were not checked" not in stderr:
        return "exit 3 without saying the policies were not checked"
    if code not in (0, 1, 2, 3):
        return f"exit status {code}"
    if result.get("leaked"):
        return f"a pasted key reached {', '.join(result['leaked'])}"
    if result["seconds"] > CASE_LIMIT_S:
        return f"took {result['seconds']:.1f} s"
    return None


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]], float, Path]:
    base = tmp_path_factory.mktemp("fuzz")
    roots = [copy_project(base / f"worker-{i}") for i in range(WORKERS)]
    todo = cases(roots[0], CASES, SEED)
    start = time.monotonic()
    results = _run_all(roots, todo)
    return todo, results, time.monotonic() - start, roots[0]


@pytest.mark.timeout(1500)  # its fixture runs the 1,000 cases (two workers, ~0.2-0.5 s each on 2 cores)
def test_every_fuzzed_stack_file_keeps_the_exit_contract(fuzzed):
    todo, results, total, _ = fuzzed
    assert len(todo) >= 1000 and set(results) == {c["id"] for c in todo}
    broken = {i: why for i, r in results.items() if (why := _broken_contract(r))}
    seconds = sorted(r["seconds"] for r in results.values())
    codes = {code: sum(r["code"] == code for r in results.values()) for code in (0, 1, 2, 3)}
    print(
        f"\nfuzz: {len(todo)} cases in {total:.0f} s; per case median {statistics.median(seconds):.3f} s, "
        f"max {seconds[-1]:.2f} s; exit statuses {codes}; peak worker RSS "
        f"{max(r.get('peak_rss_mib', 0) for r in results.values()):.0f} MiB"
    )
    report = [
        f"case {i} ({results[i]['case']['file']} -s {results[i]['case']['stack']}, {results[i]['case']['mutations']}): {why}"
        for i, why in sorted(broken.items())
    ]
    assert not broken, f"{len(broken)} of {len(todo)} cases broke the contract:\n" + "\n\n".join(report[:10])
    # the mutations reach every stage: the parser, the CLI's checks, the program's, whole previews,
    # and the pack's mandatory secrets-are-secret
    assert codes[2] > 0.3 * len(todo) and codes[0] > 0.05 * len(todo) and codes[1] > 0, codes


def test_the_in_process_runs_give_what_the_cli_gives(fuzzed):
    """The fast path is the user's path: a sample of the cases, through `python -m interlock_platform preview`,
    exits with the same status and prints the same stderr."""
    todo, results, _, root = fuzzed
    by_code: dict[Any, list[dict[str, Any]]] = {}
    for case in todo:  # a few of each exit status, the first ones of the seeded order
        by_code.setdefault(results[case["id"]]["code"], []).append(case)
    sample = [c for code in sorted(by_code, key=str) for c in by_code[code][: max(2, CLI_SAMPLE // len(by_code))]]
    assert len(sample) >= CLI_SAMPLE // 2 and {results[c["id"]]["code"] for c in sample} >= {0, 2}
    originals = {name: (root / name).read_bytes() for name in STACK_FILES}
    for case in sample:
        (root / case["file"]).write_bytes(base64.b64decode(case["data"]))
        args = ["--stack", case["stack"]]
        if case["outputs"]:
            args += ["--json", str(root / "fuzz-out" / "preview.json"), "--out", str(root / "fuzz-out" / "out")]
        try:
            cli = preview_cli(*args, cwd=root, timeout=120)
        finally:
            (root / case["file"]).write_bytes(originals[case["file"]])
        mine = results[case["id"]]
        where = f"case {case['id']} ({case['file']}, {case['mutations']})"
        assert cli.returncode == mine["code"], f"{where}: CLI {cli.returncode}, in-process {mine['code']}\n{cli.stderr}"
        assert clip(cli.stderr) == mine["stderr"], f"{where}: stderr differs\nCLI:\n{cli.stderr}\nin-process:\n{mine['stderr']}"
