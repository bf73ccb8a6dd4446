"""Fixtures of the browser tests (defined in tests/browser/support.py)."""

from browser.support import (  # noqa: F401
    browser,
    demo,
    demo_template,
    page,
    site,
    smtp_server,
)
