"""Secret-looking values kept out of everything the offline preview writes.

The policy pack's `secrets-are-secret` rule catches a private key or a kubeconfig pasted into a
plain config value (a team's groups, a description) and fails the preview. But the preview's
outputs are what reviewers, job summaries and artifacts read: the value itself must not reach
them. What is masked, wherever it sits in a resource's inputs or outputs:
  - what the rule looks for: a PEM private key block, a kubeconfig's client key or certificate;
  - an AWS secret access key (40 characters of base64's alphabet, mixed case and a digit, as a
    token of its own) in a value: the rule does not look for it, and no output needs it. Looked
    for in the values only (the config, the resources' inputs), as CloudFormation's generated
    logical IDs (DevFwManagementInTcp1237912386WorkersDev) have the same shape.
The values are masked in the data before any output is rendered, so every rendering (JSON, YAML,
Markdown, CloudFormation) holds the mask and no re-wrapped copy of the value. The rendered text
is then masked again for the values found, JSON-escaped or base64-encoded (as a Kubernetes
Secret or a Swarm secret carries them), and for the patterns themselves (stderr names values
before any resource exists).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Iterable
from typing import Any

MASK = "[secret]"

# A block, complete or cut short (a message shortens long values), raw or JSON/repr-escaped
PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----(?:[A-Za-z0-9+/=\s:,-]|\\[nr])*?(?:-----END \1PRIVATE KEY-----|(?=[^A-Za-z0-9+/=\s:,\\-])|$)"
)
KUBECONFIG_KEY = re.compile(r"((?:client-key-data|client-certificate-data)\"?\s*[:=]\s*\"?)[A-Za-z0-9+/=]+")
_TOKEN_40 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])")


def _aws_secret_keys(text: str) -> list[str]:
    return [
        m.group(0) for m in _TOKEN_40.finditer(text)
        if re.search("[a-z]", m.group(0)) and re.search("[A-Z]", m.group(0)) and re.search("[0-9]", m.group(0))
    ]  # fmt: skip


def found_in(value: Any) -> set[str]:
    """Every secret-looking value under `value` (strings in lists and mappings, keys included)."""
    out: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.update(m.group(0) for m in PEM_PRIVATE_KEY.finditer(item))
            out.update(m.group(0)[len(m.group(1)) :] for m in KUBECONFIG_KEY.finditer(item))
            out.update(_aws_secret_keys(item))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)
    return {s for s in out if s.strip()}


class Masker:
    def __init__(self, values: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for value in values:
            for form in (value, value.strip()):
                forms |= {form, json.dumps(form)[1:-1], base64.b64encode(form.encode()).decode()}
        self.forms = sorted((f for f in forms if len(f) >= 8), key=len, reverse=True)  # the longest first

    def text(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, MASK)
        text = PEM_PRIVATE_KEY.sub(MASK, text)
        text = KUBECONFIG_KEY.sub(lambda m: m.group(1) + MASK, text)
        return text  # AWS keys by their values only: generated names (CloudFormation's logical IDs) look alike

    def value(self, value: Any) -> Any:
        """A copy with every string masked, keys included; other values as they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        return value

    def registration(self, r: Any) -> Any:
        return dataclasses.replace(r, inputs=self.value(r.inputs), state=self.value(r.state))
