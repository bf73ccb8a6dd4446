"""Several appends to a hash chain in one transaction (an erasure's audit events, a batch of
consent writes) take the chain's lock and read its head once, and the chains stay exact:
also when a savepoint rolled back the appends made inside it. Audit trail and ledger, on
SQLite and on PostgreSQL (the GDPR's Art. 5(2) accountability rests on these chains)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select

from consent.support import newsletter_context
from personvern.audit import CHAIN as AUDIT
from personvern.audit import append_audit, verify_audit_chain
from personvern.consent.events import EventType
from personvern.consent.ledger import CHAIN as LEDGER
from personvern.consent.ledger import verify_ledger
from personvern.consent.service import record_event
from personvern.consent.subjects import create_subject
from personvern.crypto.checkpoints import stored_checkpoint
from personvern.storage.models import AuditEvent
from personvern.storage.session import make_sessionmaker, transaction

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent to ``engine`` while the block runs."""
    sent: list[str] = []

    def note(conn: object, cursor: object, sql: str, *args: object) -> None:
        sent.append(sql)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def chain_reads(sent: list[str]) -> dict[str, int]:
    """How often the chains' locks were taken and their heads read."""
    def n(*needles: str) -> int:
        return sum(1 for s in sent if all(x in s.lower() for x in needles))
    return {"locks": n("pg_advisory_xact_lock") + n("set rowid = rowid where 0"),
            "audit_heads": n("from audit_events", "order by audit_events.id desc"),
            "ledger_heads": n("from ledger_events", "order by ledger_events.seq desc")}


def test_an_erasures_audit_events_take_the_lock_and_read_the_head_once(
        db_engine: Engine) -> None:
    sessions = make_sessionmaker(db_engine)
    clock = lambda: T0  # noqa: E731
    with transaction(sessions) as s:
        append_audit(s, clock, "owner", "request.opened", "request:1")
    with statements(db_engine) as sent, transaction(sessions) as s:
        for step in ("request.run", "subject.erased", "key.destroyed", "request.completed"):
            append_audit(s, clock, "owner", step, "request:1")
    assert chain_reads(sent) == {"locks": 1, "audit_heads": 1, "ledger_heads": 0}
    with transaction(sessions) as s:
        assert verify_audit_chain(s) is None
        ids = s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        checkpoint = stored_checkpoint(s.connection(), AUDIT)
    assert ids == [1, 2, 3, 4, 5]
    assert checkpoint is not None and checkpoint.seq == 5


def test_a_savepoint_rolled_back_makes_the_next_append_read_the_head_again(
        db_engine: Engine) -> None:
    sessions = make_sessionmaker(db_engine)
    clock = lambda: T0  # noqa: E731
    with transaction(sessions) as s:
        append_audit(s, clock, "owner", "one", "t")
        with pytest.raises(RuntimeError), s.begin_nested():
            append_audit(s, clock, "owner", "two (rolled back)", "t")
            raise RuntimeError("the step failed")
        append_audit(s, clock, "owner", "three", "t")
    with transaction(sessions) as s:
        assert verify_audit_chain(s) is None
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        checkpoint = stored_checkpoint(s.connection(), AUDIT)
    assert actions == ["one", "three"]
    assert checkpoint is not None and checkpoint.seq == 2


def test_consent_writes_in_one_transaction_lock_and_read_the_ledger_head_once(
        db_engine: Engine) -> None:
    ctx = newsletter_context()
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        sids = [create_subject(s, lambda: T0, {"email": f"p{i}@example.no"})[0].id
                for i in range(4)]
    with statements(db_engine) as sent, transaction(sessions) as s:
        for minute, sid in enumerate(sids):
            record_event(s, ctx, T0 + timedelta(minutes=minute), sid, EventType.CONSENT_GIVEN,
                         purpose_id="newsletter", evidence={"text_shown": "Nyhetsbrev"})
    assert chain_reads(sent) == {"locks": 1, "audit_heads": 0, "ledger_heads": 1}
    with transaction(sessions) as s:
        sid = sids[0]
        with pytest.raises(RuntimeError), s.begin_nested():
            record_event(s, ctx, T0 + timedelta(hours=1), sid, EventType.CONSENT_WITHDRAWN,
                         purpose_id="newsletter")
            raise RuntimeError("the caller gave up")
        record_event(s, ctx, T0 + timedelta(hours=2), sid, EventType.CONSENT_WITHDRAWN,
                     purpose_id="newsletter")
    with transaction(sessions) as s:
        assert verify_ledger(s) is None
        checkpoint = stored_checkpoint(s.connection(), LEDGER)
    assert checkpoint is not None and checkpoint.seq == 5
