"""Data-subject requests: open, verify, the state machine, deadlines, extension, refusal, run.

    received ─> verifying ─> verified ─> in_progress ─> completed
                    │            │         │    ^
                    │            │         v    │ run again
                    │            │        waiting            (a dataset was down, or the
                    │            │         │                  data map is wrong: error kept)
                    └────────────┴─────────┴──────> refused  (with reasons, GDPR Art. 12(4))

Every transition writes a RequestEvent and an audit event (who, when, from, to, why).
A request is opened by the subject (verified by an e-mailed code or a signed-in
session), a guardian for a child, an organisation admin for a member, or the
privacy owner on behalf of someone who wrote in (who records how identity was checked).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, and_, bindparam, event, insert, select
from sqlalchemy import Table as SqlTable
from sqlalchemy.orm import Session, defer, sessionmaker

from personvern.audit import (
    append_audit,
    audit_in_bulk,
    held_in_bulk,
    require_reason,
    write_bulk,
)
from personvern.clock import Clock
from personvern.consent.service import ConsentContext, decisions_for
from personvern.consent.subjects import (
    create_subject,
    find_subject,
    get_subject,
    guardians_of,
    is_admin_for,
    new_id,
    normalise,
)
from personvern.consent.tables import Identity, Subject
from personvern.contact import normalise_email
from personvern.crypto.columns import EncryptedText, opened
from personvern.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PersonvernError,
    StorageError,
    UnknownSubject,
)
from personvern.law import Jurisdiction
from personvern.mail.outbox import Mail, queue, queue_many
from personvern.manifest.model import Manifest
from personvern.requests import erase, followups, fulfil, jobs, notices, rectify, tasks
from personvern.requests.bookkeeping import bookkeeping_rules, hide_bookkeeping
from personvern.requests.callbacks import CallbackFailed
from personvern.requests.callbacks import call as call_app
from personvern.requests.datamap import open_datasets
from personvern.requests.deadlines import deadlines, receipt_date
from personvern.requests.found import locate
from personvern.requests.restrict import is_lifted
from personvern.requests.tables import FollowUp, Request, RequestEvent
from personvern.requests.verification import MESSAGES, Issued, Outcome, check, issue
from personvern.rights.acting import Act, Relation, consent_age, require_standing
from personvern.rights.basis import objection_targets
from personvern.storage import queue as job_queue
from personvern.storage.locks import sent_together
from personvern.storage.session import transaction
from personvern.wording import count

if TYPE_CHECKING:
    from personvern.requests.datamap import SqlDataset


log = logging.getLogger("personvern.requests")


class FollowUpFailed(PersonvernError):
    """A follow-up of a request's answer failed; its error is recorded on the request."""


class Wired(Protocol):
    """What the service needs of a running engine (the runtime, without importing it)."""

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The engine database's session factory."""
        ...

    @property
    def consent(self) -> ConsentContext:
        """The manifest in force."""
        ...

    @property
    def clock(self) -> Clock:
        """Every "now"."""
        ...

# The reasons the engine gives when it runs a request itself (audited like a person's).
RUN_AFTER_TASKS = "the last processor's answer was recorded"
# How a run's error begins while a manual task is open: what is missing is a processor's
# answer, which only a person can record, so running again will not bring it.
WAITING_FOR_PROCESSOR = "waiting for the processor"
RUN_DUE = "a dataset's back-off ran out, so it is called again"
RUN_BY_SUBJECT = "the person asked for it in the portal"
# The queued job that runs a request (personvern.jobs.worker carries it out).
RUN_TASK = "request.run"

TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection",
         "withdrawal")
OPENERS = ("self", "guardian", "admin", "owner")
# "engine": found by the engine itself (a child without a guardian's consent, requests.children).
CHANNELS = ("portal", "email", "api", "post", "phone", "engine")
OPEN_STATES = ("received", "verifying", "verified", "in_progress", "waiting")
CLOSED = frozenset({"completed", "refused"})


def is_overdue(state: str, due_on: date, today: date) -> bool:
    """Still open after its due date (the extended one, once extended; GDPR Art. 12(3))."""
    return state not in CLOSED and due_on < today


def overdue_clause(today: date) -> ColumnElement[bool]:
    """:func:`is_overdue` as a SQL condition on the requests table."""
    return and_(Request.state.in_(OPEN_STATES), Request.due_on < today)
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"received"}),
    "received": frozenset({"verifying", "verified", "refused"}),
    "verifying": frozenset({"verified", "refused"}),
    "verified": frozenset({"in_progress", "refused"}),
    "in_progress": frozenset({"completed", "waiting", "refused"}),
    "waiting": frozenset({"in_progress", "refused"}),
}
MAX_TEXT = 2000


@dataclass(frozen=True)
class Context:
    """The manifest in force (through the consent context) and the clock."""

    consent: ConsentContext
    clock: Clock

    @property
    def manifest(self) -> Manifest:
        """The manifest in force."""
        return self.consent.manifest

    @property
    def jurisdiction(self) -> Jurisdiction:
        """The manifest's jurisdiction."""
        return self.consent.jurisdiction

    def today(self) -> date:
        """Today in the controller's time zone (deadlines are local dates)."""
        return receipt_date(self.clock(), self.jurisdiction)


@dataclass(frozen=True)
class Requester:
    """Who opens a request: ``self``, a ``guardian`` or ``admin`` (their subject
    reference in ``subject``), or the privacy ``owner``.

    ``verified_by`` says how identity was checked (the owner's note, or "signed-in
    portal session"); without it a code is e-mailed and must be verified first.
    """

    kind: str = "self"
    subject: str | None = None
    verified_by: str | None = None


@dataclass(frozen=True)
class Opened:
    """A new request, where its code went (masked), and the secrets for the caller's
    own channel (the portal shows the link); never print them on a shared screen."""

    request: Request
    code_sent_to: str | None
    issued: Issued | None


def mask_email(address: str) -> str:
    """``o***@example.no``: enough for a person to recognise their address."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{what} is longer than {MAX_TEXT} characters")
    return text


# ---- opening ---------------------------------------------------------------------------

def open_request(
    session: Session, ctx: Context, type: str, *, subject: str | None = None,
    email: str | None = None, by: Requester | None = None, channel: str = "email",
    details: dict[str, Any] | None = None, link_base: str | None = None,
) -> Opened:
    """Open a request; everything is checked before anything is stored."""
    return _open(session, ctx, type, subject=subject, email=email, by=by, channel=channel,
                 details=details, link_base=link_base)[0]


def _open(
    session: Session, ctx: Context, type: str, *, subject: str | None = None,
    email: str | None = None, by: Requester | None = None, channel: str = "email",
    details: dict[str, Any] | None = None, link_base: str | None = None,
) -> tuple[Opened, Subject]:
    """:func:`open_request`, and the person it is about (the session holds its objects
    weakly: a caller that keeps it finds it there, not by another SELECT)."""
    by = by or Requester()
    if type not in TYPES:
        raise InvalidInput(f"unknown request type {type!r}; use one of {', '.join(TYPES)}")
    if by.kind not in OPENERS:
        raise InvalidInput(f"unknown opener {by.kind!r}; use one of {', '.join(OPENERS)}")
    if channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    target = _resolve_subject(session, ctx, subject, email)
    actor_subject = _check_opener(session, ctx, target, by)
    checked = _check_details(session, ctx, type, target, details or {})
    now = ctx.clock()
    d = deadlines(now, ctx.jurisdiction, ctx.manifest.rights.deadline)
    req = Request(
        id=new_id(), type=type, subject_id=target.id, state="received", received_at=now,
        due_on=d.due, legal_due_on=d.legal, extended_to=None, opened_by=by.kind,
        opened_by_subject_id=actor_subject.id if actor_subject else None,
        verified_by=by.verified_by.strip() if by.verified_by else None, channel=channel,
        details=checked, outcome=None, closed_at=None, reason=None,
    )
    session.add(req)
    # Its steps' history lines and audit events are written together, an INSERT each, and
    # the request inserted once in the state they leave it (flushed before the lines).
    with recording_in_bulk(session):
        return _opened(session, ctx, req, type, channel, by, d.due, email, actor_subject,
                       target, link_base), target


def _opened(session: Session, ctx: Context, req: Request, type: str, channel: str,
            by: Requester, due: date, email: str | None, actor_subject: Subject | None,
            target: Subject, link_base: str | None) -> Opened:
    """The new request's first steps: received, then verified or a code sent."""
    actor = _actor_of(req)
    transition(session, ctx, req, "received", actor,
               f"{type} request received via {channel}, opened by {by.kind}; due {due}")
    if req.verified_by:
        # The note itself stays sealed on the request: the history and the audit trail
        # are kept after an erasure, so they say only that it was checked.
        transition(session, ctx, req, "verified", actor,
                   "identity checked by the owner (how: on the request, sealed)")
        return Opened(req, None, None)
    # The code goes to the address the person wrote from when it is theirs, else to the
    # acting person's (the guardian's, the admin's) or the subject's address on file.
    to = normalise_email(email) if email is not None and actor_subject is None else \
        _email_of(session, actor_subject.id if actor_subject else target.id)
    if to is None:
        raise InvalidInput(
            "there is no e-mail address to send a verification code to; check the person's "
            "identity another way and record how (--verified-by)"
        )
    session.flush()  # the code refers to the request
    issued = issue(session, ctx.clock, req.id, to, link_base=link_base, subject_id=target.id)
    transition(session, ctx, req, "verifying", actor, f"code sent to {mask_email(to)}")
    return Opened(req, mask_email(to), issued)


