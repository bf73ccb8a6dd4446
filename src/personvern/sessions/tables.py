"""Tables of the web layer: server-side sessions, one-time sign-in links, rate-limit counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from personvern.storage.models import SHA256_HEX, Base


class WebSession(Base):
    """One signed-in browser; only the SHA-256 of its cookie token is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX), primary_key=True)
    # "subject" (the portal) or "staff" (the dashboard).
    kind: Mapped[str] = mapped_column(String(8))
    # The subject id, or the staff user's id.
    principal: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # Absolute end; the idle end is last_seen_at + the kind's idle timeout.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]


class SignInLink(Base):
    """A one-time sign-in link sent by e-mail; only the SHA-256 of its token is stored."""

    __tablename__ = "web_sign_in_links"

    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RateLimitCount(Base):
    """Attempts counted under one key of one limit in one time bucket (shared by workers).

    Only the SHA-256 of the key (an e-mail address, an IP address) is stored, and a row
    goes once its bucket has left the window (``until``, seconds since the epoch).
    """

    __tablename__ = "web_rate_limits"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(SHA256_HEX), primary_key=True)
    # The bucket's number: seconds since the epoch divided by the bucket's length.
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hits: Mapped[int] = mapped_column(Integer)
    until: Mapped[int] = mapped_column(BigInteger, index=True)
