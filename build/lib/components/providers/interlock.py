"""Kept for stacks whose state pickled the provider from this path; see components/__init__.py."""

from interlock_platform.swarm.providers.interlock import *  # noqa: F403