def _resolve_subject(session: Session, ctx: Context, subject: str | None,
                     email: str | None) -> Subject:
    if subject is None and email is None:
        raise InvalidInput("name the subject: give --subject or --email")
    target = None
    if subject is not None:
        try:
            target = get_subject(session, subject)
        except UnknownSubject:
            kind = "email" if "@" in subject else "phone" if subject.strip().startswith("+") \
                else None
            target = _found_person(session, ctx, kind, subject) if kind else None
            if target is None:
                raise
    if email is None:
        assert target is not None
        return target
    normalise_email(email)
    owner = find_subject(session, "email", email)
    if owner is not None and owner.erased_at is not None:
        owner = None
    if target is None:
        owner = owner or _found_person(session, ctx, "email", email)
        if owner is None:
            raise UnknownSubject(f"no subject with the e-mail address {email!r}, and no "
                                 "mapped dataset holds it")
        return owner
    if owner is None or owner.id != target.id:
        raise InvalidInput(f"the e-mail address {email!r} does not belong to subject {target.id}")
    return target


def _found_person(session: Session, ctx: Context, kind: str, value: str) -> Subject | None:
    """A person the engine does not know yet whom a mapped dataset holds (a newsletter
    address, say): registered now, since their rights do not depend on an account
    (GDPR Art. 4(1), 15-17); None when no dataset holds the identity."""
    if not any(ds.kind == "sql" for ds in ctx.manifest.datasets):
        return None
    normal = normalise(kind, value)
    datasets = open_datasets(ctx.manifest)
    try:
        places = locate(datasets, kind, normal)
    finally:
        for ds in datasets:
            ds.engine.dispose()
    if not places:
        return None
    person, _ = create_subject(session, ctx.clock, {kind: normal})
    # Where they were found, never the identity itself: the audit trail outlives erasure.
    append_audit(session, ctx.clock, "requests", "subject.found_in_dataset",
                 f"subject:{person.id}", {"kind": kind, "places": places})
    return person


def _check_opener(session: Session, ctx: Context, target: Subject, by: Requester) -> Subject | None:
    """The acting person when it is not the subject; Forbidden when they may not act."""
    if by.kind == "owner" and not (by.verified_by or "").strip():
        raise InvalidInput("the privacy owner must record how the person's identity was "
                           "checked (--verified-by)")
    if by.verified_by is not None:
        _text(by.verified_by, "--verified-by")
    if by.kind in ("self", "owner"):
        if by.subject is not None:
            raise InvalidInput(f"a {by.kind} request names no acting person")
        return None
    if by.subject is None:
        raise InvalidInput(f"a request by a {by.kind} must name the {by.kind}")
    actor = get_subject(session, by.subject)
    if actor.id == target.id:
        raise InvalidInput(f"the {by.kind} and the subject are the same person; open it as self")
    guardian = by.kind == "guardian"
    related = actor.id in guardians_of(session, target.id) if guardian else \
        is_admin_for(session, actor.id, target.id)
    require_standing(Relation.GUARDIAN if guardian else Relation.ADMIN, Act.REQUEST,
                     subject_id=target.id, actor_id=actor.id, related=related,
                     birth=target.birth_date, day=ctx.today(),
                     age=consent_age(ctx.manifest, ctx.jurisdiction), j=ctx.jurisdiction)
    return actor


def _check_details(
    session: Session, ctx: Context, type: str, target: Subject, details: dict[str, Any]
) -> dict[str, Any]:
    """What the request asks for, validated and normalised; InvalidInput otherwise."""
    if not isinstance(details, dict):
        raise InvalidInput("request details must be an object")
    allowed = {"rectification": {"changes", "note"}, "objection": {"purpose", "note"},
               "withdrawal": {"purpose", "note"}}.get(type, {"note"})
    extra = sorted(set(details) - allowed)
    if extra:
        raise InvalidInput(f"a {type} request takes no {', '.join(extra)}")
    out: dict[str, Any] = {}
    if "note" in details:
        out["note"] = _text(details["note"], "the note")
    if type == "rectification":
        changes = rectify.validate_changes(ctx.manifest, details.get("changes"))
        for ref, value in changes.items():
            kind = rectify.identity_kind(ctx.manifest, ref)
            if kind in ("email", "phone") and value is not None:
                other = find_subject(session, kind, str(value))
                if other is not None and other.id != target.id:
                    raise Conflict(f"{ref}: that {kind} belongs to another subject")
        out["changes"] = changes
    elif type == "objection":
        purpose = details.get("purpose")
        out["purposes"] = objection_targets(ctx.manifest,
                                            None if purpose is None else str(purpose))
    elif type == "withdrawal":
        out["purposes"] = _withdrawable(session, ctx, target, details.get("purpose"))
    return out


def _withdrawable(session: Session, ctx: Context, target: Subject, purpose: Any) -> list[str]:
    if purpose is not None:
        p = ctx.consent.purpose(str(purpose))
        if p.legal_basis != "consent":
            raise InvalidInput(f"purpose {p.id!r} rests on {p.legal_basis}, not consent; "
                               "there is no consent to withdraw (object to it instead)")
        return [p.id]
    given = [d.purpose for d in decisions_for(session, ctx.consent, target.id, ctx.clock())
             if d.code == "consent_given"]
    if not given:
        raise InvalidInput("there is no consent to withdraw")
    return given


# ---- state -----------------------------------------------------------------------------

# Inside recording_in_bulk: the history lines made so far, not yet written (session.info).
_HISTORY = "personvern.requests.history"
_EVENTS: SqlTable = RequestEvent.__table__  # type: ignore[assignment]
# Built once (its cache key computed once too); inline: the new lines' ids are read by
# nothing, so no RETURNING is asked of a single line (it can then go with the audit events).
_INSERT_EVENTS = insert(_EVENTS).inline()


