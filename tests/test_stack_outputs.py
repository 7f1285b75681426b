"""docs/stack-outputs.md is the contract: it lists exactly what the stacks export."""

from __future__ import annotations

import re

import pytest

from tests.conftest import STACKS
from tools.stack_files import ROOT

DOC = ROOT / "docs" / "stack-outputs.md"


def documented(section: str) -> set[str]:
    text = DOC.read_text().split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            cell = line.split("|")[1]
            names |= set(re.findall(r"`([A-Za-z]+)`", cell))
    return names


@pytest.mark.parametrize("stack", STACKS)
def test_every_export_is_documented_and_every_documented_export_exists(preview, stack):
    exported = set(preview(stack).run.outputs)
    doc = documented("shared" if stack == "shared" else "dev, test, prod")
    optional = {"tlsCertificateSecretName", "tlsKeySecretName"}  # only with tls: true
    assert exported - doc == set(), f"exported but not in {DOC.name}: {sorted(exported - doc)}"
    assert doc - exported - optional == set(), f"in {DOC.name} but not exported by {stack}: {sorted(doc - exported - optional)}"


def test_every_row_has_a_type_a_meaning_and_a_stability():
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert len(cells) == 4 and all(cells), line
            assert cells[3] in ("stable", "informational"), line
