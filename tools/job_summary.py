"""Markdown for a pull request's job summary, from an offline preview's --json and --out files:
the violations, the resource counts, the rendered Interlock config and the security matrix.

    python -m tools.job_summary --stack dev out >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def render(stack: str, out: Path) -> str:
    lines = [f"## interlock-platform / {stack}", ""]
    preview = out / "preview.json"
    if not preview.exists():
        summary = (out / "summary.txt").read_text() if (out / "summary.txt").exists() else "(no output)"
        return "\n".join([*lines, "The preview did not finish:", "", "```", summary.strip(), "```", ""])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(render(args.stack, args.out))


if __name__ == "__main__":
    main()
