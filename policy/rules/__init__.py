"""The isolation rules, grouped by layer."""

from . import aws, kubernetes, secrets, swarm

secrets.keep_secrets_visible()  # before the pack deserializes anything: see rules/secrets.py

ALL_POLICIES = [*aws.POLICIES, *swarm.POLICIES, *kubernetes.POLICIES, *secrets.POLICIES]
