"""Destroying keys in bulk: on PostgreSQL the keys are read and the live ones destroyed in
one statement, on SQLite in two; both give what was destroyed and by which master key, the
same tombstones and the same audit events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from personvern.clock import fixed_clock
from personvern.consent.subjects import create_subject
from personvern.crypto.keyring import keyring_for
from personvern.crypto.tables import SubjectKey
from personvern.keys.shred import shred_subjects
from personvern.storage.models import AuditEvent

NOW = datetime(2027, 3, 1, 11, tzinfo=UTC)
BEFORE = NOW - timedelta(days=30)


def test_a_live_key_a_tombstone_and_none_shredded_together(
        db_engine: Engine, db_session: Session) -> None:
    clock = fixed_clock(BEFORE)
    kari, _ = create_subject(db_session, clock, {"email": "kari@example.no"})
    ola, _ = create_subject(db_session, clock, {"email": "ola@example.no"})
    never = "d" * 32
    db_session.commit()
    shred_subjects(db_session, [ola.id], at=BEFORE)  # erased a month ago: a tombstone
    db_session.commit()
    master = keyring_for(db_session).master.key_id
    sent: list[str] = []
    event.listen(db_engine, "before_cursor_execute",
                 lambda *a: sent.append(a[2]) if "subject_keys" in a[2] else None)
    assert shred_subjects(db_session, [kari.id, ola.id, never], at=NOW) == {
        kari.id: True, ola.id: False, never: False}
    db_session.commit()
    # PostgreSQL: the read and the UPDATE as one statement (then the never-keyed one's
    # tombstone); SQLite: the read, the UPDATE, the INSERT.
    assert len(sent) == (2 if db_engine.dialect.name == "postgresql" else 3)
    rows = {k.subject_id: (k.wrapped, k.master_key_id, k.shredded_at)
            for k in db_session.scalars(select(SubjectKey).where(
                SubjectKey.subject_id.in_([kari.id, ola.id, never])))}
    assert rows == {kari.id: (None, None, NOW), ola.id: (None, None, BEFORE),
                    never: (None, None, NOW)}
    audited = [(e.target, e.details) for e in db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "crypto.shredded")
        .order_by(AuditEvent.id))][1:]  # after ola's of a month ago
    assert audited == [
        (f"subject:{kari.id}", {"destroyed": True, "master_key_id": master,
                                "reason": "erasure"}),
        (f"subject:{ola.id}", {"destroyed": False, "master_key_id": None,
                               "reason": "erasure"}),
        (f"subject:{never}", {"destroyed": False, "master_key_id": None,
                              "reason": "erasure"})]
