"""What the API's reads send the database, and what ``Runtime.reading`` promises them.

A decision and an API-key check read through ``Runtime.reading``: no transaction of their
own. On SQLite that was a switch of the pooled connection to autocommit, switched back at
check-in with ``PRAGMA read_uncommitted``, after which SQLite re-prepares every statement
the connection has cached: each request parsed and planned all its queries again. The
driver already runs reads outside a transaction, so no switch is needed there.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text, update

from web.support import KARI, give, runtime_of, subject

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


def _traced(api: TestClient, requests: int) -> list[str]:
    """Every statement SQLite receives while ``requests`` decisions are asked by e-mail,
    each with its key checked (a POST asks the database for the key every time)."""
    sent: list[str] = []

    def trace(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.set_trace_callback(sent.append)

    engine = runtime_of(api).engine
    event.listen(engine, "checkout", trace)
    try:
        for _ in range(requests):
            for r in (api.post("/api/v1/decisions", json={"subject": KARI,
                                                          "purpose": "newsletter"}),
                      api.get("/api/v1/decisions", params={"subject": KARI,
                                                           "purpose": "newsletter"})):
                assert r.status_code == 200 and r.json()["allowed"], r.text
    finally:
        event.remove(engine, "checkout", trace)
    return sent


def test_decisions_and_key_checks_send_sqlite_their_reads_only(api: TestClient) -> None:
    sid = subject(api)
    assert give(api, sid).status_code == 201
    _traced(api, 1)  # every pooled connection has met the statements once
    sent = _traced(api, 3)
    assert sum("FROM api_keys" in s for s in sent) >= 3  # one key check a POST
    assert any("FROM subjects" in s for s in sent)  # the decisions' own reads
    assert [s for s in sent if s.lstrip().upper().startswith(CONTROL)] == []


def test_reading_holds_no_snapshot_and_no_transaction(any_api: TestClient) -> None:
    from personvern.apikeys import ApiKey

    rt = runtime_of(any_api)
    name = select(ApiKey.name).limit(1)
    with rt.reading() as session:
        before = session.scalar(name)
        # Another connection changes the row and commits while the reads go on: it is not
        # kept waiting (no transaction held), and the next read sees the change.
        with rt.transaction() as other:
            other.execute(update(ApiKey).values(name="renamed"))
        assert (before, session.scalar(name)) == ("test app", "renamed")


def test_a_write_through_reading_on_sqlite_is_refused_and_not_kept(api: TestClient) -> None:
    from personvern.apikeys import ApiKey

    rt = runtime_of(api)
    with pytest.raises(RuntimeError, match=r"Runtime\.transaction"), rt.reading() as session:
        session.execute(update(ApiKey).values(name="written"))
    with rt.reading() as session:
        assert session.scalar(select(ApiKey.name)) == "test app"
        assert session.scalar(text("SELECT count(*) FROM api_keys")) == 1
