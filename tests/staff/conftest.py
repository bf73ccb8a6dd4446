"""Fixtures of the staff tests (defined in tests/staff/support.py)."""

from staff.support import hash_once  # noqa: F401
