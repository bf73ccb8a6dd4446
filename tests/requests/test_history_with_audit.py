"""A request's history lines and audit events, held by ``recording_in_bulk``, are written
at its end in one round trip on PostgreSQL (where they were two), and an error in them
still stores nothing (GDPR Art. 5(2): what happened to a request is on record)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from demo_support import OWNER, MovingClock
from personvern.audit import check_audit_chain
from personvern.consent.subjects import create_subject
from personvern.requests.engine import Context, open_request, recording_in_bulk
from personvern.requests.tables import RequestEvent
from personvern.runtime import open_runtime
from personvern.settings import Settings
from personvern.storage.locks import sent_together
from personvern.storage.models import AuditEvent
from personvern.storage.session import make_sessionmaker, transaction


def test_the_history_and_the_audit_events_are_one_round_trip(
        db_url: str, demo_template: Path, clock: MovingClock, tmp_path: Path) -> None:
    """The lines and the events of a request opened in the block go at its end together
    (one Sync in libpq's protocol trace), and are stored as one at a time stores them."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no round trips")
    runtime = open_runtime(Settings(manifest=demo_template / "personvern.yaml",
                                    database_url=db_url), clock)
    log = tmp_path / "trace.txt"
    try:
        ctx = Context(runtime.consent, clock)
        with runtime.transaction() as s:
            person, _ = create_subject(s, clock, {"email": "historie@example.no"})
        with runtime.transaction() as s, log.open("w") as out:
            with recording_in_bulk(s):
                opened = open_request(s, ctx, "erasure", subject=person.id, by=OWNER)
                s.flush()  # the request's own row: only the lines and the events are left
                pgconn = s.connection().connection.driver_connection.pgconn  # type: ignore[union-attr]
                pgconn.trace(out.fileno())
            pgconn.untrace()
            rid = opened.request.id
        sent = [line.split("\t")[3] for line in log.read_text().splitlines()
                if line.split("\t")[1:2] == ["F"]]
        assert sent.count("Sync") == 1, sent
        with runtime.transaction() as s:
            lines = s.scalars(select(RequestEvent).where(RequestEvent.request_id == rid)
                              .order_by(RequestEvent.id)).all()
            assert [(e.from_state, e.to_state) for e in lines] == [
                (None, "received"), ("received", "verified")]
            targets = s.scalars(select(AuditEvent.action).where(
                AuditEvent.target == f"request:{rid}").order_by(AuditEvent.id)).all()
            assert targets == ["request.received", "request.verified"]
            assert check_audit_chain(s).problem is None
    finally:
        runtime.close()


AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def test_an_error_sent_together_is_the_databases_and_stores_nothing(db_engine: Engine
                                                                    ) -> None:
    """A statement that fails inside ``sent_together`` fails the block with the error
    SQLAlchemy gives for its own statements (a unique id taken: IntegrityError), and the
    transaction stores none of the block's rows."""
    from sqlalchemy.exc import IntegrityError

    row = {"id": 1, "at": AT, "actor": "owner", "action": "note", "target": "x:1",
           "details": {}, "prev_hash": "0" * 64, "hash": "1" * 64}
    with pytest.raises(IntegrityError), transaction(db_engine) as session, \
            sent_together(session):
        session.connection().execute(insert(AuditEvent.__table__), [row])
        session.connection().execute(insert(AuditEvent.__table__), [row])
    with make_sessionmaker(db_engine)() as session:
        assert session.scalars(select(AuditEvent)).all() == []
