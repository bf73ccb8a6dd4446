"""On PostgreSQL a transaction's BEGIN goes with its first statement, one round trip, and
the transaction is the same: atomic, at the isolation level asked for, its errors those of
before (the same class and text; a connection the server ended too), the connection back
in the pool as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.errors import AdminShutdown
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import sessionmaker

from personvern.storage.engine import create_engine_for, libpq_conninfo
from personvern.storage.session import (
    _begun,
    _begun_no_params,
    make_sessionmaker,
    transaction,
)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL database, as the runtime makes it, with a table."""
    eng = create_engine_for(postgres_url)
    make_sessionmaker(eng)  # as the runtime's: BEGIN goes with the first statement
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (id integer PRIMARY KEY, v text NOT NULL)"))
    yield eng
    eng.dispose()


def waits(engine: Engine, tmp_path: Path, work: Any) -> list[str]:
    """What libpq waited on while ``work(session)`` ran in one transaction: each simple
    Query's text, "Sync" for each Sync of the extended protocol."""
    path = tmp_path / "trace"
    with path.open("w") as out, transaction(sessionmaker(engine)) as s:
        pgconn = s.connection().connection.dbapi_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(out.fileno())
        try:
            work(s)
        finally:
            s.commit()
            pgconn.untrace()
    sent = [line.split("\t") for line in path.read_text().splitlines()]
    return [f[4].strip() if f[3] == "Query" else "Sync" for f in sent
            if f[1:2] == ["F"] and f[3] in ("Sync", "Query")]


def without_merging(engine: Engine) -> None:
    """Back to psycopg's own BEGIN: the way before, to compare with."""
    event.remove(engine, "do_execute", _begun)
    event.remove(engine, "do_execute_no_params", _begun_no_params)


def test_begin_goes_with_the_first_statement(engine: Engine, tmp_path: Path) -> None:
    insert = text("INSERT INTO t VALUES (:id, :v)")

    def work(s: Any) -> None:
        s.execute(insert, {"id": 1, "v": "a"})
        s.execute(insert, {"id": 2, "v": "b"})

    # The connection is checked out (and traced) before the first statement is sent.
    assert waits(engine, tmp_path, work) == ["Sync", "Sync", '"COMMIT"']
    without_merging(engine)
    assert waits(engine, tmp_path, lambda s: s.execute(insert, {"id": 3, "v": "c"})
                 ) == ['"BEGIN"', "Sync", '"COMMIT"']
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM t ORDER BY id")).scalars().all() == [1, 2, 3]


def test_a_failure_after_the_first_statement_keeps_nothing(engine: Engine) -> None:
    with pytest.raises(IntegrityError), transaction(sessionmaker(engine)) as s:
        s.execute(text("INSERT INTO t VALUES (1, 'a')"))
        s.execute(text("INSERT INTO t VALUES (1, 'again')"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
        driver = conn.connection.dbapi_connection
        assert driver is not None and driver.autocommit is False  # back as it was


def first_statement_error(engine: Engine) -> tuple[type[BaseException], str]:
    """The error of a transaction whose first statement breaks the primary key."""
    with pytest.raises(IntegrityError) as caught, transaction(sessionmaker(engine)) as s:
        s.execute(text("INSERT INTO t VALUES (1, 'b')"))
    return type(caught.value.orig), str(caught.value)


def test_a_first_statement_that_fails_fails_as_before(engine: Engine) -> None:
    with transaction(sessionmaker(engine)) as s:
        s.execute(text("INSERT INTO t VALUES (1, 'a')"))
    merged = first_statement_error(engine)
    without_merging(engine)
    assert merged == first_statement_error(engine)
    with transaction(sessionmaker(engine)) as s:  # the connection is usable after
        s.execute(text("INSERT INTO t VALUES (2, 'b')"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_the_isolation_level_and_a_savepoint_first(engine: Engine) -> None:
    serializable = engine.execution_options(isolation_level="SERIALIZABLE")
    with serializable.connect() as conn, conn.begin():
        assert conn.execute(text("SHOW transaction_isolation")).scalar() == "serializable"
    with transaction(sessionmaker(engine)) as s:
        with s.begin_nested():  # a SAVEPOINT as the first statement
            s.execute(text("INSERT INTO t VALUES (1, 'a')"))
        nested = s.begin_nested()
        s.execute(text("INSERT INTO t VALUES (2, 'b')"))
        nested.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM t")).scalars().all() == [1]


def error_of_an_ended_connection(engine: Engine, admin: psycopg.Connection[Any]
                                 ) -> tuple[type[BaseException], str, bool]:
    """The error of a transaction's first statement on a connection the server ended
    after it was handed out (a restart, an administrator): class, text, invalidated."""
    with sessionmaker(engine)() as s:
        driver = s.connection().connection.dbapi_connection  # handed out, nothing sent yet
        pid = driver.info.backend_pid  # type: ignore[union-attr]
        # Waits until the backend is gone (its goodbye sent), up to 5 s.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        with pytest.raises(OperationalError) as caught:
            s.execute(text("SELECT :x"), {"x": 1})
    return type(caught.value.orig), str(caught.value), caught.value.connection_invalidated


def test_a_connection_the_server_ended_fails_as_before(
        engine: Engine, postgres_url: str) -> None:
    with psycopg.connect(libpq_conninfo(postgres_url), autocommit=True) as admin:
        merged = error_of_an_ended_connection(engine, admin)
        without_merging(engine)
        assert merged == error_of_an_ended_connection(engine, admin)
    assert merged[0] is AdminShutdown and merged[2] is True  # the server's own words
