"""One corpus, three readers: docs/config.schema.json (what an editor and check-jsonschema say),
the Pulumi CLI's rules (interlock_platform/tooling/stack_files.py, what `pulumi preview` checks before the program
runs) and the offline preview (those rules, then the program's own validation, in process).

Every entry of tests/config_corpus.yaml is a stack file with a few keys replaced. The schema and
the preview must both give the entry's verdict; so must the CLI's rules, except where the entry
says the CLI lets the value through (`cli: accept`: the CLI checks only the types Pulumi.yaml
declares, not names, choices or ranges). The schema never refuses what the preview accepts, nor
accepts what the CLI or the preview refuses.

The CLI itself cannot run here: its rules are the project's reading of the CLI's source (the
config merge and Project.Validate, with the commits cited in stack_files.py), so this corpus
shows that the three readers agree, and that reading is the CLI's only as far as its citations go.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from interlock_platform.core import config_models
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.tooling import fleet
from interlock_platform.tooling.preview import InvalidStackConfig, run_preview
from interlock_platform.tooling.stack_files import ROOT, InvalidProjectFiles, load_yaml_text, merged_config, offline_stack

CORPUS = yaml.safe_load((Path(__file__).parent / "config_corpus.yaml").read_text())
ACCEPT, REFUSE = "accept", "refuse"


def edited(text: str, snippet: str) -> str:
    """The stack file `text` with the snippet's top-level keys (and their nested lines) replaced."""
    keys = set(yaml.safe_load(snippet))
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        key = re.match(r"  (?! )([^#\s][^\s]*?):(?:\s|$)", line)
        if key:
            skipping = key.group(1) in keys
        elif not line.startswith("   ") and not line.startswith("  #"):
            skipping = False
        if not skipping:
            out.append(line)
    body = "".join(out)
    return body.replace("config:\n", "config:\n" + "".join(f"  {line}\n" for line in snippet.splitlines()), 1)


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "docs" / "config.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def project_with(tmp_path: Path, entry: dict[str, Any]) -> Path:
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        shutil.copy(path, root / "stacks" / path.name)
    path = root / "stacks" / f"Pulumi.{entry['stack']}.yaml"
    path.write_text(edited(path.read_text(), entry["config"]))
    return root


def schema_verdict(root: Path, stack: str) -> tuple[str, list[str]]:
    data = (root / "stacks" / f"Pulumi.{stack}.yaml").read_bytes()
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator().iter_errors(load_yaml_text(data, stack, "stack file"))
    ]
    return (REFUSE if errors else ACCEPT), errors


def cli_verdict(root: Path, stack: str) -> tuple[str, list[str]]:
    try:
        merged_config(stack, root, secrets_set=True)
    except InvalidProjectFiles as err:
        return REFUSE, [str(p) for p in err.problems]
    return ACCEPT, []


def preview_verdict(root: Path, stack: str) -> tuple[str, list[str]]:
    """What `python -m interlock_platform preview --stack STACK` decides before it reports (exit 2 or not)."""
    try:
        config, secrets, stood_in, _warnings = offline_stack(stack, root)
        run_preview(stack, offline=(config, secrets, stood_in))
        fleet.check_fleet(stack, config)
    except (InvalidProjectFiles, InvalidStackConfig, InvalidConfig) as err:
        return REFUSE, [str(p) for p in err.problems]
    return ACCEPT, []


@pytest.mark.parametrize("entry", CORPUS, ids=[e["name"] for e in CORPUS])
def test_the_schema_the_cli_and_the_preview_agree(tmp_path, entry):
    root = project_with(tmp_path, entry)
    stack = entry["stack"]
    schema, why_schema = schema_verdict(root, stack)
    cli, why_cli = cli_verdict(root, stack)
    preview, why_preview = preview_verdict(root, stack)
    assert (schema, cli, preview) == (entry["expect"], entry.get("cli", entry["expect"]), entry["expect"]), (
        f"schema: {why_schema}\ncli: {why_cli}\npreview: {why_preview}"
    )
    # a refusal names the key it is about, whoever gives it
    (key,) = {str(k).rsplit(":", 1)[-1] for k in yaml.safe_load(entry["config"])}
    for verdict, why in ((schema, why_schema), (cli, why_cli), (preview, why_preview)):
        assert verdict == ACCEPT or any(key in problem for problem in why), why


def test_the_corpus_holds_at_least_25_typos_and_the_cli_string_forms():
    refused = [e for e in CORPUS if e["expect"] == REFUSE]
    as_text = [e for e in CORPUS if e["expect"] == ACCEPT and re.search(r": ['\"]|: \{[^}]*: ['\"]", e["config"])]
    assert len(refused) >= 25 and len(as_text) >= 5
    assert len({e["name"] for e in CORPUS}) == len(CORPUS)


def test_the_harness_edits_the_stack_file_it_names(tmp_path):
    """An entry that did not reach the file would pass for the wrong reason."""
    for entry in CORPUS:
        text = (ROOT / "stacks" / f"Pulumi.{entry['stack']}.yaml").read_text()
        after = edited(text, entry["config"])
        assert entry["config"].splitlines()[0] in after
        wanted = load_yaml_text(entry["config"].encode(), "corpus", "stack file")
        got = load_yaml_text(after.encode(), "edited", "stack file")["config"]
        assert {key: got[key] for key in wanted} == wanted, entry["name"]


NAMEISH = st.text(alphabet="ab0-._=/Z9", max_size=24) | st.from_regex(config_models.DNS_NAME_PATTERN, fullmatch=True)


@given(NAMEISH)
def test_the_schema_s_dns_pattern_is_the_models_rule(text):
    """The schema's regexes for what the models check in code: a DNS name, a node selector."""
    assert (re.search(config_models.DNS_NAME_PATTERN, text) is not None) == config_models.valid_dns_name(text)
    assert (re.search(config_models.SELECTOR_PATTERN, text) is not None) == config_models.valid_selector(text)
