"""Hostile stack files for the fuzz test (tests/test_fuzz.py): seeded mutations of the reference
files, and a worker that runs the preview's own entry point on each, in-process.

Why in-process: a preview as a subprocess costs ~2.5 s, most of it importing the SDKs; a worker
imports them once and then calls `interlock_platform.tooling.preview.main` per case, with stdout and stderr captured,
so a case costs what the preview's own work costs (and it reuses the policy pack's process
between cases: see below). What a user observes is kept: the exit status
`main` returns (or argparse's SystemExit), and stderr. An exception escaping `main` is what the
CLI prints as a traceback with exit 1, so the worker reports it as such. The test also runs a
sample through the real CLI and checks that both give the same status and the same stderr.

The worker runs in a scratch copy of the project (the preview reads the files under its own
root): `python -m tests.stack_fuzz`, one JSON case per stdin line, one JSON result per stdout line.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import resource
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

STACK_FILES = {
    "stacks/Pulumi.shared.yaml": ("shared", "dev"),
    "stacks/Pulumi.dev.yaml": ("dev",),
    "stacks/Pulumi.test.yaml": ("test",),
    "stacks/Pulumi.prod.yaml": ("prod",),
    "Pulumi.yaml": ("shared", "dev"),
}
SECRET_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"  # a PEM's shape, not a key
SECRET_LOOKING = f"-----BEGIN PRIVATE KEY-----\n{SECRET_BODY}\n-----END PRIVATE KEY-----\n"

# --------------------------------------------------------------------------------------------
# Mutations: each takes the file's bytes and a seeded Random, and returns new bytes


def _scalars() -> list[Any]:
    return [
        None, True, False, 0, -1, -(2**63), 2**64, 10**400, 1e308, -0.0, 0.5, "", " ", "x" * 100_000,
        "ünïcødé ✓ \u202e\u200b", "\U0001f4a5" * 50, "0x16D", "~", "null", "yes", "1e3", "10.40.0.0/33",
        "../../etc/passwd", "${AWS_SECRET}", "$(rm -rf /)", "a\nb", "\t", "{}", "[]", SECRET_LOOKING,
        "999.999.999.999/8", "eu-west-9z", "-", "*", "::", "tcp://", "dev/../prod",
    ]  # fmt: skip


def _values(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.55:
        return rng.choice(_scalars())
    if pick < 0.7:
        return [rng.choice(_scalars()) for _ in range(rng.randint(0, 4))]
    if pick < 0.85:
        return {rng.choice(["name", "cidr", "port", "x", "", "ports", "hard"]): rng.choice(_scalars())}
    depth = rng.choice([10, 50])  # deeper nesting is written as text (_line_edit): the dumper recurses
    value: Any = rng.choice(_scalars())
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _structural(edit: Callable[[Any, Any, random.Random], Any]) -> Callable[[bytes, random.Random], bytes]:
    """A mutation of one node of the parsed file, dumped back as YAML (comments are lost, as an
    editor or a script that rewrites the file loses them)."""

    def mutate(data: bytes, rng: random.Random) -> bytes:
        doc = yaml.safe_load(data)
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return data
        path = rng.choice(paths)
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        result = edit(parent, path[-1], rng)
        if result is _DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = result
        return yaml.safe_dump(doc, allow_unicode=rng.random() < 0.5, sort_keys=False).encode()

    return mutate


_DELETE = object()


def _wrap(parent: Any, key: Any, rng: random.Random) -> Any:
    value = parent[key]
    return rng.choice([[value], {"value": value}, {str(key): value}, [value, value]])


def _unwrap(parent: Any, key: Any, rng: random.Random) -> Any:
    value = parent[key]
    if isinstance(value, list) and value:
        return value[0]
    if isinstance(value, dict) and value:
        return next(iter(value.values()))
    return _values(rng)


def _repeat(parent: Any, key: Any, rng: random.Random) -> Any:
    value = parent[key]
    if isinstance(value, list) and value:
        return value * rng.choice([2, 30, 300])
    return value


def _rename(parent: Any, key: Any, rng: random.Random) -> Any:
    if isinstance(parent, dict):  # a typo'd or foreign key next to the original
        parent[rng.choice([f"{key}x", str(key).upper(), f"nope:{key}", "", "interlock-platform:bogus", 5])] = parent[key]
        return _DELETE if rng.random() < 0.5 else parent[key]
    return parent[key]


def _paste_a_key(data: bytes, rng: random.Random) -> bytes:
    """A private key pasted where a name goes (a team's groups, a description): the pack must
    fail the preview, and no output may show the key (interlock_platform/tooling/masking.py)."""
    doc = yaml.safe_load(data)
    lists = [p for p in _paths(doc) if p and isinstance(_at(doc, p), list) and all(isinstance(v, str) for v in _at(doc, p))]
    strings = [p for p in _paths(doc) if p and isinstance(_at(doc, p), str)]
    if not lists + strings:
        return data
    path = rng.choice(lists + strings)
    parent = _at(doc, path[:-1])
    parent[path[-1]] = [*parent[path[-1]], SECRET_LOOKING] if path in lists else SECRET_LOOKING
    return yaml.safe_dump(doc, sort_keys=False).encode()


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _textual(edit: Callable[[str, random.Random], str]) -> Callable[[bytes, random.Random], bytes]:
    return lambda data, rng: edit(data.decode("utf-8", "surrogateescape"), rng).encode("utf-8", "surrogateescape")


def _line_edit(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True) or [""]
    i = rng.randrange(len(lines))
    tricks = [
        lambda line: line.replace(": ", ": &a ", 1) + "  x-alias: *a\n",
        lambda line: line.replace(": ", ": !!python/object/apply:os.system ['echo pwned'] ", 1),
        lambda line: line.replace(": ", ": !!binary aGVsbG8= ", 1),
        lambda line: line.replace(": ", ": !!set ", 1),
        lambda line: line.replace(": ", ": !!timestamp ", 1),
        lambda line: line.replace(": ", ": !custom ", 1),
        lambda line: line.replace(": ", ": !!str ", 1),
        lambda line: line.replace(": ", ": !!int ", 1),
        lambda line: line.replace(": ", ": !!float ", 1),
        lambda line: line.replace(": ", ": &b ", 1) + "  <<: *b\n",
        lambda line: "\t" + line,
        lambda line: line.lstrip(),
        lambda line: "    " + line,
        lambda line: line.rstrip("\n") + " # comment: with colon\n",
        lambda line: line.replace(":", "", 1),
        lambda line: line.replace("-", "", 1),
        lambda line: line + line,
        lambda line: "",
        lambda line: line.replace("\n", "\r\n"),
        lambda line: line.replace("[", "{", 1),
        lambda line: line.replace("]", "", 1),
        lambda line: line.replace("{", "", 1),
        lambda line: line.replace('"', "", 1),
        lambda line: line.replace(": ", ": '", 1),
        lambda line: line.rstrip("\n") + " \\\n",
        lambda line: line.replace(": ", ": |\n", 1),
        lambda line: line.replace(": ", ": >-\n    ", 1),
        lambda line: line.replace(": ", ": ? ", 1),
        lambda line: "---\n" + line,
        lambda line: line + "...\n",
        lambda line: "%YAML 1.1\n---\n" + line,
        lambda line: line.replace("a", "\u0430"),  # Cyrillic a: a homoglyph key
        lambda line: line.replace(" ", "\u00a0", 1),
        lambda line: line.rstrip("\n") + "\x00\n",
        lambda line: line.rstrip("\n") + "\udcff\n",  # written as the byte 0xff: not UTF-8
        lambda line: line.replace(": ", ": " + "[" * 2000 + "]" * 2000 + " ", 1),
        lambda line: line.replace(": ", ": " + "{a: " * 300 + "1" + "}" * 300 + " ", 1),
        lambda line: line.replace(": ", ": " + "y" * 1_000_000 + " ", 1),
        lambda line: line.replace(": ", ": 1" + "0" * 5000 + " ", 1),
        lambda line: line.replace(": ", ": .nan ", 1),
        lambda line: line.replace(": ", ": -.inf ", 1),
        lambda line: line.replace(": ", ": 0o777 ", 1),
        lambda line: line.replace(": ", ": 1_000 ", 1),
        lambda line: line.replace(": ", ": 2001-12-14 ", 1),
        lambda line: line.replace(": ", ": =", 1),
        lambda line: line.replace(": ", ": null ", 1),
        lambda line: line.replace(": ", ": ~ ", 1),
        lambda line: line.replace(": ", ": @x ", 1),
        lambda line: line.replace(": ", ": `x` ", 1),
        lambda line: line.replace(": ", ": *undefined ", 1),
        lambda line: line.replace(": ", ": " + rng.choice(["0", "-1", "65536", "99999999999999999999"]) + " ", 1),
    ]
    lines[i] = rng.choice(tricks)(lines[i])
    return "".join(lines)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _binary(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice([1, 3, 20])):
        at = rng.randrange(len(buf) + 1)
        choice = rng.random()
        if choice < 0.4:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice < 0.7 and at < len(buf):
            buf[at] = rng.randrange(256)
        elif at < len(buf):
            buf[at] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _prefix(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"--- !!map\n", b"%TAG ! tag:x,2000:\n---\n", b"? "]) + data


def _alias_bomb(data: bytes, rng: random.Random) -> bytes:
    levels, width = rng.choice([(6, 9), (9, 9), (12, 5), (20, 2)])
    bomb = "".join(f"  x-{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else '1'] * width)}]\n" for i in range(levels))
    return data.replace(b"config:\n", b"config:\n" + bomb.encode(), 1)


def _multi_doc(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([data + b"---\n" + data, b"---\n" + data + b"...\n", data + b"\n---\nconfig: 5\n", b"---\n---\n" + data])


def _whole_file(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([
        b"", b"\n", b"~\n", b"config:\n", b"config: ~\n", b"config: []\n", b"5\n", b"- a\n", b"!!python/name:os.system\n",
        b"config: !!python/object/new:os.system [echo pwned]\n", b"\x00" * 100, bytes(range(256)),
        b"[" * 100_000, b"{" * 10_000 + b"}" * 10_000, b"a: " * 20_000, b"config:\n" + b"  k: v\n" * 50_000,
    ])  # fmt: skip


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "delete a key": _structural(lambda parent, key, rng: _DELETE),
    "paste a key": _paste_a_key,
    "change a type": _structural(lambda parent, key, rng: _values(rng)),
    "wrap": _structural(_wrap),
    "unwrap": _structural(_unwrap),
    "repeat a list": _structural(_repeat),
    "rename a key": _structural(_rename),
    "YAML line trick": _textual(_line_edit),
    "truncate": _truncate,
    "binary bytes": _binary,
    "prefix": _prefix,
    "alias bomb": _alias_bomb,
    "multi-document": _multi_doc,
    "whole file": _whole_file,
}
TEXTUAL = ["YAML line trick", "truncate", "binary bytes", "prefix", "multi-document"]
# how often each is drawn: the structural ones reach the program's own checks, the rest the parser's
WEIGHTS = {"delete a key": 12, "paste a key": 4, "change a type": 25, "wrap": 6, "unwrap": 6, "repeat a list": 4, "rename a key": 6,
           "YAML line trick": 18, "truncate": 5, "binary bytes": 6, "prefix": 2, "alias bomb": 2, "multi-document": 2,
           "whole file": 2}  # fmt: skip


def _meaning(data: bytes) -> str | None:
    """What the preview would read from the file, as canonical JSON; None when it cannot be
    read plainly (broken, deep, aliased: those cases are kept as they are)."""
    if b"*" in data or b"&" in data:
        return None
    try:
        depth = 0
        for event in yaml.parse(data, Loader=yaml.CSafeLoader):  # libyaml's composer recurses: check first
            depth += isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
            depth -= isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent))
            if depth > 32:
                return None
        return repr(yaml.load(data, Loader=yaml.CSafeLoader))
    except Exception:  # PyYAML's constructors raise what they raise; this is a fingerprint only
        return None


def cases(root: Path, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` mutated files from the reference ones under `root`, the same for the same seed. Some
    cases apply two mutations, as a bad merge does; every fifth also writes --out and --json.
    A mutation that means what a reference file or an earlier case means (a comment edited, a
    quote style changed) is drawn again: a whole preview that tests nothing new costs ~1 s."""
    rng = random.Random(seed)
    originals = {name: (root / name).read_bytes() for name in STACK_FILES}
    seen = {_meaning(data) for data in originals.values()}
    names, weights = list(MUTATIONS), [WEIGHTS[m] for m in MUTATIONS]
    out = []
    for i in range(n):
        for _ in range(20):
            file = rng.choice(sorted(originals))
            data, applied = originals[file], []
            for step in range(1 if rng.random() < 0.8 else 2):
                # a second mutation works on the text: parsing the first one's output could expand
                # an alias bomb in this process
                name = rng.choices(names, weights)[0] if step == 0 else rng.choice(TEXTUAL)
                data = MUTATIONS[name](data, rng)
                applied.append(name)
            meaning = _meaning(data)
            if meaning is None or meaning not in seen:
                seen.add(meaning)
                break
        out.append({
            "id": i, "file": file, "stack": rng.choice(STACK_FILES[file]), "mutations": applied,
            "data": base64.b64encode(data).decode(), "outputs": i % 5 == 0,
        })  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------
# The worker


def reuse_the_policy_pack() -> None:
    """One policy-pack process per worker instead of one per case. Starting the pack's
    interpreter costs ~0.4 s of CPU, and half the cases start one (every case that gets past the
    stack files), which would double the test's time. The pack keeps no state between runs
    beyond its config, which each run sets again (`stream`); one that died is replaced."""
    from interlock_platform.tooling import policy_harness, preview

    class Reused(policy_harness.PolicyPackProcess):
        def close(self) -> None:  # kept for the next case; the test kills the worker's session, pack included
            pass

    current: list[Reused] = []

    def pack() -> Reused:
        if not current or current[0].process.poll() is not None:
            current[:] = [Reused()]
        return current[0]

    preview.policy_harness = type(sys)("policy_harness_reused")  # what interlock_platform.tooling.preview calls policy_harness
    preview.policy_harness.__dict__.update(vars(policy_harness), PolicyPackProcess=pack)


def clip(text: str, keep: int = 8000) -> str:
    """Both ends of a long output: the error comes first, the fix last."""
    return text if len(text) <= 2 * keep else text[:keep] + f"\n[... {len(text) - 2 * keep:,} characters ...]\n" + text[-keep:]


def run_case(root: Path, case: dict[str, Any], originals: dict[str, bytes]) -> dict[str, Any]:
    """Write the case's file over the reference one, run the preview's `main` on it, restore."""
    from interlock_platform.tooling import preview

    target = root / case["file"]
    target.write_bytes(base64.b64decode(case["data"]))
    args = ["--stack", case["stack"]]
    scratch = root / "fuzz-out"
    shutil.rmtree(scratch, ignore_errors=True)  # what a case writes is its own
    if case.get("outputs"):
        args += ["--json", str(scratch / "preview.json"), "--out", str(scratch / "out")]
    stdout, stderr = io.StringIO(), io.StringIO()
    crash = None
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = preview.main(args)
            except SystemExit as err:  # argparse's exits; anything else is a bug
                code = err.code if isinstance(err.code, int) else 2
    except Exception:  # what the CLI would print as a traceback, with exit 1
        crash = traceback.format_exc()
        code = 1
    finally:
        target.write_bytes(originals[case["file"]])
    seconds = time.perf_counter() - start
    written = [path for path in scratch.rglob("*") if path.is_file()] if scratch.exists() else []
    leaked = [str(path.relative_to(root)) for path in written if SECRET_BODY.encode() in path.read_bytes()]
    leaked += [name for name, text in (("stdout", stdout.getvalue()), ("stderr", stderr.getvalue())) if SECRET_BODY in text]
    return {
        "leaked": leaked,
        "id": case["id"], "code": code, "seconds": seconds, "stdout": clip(stdout.getvalue()),
        "stderr": clip(stderr.getvalue()), "crash": crash,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


MEMORY_LIMIT = 4 << 30  # a case that needs more fails as a MemoryError, rather than the machine's other work


def worker(root: Path) -> None:
    """One case per stdin line, one result per stdout line (the real stdout: the case's own output
    is captured)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    sys.path.insert(0, str(root))
    reuse_the_policy_pack()
    originals = {name: (root / name).read_bytes() for name in STACK_FILES}
    results = sys.stdout
    for line in sys.stdin:
        result = run_case(root, json.loads(line), originals)
        results.write(json.dumps(result) + "\n")
        results.flush()


if __name__ == "__main__":
    worker(Path.cwd())
