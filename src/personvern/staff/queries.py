"""The dashboard's questions, answered from the engine's database: nothing here knows HTTP.

The requests queue with its marks, consent statistics per month, subject search, and
what is kept only for bookkeeping (which only finance may see).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from personvern.consent.events import EventType
from personvern.consent.subjects import find_subject, identities_of
from personvern.consent.tables import LedgerEvent, Subject
from personvern.errors import InvalidInput
from personvern.manifest.model import Manifest
from personvern.requests.bookkeeping import bookkeeping_rules
from personvern.requests.engine import (
    CLOSED,
    OPEN_STATES,
    Context,
    is_overdue,
    overdue_clause,
)
from personvern.requests.tables import Request
from personvern.storage.models import AuditEvent

# A request is marked "due soon" this many days before its due date.
DUE_SOON_DAYS = 7
# The queue page shows at most this many requests (the counts above it cover all).
QUEUE_LIMIT = 200
STAT_TYPES = (EventType.CONSENT_GIVEN, EventType.CONSENT_WITHDRAWN, EventType.CONSENT_EXPIRED)


# ---- the requests queue ----------------------------------------------------------------

class QueueItem(NamedTuple):
    """One request in the queue, with its mark: ``overdue``, ``due_soon`` or None.

    A NamedTuple (as ``Decision``): a frozen dataclass's __init__ is several times slower,
    and the queue builds hundreds per page.
    """

    id: str
    type: str
    state: str
    subject_id: str
    received_at: datetime
    due_on: date
    extended: bool
    days_left: int
    mark: str | None


def mark_of(state: str, due_on: date, today: date, soon: int = DUE_SOON_DAYS) -> str | None:
    """``overdue`` past the due date, ``due_soon`` within ``soon`` days, for open requests."""
    if is_overdue(state, due_on, today):
        return "overdue"
    if state in CLOSED:
        return None
    return "due_soon" if due_on <= today + timedelta(days=soon) else None


def queue(
    session: Session, ctx: Context, *, include_closed: bool = False, limit: int = QUEUE_LIMIT
) -> list[QueueItem]:
    """Requests by due date, soonest (and so overdue) first; open ones unless asked."""
    # Only the columns shown: loading whole rows would parse every request's JSON.
    query = select(Request.id, Request.type, Request.state, Request.subject_id,
                   Request.received_at, Request.due_on, Request.extended_to) \
        .order_by(Request.due_on, Request.received_at).limit(limit)
    if not include_closed:
        query = query.where(Request.state.in_(OPEN_STATES))
    today = ctx.today()
    return [QueueItem(r.id, r.type, r.state, r.subject_id, r.received_at, r.due_on,
                      r.extended_to is not None, (r.due_on - today).days,
                      mark_of(r.state, r.due_on, today))
            for r in session.execute(query)]


def counts_of(items: list[QueueItem]) -> dict[str, int]:
    """The counts of ``queue_counts`` from a complete list of open requests (no query)."""
    return {"open": len(items), "overdue": sum(i.mark == "overdue" for i in items),
            "due_soon": sum(i.mark == "due_soon" for i in items)}


def queue_counts(session: Session, ctx: Context) -> dict[str, int]:
    """How many open requests there are, how many overdue and how many due soon."""
    today = ctx.today()
    soon = today + timedelta(days=DUE_SOON_DAYS)
    row = session.execute(select(
        func.count(),
        func.coalesce(func.sum(case((overdue_clause(today), 1), else_=0)), 0),
        func.coalesce(func.sum(case(((Request.due_on >= today) & (Request.due_on <= soon), 1),
                                    else_=0)), 0),
    ).where(Request.state.in_(OPEN_STATES))).one()
    return {"open": int(row[0]), "overdue": int(row[1]), "due_soon": int(row[2])}


# ---- consent statistics ---------------------------------------------------------------

@dataclass(frozen=True)
class MonthlyConsent:
    """Consent events of one purpose in one month."""

    month: date
    given: int
    withdrawn: int
    expired: int


def month_starts(end: datetime, months: int) -> list[datetime]:
    """The first instants (UTC) of the ``months`` months up to and including ``end``'s."""
    if not 1 <= months <= 60:
        raise InvalidInput("statistics cover 1 to 60 months")
    at = end.astimezone(UTC)
    year, month = at.year, at.month
    starts = []
    for _ in range(months):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def consent_statistics(
    session: Session, purposes: list[str], now: datetime, months: int = 12
) -> dict[str, list[MonthlyConsent]]:
    """Per purpose, consents given, withdrawn and expired in each of the last ``months``.

    One scan of the ledger: a CASE turns each event's time into its month's index, so
    the query is the same on SQLite and PostgreSQL.
    """
    starts = month_starts(now, months)
    end = datetime(starts[-1].year + (starts[-1].month == 12), starts[-1].month % 12 + 1, 1,
                   tzinfo=UTC)
    bucket = case(*((LedgerEvent.at < s, i - 1) for i, s in enumerate(starts[1:], 1)),
                  else_=months - 1)
    rows = session.execute(
        select(bucket, LedgerEvent.purpose, LedgerEvent.type, func.count())
        .where(LedgerEvent.at >= starts[0], LedgerEvent.at < end,
               LedgerEvent.type.in_([str(t) for t in STAT_TYPES]),
               LedgerEvent.purpose.in_(purposes))
        .group_by(bucket, LedgerEvent.purpose, LedgerEvent.type))
    counts: dict[tuple[str, int, str], int] = {}
    for index, purpose, type_, n in rows:
        counts[(purpose, int(index), type_)] = int(n)
    return {p: [MonthlyConsent(s.date(), counts.get((p, i, "consent_given"), 0),
                               counts.get((p, i, "consent_withdrawn"), 0),
                               counts.get((p, i, "consent_expired"), 0))
                for i, s in enumerate(starts)]
            for p in purposes}


