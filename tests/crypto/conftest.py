"""Fixtures of the crypto tests."""

from mail.support import smtp_server  # noqa: F401
