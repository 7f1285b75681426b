"""The config models (interlock_platform/core/config_models.py) as the one declaration of the
contract: every field says what it means and how to fix it, shape errors come with the same
quality of message as the semantic ones, and a malformed key does not hide the problems of the
others."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from interlock_platform.core import config_keys, config_models
from interlock_platform.core.config_reader import InvalidConfig
from interlock_platform.core.topology import parse_environment, parse_shared
from interlock_platform.tooling import project_file
from tests.conftest import raw, refused_dev, shared_outputs


def _models(tp: Any, seen: set[type[BaseModel]]) -> None:
    """Every model reachable from `tp`, through lists, maps, unions and Annotated."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return
        seen.add(tp)
        for info in tp.model_fields.values():
            _models(info.annotation, seen)
        return
    for arg in get_args(tp):
        _models(arg, seen)


ALL_MODELS: set[type[BaseModel]] = set()
for _model in config_models.MODELS.values():
    _models(_model, ALL_MODELS)


def test_every_field_of_every_model_says_what_it_means_and_how_to_fix_it():
    assert {m.__name__ for m in ALL_MODELS} >= {"RegistryEntry", "GroupFlow", "Team", "App", "LimitRangeItem", "PortSpec"}
    for model in ALL_MODELS:
        for name, info in model.model_fields.items():
            assert info.description and info.description.strip(), f"{model.__name__}.{name} has no description"
            assert config_models.metadata(info, "fix"), f"{model.__name__}.{name} has no fix"
            assert model.model_config.get("extra") == "forbid", model.__name__


def test_the_key_table_and_every_generated_file_come_from_the_models():
    assert tuple(dict.fromkeys(k for fields in config_models.FIELDS.values() for k in fields)) == config_keys.ALL_KEYS
    for key in config_keys.KEYS:
        for role in key.roles:
            info = config_models.FIELDS[role][key.name]
            assert info.description and info.description in key.description
            assert key.secret == bool(config_models.metadata(info, "secret"))
            # the CLI contract: a key the role requires has its empty value as default
            if config_models.metadata(info, "roleRequires"):
                assert key.default in ("", [], {}), key.name
    assert project_file.main(["--check"]) == 0
    schema = json.loads((project_file.ROOT / "docs" / "config.schema.json").read_text())
    props = schema["properties"]["config"]["properties"]
    assert props["interlock-platform:applicationGroups"]["items"] == {"$ref": "#/$defs/ApplicationGroup"}
    group = schema["$defs"]["ApplicationGroup"]
    prefix_length = group["properties"]["prefixLength"]["anyOf"]  # the number, or its text (as the models read it)
    assert group["additionalProperties"] is False and prefix_length[0]["maximum"] == 32 and prefix_length[1]["type"] == "string"
    assert not any(k in json.dumps(schema) for k in ('"fix"', '"roleRequires"', '"ge"'))


def test_a_malformed_key_and_a_semantic_problem_elsewhere_are_reported_in_one_run():
    cfg = raw("dev")
    cfg["egress"][0]["port"] = "https"  # shape
    cfg["applicationGroups"][2]["firstSubnet"] = 2  # overlaps group 1: semantic
    cfg["ingressNodes"][0]["hostname"] = "ip-10-40-192-10.eu-west-1.compute.internal"  # in prod's VLAN: semantic
    cfg["loadBalancer"]["deletionProtection"] = "maybe"  # shape
    problems = refused_dev(cfg)
    assert "must be a whole number, got 'https'" in problems["egress[0].port"]
    assert "must be true or false, got 'maybe'" in problems["loadBalancer.deletionProtection"]
    assert "overlaps" in problems["applicationGroups[2].firstSubnet"]
    assert "belongs to environment 'prod'" in problems["ingressNodes[0].hostname"]


def test_a_malformed_registry_entry_and_a_semantic_problem_of_the_shared_stack_in_one_run():
    cfg = raw("shared")
    cfg["environments"]["dev"]["httpPort"] = "abc"
    cfg["adminCidrs"] = ["0.0.0.0/0"]
    cfg["managementCidrs"] = ["10.40.0.0/24", "10.40.1.0/24"]
    with pytest.raises(InvalidConfig) as err:
        parse_shared("shared", cfg)
    problems = {p.key: str(p) for p in err.value.problems}
    assert problems["environments.dev.httpPort"] == (
        "stack 'shared': interlock-platform:environments.dev.httpPort: must be a whole number, got 'abc'. "
        "Fix: give the Interlock proxy's published port (1-65535), e.g. 8080-8089."
    )
    assert "whole internet" in problems["adminCidrs[0]"]
    assert "2 subnets for 3 availability zones" in problems["managementCidrs"]


