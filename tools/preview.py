"""`python -m tools.preview`: kept for existing scripts; it is `interlock-platform preview` (also
`python -m interlock_platform preview`), from interlock_platform/tooling/preview.py."""

import sys

from interlock_platform.tooling.cli import main

if __name__ == "__main__":
    main(["preview", *sys.argv[1:]])
