"""`python -m interlock_platform ...`: the `interlock-platform` command (interlock_platform/tooling/cli.py).

Not the platform's Pulumi program: that is the repository's own __main__.py, which Pulumi runs
from the project folder; this one runs only as `python -m interlock_platform`."""

from interlock_platform.tooling.cli import main

if __name__ == "__main__":
    main()
