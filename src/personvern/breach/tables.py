"""Breaches and their history (notices in phases, notes, decisions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from personvern.storage.models import Base


class Breach(Base):
    """A personal-data breach as the controller documents it (Art. 33(5))."""

    __tablename__ = "breaches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recorded_at: Mapped[datetime]
    aware_at: Mapped[datetime] = mapped_column(index=True)
    occurred_at: Mapped[datetime | None]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    subject_categories: Mapped[list[str]] = mapped_column(JSON)
    approx_subjects: Mapped[int | None] = mapped_column(Integer)
    approx_records: Mapped[int | None] = mapped_column(Integer)
    consequences: Mapped[str] = mapped_column(Text, default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    # none | low | risk | high (Art. 33(1): no notice when unlikely to result in a risk;
    # Art. 34(1): tell the persons when the risk is high).
    risk: Mapped[str] = mapped_column(String(8))
    notify_authority: Mapped[bool] = mapped_column(Boolean)
    no_notice_reason: Mapped[str | None] = mapped_column(Text)
    authority_notified_at: Mapped[datetime | None]
    subjects_notified_at: Mapped[datetime | None]
    late_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]


class BreachUpdate(Base):
    """One entry in a breach's history: a phase of the notice, a note, a decision."""

    __tablename__ = "breach_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breach_id: Mapped[str] = mapped_column(ForeignKey("breaches.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
