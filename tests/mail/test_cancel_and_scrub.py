"""An erased person's outbox in one statement: moot queued mail cancelled and blanked, sent
and given-up mail blanked, the answer still queued, nobody else's mail touched."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from personvern.consent.tables import Subject
from personvern.keys.shred import shred_subject, shred_subjects
from personvern.mail.scrub import DONE, ERASED_TEXT, MOOT_AFTER_ERASURE
from personvern.mail.tables import OutboxMessage
from personvern.storage.session import make_sessionmaker, transaction

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)
KINDS = (*MOOT_AFTER_ERASURE, "request_answer", "breach_notice")
STATUSES = ("queued", *DONE)


def _fill(engine: Engine) -> None:
    """Three people (two erased, one not), each with a message of every kind and status."""
    with transaction(engine) as s:
        conn = s.connection()
        conn.execute(insert(Subject), [
            {"id": sid, "created_at": NOW, "erased_at": NOW if sid != "kept" else None}
            for sid in ("gone1", "gone2", "kept")])
        conn.execute(insert(OutboxMessage), [
            {"created_at": NOW, "kind": kind, "subject_id": sid, "to_address": f"{sid}@x.no",
             "title": kind, "body_text": f"to {sid}", "body_html": "<p>hi</p>",
             "status": status, "attempts": 0}
            for sid in ("gone1", "gone2", "kept") for kind in KINDS for status in STATUSES])


def _outbox(engine: Engine) -> dict[tuple[str, str, str], tuple[str, str, str, str | None]]:
    """(person, kind, status as queued) -> (status, address, body, html) now."""
    with make_sessionmaker(engine)() as s:
        rows = s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        return {(m.subject_id or "", m.kind, STATUSES[(m.id - 1) % len(STATUSES)]):
                (m.status, m.to_address, m.body_text, m.body_html) for m in rows}


def _expected(sid: str, kind: str, status: str, erased: set[str]
              ) -> tuple[str, str, str, str | None]:
    mine = (status, f"{sid}@x.no", f"to {sid}", "<p>hi</p>")
    if sid not in erased:
        return mine
    if status == "queued":
        if kind in MOOT_AFTER_ERASURE:
            return ("cancelled", ERASED_TEXT, ERASED_TEXT, None)
        return mine  # the answer (and a breach notice) still goes
    return (status, ERASED_TEXT, ERASED_TEXT, None)


def test_one_persons_erasure_cancels_and_blanks_only_their_mail(db_engine: Engine) -> None:
    _fill(db_engine)
    with transaction(db_engine) as s:
        shred_subject(s, "gone1", at=NOW)
    found = _outbox(db_engine)
    assert found == {(sid, kind, status): _expected(sid, kind, status, {"gone1"})
                     for sid, kind, status in found}
    assert len(found) == 3 * len(KINDS) * len(STATUSES)


def test_a_batchs_erasure_does_the_same_per_person(db_engine: Engine) -> None:
    _fill(db_engine)
    with transaction(db_engine) as s:
        shred_subjects(s, ["gone1", "gone2"], at=NOW, chunk=1)
    found = _outbox(db_engine)
    assert found == {(sid, kind, status): _expected(sid, kind, status, {"gone1", "gone2"})
                     for sid, kind, status in found}
