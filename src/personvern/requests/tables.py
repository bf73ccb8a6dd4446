"""Data-subject requests, their history, verification codes and Art. 19 notices."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from personvern.crypto.columns import EncryptedJSON, EncryptedText
from personvern.storage.models import SHA256_HEX, Base


class Request(Base):
    """One data-subject request, from receipt to completion or refusal."""

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # access | portability | rectification | erasure | restriction | objection | withdrawal
    type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32), index=True)
    # received -> verifying -> verified -> in_progress -> completed | refused (| extended)
    state: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime]
    due_on: Mapped[date] = mapped_column(Date, index=True)
    legal_due_on: Mapped[date] = mapped_column(Date)
    extended_to: Mapped[date | None] = mapped_column(Date)
    # self | guardian | admin | owner: who opened it, and for whom they act
    opened_by: Mapped[str] = mapped_column(String(16))
    opened_by_subject_id: Mapped[str | None] = mapped_column(String(32))
    # How the owner checked who the person is: a free note that may name them or hold a
    # phone number, so sealed with the subject's key like the details.
    verified_by: Mapped[str | None] = mapped_column(EncryptedText("requests.verified_by"))
    channel: Mapped[str] = mapped_column(String(16))
    # What the request asks for (e.g. rectified values, the purpose objected to); sealed
    # with the subject's key.
    details: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("requests.details"))
    # What was done: rows per table, kept rows with their hold and date, package digest.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    closed_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class RequestEvent(Base):
    """One transition of a request: who did what, when and why."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)


class VerificationCode(Base):
    """A one-time code or link token sent by e-mail; only its hash is stored."""

    __tablename__ = "verification_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(SHA256_HEX), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RecipientNotice(Base):
    """An Art. 19 notice to a recipient: sent through a webhook or e-mail, retried, acked."""

    __tablename__ = "recipient_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(64))
    # rectification | erasure | restriction
    action: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email | manual
    target: Mapped[str] = mapped_column(String(500))
    # queued -> sent -> acknowledged, or failed after the attempts run out
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    # A webhook's notice: the identities it must send (the recipient has to know whom the
    # request is about). Plain, like a queued e-mail's address, because an erasure destroys
    # the key that seals the request; blanked once the notice is delivered or given up.
    identities: Mapped[dict[str, list[str]] | None] = mapped_column(JSON(none_as_null=True))


class FollowUp(Base):
    """Work that follows a request's answer: the proof of erasure and the Art. 19 notices.

    Recorded in the same transaction as the request's completion, then run by a worker
    (PostgreSQL, ``PERSONVERN_JOBS=worker``) or in the process right after the answer.
    """

    __tablename__ = "request_follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # proof | notices
    # pending -> running -> done | failed (a failed one runs again when retried)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    # When its run last said it is alive (renewing its claim, followups.Lease).
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # What it found or did (the proof names tables, columns, keys: never the values).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    # What it needs after the engine forgot the person (the identities to search for, the
    # rows kept under a hold): plain, since the erasure destroyed the key that sealed them,
    # like a queued webhook notice's; blanked as soon as the work is done.
    input: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
