"""What runs on every request before and after the page: the body limit's shortcuts, CORS
only where the banner is, and no reading of the environment per request."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from personvern.web.middleware import BodyLimit


class Watched(dict[str, str]):
    """The environment, noting every name looked up in it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: list[object] = []

    def __contains__(self, key: object) -> bool:
        self.read.append(key)
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.append(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return super().__getitem__(key)


def test_a_request_reads_nothing_from_the_environment(
        anon: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert anon.get("/.well-known/gpc.json").status_code == 200  # started, routes warm
    watched = Watched(os.environ)
    monkeypatch.setattr(os, "environ", watched)
    for path in ("/.well-known/gpc.json", "/portal/sign-in", "/banner/config"):
        assert anon.get(path).status_code == 200
    assert watched.read == []


def test_cors_headers_only_on_the_banner_paths(anon: TestClient) -> None:
    origin = "https://elsewhere.example"  # not allowed (tests/portal/test_banner_http.py)
    banner = anon.get("/banner/config", headers={"Origin": origin})
    assert banner.status_code == 200 and banner.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in banner.headers
    assert anon.options("/banner/config", headers={"Origin": origin}).status_code == 403
    other = anon.get("/.well-known/gpc.json", headers={"Origin": origin})
    assert "access-control-allow-origin" not in other.headers and "vary" not in other.headers


async def _body_of(scope: Scope, chunks: list[bytes], limit: int) -> tuple[int, bytes]:
    """Send ``chunks`` through BodyLimit to an app that echoes the body; (status, body)."""
    pending: list[Message] = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                              for i, c in enumerate(chunks)]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    await BodyLimit(echo, max_bytes=limit)(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(("version", "headers", "status"), [
    # HTTP/1.1 without Content-Length or Transfer-Encoding has no body: passed through.
    ("1.1", [], 200),
    # HTTP/2 may send a body without Content-Length: it is counted, and refused above.
    ("2", [], 413),
    ("1.1", [(b"transfer-encoding", b"chunked")], 413),
    ("1.1", [(b"content-length", b"not a number")], 413),
])
def test_the_body_limit_counts_every_body_that_may_come(
        version: str, headers: list[tuple[bytes, bytes]], status: int) -> None:
    scope = {"type": "http", "http_version": version, "method": "POST", "path": "/api/v1/x",
             "headers": headers}
    chunks = [b"x" * 600, b"y" * 600] if status == 413 else [b""]
    assert asyncio.run(_body_of(scope, chunks, 1000))[0] == status
    # Under the limit, the app reads the body as sent.
    if status == 413:
        assert asyncio.run(_body_of(scope, [b"x" * 600], 1000)) == (200, b"x" * 600)
