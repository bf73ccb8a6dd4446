"""Work that follows a request's answer: the proof of erasure (GDPR Art. 17) and the
Art. 19 notices to recipients, each kept with its state and result.

A follow-up is recorded in the transaction that completes the request, so it exists if
and only if the answer was recorded. With a job queue (PostgreSQL, ``PERSONVERN_JOBS=
worker``) it is queued there in that same transaction too, and procrastinate retries it
when it fails; otherwise the process that answered runs it right after the answer. The
same code runs it either way (``Requests.run_follow_up``), and the request shows its state.
A run claims it as a new attempt and records its result only while that claim holds. The
claim is a lease: the proof renews it (``heartbeat_at``) as its search goes from table to
table, and one not heard from for ``STUCK_AFTER`` may be taken over (its process presumed
dead); should it go on after all, it stops at its next renewal and records nothing, so a
proof or the notices are recorded once:

    pending ─> running ─> done
                  │  ^
                  v  │ retried
                failed        (the error kept; a proof is never "clean" before it ran)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.errors import Conflict, NotFound
from personvern.manifest.model import Manifest
from personvern.requests import notices
from personvern.requests.datamap import SqlDataset
from personvern.requests.jobs import plain
from personvern.requests.proof import engine_leftovers, held_until_delivered, prove_erased
from personvern.requests.tables import FollowUp
from personvern.storage import queue as job_queue
from personvern.storage.models import as_utc

log = logging.getLogger(__name__)

KINDS = ("proof", "notices")
# When ``run_due`` takes over a follow-up the answering process did not finish.
LEFT_AFTER = timedelta(minutes=5)
# A running one not heard from for this long is presumed dead and may be taken over.
STUCK_AFTER = timedelta(minutes=30)
# How often a running proof renews its lease: at most one UPDATE per 5 minutes of search
# (none for a proof shorter than that), and a table's search may take up to the other 25.
RENEW_EVERY = timedelta(minutes=5)
# The queued job that runs a follow-up (personvern.jobs.worker carries it out).
TASK = "request.follow_up"


def schedule(session: Session, clock: Clock, request_id: str, kind: str,
             input: dict[str, Any], *, queue: bool) -> tuple[FollowUp, int | None]:
    """Record a follow-up as pending and, with ``queue`` and a job queue here, queue its
    job in the session's transaction; the row and the job's id (None: run it in process)."""
    [made] = schedule_many(session, clock, [(request_id, kind, input)], queue=queue)
    return made


def schedule_many(session: Session, clock: Clock,
                  wanted: Sequence[tuple[str, str, dict[str, Any]]], *, queue: bool
                  ) -> list[tuple[FollowUp, int | None]]:
    """:func:`schedule` for several (request id, kind, input), in order; for a batch, one
    multi-row INSERT per chunk, each row's id read back with it."""
    for _, kind, _ in wanted:
        if kind not in KINDS:
            raise Conflict(f"unknown follow-up {kind!r}; one of {', '.join(KINDS)}")
    keys = [(request_id, kind) for request_id, kind, _ in wanted]
    made: list[FollowUp] = []
    if len(wanted) > 1 and len(set(keys)) == len(keys):
        # The ORM inserts one row at a time on SQLite when it must read the ids back in
        # order; each row is found again by its (request, kind) instead.
        rows = [{"request_id": request_id, "kind": kind, "state": "pending", "attempts": 0,
                 "created_at": clock(), "input": input} for request_id, kind, input in wanted]
        by_key: dict[tuple[str, str], FollowUp] = {}
        for start in range(0, len(rows), 500):
            by_key.update(((fu.request_id, fu.kind), fu) for fu in session.scalars(
                insert(FollowUp).returning(FollowUp), rows[start:start + 500]))
        made = [by_key[key] for key in keys]
    else:
        for request_id, kind, input in wanted:
            fu = FollowUp(request_id=request_id, kind=kind, state="pending", attempts=0,
                          created_at=clock(), input=input)
            session.add(fu)
            made.append(fu)
        session.flush()
    jobs: list[int | None] = [None] * len(made)
    if queue and made and job_queue.has_queue(session):
        # One request's jobs one after another (its run, its proof, its notices).
        jobs = [job_queue.defer(session, TASK, {"request_id": fu.request_id,
                                                "follow_up": fu.id},
                                lock=f"request:{fu.request_id}") for fu in made]
    return list(zip(made, jobs, strict=True))


class TakenOver(Conflict):
    """The run's claim no longer holds: another run took the follow-up over (or it is
    done); this run stops and records nothing."""


