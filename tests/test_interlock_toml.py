"""The Interlock TOML transform: what it sets, what it refuses, and (by property) that every
byte it does not own survives."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlock_platform.core.interlock_toml import (
    SWARM_CONFIG_LIMIT,
    InterlockConfigError,
    ServiceClusterSpec,
    merge,
    remove,
    section,
    service_clusters,
    template_section,
)

FIXTURE = (Path(__file__).parent / "fixtures" / "interlock" / "ucp-3.2-default.toml").read_text()
DEV = ServiceClusterSpec("dev", 8082, 8445, 2, "ingress_dev")
TEST = ServiceClusterSpec("test", 8081, 8444, 3, "ingress_test")
PROD = ServiceClusterSpec("prod", 8080, 8443, 2, "ingress_prod")


def test_merge_clones_the_template_and_sets_the_service_cluster():
    out = merge(FIXTURE, DEV)
    dev, default = section(out, "dev"), section(out, "default")
    assert dev["ServiceName"] == "ucp-interlock-extension-dev"
    assert dev["ProxyServiceName"] == "ucp-interlock-proxy-dev"
    assert dev["ServiceCluster"] == "dev"
    assert dev["Networks"] == ["ingress_dev"]
    assert dev["PublishMode"] == "host"
    assert (dev["PublishedPort"], dev["PublishedSSLPort"]) == (8082, 8445)
    assert dev["ProxyReplicas"] == 2
    constraint = "node.labels.com.docker.interlock.service.cluster==dev"
    assert dev["Constraints"] == [*default["Constraints"], constraint]
    assert dev["ProxyConstraints"] == [*default["ProxyConstraints"], constraint]
    # inherited from the template: images, nginx settings, the cluster's InstanceID labels
    for key in (
        "Image",
        "ProxyImage",
        "Config",
        "Labels",
        "ContainerLabels",
        "ProxyLabels",
        "ProxyContainerLabels",
        "TargetPort",
        "TargetSSLPort",
    ):
        assert dev[key] == default[key], key
    assert dev["Labels"]["com.docker.ucp.InstanceID"] == "k3ulpzd0wq1qfh4ny5vu7ebie"
    assert section(out, "default") == section(FIXTURE, "default")


def test_merge_keeps_every_other_byte():
    out = merge(FIXTURE, DEV)
    assert out.startswith(FIXTURE)  # the new section is appended; nothing before it changed
    assert remove(out, "dev") == FIXTURE


def test_merge_is_idempotent_and_updates_in_place():
    once = merge(FIXTURE, DEV)
    assert merge(once, DEV) == once
    bigger = merge(once, ServiceClusterSpec("dev", 8082, 8445, 5, "ingress_dev"))
    changed = [(a, b) for a, b in zip(once.splitlines(), bigger.splitlines(), strict=True) if a != b]
    assert changed == [("    ProxyReplicas = 2", "    ProxyReplicas = 5")]


def test_constraints_are_not_doubled_when_cloning_a_managed_section():
    out = merge(merge(FIXTURE, DEV), DEV)
    assert section(out, "dev")["Constraints"].count("node.labels.com.docker.interlock.service.cluster==dev") == 1


def test_constraints_that_are_a_string_are_refused_not_split_into_characters():
    broken = FIXTURE.replace(
        'Constraints = ["node.labels.com.docker.ucp.orchestrator.swarm==true", "node.platform.os==linux"]',
        'Constraints = "node.platform.os==linux"',
        1,
    )
    assert broken != FIXTURE
    with pytest.raises(InterlockConfigError, match="not a list of strings"):
        merge(broken, DEV)


def test_comments_survive():
    commented = FIXTURE.replace(
        'PollInterval = "3s"', 'PollInterval = "3s"  # tuned by ops, ticket 4711\n# keep this file in git'
    )
    out = merge(commented, DEV)
    assert "# tuned by ops, ticket 4711" in out and "# keep this file in git" in out
    assert remove(out, "dev") == commented


def test_ports_colliding_with_default_are_refused_with_the_way_out():
    with pytest.raises(InterlockConfigError) as err:
        merge(FIXTURE, PROD)
    assert "[Extensions.default]" in str(err.value) and "retireDefaultExtension" in str(err.value)


def test_ports_colliding_with_another_cluster_are_refused():
    with pytest.raises(InterlockConfigError) as err:
        merge(merge(FIXTURE, DEV), ServiceClusterSpec("test", 8081, 8445, 2, "ingress_test"))
    assert "8445" in str(err.value) and "[Extensions.dev]" in str(err.value)


def test_missing_template_is_refused():
    with pytest.raises(InterlockConfigError) as err:
        merge(remove(FIXTURE, "default"), DEV)
    assert "template extension [Extensions.default]" in str(err.value)


def test_a_captured_template_stands_in_after_default_is_retired():
    captured = template_section(FIXTURE)
    retired = remove(FIXTURE, "default")
    out = merge(merge(merge(retired, PROD, captured), TEST, captured), DEV, captured)
    assert service_clusters(out) == ["prod", "test", "dev"]
    assert section(out, "prod")["Config"] == section(FIXTURE, "default")["Config"]
    assert out.startswith(retired)


def test_invalid_toml_is_reported():
    with pytest.raises(InterlockConfigError, match="not valid TOML"):
        merge("ListenAddr = ", DEV)


def test_remove_is_a_no_op_for_an_absent_section():
    assert remove(FIXTURE, "qa") == FIXTURE


# --------------------------------------------------------------------------------------------
# Properties: random unrelated content is preserved byte for byte.

names = st.from_regex(r"[A-Z][A-Za-z]{1,12}", fullmatch=True)
comment = st.from_regex(r"# [ -~]{0,40}", fullmatch=True)
scalar = st.one_of(
    st.integers(-1000, 100000).map(str),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=20).map(
        lambda s: f'"{s}"'
    ),
)
blank = st.sampled_from(["", "   ", "\t"])


@st.composite
def top_level_lines(draw: st.DrawFn) -> list[str]:
    lines = []
    for key in draw(st.lists(names, max_size=6, unique=True)):
        if key in {"ListenAddr", "DockerURL", "AllowInsecure", "PollInterval", "Extensions"}:
            continue
        lines.append(f"{key} = {draw(scalar)}" + draw(st.sampled_from(["", "  # note"])))
    lines += draw(st.lists(st.one_of(comment, blank), max_size=4))
    return draw(st.permutations(lines))


@st.composite
def other_extension(draw: st.DrawFn, name: str, port: int) -> str:
    body = [
        f"  [Extensions.{name}]",
        f'    ServiceCluster = "{name}"',
        f"    PublishedPort = {port}",
        f"    PublishedSSLPort = {port + 1}",
    ]
    body += [
        f"    {k} = {draw(scalar)}"
        for k in draw(st.lists(names, max_size=3, unique=True))
        if k not in {"ServiceCluster", "PublishedPort", "PublishedSSLPort"}
    ]
    body += draw(st.lists(comment, max_size=2))
    if draw(st.booleans()):
        body += [
            f"    [Extensions.{name}.Labels]",
            f'      "com.docker.ucp.InstanceID" = "{draw(st.from_regex(r"[a-z0-9]{8}", fullmatch=True))}"',
        ]
    return "\n".join(body)


@st.composite
def documents(draw: st.DrawFn) -> str:
    head, _, extensions = FIXTURE.partition("[Extensions]\n")
    top = "\n".join(draw(top_level_lines()))
    others = [draw(other_extension(f"team{i}", 9000 + 10 * i)) for i in range(draw(st.integers(0, 3)))]
    text = head.rstrip("\n") + "\n" + (top + "\n" if top else "") + "\n[Extensions]\n" + extensions
    for o in others:
        text += o + "\n"
    tomlkit.parse(text)  # only valid TOML is a fair input
    return text


SPECS = st.builds(
    ServiceClusterSpec,
    name=st.sampled_from(["dev", "test", "prod", "qa"]),
    http_port=st.integers(8100, 8199),
    https_port=st.integers(8200, 8299),
    proxy_replicas=st.integers(1, 5),
    network=st.from_regex(r"ingress_[a-z]{1,8}", fullmatch=True),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), spec=SPECS)
def test_merge_then_remove_restores_the_document_byte_for_byte(doc, spec):
    merged = merge(doc, spec)
    assert merged.startswith(doc)
    assert remove(merged, spec.name) == doc
    assert merge(merged, spec) == merged


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), first=SPECS, second=SPECS)
def test_updating_a_section_changes_no_line_outside_it(doc, first, second):
    second = ServiceClusterSpec(first.name, second.http_port, second.https_port, second.proxy_replicas, second.network)
    before = merge(doc, first)
    after = merge(before, second)
    start = before.index(f"[Extensions.{first.name}]")
    assert after[:start] == before[:start]
    assert tomlkit.parse(after).unwrap() == tomlkit.parse(merge(doc, second)).unwrap()


# --------------------------------------------------------------------------------------------
# remove() keeps every comment that is not inside the removed section (issue 15: the comment
# before the next table was dropped, because tomlkit files it under the table before).

HOSTILE = """\
# Interlock, edited by hand on the manager  # not a key
ListenAddr = ":8080"   # inline, top level

