"""Mail to an erased person: kept until delivered (the answer to their erasure request),
then its address and body are blanked, so the outbox holds no copy of them."""

from __future__ import annotations

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from personvern.consent.tables import Subject
from personvern.mail.tables import OutboxMessage

ERASED_TEXT = "[erased]"
DONE = ("sent", "failed")
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_SUBJECTS: Table = Subject.__table__  # type: ignore[assignment]


def scrub_erased_mail(session: Session, *, subject_id: str | None = None,
                      message_id: int | None = None) -> int:
    """Blank delivered (or given-up) mail of erased subjects; how many messages."""
    erased = select(_SUBJECTS.c.id).where(_SUBJECTS.c.erased_at.is_not(None))
    stmt = update(_OUTBOX).where(_OUTBOX.c.status.in_(DONE),
                                 _OUTBOX.c.subject_id.in_(erased))
    if subject_id is not None:
        stmt = stmt.where(_OUTBOX.c.subject_id == subject_id)
    if message_id is not None:
        stmt = stmt.where(_OUTBOX.c.id == message_id)
    result = session.connection().execute(stmt.values(
        to_address=ERASED_TEXT, body_text=ERASED_TEXT, body_html=None))
    return int(result.rowcount or 0)
