"""Queueing e-mail: every message goes into the outbox first, in the caller's transaction.

Queuing in the same transaction as the change that causes it means a notice is sent
if and only if the change was committed; ``dedupe_key`` makes a retried job harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.contact import normalise_email
from personvern.mail.tables import OutboxMessage


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


def pending(session: Session, limit: int = 100) -> list[OutboxMessage]:
    """Queued messages, oldest first."""
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "queued")
        .order_by(OutboxMessage.id).limit(limit)
    ))
