"""Batch erasure (GDPR Art. 17): many erasure requests carried out together, set-based.

Each person keeps their own request, audit record, answer and proof, exactly as one
erasure at a time would leave them; what is shared is the work. Per chunk of requests:
one engine transaction starts them all; per dataset, one transaction makes every
person's plan (legal holds and keep rules decided as for one erasure,
:func:`personvern.requests.erase.erase_many`) and runs them as one DELETE or UPDATE per
table (chunked by key, like the retention sweep). Once every chunk is erased, the files
are scrubbed once for the whole batch (SQLite's VACUUM rewrites the whole file, so once
per chunk rewrote it again and again), in a thread of its own while the first chunk's
answers are prepared; per chunk, one engine transaction forgets them all (a statement per
table), records each answer and queues the Art. 19 notices, leaving each proof as a
follow-up after the answer. No answer commits before the scrub has finished.

A request that cannot start (unknown, not an erasure, not verified, closed) is reported
and the rest go on. A dataset that cannot be reached leaves every request of the chunk
waiting with the error, nothing recorded as erased (what a dataset that did commit
changed is kept as intended, as for one erasure, and a rerun finishes it).
Requests with datasets outside the engine's reach (an app's callback, a processor) run
one at a time (``Requests.run``): they wait on others.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from personvern.audit import append_audit, require_reason
from personvern.errors import Conflict, InvalidInput, PersonvernError, StorageError
from personvern.requests import answers, erase, fulfil, jobs, tasks
from personvern.requests.engine import (
    CLOSED,
    Requester,
    Requests,
    RunResult,
    addressees,
    get_request,
    open_request,
    preload,
    recording_in_bulk,
)
from personvern.requests.tables import Request
from personvern.storage.engine import rewrites, scrub_erased, storage_errors

# Requests per chunk: one engine transaction, one transaction per dataset, for each.
CHUNK = 500
MAX_BATCH = 10_000


@dataclass
class BatchResult:
    """What a batch did: each request completed or waiting, and what could not start."""

    completed: list[RunResult] = field(default_factory=list)
    waiting: list[RunResult] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)  # ref, error

    def as_dict(self) -> dict[str, Any]:
        """Plain data: ids and errors, never a person's identities."""
        return {"completed": [r.request_id for r in self.completed],
                "waiting": [{"id": r.request_id, "error": r.error} for r in self.waiting],
                "refused": self.refused}


def open_erasures(service: Requests, people: Sequence[str], *, verified_by: str,
                  channel: str = "email", actor_note: str | None = None
                  ) -> tuple[list[str], list[dict[str, str]]]:
    """An erasure request per person, verified by the privacy owner (``verified_by`` says
    how); the ids, and the people who could not be named (unknown: the rest go on)."""
    if len(people) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH:,} people in one batch")
    by = Requester("owner", verified_by=verified_by)
    details = {"note": actor_note} if actor_note else None
    opened: list[str] = []
    refused: list[dict[str, str]] = []
    for ref in people:
        try:
            with service.transaction() as s:
                opened.append(open_request(s, service.ctx, "erasure", subject=ref, by=by,
                                           channel=channel, details=details).request.id)
        except PersonvernError as exc:
            refused.append({"ref": ref, "error": str(exc)})
    return opened, refused


def erase_batch(service: Requests, request_ids: Sequence[str], *, reason: str,
                actor: str = "owner", prove: bool = True, vacuum: bool = False,
                follow_up: bool = True, chunk: int = CHUNK) -> BatchResult:
    """Carry out the erasure requests ``request_ids`` together, chunk by chunk."""
    why = require_reason(reason, "run the requests now")
    if len(request_ids) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH:,} requests in one batch")
    result = BatchResult()
    alone = bool(tasks.outside(service.ctx.manifest))
    erased: list[tuple[list[jobs.Job], dict[str, dict[str, Any]]]] = []
    scrub: dict[Engine, set[str]] = {}
    with young_objects_only():
        try:
            for start in range(0, len(request_ids), max(chunk, 1)):
                part = list(dict.fromkeys(request_ids[start:start + chunk]))
                if alone:  # they wait on apps and processors: one at a time, as ever
                    for rid in part:
                        _one(service, rid, why, actor, prove, vacuum, follow_up, result)
                    continue
                got = _chunk(service, part, why, actor, prove, vacuum, follow_up, result,
                             scrub)
                if got is not None:
                    erased.append(got)
        finally:  # a later chunk that failed leaves the earlier ones scrubbed and answered
            _scrub_and_answer(service, erased, scrub, actor, prove, vacuum, follow_up,
                              result)
    return result


