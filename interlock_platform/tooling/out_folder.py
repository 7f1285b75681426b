"""The preview's `--out DIR`, written so that it cannot hurt.

- Checked before the preview runs: a path that is a file, under a file, or in a folder that
  cannot be written is an OutProblem naming the path and the fix (the preview exits 2).
- Written afresh: the preview's own entries (ENTRIES) are written into a staging folder inside
  DIR, then swapped in for the old ones by renames on the same filesystem, so the files of a
  removed team or group do not linger, and a failure leaves the old ones as they were.
- Only its own: anything else in DIR (a CI job's summary.txt, the --json file) is left alone; a
  folder that holds one of ENTRIES that a preview did not write (no MARKER, nor the files every
  preview writes) is refused, not overwritten.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

# What a preview writes at the top of DIR (interlock_platform/tooling/preview.py's report_files)
ENTRIES = ("security", "interlock", "kubernetes", "cloudformation", "stack-outputs.json")
MARKER = ".interlock-platform-preview"  # left in DIR: its ENTRIES are a preview's, to replace


class OutProblem(Exception):
    def __init__(self, path: Path, message: str, fix: str) -> None:
        self.path, self.message, self.fix = path, message, fix
        super().__init__(f"{path}: {message}. Fix: {fix}")


def written_by_a_preview(out: Path) -> bool:
    """Its MARKER, or, for a folder written before there was one, the two files every preview writes."""
    return (out / MARKER).is_file() or ((out / "security" / "matrix.md").is_file() and (out / "cloudformation" / "template.json").is_file())


def check(out: Path) -> None:
    """Refuse, before anything runs, an `--out` the preview could not write or must not touch."""
    if out.exists() and not out.is_dir():
        raise OutProblem(out, "--out: is a file, not a folder", "give a folder (the preview writes its files under it), or move the file away")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutProblem(existing, "--out: is a file, so no folder can be made under it", "give a folder whose parents are folders")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutProblem(existing, "--out: cannot be written (permission denied)", "give a folder you can write to, e.g. out/<stack>")
    if out.is_dir() and not written_by_a_preview(out):
        foreign = [name for name in ENTRIES if (out / name).exists()]
        if foreign:
            raise OutProblem(
                out, f"--out: holds {', '.join(foreign)}, which no preview wrote (it would replace them)",
                "give a new or empty folder, or one a preview wrote, or move those away",
            )  # fmt: skip


def write(out: Path, files: Mapping[Path, str]) -> list[Path]:
    """Write `files` (paths under `out`) as `out`'s ENTRIES afresh; the paths written. Raises
    OutProblem, with the old entries left as they were, when the filesystem refuses."""
    check(out)
    relative = {path.relative_to(out): text for path, text in files.items()}
    stray = sorted(str(p) for p in relative if p.parts[0] not in ENTRIES)
    if stray:  # a file the swap would not own: a bug in the caller, not the user's input
        raise ValueError(f"not under the preview's entries {ENTRIES}: {stray}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".preview-", dir=out))
    except OSError as err:
        raise OutProblem(out, f"--out: cannot be written ({err.strerror})", "give a folder you can write to") from None
    new, old = staging / "new", staging / "old"
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        for path, text in relative.items():
            (new / path).parent.mkdir(parents=True, exist_ok=True)
            (new / path).write_text(text)
        (out / MARKER).write_text("Written by interlock-platform preview --out: its entries here are replaced by the next preview.\n")
        old.mkdir()
        for name in ENTRIES:
            if (out / name).exists():
                (out / name).rename(old / name)
                moved_old.append(name)
        for name in ENTRIES:
            if (new / name).exists():
                (new / name).rename(out / name)
                moved_new.append(name)
    except OSError as err:
        for name in moved_new:  # put back what was there
            shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
        for name in moved_old:
            (old / name).rename(out / name)
        shutil.rmtree(staging, ignore_errors=True)
        raise OutProblem(out, f"--out: cannot be written ({err.strerror}); the folder is as it was", "free space, or give a folder you can write to") from None
    shutil.rmtree(staging, ignore_errors=True)
    return [out / path for path in relative]
