"""Fixtures of the mail tests (defined in tests/mail/support.py)."""

from mail.support import smtp_server  # noqa: F401
