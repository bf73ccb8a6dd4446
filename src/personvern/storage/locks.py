"""Serialising appends to a hash chain, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Select, event, exc, text
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


def lock_and_read(session: Session, table: str, query: Select[Any]) -> Any:
    """Take ``table``'s chain lock (:func:`lock_chain`), then read ``query``'s one row
    (no parameters) under it; the row.

    PostgreSQL, the lock not yet held: the lock and the read go to the server together,
    one round trip instead of two (psycopg's pipeline mode; a transaction's BEGIN, were
    they its first statements, still goes apart: psycopg syncs after it). The server
    runs them in order and the read, a statement of its own (its own snapshot under READ
    COMMITTED), begins only once the lock is held: it sees every append committed
    before, as a separate read would.
    Elsewhere, or the lock held already: the lock as :func:`lock_chain` takes it, then
    the read.
    """
    conn = session.connection()
    if conn.dialect.name != "postgresql" or table in session.info.get(_HELD, ()):
        lock_chain(session, table)
        return conn.execute(query).one()
    sql = _driver_sql(conn, query)
    driver = conn.connection.driver_connection
    assert driver is not None
    key = (chain_lock_key(table),)
    try:
        with driver.pipeline(), driver.cursor() as lock, driver.cursor() as read:
            # Seen by the engine's statement listeners as any statement is (the counts of
            # tests and benchmarks): two statements are sent, in one round trip.
            conn.dispatch.before_cursor_execute(conn, lock, LOCK_SQL, key, None, False)
            lock.execute(LOCK_SQL, key)
            conn.dispatch.before_cursor_execute(conn, read, sql, (), None, False)
            read.execute(sql)
            row = read.fetchone()  # the pipeline's results, the lock's first
    except conn.dialect.loaded_dbapi.Error as err:
        # As SQLAlchemy raises a driver's error of its own statements (a lock timeout: an
        # OperationalError, which storage_errors turns into a StorageError).
        raise exc.DBAPIError.instance(sql, None, err, conn.dialect.loaded_dbapi.Error,
                                      dialect=conn.dialect) from err
    note_locked(session, table)
    if row is None:
        raise exc.NoResultFound("lock_and_read: the read returned no row")
    return row


@contextmanager
def sent_together(session: Session | Connection) -> Iterator[None]:
    """The statements executed in the block go to PostgreSQL together and are answered
    together at its end (psycopg's pipeline mode: one round trip, not one each), for
    writes whose results nobody reads inside it (INSERTs, no RETURNING; no ORM flush,
    which checks its rowcounts). The server runs them in order, in the session's (or the
    connection's) transaction, as it would one by one; they are seen by the engine's
    statement listeners as any statement is. A driver error (a constraint broken) is
    raised at the block's end as SQLAlchemy raises one of its own statements. Elsewhere
    (SQLite), each statement goes as it is executed."""
    conn = session.connection() if isinstance(session, Session) else session
    if conn.dialect.name != "postgresql":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as err:
        raise exc.DBAPIError.instance(None, None, err, conn.dialect.loaded_dbapi.Error,
                                      dialect=conn.dialect) from err


# The text of each query :func:`lock_and_read` sends through the driver, compiled once (the
# queries are module constants; the query is kept so its id stays its own).
_DRIVER_SQL: dict[int, tuple[Select[Any], str]] = {}


def _driver_sql(conn: Connection, query: Select[Any]) -> str:
    """``query`` as PostgreSQL text with its values inlined, compiled once."""
    known = _DRIVER_SQL.get(id(query))
    if known is None or known[0] is not query:
        known = _DRIVER_SQL[id(query)] = (query, str(query.compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True})))
    return known[1]


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
