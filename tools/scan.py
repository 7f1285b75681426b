"""`python -m tools.scan`: kept for existing scripts; it is `interlock-platform scan` (also
`python -m interlock_platform scan`), from interlock_platform/tooling/scan.py."""

import sys

from interlock_platform.tooling.cli import main

if __name__ == "__main__":
    main(["scan", *sys.argv[1:]])
