"""The engine's retention records: sweeps, their batches (progress), and restrictions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from personvern.storage.models import Base


class RetentionSweep(Base):
    """One sweep at a ``now``: started, finished (or not yet: a crash leaves it open)."""

    __tablename__ = "retention_sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The sweep's "now": a later sweep may not have an earlier one (the clock went back).
    now: Mapped[datetime] = mapped_column(index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    batch_size: Mapped[int] = mapped_column(Integer)
    # What was done, per rule and table (counts only, no personal values).
    totals: Mapped[dict[str, Any]] = mapped_column(JSON)


class RetentionBatch(Base):
    """One batch of one step: recorded as pending before the service's data changes, done
    after the engine's side is recorded, so a crash between the two is finished on resume."""

    __tablename__ = "retention_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("retention_sweeps.id"), index=True)
    step: Mapped[str] = mapped_column(String(300))
    seq: Mapped[int] = mapped_column(Integer)
    # pending | done; indexed so a sweep's resume check reads the pending batches only,
    # not every batch ever recorded (migration 0017).
    state: Mapped[str] = mapped_column(String(16), index=True)
    # Row keys of the service table and pseudonymous subject ids: never e-mail or names.
    keys: Mapped[list[Any]] = mapped_column(JSON)
    subject_ids: Mapped[list[str]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None]


class RetentionRestriction(Base):
    """A subject whose other purposes have ended: only ``purposes`` may still use their data."""

    __tablename__ = "retention_restrictions"

    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purposes: Mapped[list[str]] = mapped_column(JSON)
    rule: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date | None] = mapped_column(Date)
