"""The job queue's tables on PostgreSQL (procrastinate's schema, applied by migration 0014):
deferring a job in the caller's transaction, and reading a job's state back.

A job deferred here commits or rolls back with the change that caused it, so a worker
never runs a job for a change that was not committed, and no committed change waits for
a job that was never queued. Procrastinate's own schema does the rest (a trigger wakes the
workers with NOTIFY on commit). SQLite has no queue: there ``serve`` does the work itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

# The queue every Personvern job goes to (procrastinate's ``queue_name``).
QUEUE = "personvern"
# The tables procrastinate's schema creates: not ours, so not compared with our models.
QUEUE_TABLES = frozenset({"procrastinate_jobs", "procrastinate_events",
                          "procrastinate_periodic_defers", "procrastinate_workers"})
PREFIX = "procrastinate_"


def is_queue_object(name: str | None) -> bool:
    """Whether a table, index, type or function belongs to the job queue's schema."""
    return bool(name) and str(name).startswith(PREFIX)


def ours_only(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: compare our objects only, never the queue's."""
    return not is_queue_object(name)


def has_queue(conn: Connection | Session) -> bool:
    """Whether this database holds the job queue (PostgreSQL, migrated to 0014 or later)."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name != "postgresql":
        return False
    return conn.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
                        ).scalar_one() is True


def defer(session: Session, task: str, args: dict[str, Any], *,
          queueing_lock: str | None = None, lock: str | None = None,
          at: datetime | None = None) -> int:
    """Queue ``task`` with ``args`` in the session's transaction; the job's id.

    ``queueing_lock``: at most one job with it waits at a time (a second defer fails).
    ``lock``: jobs sharing it run one after another, never side by side.
    """
    row = session.execute(text(
        "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
        "CAST(:queue AS varchar), CAST(:task AS varchar), 0, CAST(:lock AS text), "
        "CAST(:qlock AS text), CAST(:args AS jsonb), CAST(:at AS timestamptz)"
        ")::procrastinate_job_to_defer_v1]))"),
        {"queue": QUEUE, "task": task, "lock": lock, "qlock": queueing_lock,
         "args": json.dumps(args), "at": at}).scalar_one()
    return int(row)


def jobs_about(session: Session, key: str, value: str) -> list[dict[str, Any]]:
    """The queued jobs whose argument ``key`` is ``value``, oldest first, as a person
    reading the request sees them: what, its state, attempts, when it runs (next) and the
    last failure's time. [] where there is no queue (SQLite)."""
    if not has_queue(session):
        return []
    rows = session.execute(text(
        "SELECT j.id, j.task_name, j.status::text, j.attempts, j.scheduled_at, "
        "(SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id "
        " AND e.type = 'failed') AS failed_at "
        "FROM procrastinate_jobs j WHERE j.queue_name = :queue AND j.args ->> :key = :value "
        "ORDER BY j.id"), {"queue": QUEUE, "key": key, "value": value})
    return [{"id": int(r[0]), "task": r[1], "status": r[2], "attempts": int(r[3]),
             "scheduled_at": r[4].isoformat() if r[4] else None,
             "failed_at": r[5].isoformat() if r[5] else None} for r in rows]
