"""Fixtures of the client tests: the web app's (tests/web/support.py) and a real serve."""

from collections.abc import Iterator

import pytest

from client.serving_support import Served, serve
from web.support import anon, any_api, api, app, served  # noqa: F401


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``personvern serve`` per test module."""
    with serve(tmp_path_factory.mktemp("serve")) as running:
        yield running
