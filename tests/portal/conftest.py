"""Fixtures of the portal's HTTP tests (defined in tests/portal/support.py)."""

from mail.support import smtp_server  # noqa: F401
from portal.support import lite, portal  # noqa: F401
