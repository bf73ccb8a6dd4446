"""An erasure's transaction on the service's PostgreSQL database waits on the server three
times besides its walk's SELECTs: the BEGIN and the plan's lock timeout in one simple
query, the lock timeout's reset with the DELETEs in one pipeline, the COMMIT (on
peer.py's two tables five round trips; seven before, when BEGIN, the lock timeout, the
reset and each DELETE went and were answered alone). The rows it
changes, the answer and a failing DELETE's error are those of before (GDPR Art. 17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from demo_support import OWNER, MovingClock
from personvern.requests.engine import Context, Requests
from personvern.requests.erase import PLAN_LOCK_TIMEOUT
from personvern.runtime import Runtime

WHY = "identity checked in person"


def _round_trips(trace: Path) -> list[str]:
    """The messages after which libpq waits for the server (a Sync of the extended
    protocol, a simple Query), in the order sent, from libpq's protocol trace."""
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    return [f[4].strip() if f[3] == "Query" else "Sync" for f in sent
            if f[1:2] == ["F"] and f[3] in ("Sync", "Query")]


class _Traced:
    """Every connection ``engine`` hands out, traced into ``path`` until closed."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine, self.out = engine, path.open("w")
        self.traced: list[Any] = []
        event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi: Any, *_: Any) -> None:
        if any(pgconn is dbapi.pgconn for pgconn in self.traced):
            return  # traced already: tracing it again drops what libpq has not written
        dbapi.pgconn.trace(self.out.fileno())
        self.traced.append(dbapi.pgconn)

    def close(self) -> None:
        event.remove(self.engine, "checkout", self._checkout)
        for pgconn in self.traced:
            pgconn.untrace()
        self.out.close()


@pytest.fixture
def traced_shop(pg_demo: Runtime, clock: MovingClock, tmp_path: Path
                ) -> Iterator[tuple[Requests, Path]]:
    """The request service on the PostgreSQL demo, its dataset's schema read, and a file
    that every connection of the dataset then traces into."""
    service = Requests(pg_demo.sessions, Context(pg_demo.consent, clock))
    [ds] = service.datasets()
    traced = _Traced(ds.engine, tmp_path / "shop.trace")
    yield service, tmp_path / "shop.trace"
    traced.close()
    service.close()


def test_an_erasure_waits_on_the_service_database_three_times_besides_its_walk(
        pg_demo: Runtime, traced_shop: tuple[Requests, Path]) -> None:
    """BEGIN with the plan's lock timeout, the walk's SELECTs (one each), the reset with
    every DELETE, the COMMIT; on main BEGIN, the lock timeout, the reset and each of the
    three DELETEs waited alone (the walk's SELECTs + 7)."""
    service, trace = traced_shop
    [ds] = service.datasets()
    statements: list[str] = []

    def sent(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(ds.engine, "before_cursor_execute", sent)
    try:
        result = service.open_and_run("erasure", subject="ext:12", by=OWNER, reason=WHY,
                                      follow_up=False)
    finally:
        event.remove(ds.engine, "before_cursor_execute", sent)
    assert result.state == "completed", result
    assert result.outcome["deleted"], result.outcome
    walk = [q for q in statements if q.lstrip().startswith("SELECT")]
    deletes = [q for q in statements if q.lstrip().startswith("DELETE")]
    assert len(deletes) > 1, statements  # they go together: more than one to show it
    trips = _round_trips(trace)
    assert trips == [f'"BEGIN; SET LOCAL lock_timeout = \'{PLAN_LOCK_TIMEOUT}\'"',
                     *["Sync"] * len(walk), "Sync", '"COMMIT"'], trips


def test_the_erased_rows_are_gone_and_the_connection_is_left_as_it_was(
        pg_demo: Runtime, traced_shop: tuple[Requests, Path]) -> None:
    """The person's rows are deleted and committed; the dataset's connections, back in
    their pool, begin their own transactions again (not left in autocommit), with the
    server's lock timeout."""
    service, _ = traced_shop
    [ds] = service.datasets()
    result = service.open_and_run("erasure", subject="ext:13", by=OWNER, reason=WHY,
                                  follow_up=False)
    assert result.state == "completed", result
    assert result.outcome["deleted"]["app.login_events"] > 0, result.outcome
    assert ds.engine.pool.checkedin() == 1  # type: ignore[attr-defined]  # the erasure's
    with ds.engine.connect() as conn:
        assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        assert conn.scalar(text("SELECT count(*) FROM login_events WHERE user_id = 13")) == 0
        conn.execute(text("CREATE TEMP TABLE t (x int)"))
        conn.rollback()  # a transaction of its own: nothing kept
        assert conn.scalar(text("SELECT to_regclass('pg_temp.t')")) is None
        assert conn.scalar(text("SHOW lock_timeout")) == "0"


def test_a_delete_a_foreign_key_refuses_fails_as_before_and_changes_nothing(
        pg_demo: Runtime, traced_shop: tuple[Requests, Path]) -> None:
    """A table outside the data map pointing at the person's rows makes the DELETE sent
    with the others fail: the same ConfigurationError as when each went alone, the
    request recorded with it, none of the dataset's rows changed, and the connection
    given back rolled back and out of autocommit."""
    from personvern.errors import ConfigurationError

    service, _ = traced_shop
    [ds] = service.datasets()
    with ds.engine.begin() as conn:
        conn.execute(text("CREATE TABLE login_notes (event_id integer NOT NULL "
                          "REFERENCES login_events (id))"))
        conn.execute(text("INSERT INTO login_notes SELECT id FROM login_events "
                          "WHERE user_id = 14 LIMIT 1"))
        before = conn.execute(text("SELECT count(*) FROM login_events WHERE user_id = 14"
                                   )).scalar_one()
        name = conn.execute(text("SELECT name FROM users WHERE id = 14")).scalar_one()
    assert before > 0
    with pytest.raises(ConfigurationError, match="erasing broke a foreign key the data map "
                       "does not follow; add it as a reference") as failed:
        service.open_and_run("erasure", subject="ext:14", by=OWNER, reason=WHY,
                             follow_up=False)
    assert "login_notes" in str(failed.value), failed.value
    assert ds.engine.pool.checkedin() == 1  # type: ignore[attr-defined]  # the erasure's
    with ds.engine.connect() as conn:
        assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        assert conn.execute(text("SELECT count(*) FROM login_events WHERE user_id = 14")
                            ).scalar_one() == before
        assert conn.execute(text("SELECT name FROM users WHERE id = 14")).scalar_one() == name
