"""A batch's records (:mod:`personvern.requests.batch`) written set-based, with Core
statements: the rows, history lines and audit events that :meth:`Requests.complete_many`,
:meth:`Requests.notices_in` and :meth:`Requests.intend_many` leave for each request,
without loading or flushing an ORM object per request. The steps' history lines and audit
events still come from :func:`transition` and ``_record`` (the same words, one chain).

Per chunk: the start's new states in one UPDATE; what the erasure will change, one read
and one UPDATE; the answers, one read of the requests, one UPDATE recording them and one
INSERT of their follow-ups. The Art. 19 notices the answers leave to this process are
queued first and their follow-ups written done, as :meth:`Requests.notices_in` would
leave them, so they need no second UPDATE. With follow-ups queued for a worker
(``Requests.later``) the batch records the answers the ORM's way: each needs its job
deferred.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from personvern.errors import Conflict, NotFound
from personvern.mail.outbox import Mail, queue_many
from personvern.requests import erase, followups, fulfil, jobs, tasks
from personvern.requests.engine import (
    Context,
    Requests,
    RunResult,
    _letter,
    _record,
    _with_intended,
    addressees,
    preload,
    transition,
)
from personvern.requests.tables import FollowUp, Request
from personvern.wording import count

_REQUESTS: Table = Request.__table__  # type: ignore[assignment]
_FOLLOW_UPS: Table = FollowUp.__table__  # type: ignore[assignment]

# A request's new state.
_STATE = update(_REQUESTS).where(_REQUESTS.c.id == bindparam("_id")).values(
    state=bindparam("state"))
# What an erasure will change, kept on its request (see intend).
_INTENDED = update(_REQUESTS).where(_REQUESTS.c.id == bindparam("_id")).values(
    outcome=bindparam("outcome"))
# One answer recorded: the request's new state, outcome and closing time, by id.
_ANSWER = update(_REQUESTS).where(_REQUESTS.c.id == bindparam("_id")).values(
    state=bindparam("state"), outcome=bindparam("outcome"),
    closed_at=bindparam("closed_at"))


@dataclass(slots=True)
class _Columns:
    """The columns of a request an answer reads, and its state as it moves."""

    id: str
    type: str
    state: str
    subject_id: str


@dataclass
class _Answer:
    """One request's answer as it is built: the columns read, and what is recorded."""

    req: Request  # a _Columns: see _read
    job: jobs.Job
    done: dict[str, Any]
    outcome: dict[str, Any]
    to: str | None
    closed_at: datetime | None = None


@dataclass
class _Wanted:
    """A follow-up to record: whose, which, its input and, once run here, how it ended."""

    request_id: str
    kind: str
    input: dict[str, Any]
    created_at: datetime
    ran: dict[str, Any] | None = None  # the columns of a done follow-up


def begin(s: Session, ctx: Context, req: Request, actor: str, note: str) -> str | None:
    """``req`` moved to in progress (audited, its history line held, as :func:`transition`
    does) but not on the ORM object: its new state, for :func:`write_states`, or None
    when it was in progress already. Read the loaded request no more after this."""
    if req.state == "in_progress":
        return None
    columns = _Columns(req.id, req.type, req.state, req.subject_id)
    transition(s, ctx, cast(Request, columns), "in_progress", actor, note)
    return columns.state


def write_states(s: Session, states: dict[str, str]) -> None:
    """The requests' new states (by id), one UPDATE per chunk instead of an ORM flush."""
    rows = [{"_id": rid, "state": state} for rid, state in states.items()]
    conn = s.connection()
    for start in range(0, len(rows), 500):
        conn.execute(_STATE, rows[start:start + 500])


