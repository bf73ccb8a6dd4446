"""A path-prefix check in front of each included router, so a request skips the routers
whose routes cannot match it.

FastAPI 0.165 tries every route in include order: a portal page was matched against
the API's 30 routes first (each a regex and two scope-key swaps, ~80 µs a page), and the
dashboard's against the portal's as well. A route's path can only match a path that
starts with the literal text before its first ``{param}``, so a router none of whose
routes' literal prefixes the path starts with cannot match it: the check (one
``str.startswith`` with the router's prefixes) answers ``Match.NONE`` as the router
itself would, only sooner. Order and answers are unchanged;
``tests/web/test_route_gates.py`` checks every route of the app is still found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import Match, Mount, Route, WebSocketRoute
from starlette.types import Scope

Matcher = Callable[[Scope], tuple[Match, Scope]]


def gate_included_routers(app: FastAPI) -> int:
    """Put a prefix check in front of each router ``app`` includes; how many got one."""
    gated = 0
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:  # a route or mount of the app itself: one regex already
            continue
        prefixes = shortest_prefixes([_literal(c) for c in contexts()])
        if prefixes and "/" not in prefixes:
            # An attribute of this one router's entry: FastAPI's class is left as it is.
            setattr(route, "matches", _gate(route.matches, prefixes))  # noqa: B010
            gated += 1
    return gated


def shortest_prefixes(literals: list[str | None]) -> tuple[str, ...]:
    """The fewest of ``literals`` that every one of them starts with one of; () if any
    is unknown (None), so that router is not gated."""
    if not literals or any(lit is None for lit in literals):
        return ()
    kept: list[str] = []
    for lit in sorted({lit for lit in literals if lit is not None}, key=len):
        if not lit.startswith(tuple(kept)):
            kept.append(lit)
    return tuple(kept)


def _literal(context: Any) -> str | None:
    """What every path this route matches starts with, or None when that is not known."""
    original = getattr(context, "original_route", None)
    if isinstance(original, APIRoute):
        path = getattr(context, "path_format", "")
    else:
        route = getattr(context, "starlette_route", None) or original
        if not isinstance(route, (Route, Mount, WebSocketRoute)):
            return None  # a Host route, a frontend group: no path to go by
        path = route.path
    return path.split("{", 1)[0] if isinstance(path, str) and path.startswith("/") else None


def _gate(matches: Matcher, prefixes: tuple[str, ...]) -> Matcher:
    """``matches``, answering NONE at once for a path that starts with none of ``prefixes``."""

    def gated(scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(prefixes):
            return Match.NONE, {}
        return matches(scope)

    return gated
