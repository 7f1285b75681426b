"""Run the scanners that security teams already trust over the CloudFormation rendering of the
stacks: cfn-lint (AWS's own resource rules), Checkov (`--framework cloudformation`) and
cfn-guard with AWS Control Tower's proactive rules.

    python -m interlock_platform scan --install                  # once: Checkov in its own venv, cfn-guard from npm, under .scanners/
    python -m interlock_platform preview --stack dev --out out/dev
    python -m interlock_platform scan out/dev [out/shared ...]   # exit 1 on any finding not suppressed

Informational findings (cfn-lint's I rules, such as I3011 "set a DeletionPolicy on a stateful
resource") are shown under their own heading and never fail the scan: they are advice to weigh,
not defects. cfn-lint leaves them out unless asked, so the scan asks for them.

Every finding we do not fix is suppressed in scanners/suppressions.yaml with its reason. The
rendering writes those into each resource's Metadata, where cfn-lint and Checkov honour them;
cfn-guard has no such field, so its findings are filtered here from the same list. Nothing
here talks to the network: Checkov runs with its guideline download and update check off.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interlock_platform.tooling.stack_files import ROOT, InvalidProjectFiles, require_platform

SCANNERS = ROOT / ".scanners"  # installed tools; not committed
CHECKOV_VERSION = "3.3.30"  # its own venv: it pins packaging<24, which the Pulumi SDK cannot use
GUARD_PACKAGE = "@cdklabs/cdk-validator-cfnguard@0.0.62"  # cfn-guard 3.1.1 and the Control Tower rules
GUARD_HOME = SCANNERS / "node_modules" / "@cdklabs" / "cdk-validator-cfnguard"
TOOLS = ("cfn-lint", "checkov", "cfn-guard")


@dataclass(frozen=True)
class Finding:
    tool: str
    rule: str
    resource: str  # logical id
    message: str

    def __str__(self) -> str:
        return f"{self.tool} {self.rule} {self.resource}: {self.message}"

    @property
    def informational(self) -> bool:
        """Advice, not a defect: shown, never failing (cfn-lint's level Informational)."""
        return self.rule.endswith("(Informational)")


class ScannerMissing(RuntimeError):
    pass


def console_script(name: str) -> str:
    """A tool pip installed next to this interpreter (pyenv's shims may not know it yet)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def checkov_binary() -> Path:
    return Path(os.environ.get("CHECKOV", SCANNERS / "checkov" / "bin" / "checkov"))


def guard_binary() -> Path:
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[platform.machine().lower()]
    system = "macos" if sys.platform == "darwin" else "ubuntu"  # the Linux builds are static
    return GUARD_HOME / "bin" / system / arch / "cfn-guard"


def guard_rules() -> Path:
    return GUARD_HOME / "rules" / "control-tower" / "cfn-guard"


def install() -> None:
    SCANNERS.mkdir(exist_ok=True)
    if not checkov_binary().exists():
        subprocess.run([sys.executable, "-m", "venv", str(SCANNERS / "checkov")], check=True)
        subprocess.run(
            [str(SCANNERS / "checkov" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"],
            check=True,
        )  # fmt: skip
    if not guard_binary().exists():
        # --legacy-peer-deps: the package's peer (aws-cdk-lib, ~150 MB) is for its CDK plugin, not the binary
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--legacy-peer-deps",
                "--prefix",
                str(SCANNERS),
                GUARD_PACKAGE,
            ],
            check=True,
        )


def _resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return template.get("Resources", {})


def run_cfn_lint(path: Path) -> list[Finding]:
    result = subprocess.run(
        [console_script("cfn-lint"), "--format", "json", "--include-checks", "I", "--", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):
        raise RuntimeError(f"cfn-lint failed ({result.returncode}): {result.stderr.strip()[:500]}")
    findings = []
    for f in json.loads(result.stdout or "[]"):
        path_ = f.get("Location", {}).get("Path") or []
        resource = path_[1] if len(path_) > 1 and path_[0] == "Resources" else "-"
        findings.append(Finding("cfn-lint", f"{f['Rule']['Id']} ({f['Level']})", str(resource), f["Message"]))
    return findings


def run_checkov(path: Path) -> list[Finding]:
    binary = checkov_binary()
    if not binary.exists():
        raise ScannerMissing(f"Checkov is not installed at {binary}: run python -m interlock_platform scan --install")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "CKV_PARSE_ERROR_FAIL": "true"}
    result = subprocess.run(
        [str(binary), "-f", str(path), "--framework", "cloudformation", "--output", "json", "--skip-download", "--quiet"],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    if result.returncode not in (0, 1):
        raise RuntimeError(f"Checkov failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    if isinstance(doc, list):
        doc = next((d for d in doc if d.get("check_type") == "cloudformation"), {})
    results = doc.get("results", {})
    if results.get("parsing_errors"):
        raise RuntimeError(f"Checkov could not parse {path}")
    return [
        Finding("checkov", c["check_id"], c["resource"].split(".", 1)[-1], c["check_name"])
        for c in results.get("failed_checks", [])
    ]


def _resource_paths(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "path" and isinstance(v, str) and v.startswith("/Resources/"):
                found.add(v.split("/")[2])
            _resource_paths(v, found)
    elif isinstance(value, list):
        for v in value:
            _resource_paths(v, found)
    return found


def run_cfn_guard(path: Path) -> list[Finding]:
    binary = guard_binary()
    if not binary.exists():
        raise ScannerMissing(f"cfn-guard is not installed at {binary}: run python -m interlock_platform scan --install")
    result = subprocess.run(
        [str(binary), "validate", "--data", str(path), "--rules", str(guard_rules()), "--output-format", "json",
         "--show-summary", "none", "--structured"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if result.returncode not in (0, 19):
        raise RuntimeError(f"cfn-guard failed ({result.returncode}): {(result.stderr or result.stdout).strip()[:500]}")
    template = json.loads(path.read_text())
    findings = []
    for report in json.loads(result.stdout or "[]"):
        for failure in report.get("not_compliant", []):
            rule = failure["Rule"]["name"]
            for resource in sorted(_resource_paths(failure, set())) or ["-"]:
                suppressed = (
                    _resources(template).get(resource, {}).get("Metadata", {}).get("guard", {}).get("SuppressedRules", [])
                )
                if rule not in suppressed:
                    findings.append(Finding("cfn-guard", rule, resource, _guard_message(failure)))
    return findings


def _guard_message(failure: dict[str, Any]) -> str:
    def messages(value: Any) -> list[str]:
        if isinstance(value, dict):
            own = (
                [value["custom_message"]]
                if isinstance(value.get("custom_message"), str) and value["custom_message"].strip()
                else []
            )
            return own + [m for v in value.values() for m in messages(v)]
        if isinstance(value, list):
            return [m for v in value for m in messages(v)]
        return []

    text = next((m for m in messages(failure) if "[CT." in m), "")
    return " ".join(text.split())[:300]


RUNNERS = {"cfn-lint": run_cfn_lint, "checkov": run_checkov, "cfn-guard": run_cfn_guard}


def scan(path: Path, tools: tuple[str, ...] = TOOLS) -> list[Finding]:
    """The findings that no suppression covers, of each tool, over one template."""
    return [f for tool in tools for f in RUNNERS[tool](path)]


def main(argv: list[str] | None = None, prog: str = "interlock-platform scan") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="install Checkov and cfn-guard under .scanners/")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("outs", nargs="*", type=Path, help="--out directories of the offline preview, or template files")
    args = parser.parse_args(argv)
    try:
        require_platform("the scanners (installed under its .scanners/) and their suppressions")
    except InvalidProjectFiles as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.install:
        install()
    tools = tuple(t.strip() for t in args.tools.split(",") if t.strip())
    if unknown := [t for t in tools if t not in TOOLS]:
        print(f"error: unknown tool {unknown[0]}; use {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    status = 0
    for out in args.outs:
        path = out / "cloudformation" / "template.json" if out.is_dir() else out
        if not path.is_file():
            print(f"error: {path}: no template; run python -m interlock_platform preview --stack <stack> --out {out} first", file=sys.stderr)
            return 2
        try:
            findings = scan(path, tools)
        except ScannerMissing as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        failing = [f for f in findings if not f.informational]
        advice = [f for f in findings if f.informational]
        print(f"{path}: {len(failing)} finding{'s' if len(failing) != 1 else ''} not suppressed ({', '.join(tools)})")
        for finding in failing:
            print(f"  {finding}")
        if advice:
            print(f"  {len(advice)} informational (shown, not failing):")
            for finding in advice:
                print(f"    {finding}")
        status = status or (1 if failing else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
