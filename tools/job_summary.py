"""`python -m tools.job_summary`: kept for existing scripts; it is `interlock-platform job-summary` (also
`python -m interlock_platform job-summary`), from interlock_platform/tooling/job_summary.py."""

import sys

from interlock_platform.tooling.cli import main

if __name__ == "__main__":
    main(["job-summary", *sys.argv[1:]])