@contextmanager
def recording_in_bulk(session: Session) -> Iterator[None]:
    """Within the block, each request's history lines and audit events (chained as ever)
    are kept and written together at its end, a multi-row INSERT per chunk, and the
    session flushes only when asked: for a batch, whose steps read back nothing they
    wrote. Each request still gets every line and event, as one at a time would."""
    if _HISTORY in session.info:  # nested: the outer block writes them
        yield
        return
    session.info[_HISTORY] = []
    # The audit events are this block's to write unless an outer audit_in_bulk holds them.
    owns_audit = held_in_bulk(session) is None
    try:
        with audit_in_bulk(session), session.no_autoflush:
            yield
            _write_history(session, with_audit=owns_audit)
    finally:
        session.info.pop(_HISTORY, None)


# A commit inside the block writes the lines held so far first (as the audit events'):
# none is lost with the block's end never reached.
@event.listens_for(Session, "before_commit")
def _write_history_before_commit(session: Session) -> None:
    _write_history(session)


def _write_history(session: Session, *, with_audit: bool = False) -> None:
    """Write the history lines :func:`recording_in_bulk` holds so far (``with_audit``:
    and then the audit events its block holds, in the same round trip on PostgreSQL)."""
    lines: list[dict[str, Any]] | None = session.info.get(_HISTORY)
    if not lines:
        if with_audit:
            write_bulk(session)
        return
    held, lines[:] = list(lines), []
    session.flush()  # the requests the lines belong to first
    # Plain INSERTs, read back by nothing here: the lines and the events go together.
    together = sent_together if with_audit and held_in_bulk(session) else _apart
    with together(session):
        for start in range(0, len(held), 1000):
            session.connection().execute(_INSERT_EVENTS, held[start:start + 1000])
        if with_audit:
            write_bulk(session)


@contextmanager
def _apart(_session: Session) -> Iterator[None]:
    """Each statement sent as it is executed (one INSERT: nothing to send together)."""
    yield


def transition(
    session: Session, ctx: Context, req: Request, to: str, actor: str, note: str
) -> RequestEvent | None:
    """Move ``req`` to ``to`` (Conflict if the state machine forbids it), audited; the
    history line (None inside :func:`recording_in_bulk`, which writes it later)."""
    before = None if to == "received" else req.state
    if to not in TRANSITIONS.get(before, frozenset()):
        raise Conflict(f"request {req.id} is {req.state}; it cannot become {to}")
    return _record(session, ctx, req, before, to, actor, note)


def _record(
    session: Session, ctx: Context, req: Request, before: str | None, to: str, actor: str,
    note: str, action: str | None = None,
) -> RequestEvent | None:
    line = {"request_id": req.id, "at": ctx.clock(), "actor": actor, "from_state": before,
            "to_state": to, "note": note}
    history: list[dict[str, Any]] | None = session.info.get(_HISTORY)
    event = None
    if history is not None:  # written with the others (recording_in_bulk)
        history.append(line)
    else:
        event = RequestEvent(**line)
        session.add(event)
    req.state = to
    append_audit(session, ctx.clock, actor, action or f"request.{to}", f"request:{req.id}",
                 {"type": req.type, "from": before, "to": to, "note": note})
    return event


def _actor_of(req: Request) -> str:
    if req.opened_by in ("guardian", "admin"):
        return f"{req.opened_by}:{req.opened_by_subject_id}"
    if req.opened_by == "self":
        return f"subject:{req.subject_id}"
    return "owner"


def get_request(session: Session, ref: str) -> Request:
    """A request by id, or by a unique prefix of at least six characters."""
    ref = ref.strip().lower()
    found = session.get(Request, ref)
    if found is not None:
        return found
    if 6 <= len(ref) < 32 and all(c in "0123456789abcdef" for c in ref):
        matches = list(session.scalars(select(Request).where(Request.id.like(f"{ref}%"))
                                       .limit(2)))
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise InvalidInput(f"{ref!r} matches more than one request; give more of the id")
    raise NotFound(f"no request {ref!r}")


def preload(session: Session, ids: Sequence[str], *, sealed: bool = True) -> list[Request]:
    """Load the requests ``ids`` in one statement, so that :func:`get_request` finds them
    in the session (a batch would otherwise flush and read once per request); keep the
    list while they are used (the session holds its objects weakly). ``sealed=False``:
    their sealed details are left unread (and undecrypted) until used."""
    loaded: list[Request] = []
    query = select(Request)
    if not sealed:
        query = query.options(defer(Request.details), defer(Request.verified_by))
    for start in range(0, len(ids), 500):
        loaded += session.scalars(query.where(Request.id.in_(ids[start:start + 500])))
    return loaded


def names_a_person(ref: str) -> bool:
    """Whether ``ref`` names a person (``ext:ID``, an e-mail, ``+phone``), not a request."""
    return any(mark in ref for mark in (":", "@")) or ref.strip().startswith("+")


def request_of(session: Session, ref: str) -> Request:
    """The request of the person ``ref`` names: their one open request, else their latest;
    several open ones are named. For the privacy owner's CLI only: the API and the portal
    take request ids, since a person reference there would tell a caller whether someone
    exists and has made requests."""
    subject = get_subject(session, ref)
    mine = list(session.scalars(select(Request).where(Request.subject_id == subject.id)
                                .order_by(Request.received_at.desc(), Request.id)))
    open_ = [r for r in mine if r.state in OPEN_STATES]
    if len(open_) > 1:
        raise InvalidInput(f"{ref} has {len(open_)} open requests ("
                           + ", ".join(f"{r.type} {r.id[:8]}" for r in open_)
                           + "); give the request's id")
    if not mine:
        raise NotFound(f"{ref} has no request")
    return (open_ or mine)[0]


def list_requests(
    session: Session, ctx: Context, *, overdue: bool = False, due_within: int | None = None,
    state: str | None = None, subject_id: str | None = None, limit: int = 1000,
) -> list[Request]:
    """Requests by due date: all, the open overdue ones, or those due within N days."""
    query = select(Request).order_by(Request.due_on, Request.received_at).limit(limit)
    today = ctx.today()
    if overdue or due_within is not None:
        query = query.where(Request.state.in_(OPEN_STATES))
    if overdue:
        query = query.where(overdue_clause(today))
    if due_within is not None:
        if due_within < 0:
            raise InvalidInput("--due-soon takes a number of days, 0 or more")
        query = query.where(Request.due_on >= today,
                            Request.due_on <= today + timedelta(days=due_within))
    if state is not None:
        query = query.where(Request.state == state)
    if subject_id is not None:
        query = query.where(Request.subject_id == subject_id)
    return list(session.scalars(query))


def view(session: Session, ctx: Context, req: Request, *, finance: str | None = None
         ) -> dict[str, Any]:
    """Everything about a request for the privacy owner, as JSON-ready values.

    Which rows were kept only for bookkeeping is shown to ``finance`` alone (the actor,
    whose look is audited); everyone else sees how many and until when.
    """
    events = session.scalars(select(RequestEvent).where(RequestEvent.request_id == req.id)
                             .order_by(RequestEvent.id))
    today = ctx.today()
    rules = bookkeeping_rules(ctx.manifest)
    outcome = hide_bookkeeping(req.outcome, rules)
    if finance is not None and outcome != req.outcome:
        outcome = req.outcome
        append_audit(session, ctx.clock, finance, "request.bookkeeping_viewed",
                     f"request:{req.id}", {"rules": sorted(rules)})
    return {
        "id": req.id, "type": req.type, "state": req.state, "subject_id": req.subject_id,
        "received_at": req.received_at.isoformat(), "due_on": req.due_on.isoformat(),
        "legal_due_on": req.legal_due_on.isoformat(),
        "extended_to": req.extended_to.isoformat() if req.extended_to else None,
        "overdue": is_overdue(req.state, req.due_on, today),
        "days_left": (req.due_on - today).days,
        "opened_by": req.opened_by, "opened_by_subject_id": req.opened_by_subject_id,
        "verified_by": req.verified_by, "channel": req.channel, "details": req.details,
        "outcome": outcome, "reason": req.reason,
        "closed_at": req.closed_at.isoformat() if req.closed_at else None,
        "events": [{"at": e.at.isoformat(), "actor": e.actor, "from": e.from_state,
                    "to": e.to_state, "note": e.note} for e in events],
        "notices": notices.told(session, req.id, ctx.manifest),
        "tasks": tasks.view(tasks.tasks_of(session, req.id)),
        # What follows the answer (the proof of erasure, the Art. 19 notices), with its
        # state: pending until it has run, failed with the error, done with its result.
        "follow_ups": followups.view(followups.of_request(session, req.id)),
        # Runs queued for a worker (PostgreSQL with PERSONVERN_JOBS=worker): a failed one
        # stays here as failed, never silently dropped.
        "jobs": job_queue.jobs_about(session, "request_id", req.id),
    }