[Extensions]
  # about default
  [Extensions.default]
    Image = "docker/ucp-interlock-extension:3.2.5"  # pinned
    PublishedPort = 8080
    [Extensions.default.Config]
      User = "nginx"
      # end of default's Config: reads as dev's
  # dev: owned by the platform
  [Extensions.dev]
    # dev's own note
    Image = "x"
    [[Extensions.dev.Upstreams]]
      Name = "a"   # first
    [[Extensions.dev.Upstreams]]
      Name = "b"
  # reads as prod's, sits after dev's last array entry

  [Extensions.prod]
    Image = "y"
# after the last extension: before the next top-level table

[[Upstreams]]
  # inside an array of tables
  Name = "u"
[Other]
  Key = 1 # inline
# the very end, no newline after it"""


def test_remove_keeps_the_comments_before_the_next_table():
    assert remove(HOSTILE, "dev") == HOSTILE.replace(
        '''  [Extensions.dev]
    # dev's own note
    Image = "x"
    [[Extensions.dev.Upstreams]]
      Name = "a"   # first
    [[Extensions.dev.Upstreams]]
      Name = "b"
''',
        "",
    )
    assert remove(HOSTILE, "default") == HOSTILE.replace(
        '''  [Extensions.default]
    Image = "docker/ucp-interlock-extension:3.2.5"  # pinned
    PublishedPort = 8080
    [Extensions.default.Config]
      User = "nginx"
''',
        "",
    )
    assert remove(HOSTILE, "prod") == HOSTILE.replace('  [Extensions.prod]\n    Image = "y"\n', "")


