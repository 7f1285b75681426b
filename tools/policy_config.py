"""`python -m tools.policy_config`: kept for existing scripts; it is `interlock-platform policy-config` (also
`python -m interlock_platform policy-config`), from interlock_platform/tooling/policy_config.py."""

import sys

from interlock_platform.tooling.cli import main

if __name__ == "__main__":
    main(["policy-config", *sys.argv[1:]])
