"""The forms a stack file's values take besides the model's own types, for docs/config.schema.json.

The JSON Schema pydantic derives from interlock_platform/core/config_models.py describes the
values the program works with (an integer, a boolean). A stack file holds them as the Pulumi CLI
and the models read them, and the schema must accept and refuse exactly what those two do
(tests/config_corpus.yaml holds the three to one corpus):

- a top-level value is handed to the program as text, and `pulumi config set KEY VALUE` writes it
  as text: `tls: "true"`, `flowLogRetentionDays: "365"`. The CLI's type check accepts "true" and
  "false" for a declared boolean and digits for a declared integer (interlock_platform/tooling/stack_files.py `_valid`);
  the model then applies the range. A release written unquoted (`ucpVersion: 3.8`) is a YAML
  number whose text the CLI hands over;
- inside an object the CLI checks nothing; the models read a whole number or a boolean from text
  too (`Whole`, `Flag`: surrounding blanks, any case of true/false);
- a key without a namespace is the project's (the CLI qualifies it with the project's name);
- a secret is `{secure: ...}` (`pulumi config set --secret`), or empty: never plain text.
"""

from __future__ import annotations

from typing import Any

# The models' Flag: any case, blanks around (JSON Schema patterns have no case-insensitive flag)
NESTED_BOOLEAN = r"^\s*(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*$"
MAX_DIGITS = 30  # the models' Whole reads at most 30 digits


def _same_length(lo: str, hi: str) -> str:
    """A regex for the digit strings of one length from lo to hi (lo <= hi, as text of equal length)."""
    if not lo:
        return ""
    rest = len(lo) - 1
    if lo[0] == hi[0]:
        return lo[0] + _same_length(lo[1:], hi[1:])
    if lo[1:] == "0" * rest and hi[1:] == "9" * rest:
        return f"[{lo[0]}-{hi[0]}]" + (rf"\d{{{rest}}}" if rest else "")
    parts = [lo[0] + _group(_same_length(lo[1:], "9" * rest))]
    if int(hi[0]) - int(lo[0]) > 1:
        parts.append(f"[{int(lo[0]) + 1}-{int(hi[0]) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    parts.append(hi[0] + _group(_same_length("0" * rest, hi[1:])))
    return "(?:" + "|".join(parts) + ")"


def _group(regex: str) -> str:
    return f"(?:{regex})" if "|" in regex and not regex.startswith("(?:") else regex


def whole_number_pattern(minimum: int | None, maximum: int | None) -> str:
    """A regex (without anchors) for the decimal text of a whole number in [minimum, maximum],
    leading zeros allowed (as int("0365") reads them). Negative numbers only without a minimum."""
    if minimum is None:
        return rf"-?\d{{1,{MAX_DIGITS}}}"
    lo, hi = max(minimum, 0), maximum if maximum is not None else 10**MAX_DIGITS - 1
    arms = []
    for length in range(len(str(lo)), len(str(hi)) + 1):
        first = lo if length == len(str(lo)) else 10 ** (length - 1)
        last = hi if length == len(str(hi)) else 10**length - 1
        arms.append(_same_length(str(first), str(last)))
    return "0*(?:" + "|".join(arms) + ")"


def _integer_text(node: dict[str, Any], blanks: str) -> dict[str, Any]:
    body = whole_number_pattern(node.get("minimum"), node.get("maximum"))
    return {"type": "string", "pattern": f"^{blanks}{body}{blanks}$"}


def nested_forms(schema: Any) -> Any:
    """`schema` with every integer and boolean below it also accepting the text the models read."""
    if isinstance(schema, list):
        return [nested_forms(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: ({n: nested_forms(s) for n, s in v.items()} if k in ("properties", "$defs", "patternProperties") else nested_forms(v))
           for k, v in schema.items()}  # fmt: skip
    if out.get("type") == "integer":
        return _either(out, _integer_text(out, r"\s*"))
    if out.get("type") == "boolean":
        return _either(out, {"type": "string", "pattern": NESTED_BOOLEAN})
    return out


def _either(node: dict[str, Any], text: dict[str, Any]) -> dict[str, Any]:
    """`node` or its text form; the annotations (description, default) stay on the outside."""
    annotations = {k: node[k] for k in ("description", "default") if k in node}
    inner = {k: v for k, v in node.items() if k not in annotations}
    return {"anyOf": [inner, text], **annotations}


def top_level_forms(plain: dict[str, Any], config_type: str) -> dict[str, Any]:
    """A top-level key's value schema (`plain`, from its model) with the forms the CLI passes:
    "true"/"false" for a boolean, digits for an integer (its range kept), the number a release
    such as 3.8 is read as. What is nested in it takes the models' text forms."""
    top = {k: v for k, v in plain.items() if k not in ("properties", "items", "anyOf", "oneOf", "additionalProperties")}
    top.update({k: nested_forms(v) for k, v in plain.items() if k not in top})
    if config_type == "boolean" and top.get("type") == "boolean":
        return _either(top, {"type": "string", "enum": ["true", "false"]})
    if config_type == "integer" and top.get("type") == "integer":
        return _either(top, _integer_text(top, ""))
    if config_type == "string" and isinstance(top.get("enum"), list):
        numbers = [float(v) for v in top["enum"] if _number_text(v)]
        if numbers:
            return _either(top, {"type": "number", "enum": numbers})
    return top


def _number_text(value: Any) -> bool:
    """A choice YAML would read as a (non-whole) number whose text is the choice again: "3.8"."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return not number.is_integer() and repr(number) == value


def secret_forms(description: str) -> dict[str, Any]:
    """A secret: encrypted by `pulumi config set --secret`, or empty (not set)."""
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"secure": {"type": "string"}},
                "required": ["secure"],
                "additionalProperties": False,
            },
            {"type": "string", "maxLength": 0},
        ],
        "description": description,
    }