def _section_span(lines: list[str], name: str) -> range:
    """The lines of `[Extensions.<name>]` from its header to its last key (its sub-tables
    included), read from the text alone, not through tomlkit."""
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"[Extensions.{name}]"))
    end = start
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped.startswith("[") and not stripped.lstrip("[").startswith(f"Extensions.{name}."):
            break
        if stripped and not stripped.startswith("#"):
            end = i
    return range(start, end + 1)


@st.composite
def commented_documents(draw: st.DrawFn) -> tuple[str, str]:
    """Extensions with sub-tables and arrays of tables, comments and blank lines anywhere
    between lines, inline comments, top-level tables after, and a section to remove."""
    extra = st.lists(st.one_of(comment, blank).map(lambda c: "  " + c if draw(st.booleans()) else c), max_size=2)
    lines = ["ListenAddr = \":8080\"" + draw(st.sampled_from(["", "  # inline"])), *draw(extra), "[Extensions]", *draw(extra)]
    sections = draw(st.lists(st.sampled_from(["default", "dev", "test", "prod"]), min_size=1, max_size=4, unique=True))
    for name in sections:
        lines += [f"  [Extensions.{name}]" + draw(st.sampled_from(["", "  # header note"])), *draw(extra)]
        lines += [f"    Image = {draw(scalar)}" + draw(st.sampled_from(["", " # pinned"])), *draw(extra)]
        if draw(st.booleans()):
            lines += [f"    [Extensions.{name}.Config]", *draw(extra), f"      User = {draw(scalar)}", *draw(extra)]
        for _ in range(draw(st.integers(0, 2))):
            lines += [f"    [[Extensions.{name}.Upstreams]]", *draw(extra), f"      Name = {draw(scalar)}", *draw(extra)]
    if draw(st.booleans()):
        lines += ["[[Upstreams]]", *draw(extra), "  Name = \"u\"", *draw(extra)]
    if draw(st.booleans()):
        lines += ["[Other]", "  Key = 1  # inline", *draw(extra)]
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n"]))
    tomlkit.parse(text)
    return text, draw(st.sampled_from(sections))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=commented_documents())