# ---- telling the person ------------------------------------------------------------------

_IDENTITIES: SqlTable = Identity.__table__  # type: ignore[assignment]
# The person's first e-mail identity, as stored, through Core: one row read and opened, not
# every identity loaded into the session and opened (built once).
_FIRST_EMAIL = select(_IDENTITIES.c.sealed, _IDENTITIES.c.value).where(
    _IDENTITIES.c.subject_id == bindparam("sid"), _IDENTITIES.c.kind == "email"
).order_by(_IDENTITIES.c.id).limit(1)
_SEALED_EMAIL: EncryptedText = _IDENTITIES.c.sealed.type  # type: ignore[assignment]


def _email_of(session: Session, subject_id: str) -> str | None:
    """The subject's first e-mail address (oldest identity), opened; None without one."""
    if session.autoflush:  # as the ORM's query would: identities added are seen
        session.flush()
    row = session.connection().execute(_FIRST_EMAIL, {"sid": subject_id}).first()
    if row is None:
        return None
    value: str | None = opened(session, _SEALED_EMAIL, subject_id, row[0], row[1])
    return value


def addressee(session: Session, req: Request) -> str | None:
    """Whom to tell about the request: the guardian or admin who opened it, else the subject."""
    return _email_of(session, req.opened_by_subject_id or req.subject_id)


def addressees(session: Session, reqs: Sequence[Request]) -> dict[str, str | None]:
    """:func:`addressee` for several requests (a batch), by request id: the e-mail
    addresses read a statement per chunk."""
    sids = list(dict.fromkeys(r.opened_by_subject_id or r.subject_id for r in reqs))
    first: dict[str, str] = {}
    for start in range(0, len(sids), 500):
        for ident in session.scalars(select(Identity).where(
                Identity.subject_id.in_(sids[start:start + 500]), Identity.kind == "email")
                .order_by(Identity.id)):
            first.setdefault(ident.subject_id, ident.value)
    return {r.id: first.get(r.opened_by_subject_id or r.subject_id) for r in reqs}


def _tell(
    session: Session, ctx: Context, req: Request, kind: str, title: str, body: str,
    to: str | None = None,
) -> str | None:
    to = to or addressee(session, req)
    if to is None:
        return None
    queue(session, ctx.clock, _letter(req, kind, title, body, to))
    return to


def _letter(req: Request, kind: str, title: str, body: str, to: str) -> Mail:
    """The letter to the person about ``req`` (one per request and kind)."""
    return Mail(kind=f"request_{kind}", to_address=to, title=title, body_text=body,
                subject_id=req.subject_id, dedupe_key=f"request:{req.id}:{kind}")


def _complaint(ctx: Context) -> str:
    a = ctx.jurisdiction.authority
    return (f"Du kan klage til {a.name}, {a.address}, {a.complaint_url} (GDPR Art. 77). "
            f"You may complain to {a.name}.")


def extend(session: Session, ctx: Context, ref: str, reason: str, actor: str = "owner") -> Request:
    """Extend by up to two months (Art. 12(3)): with reasons, told within the first month."""
    reason = require_reason(reason, "extend the request")
    req = get_request(session, ref)
    if req.state in CLOSED:
        raise Conflict(f"request {req.id} is {req.state}; there is nothing to extend")
    if req.extended_to is not None:
        raise Conflict(f"request {req.id} is already extended to {req.extended_to}")
    today = ctx.today()
    if today > req.legal_due_on:
        raise InvalidInput(
            f"the one-month deadline ({req.legal_due_on}) has passed; an extension must be "
            "announced within it (GDPR Art. 12(3))")
    limit = deadlines(req.received_at, ctx.jurisdiction, ctx.manifest.rights.deadline)
    req.extended_to = req.due_on = limit.extended_limit
    told = _tell(session, ctx, req, "extended", "Forespørselen din tar lengre tid / "
                 "Your request will take longer",
                 f"Vi trenger mer tid og svarer senest {limit.extended_limit}. Grunn: {reason}\n"
                 f"We need more time and will answer by {limit.extended_limit}. "
                 f"Reason: {reason}\n\n{_complaint(ctx)}")
    # Queued is not told (Art. 12(3): told within the first month): the outbox says when.
    how = (f"a letter telling the person is queued ({mask_email(told)}); they are told "
           "once it is sent") if told else \
        "no e-mail address: tell the person another way within the first month"
    _record(session, ctx, req, req.state, req.state, actor,
            f"extended to {limit.extended_limit}: {reason}; {how}", action="request.extended")
    return req


def refuse(session: Session, ctx: Context, ref: str, reason: str, actor: str = "owner") -> Request:
    """Refuse with reasons, telling the person of their right to complain (Art. 12(4))."""
    reason = require_reason(reason, "refuse the request")
    req = get_request(session, ref)
    transition(session, ctx, req, "refused", actor, reason)
    req.reason = reason
    req.closed_at = ctx.clock()
    _tell(session, ctx, req, "refused", "Forespørselen din er avslått / Your request is refused",
          f"Vi har avslått forespørselen din. Grunn: {reason}\nWe have refused your request. "
          f"Reason: {reason}\n\n{_complaint(ctx)}")
    return req


def lift_restriction(
    session: Session, ctx: Context, ref: str, reason: str, actor: str = "owner"
) -> Request:
    """Lift a completed restriction, telling the person first (Art. 18(3))."""
    reason = require_reason(reason, "lift the restriction")
    req = get_request(session, ref)
    if req.type != "restriction" or req.state != "completed":
        raise Conflict(f"request {req.id} is not a completed restriction")
    if is_lifted(req.outcome):
        raise Conflict(f"the restriction of request {req.id} was already lifted")
    now = ctx.clock()
    _tell(session, ctx, req, "restriction_lifted",
          "Begrensningen oppheves / The restriction is lifted",
          f"Begrensningen av behandlingen oppheves. Grunn: {reason}\n"
          f"The restriction of processing is lifted. Reason: {reason}")
    req.outcome = {**(req.outcome or {}), "lifted_at": now.isoformat(), "lifted_because": reason}
    ctx.consent.cache.invalidate_on_commit(session, req.subject_id)
    _record(session, ctx, req, req.state, req.state, actor, f"restriction lifted: {reason}",
            action="request.restriction_lifted")
    return req


# ---- the service: verifying and running, each step in its own transaction --------------

@dataclass(frozen=True)
class RunResult:
    """Where a run left the request: ``completed``, or ``waiting`` with the error."""

    request_id: str
    state: str
    outcome: dict[str, Any]
    error: str | None = None
    # The follow-ups the answer left to run in this process (none: queued for a worker).
    follow_ups: tuple[int, ...] = ()
    # Waiting for a processor's answer (a manual task), which only a person can record:
    # running again will not bring it. The error says so in words (WAITING_FOR_PROCESSOR).
    waiting_for_processor: bool = False


