"""One-time sign-in links for the portal: issued by e-mail, single use, 15 minutes.

Only the SHA-256 of a link's token is stored. Redeeming marks the link used in the same
transaction that checks it, so two clicks cannot both sign in. Nothing here knows HTTP.
"""

from __future__ import annotations

import enum
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.consent.subjects import find_subject
from personvern.contact import normalise_email
from personvern.errors import InvalidInput
from personvern.mail.outbox import Mail, queue
from personvern.mail.smtp import build_message, check_sender
from personvern.mail.tables import OutboxMessage
from personvern.sessions.tables import SignInLink
from personvern.storage.models import as_utc
from personvern.web.sessions import token_hash

LINK_LIFETIME = timedelta(minutes=15)
KIND = "sign_in"
# PERSONVERN_SMTP_HOST=console prints sign-in mail instead of sending it (the demo).
CONSOLE = "console"


class Outcome(enum.StrEnum):
    """What a link turned out to be."""

    OK = "ok"
    UNKNOWN = "unknown"  # never issued, or tampered with
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Issued:
    """A new link's token, for whom, and the address to mail it to (the identity's)."""

    token: str
    subject_id: str
    address: str


@dataclass(frozen=True)
class Redeemed:
    """The result of checking or redeeming a link."""

    outcome: Outcome
    subject_id: str | None = None


def issue(session: Session, clock: Clock, email: str) -> Issued | None:
    """A new link for the subject with ``email``; None if unknown.

    The link is for the address in its normal form: ``Kaſi@`` finds kasi@ (case-folding
    makes them one identity), and the link must go to kasi@, not to whoever owns kaſi@.
    """
    try:
        address = normalise_email(email)
    except InvalidInput:
        return None
    subject = find_subject(session, "email", address)
    if subject is None or subject.erased_at is not None:
        return None
    now = as_utc(clock())
    token = secrets.token_urlsafe(32)
    session.add(SignInLink(token_hash=token_hash(token), subject_id=subject.id,
                           created_at=now, expires_at=now + LINK_LIFETIME, used_at=None))
    session.flush()
    return Issued(token, subject.id, address)


def peek(session: Session, clock: Clock, token: str) -> Redeemed:
    """What ``token`` is, without using it up."""
    if not token or len(token) > 128:
        return Redeemed(Outcome.UNKNOWN)
    link = session.get(SignInLink, token_hash(token))
    if link is None:
        return Redeemed(Outcome.UNKNOWN)
    if link.used_at is not None:
        return Redeemed(Outcome.USED)
    if as_utc(clock()) >= link.expires_at:
        return Redeemed(Outcome.EXPIRED)
    return Redeemed(Outcome.OK, link.subject_id)


def redeem(session: Session, clock: Clock, token: str) -> Redeemed:
    """Use ``token`` up; OK (with the subject) only the first time, within 15 minutes."""
    seen = peek(session, clock, token)
    if seen.outcome is not Outcome.OK:
        return seen
    # The guarded update is the single-use check: a concurrent redeem updates no row.
    used = session.execute(update(SignInLink).where(
        SignInLink.token_hash == token_hash(token), SignInLink.used_at.is_(None),
    ).values(used_at=as_utc(clock()))).rowcount  # type: ignore[attr-defined]
    return seen if used == 1 else Redeemed(Outcome.USED)


def queue_link_mail(session: Session, clock: Clock, to: str, subject_id: str, link: str,
                    lang: str, service: str) -> OutboxMessage:
    """Queue the sign-in e-mail (in the caller's transaction) and return it."""
    if lang == "en":
        title = f"Sign in to {service}"
        text = (f"Use this link to sign in to the privacy portal of {service}:\n\n{link}\n\n"
                "The link works once, for 15 minutes. If you did not ask for it, ignore this "
                "message; nobody can sign in without the link.\n")
    else:
        title = f"Logg inn hos {service}"
        text = (f"Bruk denne lenken for å logge inn i personvernportalen til {service}:\n\n"
                f"{link}\n\nLenken virker én gang, i 15 minutter. Har du ikke bedt om den, kan "
                "du se bort fra denne e-posten; ingen kan logge inn uten lenken.\n")
    message, _ = queue(session, clock, Mail(kind=KIND, to_address=to, title=title,
                                            body_text=text, subject_id=subject_id))
    return message


def send_now(session: Session, clock: Clock, message_id: int, host: str, port: int,
             sender: str) -> str | None:
    """Send one queued message at once; None when sent, else the error (kept on the row).

    A sign-in link is useless later, so there is no retry: a failure is ``failed``.
    With ``host`` "console" the message is printed to standard output instead.
    """
    envelope = check_sender(sender)
    row = session.get(OutboxMessage, message_id)
    if row is None or row.status != "queued":
        return "not queued"
    if host == CONSOLE:
        # The demo has no mail server: the operator reads the link in the server's output.
        print(f"--- e-mail to {row.to_address}: {row.title}\n{row.body_text}---", flush=True)
        row.status, row.last_error = "sent", "printed to the console, not sent"
        row.sent_at = as_utc(clock())
        session.commit()
        return None
    row.status, row.attempts = "sending", row.attempts + 1
    session.commit()
    error: str | None = None
    try:
        with smtplib.SMTP(host, port, timeout=15) as smtp:
            smtp.send_message(build_message(row, sender, clock), from_addr=envelope,
                              to_addrs=[row.to_address])
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    row.status = "failed" if error else "sent"
    row.last_error = error
    row.sent_at = None if error else as_utc(clock())
    session.commit()
    return error
