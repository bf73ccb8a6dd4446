"""Migration 0017 indexes ``retention_batches.state``: a sweep's resume check reads the
pending batches by it instead of every batch any sweep ever recorded; the upgrade keeps
the batches already recorded, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text

from personvern.storage.engine import create_engine_for
from personvern.storage.migrate import downgrade, upgrade
from retention.support import runtime, sweep
from retention.test_batches_in_key_order import NOW, _enrolments

INDEX = "ix_retention_batches_state"


def _indexes(url: str) -> dict[str, list[str | None]]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return {str(ix["name"]): list(ix["column_names"])
                    for ix in inspect(conn).get_indexes("retention_batches")}
    finally:
        engine.dispose()


def _batches(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT id, sweep_id, state, rows FROM retention_batches ORDER BY id"))]
    finally:
        engine.dispose()


def test_the_upgrade_indexes_state_and_keeps_the_batches_recorded(db_url: str) -> None:
    upgrade(db_url, "0016")
    assert INDEX not in _indexes(db_url)
    engine = create_engine_for(db_url)
    at = datetime(2027, 1, 1, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO retention_sweeps (id, now, started_at, batch_size, totals) "
                "VALUES (1, :at, :at, 10, '{}')"), {"at": at})
            conn.execute(text(
                "INSERT INTO retention_batches (id, sweep_id, step, seq, state, keys, "
                "subject_ids, rows, done_at) VALUES (1, 1, 'r|app|users|direct', 0, 'done', "
                "'[null]', '[]', 10, :at), (2, 1, 'r|app|users|direct', 0, 'pending', "
                "'[7]', '[]', 0, NULL)"), {"at": at})
    finally:
        engine.dispose()
    before = _batches(db_url)

    upgrade(db_url)

    assert _indexes(db_url)[INDEX] == ["state"]
    assert _batches(db_url) == before == [(1, 1, "done", 10), (2, 1, "pending", 0)]
    downgrade(db_url, "0016")
    assert INDEX not in _indexes(db_url)
    assert _batches(db_url) == before


def test_the_resume_check_reads_pending_batches_by_the_index(tmp_path: Path,
                                                              sqlite_url: str) -> None:
    """The statement a sweep runs to find what a crash left, as SQLite plans it on the
    engine's file after two sweeps of five batches: a search of the index, not a scan."""
    manifest, engine_url, _ = _enrolments(tmp_path, sqlite_url)
    seen: list[tuple[str, Any]] = []
    with runtime(manifest, engine_url, NOW) as rt:
        sweep(rt, NOW, batch=2)

        def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if "FROM retention_batches" in statement and "state" in statement.split(
                    "WHERE", 1)[-1]:
                seen.append((statement, params))

        event.listen(rt.engine, "before_cursor_execute", keep)
        sweep(rt, NOW, batch=2)
        event.remove(rt.engine, "before_cursor_execute", keep)
    assert seen, "the sweep read no batch by its state"
    db = sqlite3.connect(engine_url.removeprefix("sqlite:///"))
    try:
        assert db.execute("SELECT count(*) FROM retention_batches").fetchone()[0] >= 5
        for statement, params in seen:
            plan = " ".join(str(r[-1]) for r in db.execute(
                f"EXPLAIN QUERY PLAN {statement}", params))
            assert INDEX in plan and "SCAN retention_batches" not in plan, (statement, plan)
    finally:
        db.close()
