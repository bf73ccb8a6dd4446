"""A consent write taken in front of the router (api_v1.ConsentWrites) answers exactly as the
app answers without it: the same status, headers and body bytes, the same ledger."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from personvern.clock import Clock
from web.support import KARI, OLA, make_app, new_key, runtime_of, subject

EVIDENCE_KEY = "a long random secret from the vault"
PROXY, CLIENT = "10.0.0.5", "203.0.113.7"
TOO_LARGE = 1024


class _Probe:
    """Counts the requests that reach the app's own middleware stack."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


def _write(who: str, purpose: str = "newsletter", **extra: Any) -> bytes:
    import json

    return json.dumps({"subject": who, "purpose": purpose, "type": "consent_given",
                       **extra}).encode()


JSON = {"Content-Type": "application/json"}
# (name, taken in front of the router, method, path, headers, body); {T}, {R}, {W} stand
# for the admin key, a key without consent:write, and a token nobody issued.
Headers = dict[str, str] | list[tuple[str, str]]
Case = tuple[str, bool, str, str, Headers, bytes | Callable[[], Iterator[bytes]]]
CASES: list[Case] = [
    ("first write: key not yet cached", False, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}"}, _write(KARI)),
    ("well-formed", True, "POST", "/api/v1/consents", {**JSON, "Authorization": "{T}"},
     _write(KARI, "partners")),
    ("by id, with evidence", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}", "User-Agent": "Mozilla/5.0 (Testing)"},
     _write("{S}", evidence={"text_shown": "Nyhetsbrev?", "ip": "2001:db8::7"})),
    ("behind the proxy", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}", "X-Forwarded-For": CLIENT}, _write(OLA)),
    ("idempotency key", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}", "Idempotency-Key": "k-1"}, _write(OLA, "partners")),
    ("replay", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}", "Idempotency-Key": "k-1"}, _write(OLA, "partners")),
    ("key reused for another write: refused in the batch", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}", "Idempotency-Key": "k-1"}, _write(KARI, "partners")),
    ("unknown purpose: refused in the batch", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}"}, _write(KARI, "astrology")),
    ("unknown person: refused in the batch", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}"}, _write("nobody.here@example.no")),
    ("no key", False, "POST", "/api/v1/consents", JSON, _write(KARI)),
    ("a token nobody issued", False, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{W}"}, _write(KARI)),
    ("not bearer", False, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "Basic {T}"}, _write(KARI)),
    ("missing scope", False, "POST", "/api/v1/consents", {**JSON, "Authorization": "{R}"},
     _write(KARI)),
    ("missing scope, key cached", False, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{R}"}, _write(KARI)),
    ("bad JSON", False, "POST", "/api/v1/consents", {**JSON, "Authorization": "{T}"},
     b'{"subject": "x", '),
    ("unknown field", False, "POST", "/api/v1/consents", {**JSON, "Authorization": "{T}"},
     _write(KARI, nickname="Kari")),
    ("charset parameter", False, "POST", "/api/v1/consents",
     {"Content-Type": "application/json; charset=utf-8", "Authorization": "{T}"},
     _write(KARI, "newsletter")),
    ("no content type", False, "POST", "/api/v1/consents", {"Authorization": "{T}"},
     _write(KARI)),
    # Read by the same JSON parser as the route's short way: refused in the batch, a 422.
    ("NaN in the evidence", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}"},
     b'{"subject": "%s", "purpose": "newsletter", "type": "consent_given", '
     b'"evidence": {"score": NaN}}' % KARI.encode()),
    ("oversized", False, "POST", "/api/v1/consents", {**JSON, "Authorization": "{T}"},
     _write(KARI, evidence={"text_shown": "x" * TOO_LARGE})),
    ("chunked", False, "POST", "/api/v1/consents", {**JSON, "Authorization": "{T}"},
     lambda: iter([_write(OLA, "newsletter")])),
    ("two idempotency keys", False, "POST", "/api/v1/consents",
     [*JSON.items(), ("Authorization", "{T}"), ("Idempotency-Key", "a"),
      ("Idempotency-Key", "b")], _write(KARI)),
    ("idempotency key too long", False, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}", "Idempotency-Key": "k" * 201}, _write(KARI)),
    ("GET", False, "GET", "/api/v1/consents", {"Authorization": "{T}"}, b""),
    ("HEAD", False, "HEAD", "/api/v1/consents", {"Authorization": "{T}"}, b""),
    ("trailing slash", False, "POST", "/api/v1/consents/", {**JSON, "Authorization": "{T}"},
     _write(KARI, "newsletter")),
    ("query string", False, "POST", "/api/v1/consents?x=1",
     {**JSON, "Authorization": "{T}"}, _write(OLA, "newsletter")),
    ("revoked on another host: refused in the batch", True, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}"}, _write(KARI, "newsletter")),
    ("revoked, no longer cached", False, "POST", "/api/v1/consents",
     {**JSON, "Authorization": "{T}"}, _write(KARI, "newsletter")),
]