def test_remove_takes_out_exactly_the_section(case):
    text, name = case
    out = remove(text, name)
    lines = text.splitlines(keepends=True)
    span = _section_span(lines, name)
    assert out == "".join(line for i, line in enumerate(lines) if i not in span)
    expected = tomlkit.parse(text).unwrap()
    del expected["Extensions"][name]
    assert tomlkit.parse(out).unwrap() == expected


def test_a_config_at_swarms_size_limit_is_refused_before_anything_is_created():
    """swarmkit refuses `len(data) >= 1,024,000`: the largest config it takes is 1,023,999 bytes."""
    section_bytes = len(merge(FIXTURE, DEV).encode()) - len(FIXTURE.encode())
    padding = SWARM_CONFIG_LIMIT - 1 - len(FIXTURE.encode()) - section_bytes - len("# \n")
    below = f"# {'x' * padding}\n" + FIXTURE
    assert len(merge(below, DEV).encode()) == SWARM_CONFIG_LIMIT - 1  # one byte under: accepted
    with pytest.raises(InterlockConfigError) as err:
        merge(f"# {'x' * (padding + 1)}\n" + FIXTURE, DEV)  # one byte more: exactly the limit, which Swarm refuses
    assert f"would be {SWARM_CONFIG_LIMIT:,} bytes; Swarm takes a config of fewer than 1,024,000 bytes" in str(err.value)
    assert "[Extensions.dev]" in str(err.value) and "Fix:" in str(err.value)
    # multi-byte characters count as the API counts them, in bytes
    with pytest.raises(InterlockConfigError):
        merge(f"# {'é' * (padding // 2 + 1)}\n" + FIXTURE, DEV)


@pytest.mark.parametrize(
    "comment",
    ["# the end of the file\n", "\n# a trailing block\n# of two lines\n\n", "# big: " + "x" * 50_000 + "\n"],
    ids=["one-line", "block-with-blank-lines", "large"],
)
def test_merge_keeps_every_comment_exactly_once(comment):
    """A comment after the template's last key (tomlkit files the file's trailing comments under
    the last table) and a comment inside the template are not cloned into each new section."""
    base = FIXTURE.replace("    ProxyReplicas = 2\n", "    ProxyReplicas = 2  # two proxies\n    # placement\n", 1) + comment
    out = merge(merge(merge(base, DEV), TEST), DEV)
    for text in (comment.strip(), "# two proxies", "# placement"):
        assert out.count(text) == 1, text
    section_bytes = len(merge(FIXTURE, DEV)) - len(FIXTURE)
    assert len(out) - len(base) < 3 * section_bytes  # two sections, not two copies of the comment
    assert tomlkit.parse(out).unwrap()["Extensions"]["test"]["ProxyReplicas"] == 3
    assert remove(remove(out, "test"), "dev") == base
