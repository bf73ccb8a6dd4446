"""The plan is the sweep rehearsed: the run's own code, in transactions rolled back after.

A plan counted apart from the run drifted from it: a rule that acts only once an earlier
rule's rows are gone (purchases, once their invoices are) was missing from the plan, and a
rule with nothing left to do after an earlier one was in it. So a plan runs the sweep
itself, with every database it writes — the service's datasets and the engine's own —
held on one connection each, inside a transaction that is rolled back when the sweep is
done: each step sees what the steps before it did, as in the run, and nothing is kept.

The price: while a plan runs it holds the locks the sweep would, from start to end (on
SQLite, each database's write lock; on PostgreSQL, the rows it changes), so other writers
wait for it, up to their busy or lock timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import cast

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import sessionmaker

from personvern.retention.due import Due
from personvern.storage.session import NOTHING_KEPT


@contextmanager
def rehearsal(due: Due) -> Iterator[Due]:
    """``due`` with every write going into transactions rolled back when the block ends."""
    engine = due.sessions.kw["bind"]
    assert isinstance(engine, Engine)
    datasets = list(due.res.datasets.values())
    real = [ds.engine for ds in datasets]
    with ExitStack() as stack:
        conn = stack.enter_context(_held(engine))
        # Each `due.engine()` transaction becomes a savepoint of the held one.
        sessions = sessionmaker(**{**due.sessions.kw, "bind": conn,
                                   "join_transaction_mode": "create_savepoint",
                                   "info": {NOTHING_KEPT: True}})
        try:
            for ds in datasets:
                # The sweep's code asks a dataset for `engine.begin()` / `engine.connect()`;
                # a held connection answers both (typed as the Engine it stands in for).
                ds.engine = cast(Engine, _HeldEngine(ds.engine,
                                                     stack.enter_context(_held(ds.engine))))
            yield replace(due, sessions=sessions)
        finally:
            for ds, e in zip(datasets, real, strict=True):
                ds.engine = e


@contextmanager
def _held(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back (never committed) at the end."""
    conn = engine.connect()
    try:
        if engine.dialect.name == "sqlite":
            # The sqlite3 module begins a transaction only before a write: begun here, the
            # savepoints below nest in it, and releasing the first does not commit.
            # IMMEDIATE: the write lock now (waiting up to busy_timeout), as the sweep's
            # writes need it; a deferred one could not upgrade once another connection
            # had written since it began (SQLITE_BUSY at once, not after waiting).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
        yield conn
    finally:
        conn.rollback()
        conn.close()


class _HeldEngine:
    """What the sweep uses of a dataset's Engine, answered by one held connection."""

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self.url = engine.url
        self.dialect = engine.dialect
        self._conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A savepoint of the held transaction (released, not committed, at the end)."""
        with self._conn.begin_nested():
            yield self._conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """The held connection: reads see what the rehearsal wrote so far."""
        yield self._conn

    def dispose(self) -> None:
        """Nothing: the held connection is closed by the rehearsal."""
