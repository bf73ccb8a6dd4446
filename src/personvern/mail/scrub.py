"""Mail to an erased person: the answer to their request is kept until delivered, then its
address and body are blanked; queued mail that no longer serves them is cancelled and blanked
at once, so the outbox holds no copy of them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, and_, bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from personvern.consent.tables import Subject
from personvern.mail.tables import OutboxMessage

ERASED_TEXT = "[erased]"
DONE = ("sent", "failed", "cancelled")
# Mail with no purpose once the person is erased: a reminder that their data will be
# deleted, a sign-in link to a portal account that is gone, a code confirming a request they
# can no longer pursue. The answer to their own request still goes (Art. 12(3) and (4)), and
# so does anything else (a breach notice, Art. 34, is owed whatever happened since).
# The kinds as their senders name them (tests/mail/test_erased_mail.py holds them equal).
MOOT_AFTER_ERASURE = ("retention_notice", "sign_in", "request_verification")
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_SUBJECTS: Table = Subject.__table__  # type: ignore[assignment]


def scrub_erased_mail(session: Session, *, subject_id: str | None = None,
                      message_id: int | None = None,
                      subject_ids: Sequence[str] | None = None) -> int:
    """Blank delivered (or given-up) mail of erased subjects (of ``subject_id`` or
    ``subject_ids`` only, when given); how many messages."""
    erased = select(_SUBJECTS.c.id).where(_SUBJECTS.c.erased_at.is_not(None))
    stmt = update(_OUTBOX).where(_OUTBOX.c.status.in_(DONE),
                                 _OUTBOX.c.subject_id.in_(erased))
    if subject_id is not None:
        stmt = stmt.where(_OUTBOX.c.subject_id == subject_id)
    if subject_ids is not None:
        stmt = stmt.where(_OUTBOX.c.subject_id.in_(list(subject_ids)))
    if message_id is not None:
        stmt = stmt.where(_OUTBOX.c.id == message_id)
    result = session.connection().execute(stmt.values(
        to_address=ERASED_TEXT, body_text=ERASED_TEXT, body_html=None))
    return int(result.rowcount or 0)


# The erased person's (or people's) outbox in one statement: their queued mail that no
# longer serves them cancelled, and it and their delivered (or given-up) mail blanked. Built
# once: only the ids are bound at each erasure.
_CANCEL_AND_SCRUB = (
    update(_OUTBOX)
    .where(_OUTBOX.c.subject_id.in_(bindparam("ids", expanding=True)),
           or_(and_(_OUTBOX.c.status == "queued", _OUTBOX.c.kind.in_(MOOT_AFTER_ERASURE)),
               and_(_OUTBOX.c.status.in_(DONE),
                    _OUTBOX.c.subject_id.in_(
                        select(_SUBJECTS.c.id).where(_SUBJECTS.c.erased_at.is_not(None))))))
    .values(status=case((_OUTBOX.c.status == "queued", "cancelled"), else_=_OUTBOX.c.status),
            to_address=ERASED_TEXT, body_text=ERASED_TEXT, body_html=None))


def cancel_and_scrub(session: Session, subject_ids: Sequence[str]) -> None:
    """For erased subjects: cancel their queued mail that no longer serves them, and blank
    it and their delivered (or given-up) mail, in one statement."""
    session.connection().execute(_CANCEL_AND_SCRUB, {"ids": list(subject_ids)})