def _scrub_and_answer(service: Requests,
                      erased: list[tuple[list[jobs.Job], dict[str, dict[str, Any]]]],
                      scrub: dict[Engine, set[str]], actor: str, prove: bool, vacuum: bool,
                      follow_up: bool, result: BatchResult) -> None:
    """Leave no byte of the erased rows in the datasets' files, once for the whole batch
    (SQLite's VACUUM rewrites the file whole, whatever a chunk changed), and record each
    chunk's answers, the first prepared while the scrub runs but committed only after it
    finished: nobody is told they are erased while a copy may still be there."""
    scrubbing = _Scrubbing(service, scrub, vacuum)
    try:
        for n, (started, done) in enumerate(erased):
            try:
                _answer(service, started, done, actor, prove, follow_up, result,
                        scrubbing.wait)
            except _ScrubFailed as failed:  # nobody answered: every chunk waits
                _scrub_failed(service, [chunk for chunk, _ in erased[n:]], actor,
                              failed.error, result)
                return
            except Exception as exc:  # the chunks after it wait too, their rows erased
                with contextlib.suppress(Exception):
                    for later, _ in erased[n + 1:]:
                        _wait_all(service, later, actor,
                                  f"could not be recorded: {_line(exc)}", None)
                raise
        scrubbing.wait()  # no chunk to answer: the scrub's failure is still reported
    except _ScrubFailed as failed:
        _scrub_failed(service, [], actor, failed.error, result)
    finally:
        scrubbing.join()