def intend(service: Requests, by_request: dict[str, dict[str, dict[str, int]]]) -> None:
    """:meth:`Requests.intend_many` in Core statements: what each request's erasure will
    change kept on it, one read and one UPDATE per chunk, committed before the dataset's
    changes commit."""
    ids = list(by_request)
    with service.transaction() as s:
        conn = s.connection()
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            outcomes = dict(conn.execute(select(_REQUESTS.c.id, _REQUESTS.c.outcome).where(
                _REQUESTS.c.id.in_(part))).tuples().all())
            for rid in part:
                if rid not in outcomes:
                    raise NotFound(f"no request {rid!r}")
            conn.execute(_INTENDED, [{"_id": rid, "outcome": _with_intended(
                outcomes[rid], by_request[rid])} for rid in part])


def record_answers(service: Requests, s: Session, started: Sequence[jobs.Job],
                   done: dict[str, dict[str, Any]], actor: str, prove: bool, *,
                   notices: bool) -> list[RunResult]:
    """The answers of ``started`` (their datasets' side ``done``) recorded in ``s``: each
    person forgotten, their request completed and told, their follow-ups left (the
    notices run here with ``notices``); the results, with the follow-ups still to run."""
    ctx = service.ctx
    answers, stored = _read(s, started, done, service)
    erase.forget_many(s, ctx.consent, started, {a.req.id: a.outcome for a in answers},
                      ctx.clock())
    wanted = _settled(service, s, answers, prove)
    letters: list[Mail] = []
    for a in answers:
        a.closed_at = ctx.clock()
        transition(s, ctx, a.req, "completed", actor, fulfil.summary(a.job.type, a.outcome))
        if a.to is not None:
            letters.append(_letter(a.req, "completed", "Forespørselen din er behandlet / "
                                   "Your request is done", fulfil.letter(a.job.type, a.outcome),
                                   a.to))
    queue_many(s, ctx.clock, letters, stored=stored)
    if notices:
        _notices(service, s, answers, wanted, actor)
    conn = s.connection()
    for start in range(0, len(answers), 500):
        conn.execute(_ANSWER, [{"_id": a.req.id, "state": a.req.state, "outcome": a.outcome,
                                "closed_at": a.closed_at} for a in answers[start:start + 500]])
    left: dict[str, list[int]] = {}
    for w, fid in zip(wanted, _insert_follow_ups(s, wanted), strict=True):
        if w.ran is None:
            left.setdefault(w.request_id, []).append(fid)
    return [RunResult(a.req.id, "completed", a.outcome, follow_ups=tuple(left.get(a.req.id, ())))
            for a in answers]


def _read(s: Session, started: Sequence[jobs.Job], done: dict[str, dict[str, Any]],
          service: Requests) -> tuple[list[_Answer], set[str]]:
    """Each request's columns (one statement per chunk), its outcome so far and whom to
    tell; and the addresses among those read from stored identities (normalised when
    stored: :func:`queue_many` need not check them again)."""
    ctx = service.ctx
    ids = [j.request_id for j in started]
    read = {row.id: row for start in range(0, len(ids), 500) for row in s.execute(
        select(_REQUESTS.c.id, _REQUESTS.c.type, _REQUESTS.c.state, _REQUESTS.c.subject_id,
               _REQUESTS.c.opened_by_subject_id)
        .where(_REQUESTS.c.id.in_(ids[start:start + 500])))}
    # Whom to tell: the person's first address as their job read it (the walk used it
    # too), read again only for a guardian or admin who opened the request.
    opened_for = [rid for rid in ids if read[rid].opened_by_subject_id]
    to = addressees(s, preload(s, opened_for, sealed=False)) if opened_for else {}
    stored = {address for address in to.values() if address is not None}
    answers: list[_Answer] = []
    for j in started:
        row = read[j.request_id]
        if j.request_id not in to:
            emails = j.identities.get("email") or []
            to[j.request_id] = emails[0] if emails else None
            stored.update(emails[:1])
        # What transition(), _record() and _letter() read of a request and the state they
        # set, in a plain object: a transient ORM Request costs more (its attributes are
        # instrumented), and none is flushed (the UPDATE below records the answer).
        req = cast(Request, _Columns(row.id, row.type, row.state, row.subject_id))
        answers.append(_Answer(req, j, done[j.request_id], fulfil.finish(
            s, ctx.consent, ctx.clock, j, done[j.request_id], forgotten=True),
            to[j.request_id]))
    return answers, stored


