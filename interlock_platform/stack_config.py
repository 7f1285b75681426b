"""The thin shell between Pulumi and the pure model: reads this stack's config and the shared
stack's outputs as plain values, and turns invalid config into a clean Pulumi error."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, NoReturn

import pulumi
import pulumi_aws as aws

from interlock_platform.core.config_reader import MAX_STACK_CONFIG_BYTES, STACK_CONFIG_TOO_BIG_FIX, InvalidConfig, Problem
from interlock_platform.core.model import InstanceFacts
from interlock_platform.core.topology import PROJECT

SECRET_SET = "[secret]"


class InvalidStackConfig(pulumi.RunError):
    """A RunError prints its message without a traceback; the preview reads `problems`."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            f"invalid configuration ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


class InvalidAppSpec(pulumi.RunError):
    """An app team's spec its environment refuses, on either runtime (Interlock or the Gateway).
    Printed without a traceback by the Pulumi CLI; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid app spec:\n" + "\n".join(f"  - {p}" for p in problems))


def fail(err: InvalidConfig) -> NoReturn:
    raise InvalidStackConfig(err.problems) from None


def read() -> dict[str, Any]:
    """Every `interlock-platform:` key of this stack, raw (strings; JSON for objects and lists).
    All keys, not only known ones, so that a misspelt key is reported rather than ignored: the
    language host (pulumi-language-python-exec) hands the program the stack's whole config as
    PULUMI_CONFIG, which `pulumi.runtime.get_config_env` reads, as the exec itself does."""
    everything = pulumi.runtime.get_config_env()
    _bounded(everything)
    prefix = f"{PROJECT}:"
    cfg = pulumi.Config(PROJECT)
    return {
        k[len(prefix) :]: cfg.get(k[len(prefix) :]) for k in everything if k.startswith(prefix) and ":" not in k[len(prefix) :]
    }


def _bounded(everything: dict[str, Any]) -> None:
    """Refuse, before any value is parsed, a config bigger than a stack may be: the CLI hands it
    over with YAML aliases expanded, and every copy and parse of it would cost as much again."""
    sizes = {key: len(key.encode()) + len(str(value).encode()) for key, value in everything.items()}
    total = sum(sizes.values())
    if total > MAX_STACK_CONFIG_BYTES:
        biggest = max(sizes, key=lambda key: sizes[key])
        raise InvalidStackConfig([
            Problem(
                pulumi.get_stack(), biggest,
                f"the stack's config is {total:,} bytes as the program receives it ({sizes[biggest]:,} of them in this key), "
                f"over the limit of {MAX_STACK_CONFIG_BYTES:,} bytes",
                STACK_CONFIG_TOO_BIG_FIX,
            )
        ])  # fmt: skip


def aws_region() -> str:
    """The region the AWS provider creates everything in: aws:region, or the environment variables
    the provider reads when the stack does not set it ("" when none is set)."""
    return aws_region_or_environment(pulumi.Config("aws").get("region"))


def aws_region_or_environment(configured: str | None) -> str:
    """`configured` (a stack's aws:region), or else the environment variables the provider reads."""
    return configured or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""


async def read_stack_outputs(ref: pulumi.StackReference, names: Iterable[str]) -> dict[str, Any]:
    """The referenced stack's outputs `names` as plain values, before any resource that depends on
    them is registered, so validation can use them. StackReference outputs are known even during a
    preview; a name the stack does not export is left out."""
    found: dict[str, Any] = {}
    for name in names:
        details = await ref.get_output_details(name)
        value = details.value if details.value is not None else details.secret_value
        if value is not None:
            found[name] = value
    return found


def read_instances(instance_ids: Iterable[str]) -> dict[str, InstanceFacts | str]:
    """What EC2 says of each instance id (`aws.ec2.get_instance`, an invoke, which runs during
    a preview too), or why it could not say: before anything is registered, so validation can
    hold the ids to the environment's subnets."""
    found: dict[str, InstanceFacts | str] = {}
    for instance_id in dict.fromkeys(instance_ids):
        try:
            got = aws.ec2.get_instance(instance_id=instance_id)
        except Exception as err:  # the provider's failure, e.g. no such instance: reported as a config problem
            found[instance_id] = str(err)
            continue
        found[instance_id] = InstanceFacts(instance_id, got.private_ip or "", got.availability_zone or "")
    return found
