"""Art. 19 notices: every recipient of the person's data hears of a rectification,
erasure or restriction, through a durable outbox, retried with back-off, acknowledged.

Channels, per recipient: a ``webhook`` when the recipient has a URL to call
(``Recipient.webhook``; signed as dataset callbacks are when it names a ``secret_env``),
``email`` when it has a ``contact`` address or a manual dataset names it with one (sent
through the e-mail outbox), else ``manual``: the privacy owner tells them and records it.
Notices are rows of ``recipient_notices``, queued in the same transaction as the request's
completion, so a notice exists if and only if the change was recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from personvern.audit import append_audit
from personvern.clock import Clock
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.mail.outbox import Mail, queue, queue_many
from personvern.mail.tables import OutboxMessage
from personvern.manifest.model import Manifest, Purpose, Recipient
from personvern.requests.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER, CallbackFailed, sign
from personvern.requests.tables import RecipientNotice, Request
from personvern.storage.models import as_utc

_NOTICES: Table = RecipientNotice.__table__  # type: ignore[assignment]

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=12)
TIMEOUT_S = 10.0
# Where a webhook's notice kept the identities it must send before migration 0013 (in the
# request's sealed details); read for notices queued then, dropped once they are delivered.
PENDING_KEY = "_notify"

Resolver = Callable[[Manifest, Recipient], tuple[str, str]]
# (url, body bytes, headers) -> (HTTP status, parsed JSON body or None); raises when down.
Poster = Callable[[str, bytes, dict[str, str]], tuple[int, Any]]

ACTIONS = {
    "rectification": ("rettet", "rectified"),
    "erasure": ("slettet", "erased"),
    "restriction": ("begrenset", "restricted"),
}


def channel_for(manifest: Manifest, recipient: Recipient) -> tuple[str, str]:
    """(channel, target) for telling ``recipient``: webhook, e-mail, or manual."""
    url = getattr(recipient, "webhook", None)
    if url:
        return "webhook", str(url)
    contact = getattr(recipient, "contact", None) or next((ds.contact for ds in manifest.datasets
                    if ds.kind == "manual" and ds.recipient == recipient.id and ds.contact), None)
    if contact:
        return "email", contact
    return "manual", recipient.privacy_policy or recipient.name


def recipients_for(manifest: Manifest, purposes: Sequence[Purpose]) -> list[Recipient]:
    """Recipients of ``purposes`` and processors holding a manual dataset, each once."""
    ids: list[str] = []
    for p in purposes:
        ids += [r for r in p.recipients if r not in ids]
    ids += [ds.recipient for ds in manifest.datasets
            if ds.kind == "manual" and ds.recipient and ds.recipient not in ids]
    return [r for r in (manifest.recipient(i) for i in ids) if r is not None]


def queue_notices(
    session: Session, clock: Clock, manifest: Manifest, request_id: str, action: str,
    purposes: Sequence[Purpose], identities: dict[str, list[str]], *,
    resolve: Resolver = channel_for,
) -> list[RecipientNotice]:
    """A notice per recipient (idempotent per request, recipient and action)."""
    if action not in ACTIONS:
        raise InvalidInput(f"Art. 19 notices are for {', '.join(ACTIONS)}, not {action!r}")
    now = clock()
    have = {(n.recipient, n.action) for n in session.scalars(
        select(RecipientNotice).where(RecipientNotice.request_id == request_id))}
    made: list[RecipientNotice] = []
    for r in recipients_for(manifest, purposes):
        if (r.id, action) in have:
            continue
        channel, target = resolve(manifest, r)
        notice = RecipientNotice(
            request_id=request_id, recipient=r.id, action=action, channel=channel,
            target=target[:500], status="queued", attempts=0,
            next_attempt_at=now if channel == "webhook" else None,
            identities=identities if channel == "webhook" else None,
        )
        session.add(notice)
        if channel == "email":
            queue(session, clock, _mail(manifest, r, request_id, action, target, identities))
        made.append(notice)
    session.flush()
    return made


def queue_notices_many(
    session: Session, clock: Clock, manifest: Manifest,
    wanted: Sequence[tuple[str, str, Sequence[Purpose], dict[str, list[str]]]], *,
    resolve: Resolver = channel_for,
) -> dict[str, tuple[list[tuple[str, str]], int]]:
    """:func:`queue_notices` for several (request id, action, purposes, identities) (a
    batch): the notices known read in one statement per chunk, the new ones and their
    mail written in a multi-row INSERT per chunk. Per request: (recipient, channel) of all
    its notices, oldest first, and how many are new."""
    for _, action, _, _ in wanted:
        if action not in ACTIONS:
            raise InvalidInput(f"Art. 19 notices are for {', '.join(ACTIONS)}, not {action!r}")
    now = clock()
    ids = list(dict.fromkeys(rid for rid, *_ in wanted))
    have: dict[str, list[tuple[str, str, str]]] = {rid: [] for rid in ids}
    for start in range(0, len(ids), 500):
        for n in session.execute(select(
                RecipientNotice.request_id, RecipientNotice.recipient, RecipientNotice.action,
                RecipientNotice.channel).where(
                RecipientNotice.request_id.in_(ids[start:start + 500]))
                .order_by(RecipientNotice.id)):
            have[n.request_id].append((n.recipient, n.action, n.channel))
    made: dict[str, int] = dict.fromkeys(ids, 0)
    rows: list[dict[str, Any]] = []
    mails: list[Mail] = []
    for request_id, action, purposes, identities in wanted:
        known = {(recipient, act) for recipient, act, _ in have[request_id]}
        for r in recipients_for(manifest, purposes):
            if (r.id, action) in known:
                continue
            channel, target = resolve(manifest, r)
            rows.append({
                "request_id": request_id, "recipient": r.id, "action": action,
                "channel": channel, "target": target[:500], "status": "queued", "attempts": 0,
                "next_attempt_at": now if channel == "webhook" else None,
                "identities": identities if channel == "webhook" else None})
            if channel == "email":
                mails.append(_mail(manifest, r, request_id, action, target, identities))
            have[request_id].append((r.id, action, channel))
            made[request_id] += 1
    for start in range(0, len(rows), 500):
        session.connection().execute(insert(_NOTICES), rows[start:start + 500])
    queue_many(session, clock, mails)
    return {rid: ([(recipient, channel) for recipient, _, channel in have[rid]], made[rid])
            for rid in ids}


def _mail(manifest: Manifest, r: Recipient, request_id: str, action: str, to: str,
          identities: dict[str, list[str]]) -> Mail:
    nb, en = ACTIONS[action]
    who = "\n".join(f"  {k}: {v}" for k, vs in identities.items() for v in vs)
    body = (
        f"Til {r.name}: personopplysninger om personen nedenfor er {nb} etter krav fra "
        f"personen (GDPR art. 19). Gjør det samme i deres systemer.\n"
        f"To {r.name}: personal data about the person below was {en} at their request "
        f"(GDPR Art. 19). Please do the same in your systems.\n\n{who}\n\n"
        f"Referanse / reference: {request_id}\nFra / from: {manifest.controller.name}"
    )
    return Mail(kind="art19_notice", to_address=to, title=f"GDPR Art. 19: data {en}",
                body_text=body, dedupe_key=f"art19:{request_id}:{r.id}:{action}")


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4, ... minutes, at most 12 hours."""
    delay: timedelta = BASE_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_DELAY)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    import httpx

    resp = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_S)
    try:
        return resp.status_code, resp.json()
    except ValueError:
        return resp.status_code, None