class Requests:
    """Verify and run requests, committing each step, so a failure never loses one."""

    def __init__(
        self, sessions: sessionmaker[Session], ctx: Context, *,
        datasets: Callable[[Manifest], list[SqlDataset]] | None = None, later: bool = False,
    ) -> None:
        self.sessions = sessions
        self.ctx = ctx
        self._open_datasets = datasets
        self._datasets: list[SqlDataset] | None = None
        self._reflecting = threading.Lock()  # one reflection when threads share the service
        # Follow-ups go to the workers' queue (PERSONVERN_JOBS=worker, PostgreSQL).
        self.later = later

    @classmethod
    def of(cls, rt: Wired) -> Requests:
        """The service on a runtime's database, manifest and clock."""
        settings = getattr(rt, "settings", None)
        return cls(rt.sessions, Context(rt.consent, rt.clock),
                   later=getattr(settings, "jobs", "serve") == "worker")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work on the engine's database."""
        with transaction(self.sessions) as session:
            yield session

    def datasets(self) -> list[SqlDataset]:
        """The manifest's SQL datasets, reflected once and kept while they work."""
        with self._reflecting:
            if self._datasets is None:
                opener = self._open_datasets or open_datasets
                self._datasets = opener(self.ctx.manifest)
            return self._datasets

    def close(self) -> None:
        """Release the datasets' connections."""
        for ds in self._datasets or ():
            ds.engine.dispose()
        self._datasets = None

    def verify(self, ref: str, code: str) -> Request:
        """Check the code; a wrong guess is counted (and committed) before the error."""
        with self.transaction() as s:
            req = get_request(s, ref)
            if req.state != "verifying":
                raise Conflict(f"request {req.id} is {req.state}, not waiting for a code")
            result = check(s, self.ctx.clock, req.id, code)
            if result is Outcome.OK:
                transition(s, self.ctx, req, "verified", _actor_of(req), "code verified")
                return req
        raise InvalidInput(MESSAGES[result])

    def run(
        self, ref: str, *, reason: str, out_dir: Path | None = None, actor: str = "owner",
        prove: bool = True, lang: str | None = None, force: bool = True, vacuum: bool = False,
        follow_up: bool = True,
    ) -> RunResult:
        """Carry the request out. ``reason`` says why now (required, bounded; audited as
        ``request.run`` before the work, so a run that fails was still asked for). A dataset
        that is down, or a task still open, leaves it ``waiting`` (returned); a wrong data
        map or bad input leaves it ``waiting`` with the error and raises. ``force``: call
        every pending http dataset now, not only those whose back-off has run out (the jobs
        pass False). ``vacuum``: rewrite the PostgreSQL tables an erasure touched.
        ``prove``: search the datasets after an erasure, as a follow-up after the answer.
        ``follow_up``: run the follow-ups left to this process before returning (False: the
        caller runs them, ``run_follow_ups``, after answering; queued ones a worker runs)."""
        why = require_reason(reason, "run the request now")
        after: RunResult | None = None
        # The start's audit events and history lines go in one INSERT each (it reads
        # none back), committed before any dataset is touched.
        with self.transaction() as s, recording_in_bulk(s):
            req = get_request(s, ref)
            left = followups.unfinished(followups.of_request(s, req.id)) \
                if req.state == "completed" else []
            if left:  # a run killed after its answer: finish what follows it
                after = RunResult(req.id, req.state, dict(req.outcome or {}),
                                  follow_ups=tuple(left))
            elif req.state in CLOSED:
                raise Conflict(f"request {req.id} is already {req.state}")
            else:
                job, opened, calls, partial = self._start(s, req, why, actor, force)
        if after is not None:  # the owner's own run again: a claim its crash left is taken
            return self.run_follow_ups(after, actor=actor, take_over=True)
        return self._carry_out(job, opened, calls, partial, out_dir=out_dir, actor=actor,
                               prove=prove, lang=lang, vacuum=vacuum, follow_up=follow_up)

    def open_and_run(
        self, type: str, *, by: Requester, reason: str, subject: str | None = None,
        email: str | None = None, channel: str = "api", details: dict[str, Any] | None = None,
        out_dir: Path | None = None, actor: str = "owner", prove: bool = True,
        lang: str | None = None, follow_up: bool = True,
        vet: Callable[[Session], None] | None = None,
    ) -> RunResult:
        """Open a request whose identity was checked (``by.verified_by``) and carry it out
        at once: opened, audited as run and started in one transaction, committed before
        any dataset is changed (a crash after it leaves the request in progress, visible
        and run again), then carried out as :meth:`run` does; an erasure of SQL datasets
        finds the rows and keeps what it will change in that transaction. Nothing is stored
        when the request cannot be opened or started. ``vet``: called first in the opening
        transaction, before anything is read or stored (the API's check that the caller's
        key is still live); what it raises stores nothing."""
        why = require_reason(reason, "run the request now")
        if not (by.verified_by or "").strip():
            raise InvalidInput("a request opened and run at once needs the person's identity "
                               "checked first: say how (verified_by)")
        env = self._env(None, out_dir, lang, False)
        # An erasure of SQL datasets alone is planned in the opening transaction: what it
        # will change is committed with the request, before any dataset changes, and no
        # transaction of its own is needed for it. The datasets are connected first, so
        # the opening waits for no connection (it holds the audit trail's lock).
        erasure, failed = self._erasure_begun(type, env)
        try:
            with self.transaction() as s, recording_in_bulk(s):
                if vet is not None:
                    vet(s)
                # The person kept in hand: the job's snapshot finds them in the session.
                new, _person = _open(s, self.ctx, type, subject=subject, email=email, by=by,
                                     channel=channel, details=details)
                req = new.request
                job, opened, calls, partial = self._start(s, req, why, actor, True,
                                                          fresh=True)
                if erasure is not None:
                    try:
                        req.outcome = _with_intended(req.outcome, erasure.plan(job))
                    except Exception as exc:  # recorded once the request is: as a run does
                        erasure.close()
                        erasure, failed = None, exc
        except BaseException:
            if erasure is not None:
                erasure.close()
            raise
        work = erasure.apply if erasure is not None else _raiser(failed) if failed else None
        return self._carry_out(job, opened, calls, partial, out_dir=out_dir, actor=actor,
                               prove=prove, lang=lang, vacuum=False, follow_up=follow_up,
                               work=work)

    def _erasure_begun(self, type: str, env: jobs.Env
                       ) -> tuple[erase.Erasure | None, Exception | None]:
        """For an erasure that only SQL datasets hold: each dataset connected, its
        transaction open (None otherwise); or the error that stopped it, to record once
        the request is stored."""
        if type != "erasure" or tasks.outside(self.ctx.manifest):
            return None, None
        try:
            return erase.Erasure(env, self.datasets()), None
        except Exception as exc:  # a dataset that is down: recorded as a run records it
            return None, exc

    def _carry_out(
        self, job: jobs.Job, opened: list[Any], calls: list[tuple[int, str, str]],
        partial: Any, *, out_dir: Path | None, actor: str, prove: bool, lang: str | None,
        vacuum: bool, follow_up: bool, work: Callable[[], dict[str, Any]] | None = None,
    ) -> RunResult:
        """A started run from the apps' calls to the answer (see :meth:`run`); ``work``:
        the dataset side, begun already (an erasure planned at the opening)."""
        notes: list[str] = []
        manual: list[str] = []
        if opened:  # datasets outside the engine's reach: call the apps, see who is left
            self._call_apps(job, calls, actor)
            with self.transaction() as s:
                current = tasks.tasks_of(s, job.request_id)
                notes = [f"{t.dataset} ({t.last_error or 'not called yet'}; next attempt "
                         f"{t.next_attempt_at.isoformat() if t.next_attempt_at else 'now'})"
                         for t in tasks.pending(current, "http")]
                manual = [f"{t.dataset} (asked {t.asked})" if t.asked else
                          f"{t.dataset} (no address: ask them yourself)"
                          for t in tasks.pending(current, "manual")]
                job = replace(job, callbacks=tasks.answers(current))
        if notes:
            error = ("waiting for dataset " if len(notes) == 1 else "waiting for datasets ") \
                + "; ".join(notes)
            self.wait(job.request_id, actor, error)
            return RunResult(job.request_id, "waiting", {}, error)
        done = partial if partial is not None else self._perform(job, out_dir, actor, lang,
                                                                 vacuum, work)
        if isinstance(done, RunResult):
            return done
        if manual:
            error = (f"{WAITING_FOR_PROCESSOR} to answer: " if len(manual) == 1 else
                     f"{WAITING_FOR_PROCESSOR}s to answer: ") + "; ".join(manual)
            self.wait(job.request_id, actor, error, suffix="; record each answer with "
                       f"`personvern request task-done {job.request_id} DATASET --note TEXT`",
                       partial=_storable(done))
            return RunResult(job.request_id, "waiting", {}, error, waiting_for_processor=True)
        try:
            result = self._finish(job, done, actor, prove)
        except Exception as exc:  # the dataset side is done and re-runs safely: say so
            with contextlib.suppress(Exception):  # the engine's database may be the problem
                self.wait(job.request_id, actor, f"could not be recorded: {_one_line(exc)}")
            raise
        if follow_up and result.follow_ups:
            return self.run_follow_ups(result, actor=actor)
        return result

    def _start(self, s: Session, req: Request, why: str, actor: str, force: bool, *,
               fresh: bool = False
               ) -> tuple[jobs.Job, list[Any], list[tuple[int, str, str]], Any]:
        """Begin a run in the caller's transaction: audited, in progress, the job read,
        the tasks of datasets outside the engine's reach opened and the due calls listed.
        ``fresh``: ``req`` was opened in this transaction and is not stored yet."""
        if req.state in ("received", "verifying"):
            raise Conflict(f"request {req.id} is not verified yet ({req.state}); "
                           "verify the person's identity first")
        append_audit(s, self.ctx.clock, actor, "request.run", f"request:{req.id}",
                     {"reason": why})
        if req.state != "in_progress":
            transition(s, self.ctx, req, "in_progress", actor, "work started")
        if fresh and req.type == "access":  # its package lists the person's requests
            s.flush()
        job = jobs.snapshot(s, req)
        # A request opened in this transaction has no tasks yet: with no dataset outside
        # the engine's reach there are none to open either, and nothing to read.
        opened = [] if fresh and not tasks.outside(self.ctx.manifest) else \
            tasks.ensure(s, self.ctx.clock, self.ctx.manifest, req.id, req.type,
                         req.subject_id, job.identities, actor)
        calls = [(t.id, t.dataset, t.action)
                 for t in tasks.due_http(opened, self.ctx.clock(), force=force)]
        return job, opened, calls, (req.outcome or {}).get("partial")

    def run_later(self, ref: str, *, reason: str, actor: str = "owner") -> int:
        """Queue the run for a worker, in the same transaction as its audit record (so it
        is queued if and only if it was asked for); the job's id. PostgreSQL only."""
        why = require_reason(reason, "run the request")
        with self.transaction() as s:
            if not job_queue.has_queue(s):
                raise Conflict("running a request later needs the job queue: PostgreSQL "
                               "with `personvern worker` running (docs/scale.md)")
            req = get_request(s, ref)
            if req.state in CLOSED:
                raise Conflict(f"request {req.id} is already {req.state}")
            if req.state in ("received", "verifying"):
                raise Conflict(f"request {req.id} is not verified yet ({req.state}); "
                               "verify the person's identity first")
            job = job_queue.defer(s, RUN_TASK, {"request_id": req.id, "reason": why,
                                                "actor": actor}, lock=f"request:{req.id}")
            append_audit(s, self.ctx.clock, actor, "request.queued", f"request:{req.id}",
                         {"reason": why, "job": job})
            return job

    def _call_apps(self, job: jobs.Job, calls: list[tuple[int, str, str]], actor: str
                   ) -> None:
        """Make the due http calls, each outside any transaction, recording each answer."""
        for task_id, ds_id, action in calls:
            ds = next((d for d in self.ctx.manifest.datasets if d.id == ds_id), None)
            answer: dict[str, Any] | None = None
            try:
                if ds is None:
                    raise CallbackFailed(f"dataset {ds_id!r} is no longer in the manifest")
                answer = call_app(ds, action, job.request_id, job.identities, self.ctx.clock())
                error = None
            except CallbackFailed as exc:
                error = str(exc)
            with self.transaction() as s:
                tasks.record_call(s, self.ctx.clock, task_id, answer, error, actor)

    def _env(self, request_id: str | None, out_dir: Path | None, lang: str | None,
             vacuum: bool) -> jobs.Env:
        """What the work needs; an erasure's plan is kept on request ``request_id``
        before each dataset commits (None: the caller keeps it)."""
        # Absolute: the path is stored, and a later step (a task closed) may run elsewhere.
        return jobs.Env(self.ctx.manifest, self.ctx.jurisdiction, self.ctx.clock,
                        (out_dir or Path.cwd()).absolute(), lang,
                        intend=None if request_id is None else
                        lambda counts: self._intend(request_id, counts),
                        vacuum=vacuum)

    def _perform(self, job: jobs.Job, out_dir: Path | None, actor: str,
                 lang: str | None, vacuum: bool = False,
                 work: Callable[[], dict[str, Any]] | None = None
                 ) -> dict[str, Any] | RunResult:
        """The work on the SQL datasets (``work``: begun already); a dataset that is down
        is a waiting RunResult."""
        env = self._env(job.request_id, out_dir, lang, vacuum)
        try:
            if work is not None:
                return work()
            datasets = self.datasets() if jobs.needs_datasets(job) else []
            return fulfil.perform(job, env, datasets)
        except StorageError as exc:
            self.close()  # reconnect next time: the server may be back
            error = _one_line(exc)
            self.wait(job.request_id, actor, f"a dataset could not be reached: {error}")
            return RunResult(job.request_id, "waiting", {}, error)
        except OSError as exc:  # a full or read-only export directory: free it, run again
            error = f"the package could not be written to {env.out_dir}: {exc.strerror or exc}"
            self.wait(job.request_id, actor, error)
            return RunResult(job.request_id, "waiting", {}, error)
        except Exception as exc:  # a wrong data map, bad input, a bug: keep the request
            self.wait(job.request_id, actor, f"could not be carried out: {_one_line(exc)}")
            raise

    def task_done(
        self, ref: str, dataset: str, note: str, *, actor: str = "owner",
        out_dir: Path | None = None, lang: str | None = None,
    ) -> RunResult | None:
        """Record a processor's answer (a manual task); the last one completes the request
        (its run is returned), else None."""
        with self.transaction() as s:
            req = get_request(s, ref)
            if req.state in CLOSED:
                raise Conflict(f"request {req.id} is already {req.state}")
            tasks.mark_done(s, self.ctx.clock, req.id, dataset, note, actor)
            left = [t for t in tasks.tasks_of(s, req.id) if t.state != "done"]
            rid, state = req.id, req.state
        if left or state != "waiting":
            return None
        return self.run(rid, reason=f"{RUN_AFTER_TASKS} ({dataset})", out_dir=out_dir,
                        actor=actor, lang=lang, force=False)

    def run_due(self, *, out_dir: Path | None = None, actor: str = "job", limit: int = 100
                ) -> list[RunResult]:
        """Run again every waiting request whose http dataset is due for another attempt
        (the back-off has run out); what the jobs call."""
        with self.transaction() as s:
            due = tasks.due_requests(s, self.ctx.clock(), limit)
        results = []
        with self.transaction() as s:  # follow-ups a killed process left (not queued ones)
            left = followups.left_behind(s, self.ctx.clock(), limit)
        for _rid, fid in left:
            with contextlib.suppress(FollowUpFailed):
                self.run_follow_up(fid, actor=actor)
        for rid in due:
            try:
                results.append(self.run(rid, reason=RUN_DUE, out_dir=out_dir, actor=actor,
                                        force=False))
            except PersonvernError as exc:  # kept waiting with the error; go on with the rest
                results.append(RunResult(rid, "waiting", {}, _one_line(exc)))
        return results

    def _intend(self, request_id: str, counts: dict[str, dict[str, int]]) -> None:
        """Keep, committed before a dataset's changes commit, what the run will change."""
        self.intend_many({request_id: counts})

    def intend_many(self, by_request: dict[str, dict[str, dict[str, int]]]) -> None:
        """:meth:`_intend` for several requests (a batch), in one transaction."""
        with self.transaction() as s:
            held = preload(s, list(by_request), sealed=False)  # noqa: F841
            for request_id, counts in by_request.items():
                req = get_request(s, request_id)
                req.outcome = _with_intended(req.outcome, counts)

    def wait(self, request_id: str, actor: str, note: str, *,
              suffix: str = "; run it again when fixed",
              partial: dict[str, Any] | None = None) -> None:
        with self.transaction() as s:
            req = get_request(s, request_id)
            transition(s, self.ctx, req, "waiting", actor, note + suffix)
            kept = partial if partial is not None else (req.outcome or {}).get("partial")
            if partial is not None:  # the package is written: keep no app's rows
                tasks.settle(tasks.tasks_of(s, request_id))
            intended = (req.outcome or {}).get(jobs.INTENDED)
            req.outcome = {"error": note, "at": self.ctx.clock().isoformat(),
                           **({jobs.INTENDED: intended} if intended else {}),
                           **({"partial": kept} if kept is not None else {})}

    def _finish(self, job: jobs.Job, done: dict[str, Any], actor: str, prove: bool
                ) -> RunResult:
        # The answer writes its history and audit events together, as a batch does (it
        # reads none of them back): one INSERT each, not one per step.
        with self.transaction() as s, recording_in_bulk(s):
            req = get_request(s, job.request_id)
            to = addressee(s, req)  # before an erasure removes the address
            outcome = fulfil.finish(s, self.ctx.consent, self.ctx.clock, job, done)
            return self.complete(s, req, job, done, outcome, actor, prove, to)

    def complete(self, s: Session, req: Request, job: jobs.Job, done: dict[str, Any],
                  outcome: dict[str, Any], actor: str, prove: bool, to: str | None
                  ) -> RunResult:
        """Record the answer, tell the person, and leave the follow-ups (the proof, the
        notices) pending in the same transaction."""
        [result] = self.complete_many(s, [(req, job, done, outcome, to)], actor, prove)
        return result

    def complete_many(self, s: Session,
                      answers: Sequence[tuple[Request, jobs.Job, dict[str, Any],
                                              dict[str, Any], str | None]],
                      actor: str, prove: bool) -> list[RunResult]:
        """:meth:`complete` for each (request, job, done, outcome, addressee), in order: the
        tasks read and the follow-ups and letters written together (a batch)."""
        # With no dataset outside the engine's reach a request most likely has no task
        # (one could have been opened under an earlier manifest): looked for cheaply first.
        found = tasks.tasks_of_many(s, [req.id for req, *_ in answers],
                                    probe=not tasks.outside(self.ctx.manifest))
        wanted: list[tuple[str, str, dict[str, Any]]] = []
        for req, job, done, outcome, _ in answers:
            done_tasks = found.get(req.id, [])
            tasks.settle(done_tasks)
            if done_tasks:
                outcome["tasks"] = [{"dataset": t["dataset"], "kind": t["kind"],
                                     "note": t["note"], "done_at": t["done_at"]}
                                    for t in tasks.view(done_tasks)]
            wanted += [(req.id, kind, input)
                       for kind, input in self._wanted(job, done, outcome, prove)]
        scheduled = followups.schedule_many(s, self.ctx.clock, wanted, queue=self.later)
        inline: dict[str, list[int]] = {}
        for fu, queued in scheduled:
            if queued is None:
                inline.setdefault(fu.request_id, []).append(fu.id)
        letters: list[Mail] = []
        results: list[RunResult] = []
        for req, job, _, outcome, known in answers:
            req.outcome = outcome
            req.closed_at = self.ctx.clock()
            transition(s, self.ctx, req, "completed", actor, fulfil.summary(job.type, outcome))
            to = known or addressee(s, req)
            if to is not None:
                letters.append(_letter(req, "completed", "Forespørselen din er behandlet / "
                                       "Your request is done", fulfil.letter(job.type, outcome),
                                       to))
            results.append(RunResult(job.request_id, "completed", outcome,
                                     follow_ups=tuple(inline.get(req.id, ()))))
        queue_many(s, self.ctx.clock, letters)
        return results

    def _wanted(self, job: jobs.Job, done: dict[str, Any], outcome: dict[str, Any],
                prove: bool) -> list[tuple[str, dict[str, Any]]]:
        """The follow-ups the answer leaves, (kind, input) each; ``outcome`` says which."""
        wanted: list[tuple[str, dict[str, Any]]] = []
        if job.type == "erasure" and prove:
            wanted.append(("proof", followups.proof_input(job.identities,
                                                          done.get("_kept_keys") or {})))
            outcome["proof"] = {"state": "pending"}  # never "clean" before it has run
        action = {"rectification": "rectification", "erasure": "erasure",
                  "restriction": "restriction"}.get(job.type)
        if action is not None and not fulfil.changed_anything(job.type, outcome):
            outcome["notices"] = []  # no row was corrected: no rectification to tell of
        elif action is not None:
            purposes = jobs.affected_purposes(self.ctx.manifest, job)
            if notices.recipients_for(self.ctx.manifest, purposes):
                wanted.append(("notices", {"action": action, "identities": job.identities,
                                           "purposes": [p.id for p in purposes]}))
            else:
                outcome["notices"] = []  # nobody receives the data: nobody to tell
        return wanted

    def run_follow_ups(self, result: RunResult, *, actor: str = "owner",
                       take_over: bool = False) -> RunResult:
        """Run the follow-ups ``result`` left to this process, one after another; the
        result with the outcome as they left it. A failed one is recorded, not raised.
        ``take_over``: see :func:`followups.claim`."""
        for fid in result.follow_ups:
            with contextlib.suppress(FollowUpFailed):
                self.run_follow_up(fid, actor=actor, take_over=take_over)
        with self.transaction() as s:
            outcome = dict(get_request(s, result.request_id).outcome or {})
        return replace(result, outcome=outcome, follow_ups=())

    def run_follow_ups_many(self, results: list[RunResult], *, actor: str = "owner"
                            ) -> list[RunResult]:
        """:meth:`run_follow_ups` for a batch: the notices of all in one transaction (they
        need no dataset), then each proof; one that fails is run alone and recorded."""
        ids = [fid for r in results for fid in r.follow_ups]
        ran: list[int] = []
        try:
            with self.transaction() as s, recording_in_bulk(s):
                held = preload(s, [r.request_id for r in results], sealed=False)
                ran = self.notices_in(s, ids, actor)
                # As committed, unless a follow-up runs below: read again then.
                outcomes = {r.request_id: dict(get_request(s, r.request_id).outcome or {})
                            for r in results}
        except Exception:  # rolled back: each runs alone below, its failure recorded
            ran = []
        notices_done = set(ran)
        for fid in ids:
            if fid not in notices_done:
                with contextlib.suppress(FollowUpFailed):
                    self.run_follow_up(fid, actor=actor)
        if ids and set(ids) == notices_done:
            return [replace(r, outcome=outcomes[r.request_id], follow_ups=()) for r in results]
        with self.transaction() as s:
            held = preload(s, [r.request_id for r in results], sealed=False)  # noqa: F841
            outcomes = {r.request_id: dict(get_request(s, r.request_id).outcome or {})
                        for r in results}
        return [replace(r, outcome=outcomes[r.request_id], follow_ups=()) for r in results]

    def notices_in(self, s: Session, ids: Sequence[int], actor: str) -> list[int]:
        """Run, in the caller's transaction, the notices follow-ups among ``ids`` not done
        yet, their notices read and written together; the ids of those run."""
        claimed = list(s.scalars(select(FollowUp).where(
            FollowUp.id.in_(ids), FollowUp.kind == "notices",
            FollowUp.state != "done").order_by(FollowUp.id).with_for_update()))
        for fu in claimed:
            fu.state, fu.started_at = "running", self.ctx.clock()
            fu.attempts += 1
        found = followups.notify_many(s, self.ctx.clock, self.ctx.manifest, [
            (fu.request_id, dict(fu.input or {})) for fu in claimed])
        for fu in claimed:
            self._notified(s, fu, found[fu.request_id], actor)
        return [fu.id for fu in claimed]

    def _notify(self, s: Session, fu: FollowUp, input: dict[str, Any], actor: str) -> None:
        """The notices follow-up's work and its record, in the caller's transaction."""
        self._notified(s, fu, followups.notify(s, self.ctx.clock, self.ctx.manifest,
                                               fu.request_id, input), actor)

    def _notified(self, s: Session, fu: FollowUp, result: dict[str, Any], actor: str) -> None:
        """The notices follow-up's record, once its notices are queued."""
        req = get_request(s, fu.request_id)
        req.outcome = {**(req.outcome or {}), "notices": result["notices"]}
        told = count(len(result["notices"]), "recipient")
        followups.succeed(s, self.ctx.clock, fu, result)
        _record(s, self.ctx, req, req.state, req.state, actor,
                f"Art. 19 notices queued for {told}", action="request.notices")

    def run_follow_up(self, follow_up_id: int, *, actor: str = "owner",
                      take_over: bool = False) -> str:
        """Run one follow-up (done already, or running in another process: nothing
        happens, unless ``take_over``); its state. FollowUpFailed when it fails, after
        recording the error where the request shows it."""
        claimed = self.claim_follow_up(follow_up_id, take_over=take_over)
        if isinstance(claimed, str):
            return claimed
        return self.carry_out_follow_up(claimed, actor=actor)

    def claim_follow_up(self, follow_up_id: int, *, take_over: bool = False
                        ) -> followups.Claim | str:
        """Claim a follow-up to run (:func:`followups.claim`), committed: the claim, or the
        state it is in when it is not to run now (``done``, ``running``)."""
        with self.transaction() as s:
            claimed = followups.claim(s, self.ctx.clock, follow_up_id, take_over=take_over)
            if isinstance(claimed, followups.Claim) and claimed.kind == "proof":
                req = get_request(s, claimed.request_id)
                req.outcome = {**(req.outcome or {}), "proof": {"state": "running"}}
            return claimed

    def carry_out_follow_up(self, claimed: followups.Claim, *, actor: str = "owner") -> str:
        """Do a claimed follow-up's work and record it, only while the claim holds: a run
        taken over (past ``followups.STUCK_AFTER``) records neither result nor failure,
        so the proof, the notices and their history lines are recorded once."""
        kind, rid, input = claimed.kind, claimed.request_id, claimed.input
        taken = False
        try:
            found = (followups.prove(self.datasets(), input, claimed.lease) if kind == "proof"
                     else None)
            with self.transaction() as s:
                fu = followups.held(s, claimed)
                if fu is None:
                    taken = True
                elif found is not None:
                    req = get_request(s, rid)
                    result = followups.engine_side(s, fu, req.subject_id, input, found)
                    req.outcome = {**(req.outcome or {}), "proof": {**result, "state": "done"}}
                    note = "proof of erasure:" + fulfil.proof_note(result).split(":", 1)[1]
                    if not result["clean"]:  # loud: the person's data is still somewhere
                        log.warning("request %s: %s", rid, note)
                    followups.succeed(s, self.ctx.clock, fu, result)
                    _record(s, self.ctx, req, req.state, req.state, actor, note,
                            action="request.proof")
                else:
                    self._notify(s, fu, input, actor)
            return self._taken_over(rid, kind) if taken else "done"
        except Exception as exc:
            if isinstance(exc, StorageError):
                self.close()  # reconnect next time: the server may be back
            error = _one_line(exc)
            with self.transaction() as s:
                fu = followups.held(s, claimed)
                if fu is not None:
                    followups.fail(s, self.ctx.clock, fu, error)
                    req = get_request(s, rid)
                    if kind == "proof":
                        req.outcome = {**(req.outcome or {}),
                                       "proof": {"state": "failed", "error": error}}
                    _record(s, self.ctx, req, req.state, req.state, actor,
                            f"{kind} after the answer failed: {error}",
                            action=f"request.{kind}_failed")
            if fu is None:  # another run holds it now: its outcome is the one to record
                return self._taken_over(rid, kind)
            log.warning("request %s: the %s after the answer failed: %s", rid, kind, error)
            raise FollowUpFailed(f"request {rid}: the {kind} failed: {error}") from exc

    def _taken_over(self, request_id: str, kind: str) -> str:
        """A run whose claim another run took over: it records nothing; the state as the
        other left it."""
        log.warning("request %s: the %s was taken over by another run; this run records "
                    "nothing", request_id, kind)
        with self.transaction() as s:
            states = {f.kind: f.state for f in followups.of_request(s, request_id)}
        return states.get(kind, "done")


