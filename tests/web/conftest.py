"""Fixtures of the web app (defined in tests/web/support.py)."""

from web.support import anon, any_api, api, app, served  # noqa: F401
