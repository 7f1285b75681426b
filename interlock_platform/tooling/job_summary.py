"""Markdown for a pull request's job summary, from an offline preview's --json and --out files:
the violations, the resource counts, the rendered Interlock config and the security matrix.

    python -m interlock_platform job-summary --stack dev out >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def render(stack: str, out: Path) -> str:
    lines = [f"## interlock-platform / {stack}", ""]
    preview = out / "preview.json"
    errors = (out / "errors.txt").read_text().strip() if (out / "errors.txt").exists() else ""
    code = (out / "exit-code").read_text().strip() if (out / "exit-code").exists() else "?"
    if not preview.exists():
        why = {"2": "the input is invalid", "3": "the policy pack could not run"}.get(code, "it stopped")
        summary = (out / "summary.txt").read_text().strip() if (out / "summary.txt").exists() else ""
        text = "\n".join(t for t in (summary, errors) if t) or "(no output)"
        return "\n".join([*lines, f"The preview did not finish (exit status {code}: {why}):", "", "```", text, "```", ""])
    if errors:  # warnings (e.g. a config key under a namespace nothing reads)
        lines += ["```", errors, "```", ""]
    doc = json.loads(preview.read_text())
    violations = doc["violations"]
    mandatory = [v for v in violations if v["enforcement"] == "mandatory"]
    lines.append(f"**Policy violations:** {len(violations)} ({len(mandatory)} mandatory)")
    lines.append("")
    if violations:
        lines += ["| policy | level | resource | message |", "|---|---|---|---|"]
        for v in violations:
            message = v["message"].replace("\n", " ").replace("|", "\\|")
            lines.append(f"| `{v['policy']}` | {v['enforcement']} | `{v['urn'].split('::')[-1]}` | {message} |")
        lines.append("")
    counts = Counter(r["type"] for r in doc["resources"] if r["custom"])
    lines += ["<details><summary>Resources by type</summary>", "", "| type | count |", "|---|---|"]
    lines += [f"| `{t}` | {n} |" for t, n in sorted(counts.items())]
    lines += ["", "</details>", ""]
    interlock = out / "interlock" / "config.toml"
    if interlock.exists():
        lines += [
            "<details><summary>Interlock config after this change</summary>",
            "",
            "```toml",
            interlock.read_text().rstrip(),
            "```",
            "",
            "</details>",
            "",
        ]
    matrix = out / "security" / "matrix.md"
    if matrix.exists():
        lines += [
            "<details><summary>Security matrix</summary>",
            "",
            matrix.read_text().replace("# Security matrix", "### Security matrix"),
            "</details>",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "interlock-platform job-summary") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    print(render(args.stack, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
