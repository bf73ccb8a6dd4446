"""The path-prefix check in front of each included router (web/gates.py) finds every
route FastAPI found without it, and lets no path through to a router that could not
match it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match

from personvern.web.gates import shortest_prefixes
from web.support import T0, MovableClock, make_app

PARAM = re.compile(r"\{[^}]+\}")
# Paths no route has, near ones that do: prefixes, trailing slashes, other cases.
NEAR_MISSES = ("/", "/portalx", "/portal/", "/api/v1", "/api/v1/", "/privacy/", "/Portal",
               "/dashboard/", "/api/v1/requests/", "/banner/config/", "/static", "/nope",
               "/api/v1/subjects/x/y/z", "/portal/requests/x/export.zip/")


def _found(app: FastAPI, path: str, method: str) -> tuple[Match, Any]:
    """What the app's router picks for ``method path`` (its first FULL, else PARTIAL)."""
    scope = {"type": "http", "path": path, "method": method, "root_path": "",
             "headers": [], "query_string": b""}
    partial: tuple[Match, Any] = (Match.NONE, None)
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return match, route
        if match == Match.PARTIAL and partial[0] == Match.NONE:
            partial = (match, route)
    return partial


def _requests(app: FastAPI) -> list[tuple[str, str]]:
    """An example request for every route of every included router, and near misses."""
    out = []
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if contexts else [route]:
            path = getattr(context, "path_format", None) or getattr(context, "path", "")
            for method in sorted(getattr(context, "methods", None) or {"GET"}):
                out.append((PARAM.sub("x1", path), method))
    return out + [(p, m) for p in NEAR_MISSES for m in ("GET", "POST")]


def test_every_route_is_found_as_without_the_gates(tmp_path: Path, sqlite_url: str) -> None:
    app = make_app(tmp_path, sqlite_url, MovableClock(T0))
    gated = [r for r in app.router.routes if "matches" in vars(r)]
    # The API's routers, the records/privacy one, the portal, the banner, the dashboard.
    assert len(gated) == 8, [getattr(r, "path", r) for r in app.router.routes]
    requests = _requests(app)
    assert len(requests) > 100
    with_gates = [_found(app, path, method) for path, method in requests]
    for route in gated:
        del route.matches  # FastAPI's own matching again
    without = [_found(app, path, method) for path, method in requests]
    for (path, method), mine, theirs in zip(requests, with_gates, without, strict=True):
        assert mine == theirs, (method, path)
    assert sum(m == Match.FULL for m, _ in with_gates) > 80


def test_pages_and_the_api_answer_through_the_gates(tmp_path: Path, sqlite_url: str) -> None:
    app = make_app(tmp_path, sqlite_url, MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/portal", follow_redirects=False).headers["location"] \
            == "/portal/sign-in"
        assert client.get("/portal/sign-in").status_code == 200
        assert client.get("/privacy").status_code != 404  # found (503: nothing published)
        assert client.get("/api/v1/decisions").status_code == 401  # found, needs a key
        assert client.get("/api/v1/nothing-here").status_code == 404
        assert client.get("/portalx").status_code == 404
        assert client.post("/portal/requests").status_code == 405


def test_prefixes_are_the_fewest_that_cover_every_route() -> None:
    assert sorted(shortest_prefixes(["/api/v1/a", "/api/v1/a/", "/api/v1/b", "/privacy",
                                     "/privacy/en"])) == ["/api/v1/a", "/api/v1/b", "/privacy"]
    assert shortest_prefixes(["/portal", None]) == ()  # a route with no path: no gate
    assert shortest_prefixes([]) == ()
