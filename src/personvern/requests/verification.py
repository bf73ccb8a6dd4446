"""One-time codes and link tokens that prove a requester controls an e-mail address.

A code (eight characters, typed by a person) and a link token (43 characters, in a
link) are drawn from ``secrets``, e-mailed through the outbox, and stored only as
SHA-256 of the request id and the secret. Each is good for 15 minutes, once; after
five wrong guesses the request's codes stop working and a new one must be sent.

Why a salted SHA-256 and not a slow hash: the secrets live for 15 minutes, so a
copy of the database is worthless long before an offline search of 40 bits ends;
the request id in the hash makes the same code on two requests two different rows.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.mail.outbox import Mail, queue
from personvern.requests.tables import VerificationCode
from personvern.storage.models import as_utc

KIND = "request_verification"  # the outbox kind of a confirmation code
LIFETIME = timedelta(minutes=15)
MAX_ATTEMPTS = 5
# Crockford's base32 without I, L, O, U: nothing a person can misread when typing it.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8


class Outcome(enum.StrEnum):
    """What checking a code found."""

    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"


MESSAGES = {
    Outcome.WRONG: "the code is not right; check it and try again",
    Outcome.EXPIRED: "the code has expired (codes last 15 minutes); ask for a new one",
    Outcome.USED: "the code was already used; each code works once",
    Outcome.LOCKED: "too many wrong codes; ask for a new one",
}


@dataclass(frozen=True)
class Issued:
    """The secrets just sent (never stored in clear); returned for the caller's own use."""

    code: str
    token: str
    expires_at: datetime


def _digest(request_id: str, secret: str) -> str:
    return hashlib.sha256(f"{request_id}:{normalise(secret)}".encode()).hexdigest()


def normalise(secret: str) -> str:
    """Codes are compared without spaces or dashes and in upper case; tokens as given."""
    compact = secret.strip().replace("-", "").replace(" ", "")
    return compact.upper() if len(compact) == CODE_LENGTH else compact


def new_code() -> str:
    """Eight random characters of Crockford base32, shown as XXXX-XXXX (40 bits)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def issue(
    session: Session, clock: Clock, request_id: str, to_address: str, *,
    link_base: str | None = None, subject_id: str | None = None,
) -> Issued:
    """Store the hashes of a new code and link token and queue them by e-mail."""
    now = clock()
    code, token = new_code(), secrets.token_urlsafe(32)
    expires = now + LIFETIME
    for secret in (code, token):
        session.add(VerificationCode(
            request_id=request_id, code_hash=_digest(request_id, secret), created_at=now,
            expires_at=expires, used_at=None, attempts=0,
        ))
    link = f"{link_base.rstrip('/')}/requests/{request_id}/verify?token={token}" \
        if link_base else None
    lines = [
        "Hei! Vi har mottatt en forespørsel om personopplysningene dine.",
        "We have received a request about your personal data.",
        "",
        f"Kode / code: {code}",
    ]
    if link:
        lines.append(f"Eller åpne / or open: {link}")
    lines += ["", "Koden gjelder i 15 minutter. The code is valid for 15 minutes.",
              "Har du ikke bedt om dette, kan du se bort fra e-posten. "
              "If you did not ask for this, ignore this e-mail."]
    queue(session, clock, Mail(
        kind=KIND, to_address=to_address,
        title="Bekreft forespørselen din / Confirm your request", body_text="\n".join(lines),
        subject_id=subject_id,
    ))
    session.flush()
    return Issued(code, token, expires)


def check(session: Session, clock: Clock, request_id: str, secret: str) -> Outcome:
    """Check ``secret`` for the request; on success every code of the request is spent.

    A wrong guess counts against the request's live codes; an expired or used code
    changes nothing stored.
    """
    now = as_utc(clock())
    digest = _digest(request_id, secret)
    codes = list(session.scalars(
        select(VerificationCode).where(VerificationCode.request_id == request_id)
    ))
    live = [c for c in codes if c.used_at is None and as_utc(c.expires_at) > now]
    if any(c.attempts >= MAX_ATTEMPTS for c in live):
        return Outcome.LOCKED
    match = next((c for c in codes if hmac.compare_digest(c.code_hash, digest)), None)
    if match is None:
        for c in live:
            c.attempts += 1
        session.flush()
        return Outcome.LOCKED if any(c.attempts >= MAX_ATTEMPTS for c in live) else Outcome.WRONG
    if match.used_at is not None:
        return Outcome.USED
    if as_utc(match.expires_at) <= now:
        return Outcome.EXPIRED
    for c in codes:
        if c.used_at is None:
            c.used_at = now
    session.flush()
    return Outcome.OK
