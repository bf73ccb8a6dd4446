"""The engine's side of an erasure on SQLite sends the statements it always sent, built
once instead of per erasure: the same SQL and the same values, for one person or many."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event

from personvern.requests.erase import _forget_each, _forgetting


def _sent(engine: Engine, run: Any) -> list[tuple[str, Any]]:
    """The SQL and values ``run(conn)`` sends (rolled back)."""
    seen: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             executemany: bool) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", note)
    try:
        with engine.connect() as conn:
            run(conn)
            conn.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen


# SQLite only: PostgreSQL sends them as one statement (erase._forget_in_one).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_prebuilt_statements_send_what_new_ones_sent(db_engine: Engine) -> None:
    """One person, several, with and without requests of their own to keep."""
    at = datetime(2027, 1, 4, 12, 0, 0, 7, tzinfo=UTC)
    for ids, own in ((["s1"], ["r1"]), (["s1", "s2", "s3"], ["r1", "r2"]), (["s1"], [])):
        def fresh(conn: Any, ids: list[str] = ids, own: list[str] = own) -> None:
            statements, tombstone = _forgetting(ids, own, at)
            for stmt in [*statements, tombstone]:
                conn.execute(stmt)

        def prebuilt(conn: Any, ids: list[str] = ids, own: list[str] = own) -> None:
            for stmt in _forget_each():
                conn.execute(stmt, {"ids": ids, "own": own, "at": at})

        expected = _sent(db_engine, fresh)
        assert len(expected) == 9
        assert _sent(db_engine, prebuilt) == expected
