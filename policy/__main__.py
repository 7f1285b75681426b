"""The policy pack: `pulumi preview --policy-pack policy`. The rules live in `rules/`."""

import gc

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES

# The pack's process lives for one preview. What its imports built (the SDK, gRPC, the rules)
# lives as long, so the collector need not walk it on every pass (~8% of an AnalyzeStack).
gc.freeze()
PolicyPack(name="interlock-platform-isolation", enforcement_level=EnforcementLevel.MANDATORY, policies=ALL_POLICIES)