def _with_intended(outcome: dict[str, Any] | None, counts: dict[str, dict[str, int]]
                   ) -> dict[str, Any]:
    """``outcome`` with what a run will change added to what it kept already (the larger
    count per table: a run again after a crash finds fewer rows)."""
    kept = dict(outcome or {})
    intended = {k: dict(v) for k, v in (kept.get(jobs.INTENDED) or {}).items()}
    for key, per_table in counts.items():
        mine = intended.setdefault(key, {})
        for table, n in per_table.items():
            mine[table] = max(mine.get(table, 0), n)
    return {**kept, jobs.INTENDED: intended}


def _raiser(exc: Exception) -> Callable[[], dict[str, Any]]:
    """Work that fails as it failed before the request was stored (recorded as a run's)."""
    def fail() -> dict[str, Any]:
        raise exc
    return fail


def _storable(done: dict[str, Any]) -> dict[str, Any]:
    """The work's result as JSON to keep on a waiting request (kept keys as lists, for the
    proof that follows the answer)."""
    import json

    kept = {k: v for k, v in done.items() if k != "_kept_keys"}
    if "_kept_keys" in done:
        kept["_kept_keys"] = {ds: {t: sorted(keys, key=str) for t, keys in tables.items()}
                              for ds, tables in done["_kept_keys"].items()}
    stored: dict[str, Any] = json.loads(json.dumps(kept, default=jobs.plain))
    return stored


def _one_line(exc: BaseException) -> str:
    """An error on one line, without SQLAlchemy's link to its documentation."""
    return " ".join(str(exc).split("(Background on this error", 1)[0].split())


