"""A private key or an AWS secret key pasted into plain config values: the policy pack still fails
the preview, and no byte of the value reaches anything the preview writes (stdout, stderr,
--json, every file under --out). The key material is generated here, never committed."""

from __future__ import annotations

import base64
import json
import secrets
import string
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from interlock_platform.tooling.masking import Masker, found_in
from tests.conftest import copy_project, preview_cli


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _aws_secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "/+"
    while True:  # as AWS issues them: 40 characters of base64's alphabet
        key = "".join(secrets.choice(alphabet) for _ in range(40))
        if any(c.islower() for c in key) and any(c.isupper() for c in key) and any(c.isdigit() for c in key):
            return key


def _forms(value: str) -> dict[str, bytes]:
    """What must not appear: the value, its JSON-escaped and base64 forms, and for a PEM every
    line of its body (a YAML or Markdown rendering re-wraps the block, never its lines' bytes)."""
    forms = {
        "raw": value, "stripped": value.strip(), "json": json.dumps(value)[1:-1],
        "base64": base64.b64encode(value.encode()).decode(), "base64 stripped": base64.b64encode(value.strip().encode()).decode(),
    }  # fmt: skip
    lines = [line for line in value.splitlines() if line and not line.startswith("-----")]
    forms |= {f"body line {i}": line for i, line in enumerate(lines)}
    if lines:
        forms["DER as base64"] = "".join(lines)[:64]
    return {k: v.encode() for k, v in forms.items()}


@pytest.fixture(scope="module")
def leaked(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = copy_project(tmp_path_factory.mktemp("masking") / "project")
    values = {"pem": _pem(), "aws": _aws_secret_key(), "ec": ""}
    ec_key = ec.generate_private_key(ec.SECP256R1())
    values["ec"] = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()  # "BEGIN EC PRIVATE KEY"
    dev = root / "stacks" / "Pulumi.dev.yaml"
    text = dev.read_text()
    for old, new in {
        "groups: [payments-developers]": f"groups: [payments-developers, {json.dumps(values['pem'])}, {json.dumps(values['aws'])}]",
        "groups: [ledger-developers, ledger-operators]": f"groups: [ledger-developers, {json.dumps(values['ec'])}]",
        "{description: HTTPS to container registries for image pulls,": f"{{description: {json.dumps('registry key ' + values['aws'])},",
    }.items():
        assert old in text, f"the anchor moved: {old}"
        text = text.replace(old, new, 1)
    dev.write_text(text)
    return root, values


def test_a_pasted_key_fails_the_preview_and_reaches_no_output(leaked):
    root, values = leaked
    out = root / "out"
    result = preview_cli("--stack", "dev", "--out", str(out), "--json", str(out / "preview.json"), cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr  # the pack's mandatory secrets-are-secret
    assert "[mandatory] secrets-are-secret" in result.stdout
    report = json.loads((out / "preview.json").read_text())
    caught = [v for v in report["violations"] if v["policy"] == "secrets-are-secret"]
    assert {v["urn"].rsplit("::", 1)[-1] for v in caught} >= {
        "dev-k8s-payments-rolebinding-team-workloads", "dev-k8s-ledger-rolebinding-team-workloads",
    }  # fmt: skip
    written = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert out / "cloudformation" / "template.json" in written and len(written) > 5
    outputs = {Path("stdout"): result.stdout.encode(), Path("stderr"): result.stderr.encode(), **written}
    leaks = [
        f"{path}: {name} of {which}"
        for which, value in values.items()
        for name, form in _forms(value).items()
        for path, data in outputs.items()
        if form in data
    ]
    assert not leaks, "\n".join(leaks)
    # the places the values were pasted still say where something was, masked
    assert b"[secret]" in written[out / "kubernetes" / "payments-dev" / "rolebinding-team-workloads.yaml"]
    assert b"registry key [secret]" in written[out / "cloudformation" / "template.json"]


def test_the_reference_stacks_have_nothing_to_mask():
    """No false positive on what the program generates: the mask never hides a real value."""
    from tests.conftest import _preview

    shared = _preview("shared").run  # the shared program's own run, not an env stack's view of its state
    for stack in ("shared", "dev", "test", "prod"):
        p = _preview(stack)
        assert found_in([r.inputs for r in p.run.resources + shared.resources]) == set(), stack
        assert found_in([p.run.outputs, p.shared.outputs]) == set(), stack


def test_a_key_quoted_in_an_error_message_is_masked():
    """stderr can quote a value before any resource exists (a wrong type): the PEM pattern
    catches it there, cut short or escaped as the message writes it."""
    pem = _pem()
    message = f"give array<string> (now a string: {pem!r}"[:90] + "...)"
    masked = Masker().text(message)
    assert "[secret]" in masked and not any(line in masked for line in pem.splitlines()[1:-1] if len(line) > 8)
