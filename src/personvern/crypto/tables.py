"""Subject keys (wrapped by the master key), master-key rotations, signed chain heads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from personvern.storage.models import SHA256_HEX, Base

KEY_ID = 16


class SubjectKey(Base):
    """One subject's data key, wrapped; after shredding only a tombstone (no key) is left.

    The tombstone stops a later write from minting a fresh key for an erased subject.
    """

    __tablename__ = "subject_keys"

    # A subject id, or a reserved name starting with "_" (the lookup key for keyed hashes).
    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(KEY_ID), index=True)
    created_at: Mapped[datetime]
    shredded_at: Mapped[datetime | None]


class KeyRotation(Base):
    """A rewrap of every subject key from one master key to another; resumable."""

    __tablename__ = "key_rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    old_key_id: Mapped[str] = mapped_column(String(KEY_ID))
    new_key_id: Mapped[str] = mapped_column(String(KEY_ID))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    rewrapped: Mapped[int] = mapped_column(Integer, default=0)


class ChainCheckpoint(Base):
    """The signed head of a hash chain (the consent ledger, the audit trail), one row per
    chain, rewritten by every transaction that appends to it.

    Here rather than beside the ledger: the audit trail, a layer below consent, keeps its
    head in the same table, and the signing key belongs to the crypto layer.
    """

    __tablename__ = "chain_checkpoints"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(SHA256_HEX))
    at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(KEY_ID))
    signature: Mapped[str] = mapped_column(String(SHA256_HEX))
