"""Fixtures of the browser tests (defined in tests/browser/support.py)."""

from browser.support import browser, demo, page, site, smtp_server  # noqa: F401
