"""ASGI middleware: a body-size limit enforced before anything parses, and security headers."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personvern.web.problems import (
    BODY_STATE,
    DEFAULT_HEADERS,
    PROBLEM_JSON,
    SECURITY_HEADERS,
    TYPES,
)

DEFAULT_MAX_BODY_BYTES = 64 * 1024
# Paths whose visitors are people with a browser (the portal, the dashboard).
HTML_PREFIXES = ("/portal", "/dashboard")
TOO_LARGE_PAGE = """<!DOCTYPE html>
<html lang="nb"><head><meta charset="utf-8"><title>For mye data / Too much data</title>
<link rel="stylesheet" href="/static/personvern.css"></head><body><main class="wrap">
<h1>For mye data</h1><p>Det du sendte var større enn vi tar imot, så ingenting ble lagret.
Gå tilbake og prøv igjen med mindre.</p>
<h2 lang="en">Too much data</h2><p lang="en">What you sent was larger than we accept, so
nothing was stored. Go back and try again with less.</p></main></body></html>
"""


class BodyLimit:
    """Read the whole request body (up to ``max_bytes``) before the app sees it; 413 above.

    Buffering first means no parser ever starts on an oversized body, and a lying or
    missing Content-Length (chunked uploads) is caught by counting what arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the body, or answer 413 without calling the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, send)
            return
        if not declared and not chunked and scope.get("http_version") in _FRAMED:
            # HTTP/1.x frames a body by Content-Length or Transfer-Encoding only: with
            # neither (or a length of 0) there is none to count, and most requests (every
            # GET) pass without a buffer and a replaying ``receive``.
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        total = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away; let the app see that
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await self._too_large(scope, send)
                return
            if not message.get("more_body", False):
                break

        # Kept for the error handler, which must not repeat what was sent (problems.py).
        scope.setdefault("state", {})[BODY_STATE] = b"".join(
            m.get("body", b"") for m in buffered if m["type"] == "http.request")

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        path = scope.get("path", "")
        if path.startswith(HTML_PREFIXES):  # a person's form post: a page, not JSON
            await _send(send, 413, "text/html; charset=utf-8", TOO_LARGE_PAGE.encode())
            return
        body = json.dumps({
            "type": TYPES["body-too-large"].uri,
            "title": TYPES["body-too-large"].title,
            "status": 413,
            "detail": f"the request body is larger than {self.max_bytes} bytes; nothing was read",
            "instance": scope.get("path", ""),
        }).encode()
        await _send(send, 413, PROBLEM_JSON, body)


async def _send(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(body)).encode()),
               # The unread rest of the body makes the connection unusable.
               (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# HTTP versions whose requests carry a body only when a header announces it (RFC 9112
# 6.3); HTTP/2 and later may send one without Content-Length, so those are always counted.
_FRAMED = frozenset({"1.0", "1.1"})


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The request's Content-Length (None: absent or not a number) and whether it has a
    Transfer-Encoding (a chunked body, of any length)."""
    declared: int | None = None
    chunked = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
                chunked = True  # unreadable: count what arrives, as for a chunked body
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


# Encoded once: the headers go on every answer (raw ASGI header names are lower case).
_SECURITY_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                 for k, v in SECURITY_HEADERS.items()]
_SECURITY_NAMES = frozenset(name for name, _ in _SECURITY_RAW)
_DEFAULT_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in DEFAULT_HEADERS.items()]


def with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` (raw ASGI) with the security headers set, replacing any the answer had,
    and CSP and caching added where the answer chose none."""
    out: list[tuple[bytes, bytes]] = []
    present: set[bytes] = set()
    for k, v in headers:
        name = k.lower()
        if name not in _SECURITY_NAMES:
            out.append((k, v))
            present.add(name)
    out += _SECURITY_RAW
    out += [(k, v) for k, v in _DEFAULT_RAW if k not in present]
    return out


class SecurityHeaders:
    """Add security headers to every HTTP response; CSP and caching only if unset."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, adding headers at response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_headers)


ACCESS_LOG = logging.getLogger("personvern.access")
# Paths served in front of the router (web/api_v1.py ConsentWrites): no route is matched,
# and the path itself is a template with no parameter in it.
FIXED_PATHS = frozenset({"/api/v1/consents"})


class AccessLog:
    """One line per request with nothing of a person in it: the method, the route's
    template (``/api/v1/subjects/{ref}``, never the e-mail address a path carries), the
    status and the time taken; no client address, no query string (sign-in tokens, ``for=``
    ids), no user agent.

    uvicorn's own access log writes the address and the whole path of every request to a
    log no erasure reaches (GDPR Art. 5(1)(c), (e)); ``serve`` turns it off for this one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then log it."""
        if scope["type"] != "http" or not ACCESS_LOG.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            ACCESS_LOG.info("%s %s %s %.1f ms", scope["method"], route_template(scope),
                            status or "-", (time.perf_counter() - started) * 1000)


def route_template(scope: Scope) -> str:
    """The path as its route declares it, or "-" when no route matched (a mistyped path
    may hold anything, an e-mail address among them)."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    return scope["path"] if scope.get("path") in FIXED_PATHS else "-"
