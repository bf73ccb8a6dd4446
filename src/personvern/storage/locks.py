"""Serialising appends to a hash chain, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_chain(session: Session, table: str) -> None:
    """Take a lock that keeps other writers of ``table``'s chain out until our commit.

    PostgreSQL: a transaction-level advisory lock keyed by the table name. SQLite: a
    write that changes nothing still takes the database's single write lock (waiting up
    to busy_timeout) and begins the transaction, so the head read next is the latest.
    """
    # Through the session's connection: the ORM's execute costs several times more, and
    # appends are a hot path.
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"personvern:{table}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif conn.dialect.name == "sqlite":
        # The table name comes from our models, never from input.
        conn.exec_driver_sql(f"UPDATE {table} SET rowid = rowid WHERE 0")
