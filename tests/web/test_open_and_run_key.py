# ruff: noqa: F401, F811  (fixtures imported from test_api_requests by name)
"""POST /api/v1/requests/verified/open-and-run takes the caller's key from the host's cache
of verified keys and reads its row again in the opening transaction (deps.still_live),
before anything is read or stored: a key revoked elsewhere a moment ago still erases
nothing (GDPR Art. 32: only who may act on a person's data does)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, update

from personvern.consent.tables import ApiKey
from web.support import assert_problem, runtime_of
from web.test_api_requests import PARENT, PUPIL, WHY, api, clock, demo, stored, template

CHECKED = "called back on the number on file"


def erase(api: TestClient, subject: str) -> object:
    return api.post("/api/v1/requests/verified/open-and-run", json={
        "type": "erasure", "subject": subject, "opened_by": "owner", "verified_by": CHECKED,
        "reason": WHY})


def settled(api: TestClient) -> None:
    """Wait until the host listens for other hosts' changes (PostgreSQL): its first
    connect clears every cache, the verified keys too."""
    listener = api.app.state.listener  # type: ignore[attr-defined]
    if listener is not None:
        assert listener.listening.wait(30)


def test_a_key_revoked_elsewhere_erases_nothing(api: TestClient, demo: Path) -> None:
    rt = runtime_of(api)
    rt.keys.ttl = 3600.0  # this host trusts its cache for the whole test
    settled(api)
    first = erase(api, PUPIL)
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    token = api.headers["Authorization"].removeprefix("Bearer ")
    assert rt.keys.peek(token) is not None  # held as verified: no read of its own
    before = stored(api, demo)
    # Revoked in the database alone, with no notice to this host (another host, SQLite).
    with rt.transaction() as s:
        s.execute(update(ApiKey).where(ApiKey.prefix == token[:12])
                  .values(revoked_at=rt.clock()))

    assert_problem(erase(api, PARENT), 401, "revoked")
    assert stored(api, demo) == before  # no request, no audit event, no row of the service
    assert rt.keys.peek(token) is None  # dropped from the cache: refused from now on


def test_an_unknown_key_is_refused_before_anything(api: TestClient, demo: Path) -> None:
    before = stored(api, demo)
    api.headers["Authorization"] = "Bearer pv_" + "0" * 40
    assert_problem(erase(api, PARENT), 401, "not valid")
    assert stored(api, demo) == before


def test_the_key_is_read_in_the_opening_transaction(api: TestClient) -> None:
    """Once the host holds the key as verified, its row is read again in the transaction
    that opens the request (the same connection, before the request's INSERT), not in a
    thread and a connection of its own before it."""
    runtime_of(api).keys.ttl = 3600.0  # held as verified however slow the machine is
    settled(api)
    assert erase(api, PUPIL).status_code == 200  # type: ignore[attr-defined]
    engine = runtime_of(api).engine
    sent: list[tuple[Connection, str]] = []  # the connections kept: their ids stay theirs

    def keep(conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        sent.append((conn, " ".join(statement.split())))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        assert erase(api, PARENT).status_code == 200  # type: ignore[attr-defined]
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    [key_read] = [(c, i) for i, (c, sql) in enumerate(sent) if "api_keys" in sql]
    opening = [i for i, (c, sql) in enumerate(sent)
               if c is key_read[0] and sql.startswith("INSERT INTO requests ")]
    assert opening and opening[0] > key_read[1]
