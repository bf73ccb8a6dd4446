"""Queueing e-mail: every message goes into the outbox first, in the caller's transaction.

Queuing in the same transaction as the change that causes it means a notice is sent
if and only if the change was committed; ``dedupe_key`` makes a retried job harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, insert, select
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
        dedupe_key=mail.dedupe_key,
    )
    session.add(message)
    session.flush()
    return message, True


def queue_many(session: Session, clock: Clock, mails: Sequence[Mail]) -> int:
    """:func:`queue` for many messages (a batch): the known dedupe keys read in one
    statement per chunk, the new messages written in one multi-row INSERT per chunk (no
    ORM objects: the caller needs none back); how many were queued now."""
    keys = [m.dedupe_key for m in mails if m.dedupe_key is not None]
    known: set[str | None] = set()
    for start in range(0, len(keys), 500):
        known.update(session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.in_(keys[start:start + 500]))))
    rows: list[dict[str, object]] = []
    addresses: dict[str, str] = {}  # a recipient told of many people: normalised once
    for mail in mails:
        if mail.dedupe_key is not None and mail.dedupe_key in known:
            continue
        known.add(mail.dedupe_key)
        to = addresses.get(mail.to_address)
        if to is None:
            to = addresses[mail.to_address] = normalise_email(mail.to_address)
        rows.append({"created_at": clock(), "kind": mail.kind, "subject_id": mail.subject_id,
                     "to_address": to, "title": mail.title, "body_text": mail.body_text,
                     "body_html": mail.body_html, "status": "queued", "attempts": 0,
                     "dedupe_key": mail.dedupe_key})
    for start in range(0, len(rows), 500):
        session.connection().execute(insert(_OUTBOX), rows[start:start + 500])
    return len(rows)


def pending(session: Session, limit: int = 100) -> list[OutboxMessage]:
    """Queued messages, oldest first."""
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "queued")
        .order_by(OutboxMessage.id).limit(limit)
    ))