def _settled(service: Requests, s: Session, answers: list[_Answer], prove: bool
             ) -> list[_Wanted]:
    """The tasks' answers kept in each outcome (as :meth:`Requests.complete_many` keeps
    them) and the follow-ups each answer leaves, in order."""
    found = tasks.tasks_of_many(s, [a.req.id for a in answers])
    wanted: list[tuple[str, str, dict[str, Any]]] = []
    for a in answers:
        done_tasks = found.get(a.req.id, [])
        tasks.settle(done_tasks)
        if done_tasks:
            a.outcome["tasks"] = [{"dataset": t["dataset"], "kind": t["kind"],
                                   "note": t["note"], "done_at": t["done_at"]}
                                  for t in tasks.view(done_tasks)]
        wanted += [(a.req.id, kind, input)
                   for kind, input in service._wanted(a.job, a.done, a.outcome, prove)]
    for _, kind, _ in wanted:
        if kind not in followups.KINDS:
            raise Conflict(f"unknown follow-up {kind!r}; one of {', '.join(followups.KINDS)}")
    clock = service.ctx.clock
    return [_Wanted(rid, kind, input, clock()) for rid, kind, input in wanted]


def _notices(service: Requests, s: Session, answers: list[_Answer], wanted: list[_Wanted],
             actor: str) -> None:
    """Queue the Art. 19 notices of ``wanted`` and record each as done, as
    :meth:`Requests.notices_in` does for follow-ups just scheduled."""
    ctx = service.ctx
    mine = [w for w in wanted if w.kind == "notices"]
    started_at = [ctx.clock() for _ in mine]
    found = followups.notify_many(s, ctx.clock, ctx.manifest,
                                  [(w.request_id, dict(w.input)) for w in mine])
    by_id = {a.req.id: a for a in answers}
    for w, began in zip(mine, started_at, strict=True):
        a, result = by_id[w.request_id], found[w.request_id]
        a.outcome = {**a.outcome, "notices": result["notices"]}
        told = count(len(result["notices"]), "recipient")
        w.ran = {"state": "done", "attempts": 1, "started_at": began,
                 "finished_at": ctx.clock(), "result": result, "input": None}
        _record(s, ctx, a.req, a.req.state, a.req.state, actor,
                f"Art. 19 notices queued for {told}", action="request.notices")


def _insert_follow_ups(s: Session, wanted: list[_Wanted]) -> list[int]:
    """Write the follow-ups, a multi-row INSERT per chunk; their ids, in order. Each row
    is found again by its (request, kind), one of each per request: asked to return the
    ids in the rows' order, SQLAlchemy inserts one row at a time on SQLite."""
    rows = [{"request_id": w.request_id, "kind": w.kind, "created_at": w.created_at,
             "error": None, **(w.ran or {"state": "pending", "attempts": 0, "started_at": None,
                                         "finished_at": None, "result": None,
                                         "input": w.input})} for w in wanted]
    keys = [(w.request_id, w.kind) for w in wanted]
    if len(set(keys)) != len(keys):
        raise Conflict("a request cannot have two follow-ups of one kind in one answer")
    by_key: dict[tuple[str, str], int] = {}
    conn = s.connection()
    for start in range(0, len(rows), 500):
        by_key.update(((rid, kind), fid) for fid, rid, kind in conn.execute(
            insert(_FOLLOW_UPS).returning(_FOLLOW_UPS.c.id, _FOLLOW_UPS.c.request_id,
                                          _FOLLOW_UPS.c.kind), rows[start:start + 500]))
    return [by_key[key] for key in keys]
