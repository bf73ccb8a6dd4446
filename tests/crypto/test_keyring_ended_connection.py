"""A connection the server ended mid-transaction (a restart, an administrator) fails with
the server's own error, not one the keyring's rollback hook raised over it by reading the
invalidated connection's info (SQLAlchemy's PendingRollbackError, which hid the cause)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.errors import AdminShutdown
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from personvern.storage.engine import create_engine_for, libpq_conninfo
from personvern.storage.session import make_sessionmaker


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    eng = create_engine_for(postgres_url)
    yield eng
    eng.dispose()


def test_a_connection_the_server_ended_fails_with_the_servers_words(
        engine: Engine, postgres_url: str) -> None:
    with psycopg.connect(libpq_conninfo(postgres_url), autocommit=True) as admin, \
            make_sessionmaker(engine)() as s:
        driver: Any = s.connection().connection.dbapi_connection  # handed out, nothing sent
        # Waits until the backend is gone (its goodbye sent), up to 5 s.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (driver.info.backend_pid,))
        with pytest.raises(OperationalError) as caught:
            s.execute(text("SELECT :x"), {"x": 1})
    assert type(caught.value.orig) is AdminShutdown
    assert caught.value.connection_invalidated
    with engine.connect() as conn:  # the pool hands out a live connection again
        assert conn.execute(text("SELECT 1")).scalar() == 1