@pytest.mark.parametrize(
    ("path", "value", "key", "suggestion"),
    [
        (
            ("applicationGroups", 0),
            {"name": "ingress", "prefixLen": 24, "firstSubnet": 0},
            "applicationGroups[0].prefixLen",
            "prefixLength",
        ),
        (("loadBalancer",), {"clientCidr": ["0.0.0.0/0"]}, "loadBalancer.clientCidr", "clientCidrs"),
        (
            ("teams", 0, "apps", 0),
            {"name": "web", "podSelectr": {"app": "x"}, "ports": [80]},
            "teams[0].apps[0].podSelectr",
            "podSelector",
        ),
        (("teams", 0, "egress"), {"cidrs": [], "namespace": []}, "teams[0].egress.namespace", "namespaces"),
        (("overlayNetworks",), {"ingres": "ingress_dev"}, "overlayNetworks.ingres", "ingress"),
    ],
)
def test_a_misspelt_nested_key_gets_did_you_mean(path, value, key, suggestion):
    cfg = raw("dev")
    node: Any = cfg
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    problem = next(p for p in err.value.problems if p.key == key)
    assert problem.message == "is not a known setting"
    assert f"did you mean '{suggestion}'?" in problem.fix


def test_the_engine_s_strings_and_decoded_values_give_the_same_environment():
    cfg = raw("dev")
    as_engine = {
        k: (json.dumps(v) if isinstance(v, (list, dict)) else str(v).lower() if isinstance(v, bool) else v)
        for k, v in cfg.items()
    }
    assert parse_environment("dev", as_engine, shared_outputs()) == parse_environment("dev", cfg, shared_outputs())


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("tls", "yes", "must be true or false, got 'yes'"),  # pydantic's lax mode would take it
        ("interlock", {"proxyReplicas": 2.5}, "must be a whole number, got 2.5"),
        ("interlock", {"proxyReplicas": True}, "must be a whole number, got True"),
        ("egress", "[{", "must be a list, got a string"),
        ("applicationGroups", [], "is not set"),  # the declared default: as if unset
        ("ingressNodes", {"hostname": "x"}, "must be a list, got an object"),
    ],
)
def test_no_value_is_coerced_beyond_what_the_engine_sends(key, value, fragment):
    cfg = raw("dev")
    cfg[key] = value
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    assert any(fragment in p.message for p in err.value.problems if p.key.startswith(key)), err.value


def test_a_malformed_secret_is_never_quoted():
    cfg = raw("dev")
    cfg["ucpClientKey"] = ["-----BEGIN PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"]
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    assert "ucpClientKey" in {p.key for p in err.value.problems}
    assert "PRIVATE KEY" not in str(err.value) and "MIIE" not in str(err.value)


def test_a_malformed_entry_of_a_list_does_not_hide_its_neighbours_problems():
    cfg = raw("dev")
    cfg["ingressNodes"][0]["instanceId"] = "nope"  # shape, in entry 0
    cfg["ingressNodes"][1]["hostname"] = "ip-10-40-192-11.eu-west-1.compute.internal"  # semantic, in entry 1
    cfg["teams"][0]["apps"][0]["ports"] = ["http"]  # shape, in team 0
    cfg["teams"][1]["egress"] = {"cidrs": [{"cidr": "10.40.192.0/24", "ports": [443]}]}  # semantic, in team 1
    cfg["applicationGroups"][0]["allowFrom"] = [{"group": "payments", "ports": [0]}]  # shape, in group 0
    cfg["applicationGroups"][2]["allowFrom"] = [{"group": "paymnts", "ports": [8080]}]  # semantic, in group 2
    cfg["isolation"] = "applicationGroup"
    problems = refused_dev(cfg)
    assert "'nope' is not an EC2 instance id" in problems["ingressNodes[0].instanceId"]
    assert "belongs to environment 'prod'" in problems["ingressNodes[1].hostname"]
    assert "must be a whole number, got 'http'" in problems["teams[0].apps[0].ports[0]"]
    assert "reaches environment 'prod'" in problems["teams[1].egress.cidrs[0].cidr"]
    assert "0 is out of range 1..65535" in problems["applicationGroups[0].allowFrom[0].ports[0]"]
    assert "did you mean 'payments'?" in problems["applicationGroups[2].allowFrom[0].group"]


def test_a_check_that_needs_a_malformed_entry_is_skipped_not_guessed():
    """Group 0 (ingress, where the ingress nodes live) is malformed: its subnets are unknown, so
    the nodes are not called "in no application-group subnet"."""
    cfg = raw("dev")
    cfg["applicationGroups"][0]["prefixLen"] = 24
    with pytest.raises(InvalidConfig) as err:
        parse_environment("dev", cfg, shared_outputs())
    assert [p.key for p in err.value.problems] == ["applicationGroups[0].prefixLen"]
