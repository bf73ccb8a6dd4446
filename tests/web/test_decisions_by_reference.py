"""A decision asked by e-mail is answered from memory once an earlier decision found the
person by that address: the same answer, byte for byte, without the lookup; and never
past what drops the person's cached decisions (a withdrawal here, at once; an erasure; a
write on another host, within the cache's bound)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from personvern.clock import Clock
from web.support import (
    KARI,
    assert_problem,
    give,
    make_app,
    new_key,
    open_client,
    runtime_of,
    subject,
)

ASK = {"subject": KARI, "purpose": "newsletter"}


def _statements(api: TestClient, call: Any) -> tuple[Any, int]:
    """``call()``'s answer and how many statements the app sent meanwhile."""
    sent: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        sent.append(statement)

    engine = runtime_of(api).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        return call(), len(sent)
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_second_decision_by_email_needs_no_lookup_and_is_the_same(any_api: TestClient
                                                                      ) -> None:
    rt = runtime_of(any_api)
    # Neither the key's nor the decisions' own time bound runs out between the two asks.
    rt.keys.ttl = rt.consent.cache.max_staleness = 3600.0
    sid = subject(any_api)
    assert give(any_api, sid).status_code == 201
    first, looked_up = _statements(any_api, lambda: any_api.get("/api/v1/decisions",
                                                                params=ASK))
    again, sent = _statements(any_api, lambda: any_api.get("/api/v1/decisions", params=ASK))
    assert first.status_code == again.status_code == 200
    assert looked_up >= 1 and sent == 0
    assert again.content == first.content and again.json()["subject_id"] == sid
    assert again.json()["allowed"] is True
    # GPC on the request, and another purpose, from the same cached person.
    gpc = any_api.get("/api/v1/decisions", params=ASK, headers={"Sec-GPC": "1"}).json()
    assert (gpc["allowed"], gpc["code"], gpc["gpc"]) == (False, "gpc", True)
    account = any_api.get("/api/v1/decisions", params={**ASK, "purpose": "account"}).json()
    assert account["allowed"] is True and account["subject_id"] == sid
    # An address nobody has is asked of the database every time, and refused alike.
    for _ in range(2):
        nobody, sent = _statements(any_api, lambda: any_api.get("/api/v1/decisions", params={
            **ASK, "subject": "ingen@example.no"}))
        assert_problem(nobody, 404, "no subject")
        assert sent >= 1
    assert_problem(any_api.get("/api/v1/decisions", params={**ASK, "purpose": "nope"}),
                   404, "unknown purpose")


def test_a_withdrawal_is_decided_no_at_once_by_email(any_api: TestClient) -> None:
    sid = subject(any_api)
    assert give(any_api, sid).status_code == 201
    for _ in range(2):
        assert any_api.get("/api/v1/decisions", params=ASK).json()["allowed"] is True
    withdrawn = any_api.post("/api/v1/consents", json={**ASK, "type": "consent_withdrawn"})
    assert withdrawn.status_code == 201, withdrawn.text
    after = any_api.get("/api/v1/decisions", params=ASK).json()
    assert (after["allowed"], after["code"]) == (False, "consent_withdrawn")


def test_an_erased_person_is_not_found_by_an_address_decided_before(api: TestClient) -> None:
    sid = subject(api)
    assert give(api, sid).status_code == 201
    for _ in range(2):
        assert api.get("/api/v1/decisions", params=ASK).json()["allowed"] is True
    erased = api.post("/api/v1/requests/batch/erasures", json={
        "subjects": [KARI], "verified_by": "called back on file", "reason": "asked by phone"})
    assert erased.status_code == 200 and len(erased.json()["completed"]) == 1, erased.text
    gone = assert_problem(api.get("/api/v1/decisions", params=ASK), 404, "no subject")
    assert gone == api.get("/api/v1/decisions", params={
        **ASK, "subject": "ingen@example.no"}).json()  # as if never known


def test_a_withdrawal_on_another_host_is_decided_within_the_bound(
        tmp_path: Path, db_url: str, clock: Clock) -> None:
    """Host a knows Kari by her address; host b records her withdrawal. PostgreSQL: a hears
    of it by notice; SQLite (one host in practice): a's cache looks at the ledger every
    second. Either way a says no within the cache's bound."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with open_client(make_app(tmp_path / "a", db_url, clock)) as a, \
            open_client(make_app(tmp_path / "b", db_url, clock)) as b:
        token = new_key(a)
        a.headers["Authorization"] = b.headers["Authorization"] = f"Bearer {token}"
        sid = subject(a)
        assert give(a, sid).status_code == 201
        for _ in range(2):
            assert a.get("/api/v1/decisions", params=ASK).json()["allowed"] is True
        assert runtime_of(a).consent.cache.peek_ref(KARI) is not None
        withdrawn = b.post("/api/v1/consents", json={**ASK, "type": "consent_withdrawn"})
        assert withdrawn.status_code == 201, withdrawn.text
        at = time.monotonic()
        bound = runtime_of(a).consent.cache.max_staleness
        while a.get("/api/v1/decisions", params=ASK).json()["allowed"]:
            assert time.monotonic() - at < bound + 0.5, "host a still says yes"
            time.sleep(0.02)