class Lease:
    """A claim's hold on its follow-up, renewed by the run as its work goes on, each time
    in a short transaction of its own on the engine's database (never the caller's)."""

    def __init__(self, bind: Engine, clock: Clock, follow_up_id: int, token: int,
                 renewed: datetime) -> None:
        self.bind, self.clock, self.id, self.token = bind, clock, follow_up_id, token
        self.renewed = renewed

    def renew(self) -> None:
        """Say the run is alive, when ``RENEW_EVERY`` has passed since it last did; raise
        TakenOver when its claim no longer holds. A renewal the database refuses (locked,
        unreachable) is tried again at the next step: the lease still runs till then."""
        now = self.clock()
        if as_utc(now) - as_utc(self.renewed) < RENEW_EVERY:
            return
        try:
            with self.bind.begin() as conn:
                held = conn.execute(update(FollowUp).where(
                    FollowUp.id == self.id, FollowUp.state == "running",
                    FollowUp.attempts == self.token).values(heartbeat_at=now)).rowcount
        except DBAPIError as exc:
            log.warning("follow-up %s: its lease could not be renewed now: %s", self.id, exc)
            return
        if held != 1:
            raise TakenOver(f"follow-up {self.id} was taken over by another run")
        self.renewed = now


@dataclass(frozen=True)
class Claim:
    """A follow-up claimed to run: ``token`` is the attempt it was claimed as, checked when
    the result is recorded, so a run that was taken over records nothing."""

    id: int
    token: int
    kind: str
    request_id: str
    input: dict[str, Any]
    # The claim's hold, which the proof renews as it searches (None: nothing to renew).
    lease: Lease | None = field(default=None, compare=False)


def _lock(session: Session, follow_up_id: int) -> FollowUp | None:
    """The follow-up read under a write lock held to the commit: its row's on PostgreSQL,
    the database's on SQLite (taken before the read, so the read is the latest)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("UPDATE request_follow_ups SET id = id WHERE 0")
    return session.get(FollowUp, follow_up_id, with_for_update=True, populate_existing=True)


def claim(session: Session, clock: Clock, follow_up_id: int, *,
          take_over: bool = False) -> Claim | str:
    """Mark the follow-up running as a new attempt (locked against a second claimer); its
    claim, or the state it is in when it is not to run now: ``done`` (it runs once however
    often it is asked for) or ``running`` (another run holds it, until it is not heard from
    for ``STUCK_AFTER``; then it is taken over, and the late run records nothing). The
    claim carries its lease (:class:`Lease`), which the proof renews as it goes.
    ``take_over``: take a running one over at once (the owner runs the request again
    after a crash: its process is gone, and waiting would leave the proof undone)."""
    fu = _lock(session, follow_up_id)
    if fu is None:
        raise NotFound(f"no follow-up {follow_up_id}")
    now = clock()
    if fu.state == "done":
        return "done"
    heard = last_heard(fu)
    if fu.state == "running" and not take_over and heard is not None \
            and heard + STUCK_AFTER > as_utc(now):
        return "running"
    fu.state, fu.started_at, fu.heartbeat_at, fu.finished_at = "running", now, now, None
    fu.attempts += 1
    bind = session.get_bind()
    lease = Lease(bind.engine if isinstance(bind, Connection) else bind, clock, fu.id,
                  fu.attempts, now)
    return Claim(fu.id, fu.attempts, fu.kind, fu.request_id, dict(fu.input or {}), lease)


def last_heard(fu: FollowUp) -> datetime | None:
    """When a running follow-up's run last said it is alive: its claim or its latest
    renewal, whichever is later (None: it never started)."""
    times = [as_utc(t) for t in (fu.started_at, fu.heartbeat_at) if t is not None]
    return max(times, default=None)


def held(session: Session, claim: Claim) -> FollowUp | None:
    """The follow-up, locked, if ``claim`` still holds it (running as that attempt): the
    one run that may record a result or a failure; None when it was taken over or done."""
    fu = _lock(session, claim.id)
    if fu is None or fu.state != "running" or fu.attempts != claim.token:
        return None
    return fu


def succeed(session: Session, clock: Clock, fu: FollowUp, result: dict[str, Any]) -> None:
    """Done, with what it found; what it needed to know of the person goes."""
    fu.state, fu.finished_at, fu.result, fu.error, fu.input = "done", clock(), result, None, None


def fail(session: Session, clock: Clock, fu: FollowUp, error: str) -> None:
    """Failed, with the error; kept for the next attempt (its input stays)."""
    fu.state, fu.finished_at, fu.error = "failed", clock(), error[:2000]


def of_request(session: Session, request_id: str) -> list[FollowUp]:
    """The request's follow-ups, oldest first."""
    return list(session.scalars(select(FollowUp).where(FollowUp.request_id == request_id)
                                .order_by(FollowUp.id)))


