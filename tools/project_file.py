"""`python -m tools.project_file`: kept for existing scripts; it is `interlock-platform project-file` (also
`python -m interlock_platform project-file`), from interlock_platform/tooling/project_file.py."""

import sys

from interlock_platform.tooling.cli import main

if __name__ == "__main__":
    main(["project-file", *sys.argv[1:]])
