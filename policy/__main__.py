"""The policy pack: `pulumi preview --policy-pack policy`. The rules live in `rules/`."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES

PolicyPack(name="interlock-platform-isolation", enforcement_level=EnforcementLevel.MANDATORY, policies=ALL_POLICIES)
