"""Serialising appends to a hash chain, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import zlib
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session


def lock_chain(session: Session, table: str) -> None:
    """Take a lock that keeps other writers of ``table``'s chain out until our commit.

    PostgreSQL: a transaction-level advisory lock keyed by the table name. SQLite: a
    write that changes nothing still takes the database's single write lock (waiting up
    to busy_timeout) and begins the transaction, so the head read next is the latest.
    """
    held: set[str] = session.info.setdefault(_HELD, set())
    if table in held:  # taken already in this transaction: another round trip for nothing
        return
    # Through the session's connection: the ORM's execute costs several times more, and
    # appends are a hot path.
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": chain_lock_key(table)})
    elif conn.dialect.name == "sqlite":
        # The table name comes from our models, never from input.
        conn.exec_driver_sql(f"UPDATE {table} SET rowid = rowid WHERE 0")
    held.add(table)


_HELD = "personvern.chain_locks"
LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"  # PostgreSQL, as the driver takes it


def chain_lock_key(table: str) -> int:
    """The advisory lock's key for ``table``'s chain on PostgreSQL (the same in every process)."""
    return zlib.crc32(f"personvern:{table}".encode())


def note_locked(session: Session, table: str) -> None:
    """Record that ``table``'s chain lock was taken in this transaction by a statement sent
    some other way (the group commit's pipeline, :data:`LOCK_SQL`): not taken again."""
    session.info.setdefault(_HELD, set()).add(table)


# A savepoint rolled back gives up the locks taken inside it (PostgreSQL), and which
# those were is not kept: take each again. The transaction's end gives up every lock.
@event.listens_for(Session, "after_soft_rollback")
def _savepoint_rolled_back(session: Session, previous: Any) -> None:
    if previous.nested:
        session.info.pop(_HELD, None)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_HELD, None)
