"""The outbox: every e-mail Personvern sends is queued here first, then sent over SMTP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from personvern.storage.models import Base


class OutboxMessage(Base):
    """One queued, sent or failed e-mail."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(32), index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    title: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # queued -> sent, or failed after the attempts run out, or cancelled at the erasure of
    # the person it was for (mail/scrub.py says which kinds).
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    # The same notice is never queued twice (e.g. a publish retried after a crash).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The breach a notice to a person is about (Art. 34): its delivery is read by this
    # index; a LIKE on dedupe_key's prefix read every breach notice (migration 0018).
    breach_id: Mapped[str | None] = mapped_column(String(32), index=True)