class _ScrubFailed(Exception):
    """The batch's scrub failed (``error``): no answer may be recorded."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _Scrubbing:
    """The batch's scrub of the datasets' files, in a thread of its own (SQLite's VACUUM
    runs without Python's lock), so the answers are prepared meanwhile; :meth:`wait`
    before any answer commits. A dataset in the engine's own database is scrubbed before
    the answers instead: its VACUUM would wait on the answers' open write transaction,
    which waits on it."""

    def __init__(self, service: Requests, scrub: dict[Engine, set[str]], vacuum: bool
                 ) -> None:
        self._scrub, self._vacuum = scrub, vacuum
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        bind = service.sessions.kw.get("bind")
        own = bind.url.render_as_string() if isinstance(bind, Engine) else None
        if any(engine.url.render_as_string() == own for engine in scrub):
            self._run()
        elif scrub:
            self._thread = threading.Thread(target=self._run, name="personvern-scrub",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            for engine, tables in self._scrub.items():
                with storage_errors(engine.url):
                    scrub_erased(engine, sorted(tables), vacuum=self._vacuum)
        except BaseException as exc:  # handed to the thread that answers, by wait()
            self._error = exc

    def join(self) -> None:
        """Until the scrub has finished (or failed)."""
        if self._thread is not None:
            self._thread.join()

    def wait(self) -> None:
        """Until the scrub has finished; :class:`_ScrubFailed` if it failed."""
        self.join()
        if self._error is not None:
            raise _ScrubFailed(self._error)


def _scrub_failed(service: Requests, chunks: list[list[jobs.Job]], actor: str,
                  error: BaseException, result: BatchResult) -> None:
    """Every chunk not answered waits with the scrub's error; one that is not the
    storage's (a bug) is raised after, as a failed erasure's is."""
    if isinstance(error, StorageError):
        service.close()  # reconnect next time: the server may be back
        for started in chunks:
            _wait_all(service, started, actor,
                      f"a dataset could not be reached: {_line(error)}", result)
        return
    with contextlib.suppress(Exception):
        for started in chunks:
            _wait_all(service, started, actor, f"could not be carried out: {_line(error)}",
                      None)
    raise error


def _scrub_later(scrub: dict[Engine, set[str]]) -> erase.Scrub:
    """What ``erase_many`` calls to scrub a dataset: a scrub that rewrites files is noted
    in ``scrub`` for the batch's end; one that only names what is left runs now."""
    def note(engine: Engine, tables: Iterable[str], *, vacuum: bool = False) -> list[str]:
        if not rewrites(engine, vacuum=vacuum):
            return scrub_erased(engine, tables, vacuum=vacuum)
        scrub.setdefault(engine, set()).update(tables)
        return []
    return note


# Allocations (net of frees) between the cycle collector's youngest collections while a
# batch runs; Python's default is 700. A 200-person batch makes hundreds of thousands of
# short-lived ORM objects: at 700 the collector ran some 86 times in it, 0.03-0.05 s of its
# 0.3-0.5 CPU seconds, mostly rescanning objects the batch still uses. At 20,000 it runs
# once or not at all; cycles the batch leaves are still freed, a little later.
YOUNG_THRESHOLD = 20_000


class _Collector:
    """How many batches (or sweeps) run now, and the collector's thresholds before the
    first."""

    lock = threading.Lock()
    batches = 0
    saved = (700, 10, 10)


@contextlib.contextmanager
def young_objects_only() -> Iterator[None]:
    """Within the block (a batch, a retention sweep), Python's cycle collector scans only
    objects made in it: those the process held before (its modules, the manifest,
    SQLAlchemy's mappings: some 100,000) are set aside (``gc.freeze``) and given back at
    its end. A batch makes enough objects
    to set off a full collection, which scanned them all again: 0.1-0.3 s of a 200-person
    batch's 0.7-1 s on SQLite (docs/performance.md). Its youngest collections run every
    :data:`YOUNG_THRESHOLD` allocations instead of 700. Cycles made in the block are still
    collected; another thread's new objects too. Batches in several threads at once:
    the first sets this up and the last gives it back (a sweep counts as one)."""
    with _Collector.lock:
        if _Collector.batches == 0:
            _Collector.saved = gc.get_threshold()
            first, *older = _Collector.saved
            gc.set_threshold(max(first, YOUNG_THRESHOLD), *older)
        _Collector.batches += 1
        gc.freeze()
    try:
        yield
    finally:
        with _Collector.lock:
            _Collector.batches -= 1
            if _Collector.batches == 0:
                gc.set_threshold(*_Collector.saved)
                gc.unfreeze()


def _one(service: Requests, rid: str, why: str, actor: str, prove: bool, vacuum: bool,
         follow_up: bool, result: BatchResult) -> None:
    try:
        done = service.run(rid, reason=why, actor=actor, prove=prove, vacuum=vacuum,
                           follow_up=follow_up)
    except PersonvernError as exc:
        result.refused.append({"ref": rid, "error": str(exc)})
        return
    (result.completed if done.state == "completed" else result.waiting).append(done)


def _start(service: Requests, ids: list[str], why: str, actor: str, result: BatchResult
           ) -> tuple[list[jobs.Job], list[str]]:
    """Start every request that can start, in one transaction; the jobs, and the ids that
    carry a partial result (an earlier run's, waiting on a task) to run one at a time."""
    started: list[jobs.Job] = []
    partial: list[str] = []
    # Reads and writes per person, flushed together at the end (not before each read).
    with service.transaction() as s, recording_in_bulk(s):
        held = preload(s, ids)  # noqa: F841
        ready: list[tuple[str, Request]] = []
        for ref in ids:
            try:
                req = get_request(s, ref)
                if req.type != "erasure":
                    raise Conflict(f"request {req.id} is {req.type}, not an erasure")
                if req.state in CLOSED:
                    raise Conflict(f"request {req.id} is already {req.state}")
                if req.state in ("received", "verifying"):
                    raise Conflict(f"request {req.id} is not verified yet ({req.state})")
            except PersonvernError as exc:
                result.refused.append({"ref": ref, "error": str(exc)})
                continue
            if (req.outcome or {}).get("partial") is not None:
                partial.append(req.id)
            else:
                ready.append((ref, req))
        # Reads only, for all at once: a refusal leaves nothing behind.
        snapshots = jobs.snapshot_many(s, [req for _, req in ready])
        states: dict[str, str] = {}
        for ref, req in ready:
            job = snapshots[req.id]
            if isinstance(job, PersonvernError):
                result.refused.append({"ref": ref, "error": str(job)})
                continue
            append_audit(s, service.ctx.clock, actor, "request.run", f"request:{req.id}",
                         {"reason": why, "batch": len(ids)})
            # Named twice (by id and by prefix): in progress since its first time.
            state = None if req.id in states else answers.begin(
                s, service.ctx, req, actor, "work started (batch)")
            if state is not None:
                states[req.id] = state
            started.append(job)
        answers.write_states(s, states)
    return started, partial


def _chunk(service: Requests, ids: list[str], why: str, actor: str, prove: bool,
           vacuum: bool, follow_up: bool, result: BatchResult, scrub: dict[Engine, set[str]]
           ) -> tuple[list[jobs.Job], dict[str, dict[str, Any]]] | None:
    """Start the chunk's requests and erase their rows in every dataset, the files'
    scrub noted in ``scrub``; the jobs and what was done, to answer after the scrub."""
    started, partial = _start(service, ids, why, actor, result)
    for rid in partial:
        _one(service, rid, why, actor, prove, vacuum, follow_up, result)
    if not started:
        return None
    env = jobs.Env(service.ctx.manifest, service.ctx.jurisdiction, service.ctx.clock,
                   Path.cwd(), vacuum=vacuum)
    try:
        done = erase.erase_many(started, env, service.datasets(),
                                intend=lambda counts: answers.intend(service, counts),
                                scrub=_scrub_later(scrub))
    except StorageError as exc:
        service.close()  # reconnect next time: the server may be back
        error = f"a dataset could not be reached: {_line(exc)}"
        _wait_all(service, started, actor, error, result)
        return None
    except Exception as exc:  # a wrong data map, a bug: kept waiting with the error
        _wait_all(service, started, actor, f"could not be carried out: {_line(exc)}", None)
        raise
    return started, done


def _answer(service: Requests, started: list[jobs.Job], done: dict[str, dict[str, Any]],
            actor: str, prove: bool, follow_up: bool, result: BatchResult,
            scrubbed: Callable[[], None]) -> None:
    """Record a chunk's answers (committed once ``scrubbed`` returns), then run the
    follow-ups left to this process."""
    try:
        try:
            completed = _finish(service, started, done, actor, prove, scrubbed,
                                notices=follow_up)
        except _ScrubFailed:
            raise
        except Exception:  # the notices, or the answer: the answer alone, as ever
            if not follow_up:
                raise
            completed = _finish(service, started, done, actor, prove, scrubbed,
                                notices=False)
    except _ScrubFailed:
        raise
    except Exception as exc:  # the datasets' side is done and re-runs safely: say so
        with contextlib.suppress(Exception):
            _wait_all(service, started, actor, f"could not be recorded: {_line(exc)}", None)
        raise
    if follow_up and any(r.follow_ups for r in completed):
        completed = service.run_follow_ups_many(completed, actor=actor)
    result.completed += completed


def _finish(service: Requests, started: list[jobs.Job], done: dict[str, dict[str, Any]],
            actor: str, prove: bool, scrubbed: Callable[[], None], *, notices: bool
            ) -> list[RunResult]:
    """One engine transaction: everyone forgotten (a statement per table), their keys
    destroyed, each answer recorded and each person told; with ``notices``, the Art. 19
    notices the answers leave to this process are queued in it too (a follow-up is
    recorded in the answer's transaction, so it may as well run there: no second
    transaction reading the requests and follow-ups again). The results keep the
    follow-ups still to run (the proofs). Nothing commits before ``scrubbed`` returns."""
    with service.transaction() as s:
        with recording_in_bulk(s):
            if service.later:  # each follow-up's job deferred with it: the ORM's way
                completed = _record(service, s, started, done, actor, prove,
                                    notices=notices)
            else:
                completed = answers.record_answers(service, s, started, done, actor, prove,
                                                   notices=notices)
        scrubbed()  # the files hold no byte of theirs before anyone is told
    return completed


def _record(service: Requests, s: Session, started: list[jobs.Job],
            done: dict[str, dict[str, Any]], actor: str, prove: bool, *, notices: bool
            ) -> list[RunResult]:
    """:func:`_finish`'s work in its transaction ``s``."""
    ctx = service.ctx
    held = preload(s, [j.request_id for j in started], sealed=False)  # noqa: F841
    reqs = {j.request_id: get_request(s, j.request_id) for j in started}
    # Whom to tell: the person's first address as their job read it (the walk used
    # it too), read again only for a guardian or admin who opened the request.
    to = addressees(s, [r for r in reqs.values() if r.opened_by_subject_id])
    for j in started:
        if j.request_id not in to:
            emails = j.identities.get("email") or []
            to[j.request_id] = emails[0] if emails else None
    outcomes = {j.request_id: fulfil.finish(s, ctx.consent, ctx.clock, j,
                                            done[j.request_id], forgotten=True)
                for j in started}
    erase.forget_many(s, ctx.consent, started, outcomes, ctx.clock())
    completed = service.complete_many(
        s, [(reqs[j.request_id], j, done[j.request_id], outcomes[j.request_id],
             to[j.request_id]) for j in started], actor, prove)
    if not notices:
        return completed
    ran = set(service.notices_in(s, [f for r in completed for f in r.follow_ups], actor))
    return [replace(r, outcome=dict(reqs[r.request_id].outcome or {}),
                    follow_ups=tuple(f for f in r.follow_ups if f not in ran))
            for r in completed]


def _wait_all(service: Requests, started: list[jobs.Job], actor: str, error: str,
              result: BatchResult | None) -> None:
    for job in started:
        service.wait(job.request_id, actor, error)
        if result is not None:
            result.waiting.append(RunResult(job.request_id, "waiting", {}, error))


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split("(Background on this error", 1)[0].split())
