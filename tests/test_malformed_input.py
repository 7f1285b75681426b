"""Malformed input, as a careless user or a bad merge writes it: every file gets exit 2, the
file and line, and a fix on stderr; never a traceback, never exit 1 (which means "a mandatory
policy is violated"), never a preview that passes.

Each case edits a scratch copy of the project and runs the preview as a user does.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from interlock_platform.tooling.stack_files import ROOT
from tests.conftest import copy_project, preview_cli


def _edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        text = (root / path).read_text()
        assert old in text, f"the case's anchor moved in {path}"
        (root / path).write_text(text.replace(old, new, 1))

    return apply


def _write(path: str, data: bytes) -> Callable[[Path], None]:
    return lambda root: (root / path).write_bytes(data)


def _remove(path: str) -> Callable[[Path], None]:
    return lambda root: (root / path).unlink()


DEV = "stacks/Pulumi.dev.yaml"
# the line of dev's resource quota, where two cases put a bad tag
PODS_LINE = next(i for i, line in enumerate((ROOT / DEV).read_text().splitlines(), 1) if 'pods: "50"' in line)
SHARED = "stacks/Pulumi.shared.yaml"

# name: (stack, edit, extra arguments, what stderr must say)
CORPUS: dict[str, tuple[str, Callable[[Path], None], tuple[str, ...], tuple[str, ...]]] = {
    "broken YAML": ("dev", _edit(DEV, "interlock-platform:hostedZoneId: Z0DEVAPPS0EXAMPLE001", "interlock-platform:hostedZoneId: [Z0DEV"), (),
                    ("stacks/Pulumi.dev.yaml:", "is not valid YAML")),
    "a tab for indentation": ("dev", _edit(DEV, "  interlock-platform:role: environment", "\tinterlock-platform:role: environment"), (),
                              ("stacks/Pulumi.dev.yaml:", "is not valid YAML")),
    "a list, not a mapping": ("dev", _write(DEV, b"- config\n- role\n"), (), ("stacks/Pulumi.dev.yaml:1", "holds a list")),
    "config is a string": ("dev", _write(DEV, b"config: dev\n"), (), ("stacks/Pulumi.dev.yaml:1", "config: holds a string")),
    "non-UTF-8 bytes": ("dev", lambda root: (root / DEV).write_bytes((root / DEV).read_text().replace("payments-developers", "paym\xe9nts-developers").encode("latin-1")), (),
                        ("stacks/Pulumi.dev.yaml:", "is not UTF-8 text (byte 0xe9")),
    "UTF-16": ("dev", lambda root: (root / DEV).write_bytes((root / DEV).read_text().encode("utf-16")), (), ("is not UTF-8 text",)),
    "an empty file": ("dev", _write(DEV, b""), (), ("Stack 'dev' is missing configuration value 'role'",)),
    "a duplicated key": ("shared", _edit(SHARED, "    test:\n", "    dev:\n      cidr: 10.40.0.0/18\n    test:\n"), (),
                         ("stacks/Pulumi.shared.yaml:", "key 'dev' is already defined at line")),
    "a duplicated key under an env preview": ("dev", _edit(SHARED, "    test:\n", "    dev:\n      cidr: 10.40.0.0/18\n    test:\n"), (),
                                              ("stacks/Pulumi.shared.yaml:", "already defined")),
    "a wrong type": ("dev", _edit(DEV, "interlock-platform:applicationGroups:", "interlock-platform:applicationGroups: ingress\n  x-unused:"), (),
                     ("with configuration key 'applicationGroups' must be of type 'array<object>'",)),
    "yes for a boolean": ("prod", _edit("stacks/Pulumi.prod.yaml", "interlock-platform:tls: true", "interlock-platform:tls: yes"), (),
                          ("must be of type 'boolean'",)),
    "a secret in plain text": ("dev", _edit(DEV, "  interlock-platform:ucpHost:", "  interlock-platform:ucpClientKey: not-encrypted\n  interlock-platform:ucpHost:"), (),
                               ("interlock-platform:ucpClientKey is a secret, but it is written here in plain text",)),
    "a YAML alias bomb": ("dev", _edit(DEV, "config:\n", "config:\n" + "".join(
        f"  x-{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else '1'] * 9)}]\n" for i in range(9)
    )), (), ("expands to more than 100,000 elements",)),
    # 100 KB that expand to 100 MB when serialised (the 103 KB took 3.6 GB, and 348 KB a MemoryError)
    "a YAML byte bomb": ("dev", _edit(DEV, "config:\n", "config:\n  x-s: &s " + "y" * 10_000 + "\n  x-bomb: [" + ", ".join(["*s"] * 10_000) + "]\n"),
                         (), ("stacks/Pulumi.dev.yaml:", "config.x-bomb: expands to more than 2,097,152 bytes")),
    "a stack file over the byte limit": ("dev", _edit(DEV, "config:\n", "# " + "z" * 2_100_000 + "\nconfig:\n"), (),
                                         ("stacks/Pulumi.dev.yaml: is 2,10", "bytes, over the limit of 2,097,152 bytes")),
    "infinity in a value": ("dev", _edit(DEV, "pods: \"50\"", "pods: .inf"), (), ("holds inf, which JSON cannot carry",)),
    # found by the fuzz test (tests/test_fuzz.py): a segmentation fault, a RecursionError, an OverflowError, a TypeError
    "200,000 nested lists": ("dev", _write(DEV, b"config:\n  x: " + b"[" * 200_000 + b"]" * 200_000 + b"\n"), (),
                             ("stacks/Pulumi.dev.yaml:2: nests lists and mappings more than 64 deep",)),
    "10,000 nested mappings": ("dev", _write(DEV, b"{" * 10_000 + b"}" * 10_000), (), ("stacks/Pulumi.dev.yaml:1: nests",)),
    "a 400-digit number in a list": ("dev", _edit(DEV, "pods: \"50\"", "pods: [1" + "0" * 400 + "]"), (),
                                     ("interlock-platform:kubernetes: holds a 401-digit number",)),
    "a !!binary value": ("test", _edit("stacks/Pulumi.test.yaml", 'pods: "50"', "pods: !!binary aGVsbG8="), (),
                         ("interlock-platform:kubernetes: holds a !!binary value",)),
    "!!int on a word": ("test", _edit("stacks/Pulumi.test.yaml", 'pods: "50"', "pods: !!int fifty"), (),
                        ("stacks/Pulumi.test.yaml:29", "'fifty' is not a valid !!int")),
    "!!int on nothing": ("dev", _edit(DEV, 'pods: "50"', 'pods: !!int ""'), (), (f"stacks/Pulumi.dev.yaml:{PODS_LINE}", "'' is not a valid !!int")),
    "!!set on a scalar": ("dev", _edit(DEV, 'pods: "50"', "pods: !!set x"), (), (f"stacks/Pulumi.dev.yaml:{PODS_LINE}", "'x' is not a valid !!set")),
    "Pulumi.yaml without stackConfigDir": ("dev", _edit("Pulumi.yaml", "stackConfigDir: stacks\n", ""), (),
                                           ("Pulumi.dev.yaml: no stack 'dev'; the stacks are none", "stackConfigDir")),
    "a megabyte-long aws:region": ("dev", _edit(DEV, "aws:region: eu-west-1", "aws:region: " + "y" * 1_000_000), (),
                                   ("aws:region: is yyyy", "(1,000,001 characters)", "Fix: set aws:region to eu-west-1")),
    "1,200 application groups": ("prod", lambda root: (root / "stacks/Pulumi.prod.yaml").write_text(
        (root / "stacks/Pulumi.prod.yaml").read_text().replace("  interlock-platform:applicationGroups:\n", "  interlock-platform:applicationGroups:\n" + "    - {name: g, prefixLength: 28, firstSubnet: 0}\n" * 1200)
    ), (), ("applicationGroups: 1204 groups x 3 zones = 3612 subnets, over this environment's share",)),
    "a list repeated 300 times": ("dev", _edit(SHARED, "managementCidrs: [10.40.0.0/24, 10.40.1.0/24, 10.40.2.0/24]",
                                               "managementCidrs: [" + ", ".join(["10.40.0.0/24, 10.40.1.0/24, 10.40.2.0/24"] * 300) + "]"), (),
                                  ("managementCidrs: has 900 subnets for 3 availability zones", "more; fix these first")),
    "an alias bomb in Pulumi.yaml": ("shared", _edit("Pulumi.yaml", "config:\n", "config:\n" + "".join(
        f"  x-{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else '1'] * 9)}]\n" for i in range(9)
    )), (), ("Pulumi.yaml:", "config.x-8: expands to more than 100,000 elements",)),
    "no role": ("dev", _edit(DEV, "  interlock-platform:role: environment\n", ""), (), ("Stack 'dev' is missing configuration value 'role'",)),
    "no Pulumi.yaml": ("dev", _remove("Pulumi.yaml"), (), ("Pulumi.yaml: does not exist",)),
    "a broken Pulumi.yaml": ("dev", _edit("Pulumi.yaml", "runtime:\n", "runtime: [\n"), (), ("Pulumi.yaml:", "is not valid YAML")),
    "Pulumi.yaml without a name": ("dev", _edit("Pulumi.yaml", "name: interlock-platform\n", ""), (), ("missing a 'name' attribute",)),
    "stackConfigDir a number": ("dev", _edit("Pulumi.yaml", "stackConfigDir: stacks", "stackConfigDir: 5"), (), ("#/stackConfigDir: expected string",)),
    "a config key that is a number": ("dev", _edit("Pulumi.yaml", "  role:\n", "  5: {type: string}\n  role:\n"), (), ("the key 5 is not a string",)),
    "an array declared without items": ("dev", _edit("Pulumi.yaml", "    items:\n      type: string\n", ""), (),
                                        ("declares an array but does not specify the underlying type",)),
    "a region other than the zones'": ("dev", _edit(DEV, "aws:region: eu-west-1", "aws:region: us-east-1"), (),
                                       ("aws:region: is us-east-1, but the shared stack's zones are in eu-west-1",)),
    "no region": ("shared", _edit(SHARED, "  aws:region: eu-west-1\n", ""), (), ("aws:region: is not set",)),
    "policy config not JSON": ("dev", _write("pc.json", b'{"vpc-baseline": '), ("--policy-config", "pc.json"), ("pc.json:1", "is not JSON")),
    "unknown enforcement level": ("dev", _write("pc.json", b'{"vpc-baseline": "sometimes"}'), ("--policy-config", "pc.json"),
                                  ("'sometimes' is not an enforcement level",)),
    "misspelt policy": ("dev", _write("pc.json", b'{"vpc-baselin": "advisory"}'), ("--policy-config", "pc.json"),
                        ("'vpc-baselin' is not a policy of the pack", "write 'vpc-baseline'")),
    "a policy property of the wrong type": ("dev", _write("pc.json", b'{"sg-no-cross-environment": {"environments": 5}}'),
                                            ("--policy-config", "pc.json"), ("environments: 5 is not of type 'object'",)),
    "policy config a list": ("dev", _write("pc.json", b"[]"), ("--policy-config", "pc.json"), ("is not a JSON object",)),
    "missing policy config": ("dev", lambda root: None, ("--policy-config", "nowhere.json"), ("nowhere.json", "cannot be read")),
    "Interlock base not TOML, without --out": ("dev", _write("base.toml", b"[Extensions\n"), ("--interlock-base", "base.toml"),
                                               ("base.toml", "the Interlock config would be refused")),
    "Interlock base not UTF-8": ("shared", _write("base.toml", b"ListenAddr = \"\xff\"\n"), ("--interlock-base", "base.toml"),
                                 ("base.toml", "is not UTF-8 (byte 0xff")),
    "Interlock base in UTF-16": ("dev", _write("base.toml", 'ListenAddr = ":8080"\n'.encode("utf-16")), ("--interlock-base", "base.toml"),
                                 ("base.toml", "is UTF-16")),
    "Interlock base that merges past Swarm's config size limit": (
        "dev", lambda root: (root / "base.toml").write_bytes(
            b"# " + b"x" * 1_024_000 + b"\n" + (root / "tests/fixtures/interlock/ucp-3.2-default.toml").read_bytes()
        ), ("--interlock-base", "base.toml"), ("base.toml", "Swarm takes a config of fewer than 1,024,000 bytes"),
    ),
    "Interlock base with a byte-order mark": ("dev", _write("base.toml", b'\xef\xbb\xbfListenAddr = ":8080"\n'), ("--interlock-base", "base.toml"),
                                              ("base.toml", "byte-order mark")),
}  # fmt: skip


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("malformed") / "project")


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_input_exits_2_with_the_file_and_the_fix(scratch, case):
    stack, edit, extra, expected = CORPUS[case]
    originals = {p: p.read_bytes() for p in [scratch / "Pulumi.yaml", *(scratch / "stacks").glob("*.yaml")]}
    try:
        edit(scratch)
        result = subprocess.run(
            [sys.executable, "-m", "interlock_platform", "preview", "--stack", stack, "--json", "out.json", *extra],
            cwd=scratch, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        for path, data in originals.items():
            path.write_bytes(data)
        for name in ("pc.json", "base.toml"):
            (scratch / name).unlink(missing_ok=True)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    for fragment in expected:
        assert fragment in result.stderr, result.stderr
    assert "Fix:" in result.stderr
    assert not (scratch / "out.json").exists()


def test_an_unknown_namespace_is_a_warning_not_an_error(scratch):
    path = scratch / DEV
    original = path.read_text()
    path.write_text(original.replace("  aws:region: eu-west-1\n", "  aws:region: eu-west-1\n  awz:profile: prod\n"))
    try:
        result = preview_cli("--stack", "dev", cwd=scratch)
    finally:
        path.write_text(original)
    assert result.returncode == 0, result.stderr
    assert (
        "stacks/Pulumi.dev.yaml:4: warning: awz:profile: nothing in this project reads the namespace 'awz' (did you mean 'aws'?)"
        in result.stderr
    )


def test_the_job_summary_shows_why_the_preview_stopped(scratch, tmp_path):
    """The pull-request job keeps stderr too: an invalid config is shown, not an empty summary."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "errors.txt").write_text("error: the configuration is invalid (1 problem); nothing was registered:\n  - x\n")
    (out / "exit-code").write_text("2\n")
    summary = subprocess.run(
        [sys.executable, "-m", "interlock_platform", "job-summary", "--stack", "dev", str(out)],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "the configuration is invalid" in summary and "exit status 2" in summary
