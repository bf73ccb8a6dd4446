"""API keys: random bearer tokens, stored only as SHA-256, shown once at creation."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.consent.tables import ApiKey
from personvern.errors import InvalidInput, NotFound, Unauthorized

PREFIX = "pv_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(session: Session, clock: Clock, name: str) -> tuple[str, ApiKey]:
    """A new key named ``name``; returns (token, row). The token is not stored."""
    if not name.strip():
        raise InvalidInput("an API key needs a name saying who uses it")
    # 32 random bytes: a SHA-256 of it needs no salt or slow hash to resist guessing.
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(prefix=token[:12], key_hash=_digest(token), name=name.strip(),
                 created_at=clock())
    session.add(row)
    session.flush()
    return token, row


def authenticate(session: Session, token: str | None) -> ApiKey:
    """The live key for ``token``; Unauthorized when missing, unknown or revoked."""
    if not token:
        raise Unauthorized("an API key is required: send `Authorization: Bearer <key>`")
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == token[:12])).first()
    if row is None or not hmac.compare_digest(row.key_hash, _digest(token)):
        raise Unauthorized("the API key is not valid")
    if row.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    return row


def revoke_key(session: Session, clock: Clock, prefix: str) -> ApiKey:
    """Revoke the key whose token starts with ``prefix`` (as listed)."""
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix[:12])).first()
    if row is None:
        raise NotFound(f"no API key {prefix!r}")
    if row.revoked_at is None:
        row.revoked_at = clock()
    return row


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first (prefixes and names only; tokens are never stored)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
