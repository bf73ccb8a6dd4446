"""Sending the outbox over SMTP: each message at most once, with its attempts and errors.

A message moves ``queued -> sending -> sent``. It is claimed (``sending``, attempts + 1)
and committed *before* it is handed to the server, so a crash or a second worker can
never send it again. When the server answers with a temporary refusal (4xx), or cannot
be reached at all, nothing was delivered and the message goes back to ``queued`` until
``max_attempts`` is used up; a permanent refusal (5xx) makes it ``failed`` at once. When
the connection breaks while a message is being sent, no one can tell whether it arrived,
so it is marked ``failed`` rather than risk a second copy. A message left in
``sending`` by a crash stays there, visible in ``personvern mail list``, for a person to
look at.

Messages go out as ``multipart/alternative`` (plain text and HTML), UTF-8, quoted-printable,
so Norwegian letters arrive intact.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.contact import normalise_email
from personvern.errors import InvalidInput
from personvern.mail.scrub import scrub_erased_mail
from personvern.mail.tables import OutboxMessage
from personvern.storage.models import as_utc

STATUSES = ("queued", "sending", "sent", "failed", "cancelled")
DEFAULT_MAX_ATTEMPTS = 5
_ERROR_MAX = 2000


@dataclass
class SendReport:
    """What one run of the job did."""

    sent: int = 0
    failed: int = 0
    retry: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON for ``personvern mail send --json``."""
        return {"sent": self.sent, "failed": self.failed, "retry": self.retry,
                "errors": [{"id": i, "error": e} for i, e in self.errors]}


def check_sender(sender: str) -> str:
    """The envelope address of ``sender`` (``Name <addr>`` or a bare address), as written."""
    _name, address = parseaddr(sender)
    try:
        normalise_email(address)
    except InvalidInput:
        raise InvalidInput(f"{sender!r} is not a sender address; give e.g. "
                           "personvern@example.no") from None
    return address


def build_message(row: OutboxMessage, sender: str, clock: Clock) -> EmailMessage:
    """The e-mail for an outbox row: headers, plain text and (if any) an HTML alternative."""
    domain = check_sender(sender).rsplit("@", 1)[1]
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = row.to_address
    msg["Subject"] = row.title
    msg["Date"] = format_datetime(as_utc(clock()))
    msg["Message-ID"] = make_msgid(idstring=f"personvern.{row.id}", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Personvern-Kind"] = row.kind
    msg.set_content(row.body_text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html", charset="utf-8",
                            cte="quoted-printable")
    return msg


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text[:_ERROR_MAX]


def _refusal_code(error: smtplib.SMTPException) -> int | None:
    """The server's reply code when it answered (refused) rather than broke off."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in error.recipients.values()]
        return max(codes) if codes else None
    if isinstance(error, smtplib.SMTPResponseException):
        return int(error.smtp_code)
    return None


def _settle(session: Session, message_id: int, status: str, error: str | None,
            sent_at: object = None) -> None:
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id)
        .values(status=status, last_error=error, sent_at=sent_at)
    )
    if status in ("sent", "failed"):  # the last mail to an erased person leaves no copy
        scrub_erased_mail(session, message_id=message_id)
    session.commit()


def send_pending(
    session: Session,
    clock: Clock,
    host: str,
    port: int,
    sender: str,
    *,
    limit: int = 100,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout: float = 30.0,
) -> SendReport:
    """Send up to ``limit`` queued messages, oldest first, over one SMTP connection.

    Commits as it goes (each claim and each outcome), so call it outside any other
    transaction on ``session``.
    """
    envelope = check_sender(sender)
    if limit < 1:
        raise InvalidInput("--limit must be at least 1")
    report = SendReport()
    ids = list(session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.status == "queued")
        .order_by(OutboxMessage.id).limit(limit)
    ))
    session.commit()
    if not ids:
        return report
    try:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    except (OSError, smtplib.SMTPException) as exc:
        # Nothing was sent: every message stays queued (or fails once out of attempts).
        _unreachable(session, ids, f"cannot reach {host}:{port}: {_short(exc)}", max_attempts,
                     report)
        return report
    with smtp:
        for message_id in ids:
            if not _claim(session, message_id):
                continue  # another worker took it
            row = session.get(OutboxMessage, message_id, populate_existing=True)
            assert row is not None
            try:
                smtp.send_message(build_message(row, sender, clock), from_addr=envelope,
                                  to_addrs=[row.to_address])
            except smtplib.SMTPException as exc:
                code = _refusal_code(exc)
                if code is not None and 400 <= code < 500 and row.attempts < max_attempts:
                    _settle(session, message_id, "queued", _short(exc))
                    report.retry += 1
                else:
                    reason = _short(exc) if code is not None else (
                        f"{_short(exc)} (the connection broke while sending; not retried, "
                        "so that it is never sent twice)")
                    _settle(session, message_id, "failed", reason)
                    report.failed += 1
                report.errors.append((message_id, _short(exc)))
                if isinstance(exc, smtplib.SMTPServerDisconnected):
                    break
            except OSError as exc:
                _settle(session, message_id, "failed",
                        f"{_short(exc)} (outcome unknown; not retried, so that it is never "
                        "sent twice)")
                report.failed += 1
                report.errors.append((message_id, _short(exc)))
                break
            else:
                _settle(session, message_id, "sent", None, as_utc(clock()))
                report.sent += 1
    return report


def _claim(session: Session, message_id: int) -> bool:
    """Mark a queued message as being sent (one attempt more), committed before sending."""
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "queued")
        .values(status="sending", attempts=OutboxMessage.attempts + 1)
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    return bool(claimed)


def _unreachable(session: Session, ids: list[int], error: str, max_attempts: int,
                 report: SendReport) -> None:
    """Count an attempt for messages the server could not be reached for."""
    for message_id in ids:
        row = session.get(OutboxMessage, message_id, populate_existing=True)
        if row is None or row.status != "queued":
            continue
        row.attempts += 1
        row.last_error = error
        if row.attempts >= max_attempts:
            row.status = "failed"
            report.failed += 1
        else:
            report.retry += 1
        report.errors.append((message_id, error))
    session.commit()


def waiting(session: Session) -> dict[str, int]:
    """How many messages are ``queued`` and ``sending`` now (each status, 0 when none)."""
    found: dict[str, int] = dict(session.execute(
        select(OutboxMessage.status, func.count()).where(
            OutboxMessage.status.in_(("queued", "sending"))).group_by(OutboxMessage.status)
    ).tuples().all())
    return {"queued": found.get("queued", 0), "sending": found.get("sending", 0)}


def list_messages(session: Session, status: str | None = None,
                  limit: int = 100) -> list[OutboxMessage]:
    """Outbox messages, newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))