# ---- subjects -------------------------------------------------------------------------

@dataclass(frozen=True)
class SubjectHit:
    """A subject found by the search, with its identities and requests."""

    id: str
    kind: str | None
    created_at: datetime
    erased: bool
    identities: list[tuple[str, str]]
    requests: list[tuple[str, str, str]]


def search_subject(session: Session, text: str) -> SubjectHit | None:
    """The subject with this e-mail, phone or external id (tried in that order), or None.

    An exact match only: the dashboard is no tool for browsing people.
    """
    value = text.strip()
    if not value or len(value) > 320:
        raise InvalidInput("search for an e-mail address, a phone number or an external id "
                           "(1 to 320 characters)")
    kinds = ["email"] if "@" in value else ["phone", "external_id"] \
        if value.lstrip("+").replace(" ", "").isdigit() else ["external_id"]
    found: Subject | None = None
    for kind in kinds:
        try:
            found = find_subject(session, kind, value)
        except InvalidInput:
            if len(kinds) == 1:
                raise
            continue
        if found is not None:
            break
    if found is None:
        return None
    reqs = session.execute(select(Request.id, Request.type, Request.state)
                           .where(Request.subject_id == found.id)
                           .order_by(Request.received_at.desc()))
    return SubjectHit(found.id, found.kind, found.created_at, found.erased_at is not None,
                      [(i.kind, i.value) for i in identities_of(session, found.id)],
                      [(r.id, r.type, r.state) for r in reqs])


# ---- bookkeeping -------------------------------------------------------------------------

def bookkeeping_holds(manifest: Manifest) -> list[dict[str, Any]]:
    """Every table and column of the data map held under a bookkeeping rule."""
    rules = bookkeeping_rules(manifest)
    out = []
    for ds in manifest.datasets:
        for t in ds.tables:
            if t.hold in rules:
                out.append({"dataset": ds.id, "table": t.name, "column": None, "rule": t.hold})
            out += [{"dataset": ds.id, "table": t.name, "column": c.name, "rule": c.hold}
                    for c in t.columns if c.hold in rules]
    return out


def bookkeeping_kept(
    session: Session, manifest: Manifest, limit: int = 500
) -> list[dict[str, Any]]:
    """Rows kept after an erasure under a bookkeeping rule: which, why and until when."""
    rules = bookkeeping_rules(manifest)
    rows = session.scalars(select(Request).where(Request.type == "erasure",
                                                 Request.state == "completed")
                           .order_by(Request.closed_at.desc()).limit(limit))
    return [{"request_id": r.id, "closed_at": r.closed_at, **k}
            for r in rows for k in (r.outcome or {}).get("kept", [])
            if k.get("rule") in rules]


# ---- audit ----------------------------------------------------------------------------

def audit_page(
    session: Session, *, before: int | None = None, actor: str | None = None, size: int = 50
) -> list[AuditEvent]:
    """The newest audit events (older than ``before``), optionally by one actor."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(size)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if actor:
        query = query.where(AuditEvent.actor == actor.strip())
    return list(session.scalars(query))
