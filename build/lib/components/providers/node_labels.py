"""Kept for stacks whose state pickled the provider from this path; see components/__init__.py."""

from interlock_platform.swarm.providers.node_labels import *  # noqa: F403
