"""Fixtures of the policy tests (defined in tests/policy/support.py)."""

from policy.support import cli_env  # noqa: F401
