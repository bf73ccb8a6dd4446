"""Tables of subjects, their identities and relations, and the consent ledger.

Personal data is kept apart from what the ledger's hash chain covers: identities
and evidence live in their own rows, and the chain covers only a digest of the
evidence. Erasing a person deletes those rows; the chain still verifies.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from personvern.crypto.columns import EncryptedJSON, EncryptedText
from personvern.storage.models import SHA256_HEX, Base

ID = 32  # uuid4 hex


class Subject(Base):
    """A data subject: a stable pseudonymous id; everything personal hangs off it."""

    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    created_at: Mapped[datetime]
    kind: Mapped[str | None] = mapped_column(String(64))
    birth_date: Mapped[date | None] = mapped_column(Date)
    last_activity: Mapped[datetime | None] = mapped_column(index=True)
    existing_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]


class Identity(Base):
    """One way to find a subject: an e-mail, a phone number, an external user id.

    Found by ``lookup`` (a keyed HMAC of kind and value, in the ``value`` column); the
    value itself is sealed with the subject's key (``sealed``). Compare ``lookup``, never
    ``value``: see :func:`personvern.consent.subjects.lookup_of`.
    """

    __tablename__ = "subject_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    lookup: Mapped[str] = mapped_column("value", String(320))
    value: Mapped[str] = mapped_column(
        "sealed", EncryptedText("subject_identities.value", lookup="lookup", lookup_kind="kind"),
        nullable=True)
    created_at: Mapped[datetime]


class Guardianship(Base):
    """A guardian (parent) who acts for a child (GDPR Art. 8)."""

    __tablename__ = "guardianships"
    __table_args__ = (UniqueConstraint("guardian_id", "child_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guardian_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    child_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    verified_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Organisation(Base):
    """A customer organisation whose admins act for its members (seed 003)."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    orgnr: Mapped[str | None] = mapped_column(String(9), unique=True)
    created_at: Mapped[datetime]
    # When it left the service: its members and its own rows were erased (seed 003).
    left_at: Mapped[datetime | None]


class Membership(Base):
    """A subject's membership of an organisation, as admin or member."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organisation_id", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class LedgerEvent(Base):
    """One consent-ledger event; ``hash`` chains it to the event before it.

    Never updated or deleted. ``subject_id`` has no foreign key on purpose: the
    chain must outlive the subject's erasure.
    """

    __tablename__ = "ledger_events"
    __table_args__ = (Index(None, "subject_id", "seq"),)

    # Assigned by the append (previous + 1, under the ledger lock), so it is hashed.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(ID), unique=True)
    subject_id: Mapped[str] = mapped_column(String(ID))
    purpose: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(16))
    actor_subject_id: Mapped[str | None] = mapped_column(String(ID))
    channel: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[str | None] = mapped_column(String(SHA256_HEX))
    at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    evidence_digest: Mapped[str] = mapped_column(String(SHA256_HEX))
    # Not indexed: the chain is serialised by the ledger lock and checked by verify;
    # two random 64-character indexes would double the cost of every append.
    prev_hash: Mapped[str] = mapped_column(String(SHA256_HEX))
    hash: Mapped[str] = mapped_column(String(SHA256_HEX))


class LedgerEvidence(Base):
    """The personal evidence of an event (text shown, hashed IP, user agent), sealed with
    the subject's key; erasable, and unreadable once the key is destroyed."""

    __tablename__ = "ledger_evidence"

    event_seq: Mapped[int] = mapped_column(
        ForeignKey("ledger_events.seq", ondelete="CASCADE"), primary_key=True
    )
    subject_id: Mapped[str] = mapped_column(String(ID), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("ledger_evidence.data"))


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; the key is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(SHA256_HEX), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Space-separated, as OAuth writes scopes; personvern.apikeys.SCOPES names them.
    scopes: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class CookieChoice(Base):
    """A browser's cookie choice per category, for an anonymous id or a subject."""

    __tablename__ = "cookie_choices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    browser_id: Mapped[str] = mapped_column(String(64), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    choices: Mapped[dict[str, Any]] = mapped_column(JSON)
    gpc: Mapped[bool] = mapped_column(Boolean, default=False)
    policy_version: Mapped[str | None] = mapped_column(String(SHA256_HEX))
    at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
