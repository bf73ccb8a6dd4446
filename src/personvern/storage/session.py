"""Sessions on an engine: one transaction per unit of work."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from personvern.storage.engine import storage_errors

# In a session's ``info``: its commits are savepoints of a transaction that is rolled back
# (a rehearsal, e.g. the retention plan), so nothing it "commits" is kept.
NOTHING_KEPT = "personvern.nothing_kept"
# libpq's PQTRANS_IDLE (psycopg.pq.TransactionStatus.IDLE): connected, no transaction open.
_IDLE = 0


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory for ``engine``; objects stay readable after commit."""
    begin_with_first_statement(engine)
    # expire_on_commit=False: results are handed to the CLI and API after the commit,
    # and reloading them there would open a new transaction for nothing.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session] | Engine) -> Iterator[Session]:
    """A session in one transaction: committed at the end, rolled back on error."""
    maker = make_sessionmaker(factory) if isinstance(factory, Engine) else factory
    bind = maker.kw.get("bind")
    url = bind.url if isinstance(bind, Engine) else "<database>"
    with storage_errors(url), maker.begin() as session:
        yield session


def begin_with_first_statement(engine: Engine) -> None:
    """On PostgreSQL (psycopg), a transaction's BEGIN goes to the server with its first
    statement, answered together: one round trip, not two (psycopg otherwise sends BEGIN
    and waits for it, even in pipeline mode). Elsewhere nothing changes."""
    if engine.dialect.driver != "psycopg" or event.contains(engine, "do_execute", _begun):
        return
    event.listen(engine, "do_execute", _begun)
    event.listen(engine, "do_execute_no_params", _begun_no_params)


def _begun(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
    """Run the first statement of a transaction with its BEGIN (see
    :func:`begin_with_first_statement`); False (SQLAlchemy runs it) for any other."""
    # Most statements are not a transaction's first: answered here, at the least cost.
    if cursor.connection.pgconn.transaction_status != _IDLE:
        return False
    return _with_begin(cursor, statement, parameters)


def _begun_no_params(cursor: Any, statement: str, _context: Any) -> bool:
    """:func:`_begun` for a statement without parameters."""
    if cursor.connection.pgconn.transaction_status != _IDLE:
        return False
    return _with_begin(cursor, statement, None)


def _with_begin(cursor: Any, statement: str, parameters: Any) -> bool:
    """BEGIN and the statement in psycopg's pipeline, if a transaction is to begin (the
    connection is idle: the callers checked): the server runs them in order and the
    statement's result (or error, of the same class and text) is the cursor's, as if
    psycopg had sent BEGIN itself."""
    conn = cursor.connection
    # Imported here, not at the module's top: SQLite-only commands never load psycopg (it
    # is loaded already whenever this runs: the engine's driver is psycopg).
    import psycopg

    if (conn.autocommit or conn.closed or conn.broken or conn._pipeline is not None
            or isinstance(cursor, psycopg.ServerCursor) or _has_spoken(conn)):
        return False
    # psycopg's own BEGIN (isolation level, read only, as configured), sent by us: for
    # this statement alone psycopg is told it is in autocommit, so it sends none and does
    # not wait for one; from the server's answer on the transaction is open, and psycopg
    # commits and rolls back by the server's status, as ever. Private attributes of the
    # psycopg version uv.lock pins; tests/storage/test_begin_with_first.py checks them.
    begin = conn._get_tx_start_command()
    conn._autocommit = True
    try:
        with conn.pipeline():
            cursor.execute(begin, prepare=False)
            cursor.execute(statement, parameters)
    finally:
        conn._autocommit = False
    return True


def _has_spoken(conn: Any) -> bool:
    """Whether the server sent something unasked, which an idle connection has not: it
    ended the connection (a restart, ``pg_terminate_backend``) and said why. psycopg's own
    BEGIN reads that and raises it (``AdminShutdown``, with the server's words); sent in a
    pipeline it would be a lost connection's error instead, so psycopg's way is kept."""
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll here, or the socket is gone
        return True
