"""A batch's answers (:mod:`personvern.requests.batch`) recorded set-based, with Core
statements: the rows, history lines and audit events :meth:`Requests.complete_many` and
:meth:`Requests.notices_in` leave for each request, without loading or flushing an ORM
object per request.

Per chunk: one read of the requests, one UPDATE (executemany) recording every answer,
one INSERT of the follow-ups; the Art. 19 notices the answers leave to this process are
queued first and their follow-ups written done, as :meth:`Requests.notices_in` would
leave them, so they need no second UPDATE. With follow-ups queued for a worker
(``Requests.later``) the ORM path records them instead: each needs its job deferred.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from personvern.errors import Conflict, NotFound
from personvern.mail.outbox import Mail, queue_many
from personvern.requests import erase, followups, fulfil, jobs, tasks
from personvern.requests.engine import (
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

# What an erasure will change, kept on its request (see intend).
_INTENDED = update(_REQUESTS).where(_REQUESTS.c.id == bindparam("_id")).values(
    outcome=bindparam("outcome"))
# One answer recorded: the request's new state, outcome and closing time, by id.
_ANSWER = update(_REQUESTS).where(_REQUESTS.c.id == bindparam("_id")).values(
    state=bindparam("state"), outcome=bindparam("outcome"),
    closed_at=bindparam("closed_at"))


@dataclass
class _Answer:
    """One request's answer as it is built: the columns read, and what is recorded."""

    req: Request  # transient: the columns read, for transition(); never added to the session
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
               _REQUESTS.c.opened_by, _REQUESTS.c.opened_by_subject_id)
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
        req = Request(id=row.id, type=row.type, state=row.state, subject_id=row.subject_id,
                      opened_by=row.opened_by, opened_by_subject_id=row.opened_by_subject_id)
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
    """Write the follow-ups, a multi-row INSERT per chunk; their ids, in order."""
    rows = [{"request_id": w.request_id, "kind": w.kind, "created_at": w.created_at,
             "error": None, **(w.ran or {"state": "pending", "attempts": 0, "started_at": None,
                                         "finished_at": None, "result": None,
                                         "input": w.input})} for w in wanted]
    ids: list[int] = []
    conn = s.connection()
    for start in range(0, len(rows), 500):
        ids += conn.execute(insert(_FOLLOW_UPS).returning(
            _FOLLOW_UPS.c.id, sort_by_parameter_order=True), rows[start:start + 500]).scalars()
    return ids