def deliver_due(
    session: Session, clock: Clock, manifest: Manifest, *, post: Poster | None = None,
    limit: int = 100,
) -> dict[str, int]:
    """Send due webhook notices and follow e-mail ones through the outbox; counts by result.

    A 2xx answer is sent (acknowledged when the body says ``"acknowledged": true``);
    anything else is retried after :func:`backoff` until ``MAX_ATTEMPTS`` fail.
    """
    import httpx

    now = clock()
    post = post or _post
    result = {"sent": 0, "acknowledged": 0, "retrying": 0, "failed": 0}
    for n in session.scalars(select(RecipientNotice).where(
            RecipientNotice.status == "queued", RecipientNotice.channel == "email")):
        msg = session.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"art19:{n.request_id}:{n.recipient}:{n.action}")).first()
        if msg is not None and msg.status in ("sent", "failed"):
            n.status = msg.status
            n.sent_at = msg.sent_at if msg.status == "sent" else None
            n.last_error = msg.last_error
            result[msg.status] += 1
    due = list(session.scalars(
        select(RecipientNotice).where(
            RecipientNotice.status == "queued", RecipientNotice.channel == "webhook",
            RecipientNotice.next_attempt_at <= as_utc(now))
        .order_by(RecipientNotice.next_attempt_at).limit(limit)))
    for n in due:
        body = {"notice": n.id, "request": n.request_id, "action": n.action,
                "recipient": n.recipient, "controller": manifest.controller.name,
                "identities": _identities(session, n)}
        n.attempts += 1
        try:
            data, headers = _signed(manifest.recipient(n.recipient), body, now)
            status, answer = post(n.target, data, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except CallbackFailed as exc:  # a secret named but not set: never send unsigned
            status, answer, error = 0, None, str(exc)
        except (httpx.HTTPError, OSError) as exc:
            status, answer, error = 0, None, f"{type(exc).__name__}: {exc}"
        if error is None:
            acked = isinstance(answer, dict) and answer.get("acknowledged") is True
            n.status = "acknowledged" if acked else "sent"
            n.sent_at = now
            n.acknowledged_at = now if acked else None
            n.next_attempt_at = None
            n.last_error = None
            result["acknowledged" if acked else "sent"] += 1
        elif n.attempts >= MAX_ATTEMPTS:
            n.status, n.next_attempt_at, n.last_error = "failed", None, error
            result["failed"] += 1
        if n.status != "queued":  # delivered or given up: no copy of whom it was about
            n.identities = None
        else:
            n.next_attempt_at = now + backoff(n.attempts)
            n.last_error = error
            result["retrying"] += 1
    session.flush()
    _forget_delivered(session, {n.request_id for n in due})
    return result


def _signed(recipient: Recipient | None, body: dict[str, Any], now: datetime
            ) -> tuple[bytes, dict[str, str]]:
    """The exact bytes to send and their headers, signed when the recipient names a secret."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    name = recipient.secret_env if recipient is not None else None
    if recipient is not None and name:
        secret = os.environ.get(name, "").strip()
        if not secret:
            raise CallbackFailed(f"the environment variable {name} (webhook secret of "
                                 f"recipient {recipient.id!r}) is not set")
        timestamp = int(now.timestamp())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = sign(secret.encode(), timestamp, data)
    return data, headers


def _identities(session: Session, notice: RecipientNotice) -> dict[str, list[str]]:
    if notice.identities is not None:
        return notice.identities
    req = session.get(Request, notice.request_id)  # queued before migration 0013
    found: dict[str, list[str]] = (req.details or {}).get(PENDING_KEY, {}) if req else {}
    return found


def _forget_delivered(session: Session, request_ids: set[str]) -> None:
    """Drop identities kept the old way (in the request's details) once none of the
    request's webhook notices is still queued."""
    for rid in request_ids:
        waiting = session.scalars(select(RecipientNotice.id).where(
            RecipientNotice.request_id == rid, RecipientNotice.channel == "webhook",
            RecipientNotice.status == "queued").limit(1)).first()
        req = session.get(Request, rid)
        if waiting is None and req is not None and PENDING_KEY in (req.details or {}):
            req.details = {k: v for k, v in req.details.items() if k != PENDING_KEY}
    session.flush()


def record(
    session: Session, clock: Clock, notice_id: int, status: str, actor: str = "owner",
    note: str | None = None,
) -> RecipientNotice:
    """Record by hand that a notice was sent or acknowledged (manual and e-mail channels)."""
    if status not in ("sent", "acknowledged"):
        raise InvalidInput("a notice can be recorded as sent or acknowledged")
    n = session.get(RecipientNotice, notice_id)
    if n is None:
        raise NotFound(f"no notice {notice_id}")
    if n.status == "acknowledged":
        raise Conflict(f"notice {notice_id} is already acknowledged")
    now = clock()
    n.status = status
    n.sent_at = n.sent_at or now
    n.next_attempt_at = None
    if status == "acknowledged":
        n.acknowledged_at = now
    append_audit(session, clock, actor, f"notice.{status}", f"request:{n.request_id}",
                 {"recipient": n.recipient, "channel": n.channel, "note": note or ""})
    session.flush()
    return n


def told(session: Session, request_id: str, manifest: Manifest | None = None
         ) -> list[dict[str, Any]]:
    """Who was (or will be) told of the request's change: what the person may see."""
    out = []
    for n in session.scalars(select(RecipientNotice).where(
            RecipientNotice.request_id == request_id).order_by(RecipientNotice.id)):
        r = manifest.recipient(n.recipient) if manifest else None
        out.append({
            "id": n.id, "recipient": n.recipient, "name": r.name if r else None,
            "action": n.action, "channel": n.channel, "status": n.status,
            "attempts": n.attempts, "sent_at": _iso(n.sent_at),
            "acknowledged_at": _iso(n.acknowledged_at),
            "next_attempt_at": _iso(n.next_attempt_at), "last_error": n.last_error,
        })
    return out


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