def unfinished(follow_ups: Sequence[FollowUp]) -> list[int]:
    """The ids of those not done (pending, or failed and waiting to be run again)."""
    return [f.id for f in follow_ups if f.state != "done"]


def left_behind(session: Session, now: datetime, limit: int = 100) -> list[tuple[str, int]]:
    """(request id, follow-up id) of those a process left: pending for over
    ``LEFT_AFTER`` (the process that answered was killed before it ran them), running and
    not heard from for ``STUCK_AFTER`` (killed while running), failed and past their
    back-off."""
    rows = session.scalars(select(FollowUp).where(FollowUp.state != "done")
                           .order_by(FollowUp.id).limit(limit * 4))
    out: list[tuple[str, int]] = []
    for f in rows:
        since = (last_heard(f) if f.state == "running" else None) \
            or as_utc(f.finished_at or f.started_at or f.created_at)
        wait = {"pending": LEFT_AFTER, "running": STUCK_AFTER}.get(
            f.state, notices.backoff(f.attempts))
        if since + wait <= now:
            out.append((f.request_id, f.id))
    return out[:limit]


def view(follow_ups: Sequence[FollowUp]) -> list[dict[str, Any]]:
    """What a person reading the request sees of each: never the input (identities)."""
    return [{"id": f.id, "kind": f.kind, "state": f.state, "attempts": f.attempts,
             "created_at": f.created_at.isoformat(),
             "started_at": f.started_at.isoformat() if f.started_at else None,
             "heartbeat_at": f.heartbeat_at.isoformat() if f.heartbeat_at else None,
             "finished_at": f.finished_at.isoformat() if f.finished_at else None,
             "result": f.result, "error": f.error} for f in follow_ups]


# ---- the work ----------------------------------------------------------------------------

def proof_input(identities: dict[str, list[str]], kept: dict[str, dict[str, set[Any]]]
                ) -> dict[str, Any]:
    """What the proof needs once the engine has forgotten the person."""
    return {"identities": identities,
            "kept": {ds: {t: [plain(k) for k in keys] for t, keys in tables.items()}
                     for ds, tables in kept.items()}}


def prove(datasets: Sequence[SqlDataset], input: dict[str, Any],
          lease: Lease | None = None) -> dict[str, Any]:
    """Search every dataset for what is left of the person (no engine transaction open),
    renewing the claim's ``lease`` between tables when there is one (TakenOver when
    another run took it over: this one stops searching)."""
    kept = {ds: {t: set(keys) for t, keys in tables.items()}
            for ds, tables in (input.get("kept") or {}).items()}
    return prove_erased(datasets, input.get("identities") or {}, kept,
                        renew=lease.renew if lease is not None else None).as_dict()


def engine_side(session: Session, fu: FollowUp, subject_id: str | None,
                input: dict[str, Any], proof: dict[str, Any]) -> dict[str, Any]:
    """The proof with what the engine itself still holds of the person (should be none),
    and what it keeps only until delivered (``held``: said, never counted as clean)."""
    left = engine_leftovers(session, input.get("identities") or {})
    held = held_until_delivered(session, fu.request_id, subject_id, fu.id)
    return {**proof, "engine": left, "clean": bool(proof["clean"]) and not left,
            "held": held}


def notify(session: Session, clock: Clock, manifest: Manifest, request_id: str,
           input: dict[str, Any]) -> dict[str, Any]:
    """Queue the Art. 19 notices of the change (idempotent: a retry adds none twice)."""
    wanted = set(input.get("purposes") or ())
    purposes = [p for p in manifest.purposes if p.id in wanted]
    queued = notices.queue_notices(session, clock, manifest, request_id, input["action"],
                                   purposes, input.get("identities") or {})
    told = notices.told(session, request_id)
    return {"notices": [{"recipient": n["recipient"], "channel": n["channel"]} for n in told],
            "queued_now": len(queued)}


def notify_many(session: Session, clock: Clock, manifest: Manifest,
                wanted: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """:func:`notify` for several (request id, input) (a batch), the notices read and
    written together; each request's result as :func:`notify` gives it."""
    by_id = {p.id: p for p in manifest.purposes}
    made = notices.queue_notices_many(session, clock, manifest, [
        (rid, input["action"],
         [by_id[p] for p in by_id if p in set(input.get("purposes") or ())],
         input.get("identities") or {}) for rid, input in wanted])
    return {rid: {"notices": [{"recipient": r, "channel": c} for r, c in told],
                  "queued_now": new} for rid, (told, new) in made.items()}
