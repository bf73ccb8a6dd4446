"""The audit trail's lock and head, read together at a transaction's first append."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from personvern.audit import append_audit, audit_in_bulk, check_audit_chain
from personvern.clock import fixed_clock
from personvern.errors import StorageError
from personvern.storage.locks import chain_lock_key
from personvern.storage.models import AuditEvent
from personvern.storage.session import make_sessionmaker, transaction

AT = fixed_clock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))


def test_an_append_waits_for_the_trails_lock_and_gives_up_as_before(db_engine: Engine) -> None:
    """While another transaction holds the trail, an append waits for it; one that waits
    too long fails with the database's own error (a StorageError through ``transaction``),
    and stores nothing."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite waits on its write lock")
    key = chain_lock_key(AuditEvent.__tablename__)
    with db_engine.connect() as holder:
        holder.execute(text("BEGIN"))
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        with make_sessionmaker(db_engine)() as session:
            session.execute(text("SET LOCAL lock_timeout = '50ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                append_audit(session, AT, "owner", "note", "x:1", {})
        with pytest.raises(StorageError, match="lock timeout"), \
                transaction(db_engine) as session:
            session.execute(text("SET LOCAL lock_timeout = '50ms'"))
            append_audit(session, AT, "owner", "note", "x:2", {})
        holder.execute(text("ROLLBACK"))
    with make_sessionmaker(db_engine)() as session:
        found = check_audit_chain(session, require_checkpoint=False)
    assert found.events == 0 and found.problem is None


def test_appends_in_one_transaction_after_the_first_chain_on(db_engine: Engine) -> None:
    """The first append reads the head under the lock; the next ones chain on it, and a
    later transaction's first append reads the head the earlier one committed."""
    for round in range(3):
        with transaction(db_engine) as session:
            for n in range(2):
                append_audit(session, AT, "owner", "note", f"x:{round}:{n}", {})
    with make_sessionmaker(db_engine)() as session:
        found = check_audit_chain(session)
    assert found.problem is None and found.events == 6
    assert found.checkpoint is not None and found.checkpoint.seq == 6


def test_the_lock_and_the_head_are_one_round_trip(db_engine: Engine, tmp_path: Path) -> None:
    """On PostgreSQL the lock and the head's read are sent together and answered together
    (one Sync: the client waits once), where they were two round trips."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no round trips")
    log = tmp_path / "trace.txt"
    with transaction(db_engine) as session, audit_in_bulk(session), log.open("w") as out:
        session.execute(text("SELECT 1"))  # the transaction begun, as in a request's run
        pgconn = session.connection().connection.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(out.fileno())
        try:
            append_audit(session, AT, "owner", "note", "x:1", {})
        finally:
            pgconn.untrace()
    sent = [line.split("\t")[3] for line in log.read_text().splitlines()
            if line.split("\t")[1:2] == ["F"]]
    assert sent.count("Sync") == 1, sent
    with make_sessionmaker(db_engine)() as session:
        assert check_audit_chain(session).events == 1
