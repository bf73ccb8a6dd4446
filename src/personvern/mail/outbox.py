"""Queueing e-mail: every message goes into the outbox first, in the caller's transaction.

Queuing in the same transaction as the change that causes it means a notice is sent
if and only if the change was committed; ``dedupe_key`` makes a retried job harmless.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.contact import normalise_email
from personvern.mail.tables import OutboxMessage

_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Mail:
    """A message to queue."""

    kind: str
    to_address: str
    title: str
    body_text: str
    body_html: str | None = None
    subject_id: str | None = None
    dedupe_key: str | None = None
    breach_id: str | None = None  # a breach's notice to a person (breach.register)


def queue(session: Session, clock: Clock, mail: Mail) -> tuple[OutboxMessage, bool]:
    """Queue ``mail``; returns (message, queued_now). A known dedupe_key queues nothing."""
    if mail.dedupe_key is not None:
        existing = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == mail.dedupe_key)
        ).first()
        if existing is not None:
            return existing, False
    message = OutboxMessage(
        created_at=clock(), kind=mail.kind, subject_id=mail.subject_id,
        to_address=normalise_email(mail.to_address), title=mail.title,
        body_text=mail.body_text, body_html=mail.body_html, status="queued", attempts=0,
        dedupe_key=mail.dedupe_key, breach_id=mail.breach_id,
    )
    session.add(message)
    session.flush()
    return message, True


def queue_many(session: Session, clock: Clock, mails: Sequence[Mail], *,
               stored: Collection[str] = ()) -> int:
    """:func:`queue` for many messages (a batch): written in one multi-row INSERT per
    chunk that skips a known dedupe key itself (no read of the keys first, no ORM objects:
    the caller needs none back); how many were queued now. ``stored``: addresses the
    caller read from stored identities (normalised by ``normalise_email`` when stored);
    one of them already in that form (trimmed, case-folded) is not checked again, every
    other address is."""
    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    # A recipient told of many people is normalised once; a stored identity's address
    # in its normal form is that form already (email-validator costs some 40 us each).
    addresses: dict[str, str] = {a: a for a in stored if a == a.strip().casefold()}
    for mail in mails:
        if mail.dedupe_key is not None:
            if mail.dedupe_key in seen:
                continue
            seen.add(mail.dedupe_key)
        to = addresses.get(mail.to_address)
        if to is None:
            to = addresses[mail.to_address] = normalise_email(mail.to_address)
        rows.append({"created_at": clock(), "kind": mail.kind, "subject_id": mail.subject_id,
                     "to_address": to, "title": mail.title, "body_text": mail.body_text,
                     "body_html": mail.body_html, "status": "queued", "attempts": 0,
                     "dedupe_key": mail.dedupe_key, "breach_id": mail.breach_id})
    if not rows:
        return 0
    conn = session.connection()
    queued = 0
    for start in range(0, len(rows), 500):
        queued += conn.execute(_INSERT_NEW, rows[start:start + 500]).rowcount
    return queued


# A message whose dedupe key is known already is skipped by the INSERT itself (one
# statement, where a read of the keys first was two round trips), in the same words on
# SQLite and PostgreSQL. As text, compiled once: SQLAlchemy compiles a dialect's
# ON CONFLICT insert anew at every call (it does not cache it).
_COLUMNS = ("created_at", "kind", "subject_id", "to_address", "title", "body_text",
            "body_html", "status", "attempts", "dedupe_key", "breach_id")
_INSERT_NEW = text(
    f"INSERT INTO {_OUTBOX.name} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _COLUMNS)}) ON CONFLICT (dedupe_key) DO NOTHING"
).bindparams(*(bindparam(c, type_=_OUTBOX.c[c].type) for c in _COLUMNS))