def _run(base: Path, tmp: Path, clock: Clock, tokens: dict[str, str], short: bool,
         monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any], list[Any], list[str]]:
    """Every case against a copy of ``base``: the answers, the ledger, its evidence, and the
    paths that reached the app's own middleware."""
    from personvern.consent import ledger
    from personvern.consent.tables import ApiKey, LedgerEvent
    from personvern.web import api_v1, deps

    db = tmp / ("short.db" if short else "routed.db")
    shutil.copy(base, db)
    # Event ids and evidence salts from counters: both runs draw the same ones.
    ids = itertools.count()
    salts = itertools.count()
    monkeypatch.setattr(ledger, "new_id", lambda: f"{next(ids):032x}")
    monkeypatch.setattr(deps.secrets, "token_bytes",
                        lambda n: next(salts).to_bytes(n, "big"))
    app: FastAPI = make_app(tmp, f"sqlite:///{db}", clock, max_body_bytes=TOO_LARGE,
                            forwarded_allow_ips=PROXY)
    seen: list[str] = []
    stack = app.user_middleware
    at = next(i for i, m in enumerate(stack) if m.cls is api_v1.ConsentWrites)
    stack.insert(at + 1, Middleware(_Probe, seen=seen))
    if not short:
        del stack[at]
    answers, reached = [], []
    with TestClient(app, base_url="http://127.0.0.1", client=(PROXY, 5000)) as client:
        rt = runtime_of(client)
        for name, _, method, path, headers, body in CASES:
            if name.startswith("revoked on another host"):
                with rt.transaction() as s:  # the notice from the other host not yet here
                    s.execute(update(ApiKey).values(revoked_at=datetime(2027, 3, 1, tzinfo=UTC)))
            pairs = headers.items() if isinstance(headers, dict) else headers
            sent = [(k, v.format(**tokens)) for k, v in pairs]
            content = body() if callable(body) else body.replace(b"{S}", tokens["S"].encode())
            before = len(seen)
            r = client.request(method, path, headers=sent, content=content,
                               follow_redirects=False)
            answers.append((name, r.status_code, r.headers.raw, r.content))
            reached.append(len(seen) > before)
        with rt.transaction() as s:
            rows = [tuple(r) for r in s.execute(select(*LedgerEvent.__table__.c)
                                                .order_by(LedgerEvent.seq))]
            evidence = [ledger.evidence_of(s, row.seq) for row in s.execute(
                select(LedgerEvent.seq).order_by(LedgerEvent.seq))]
    return answers, rows, evidence, [n for (n, *_), hit in zip(CASES, reached, strict=True)
                                     if hit]


def test_the_short_way_answers_byte_for_byte_as_the_app(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONVERN_EVIDENCE_KEY", EVIDENCE_KEY)
    base = tmp_path / "base.db"
    with TestClient(make_app(tmp_path, f"sqlite:///{base}", clock)) as client:
        tokens = {"T": f"Bearer {new_key(client)}",
                  "R": f"Bearer {new_key(client, 'reader', scopes=('decisions:read',))}",
                  "W": "Bearer pv_nobody_issued_this_token_at_all"}
        client.headers["Authorization"] = tokens["T"]
        tokens["S"] = subject(client, KARI)
        subject(client, OLA)
    short = _run(base, tmp_path, clock, tokens, True, monkeypatch)
    routed = _run(base, tmp_path, clock, tokens, False, monkeypatch)
    for mine, theirs in zip(short[0], routed[0], strict=True):
        assert mine == theirs, mine[0]
    statuses = {name: status for name, status, *_ in short[0]}
    assert statuses["well-formed"] == statuses["idempotency key"] == 201
    assert statuses["replay"] == 200
    assert [statuses[n] for n in ("key reused for another write: refused in the batch",
                                  "unknown purpose: refused in the batch",
                                  "unknown person: refused in the batch")] == [409, 404, 404]
    assert statuses["oversized"] == 413
    assert statuses["chunked"] == statuses["charset parameter"] == 201
    assert statuses["revoked on another host: refused in the batch"] == 401
    assert short[1] == routed[1] and len(short[1]) == 9  # the same events, the same chain
    assert short[2] == routed[2]
    # The short way took exactly the cases marked so; the app saw every other one.
    assert short[3] == [name for name, taken, *_ in CASES if not taken]
    assert routed[3] == [name for name, *_ in CASES]
    # Behind the trusted proxy the client it names is hashed, not the proxy.
    proxied = next(e for e in short[2] if e and e["ip_hash"]["source"] == "connection"
                   and _digest(e, CLIENT))
    assert not _digest(proxied, PROXY)


def _digest(evidence: dict[str, Any], ip: str) -> bool:
    """Whether ``evidence``'s IP hash is of ``ip``."""
    salt = bytes.fromhex(evidence["ip_hash"]["salt"])
    return evidence["ip_hash"]["digest"] == hmac.new(
        EVIDENCE_KEY.encode(), salt + ip.encode(), hashlib.sha256).hexdigest()
