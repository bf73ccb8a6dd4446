"""Group commit for the ledger: concurrent writers' units of work run in one transaction, in
the order they arrived, and every writer learns its result only once the commit that holds
it has returned (is durable). A batch runs first without savepoints; when a writer's work
fails it is rolled back and run again with one savepoint a writer, so a failure is only
that writer's.

Without it every append holds the chain's lock through its own commit, so writers queue
behind one another's disk flush and throughput cannot grow with clients. Here the first
writer to find no batch in progress leads: it takes what is queued, runs it, commits once
(one flush, one signed checkpoint) and goes on while more is queued; the others wait. What
needs no lock a writer does before it queues (consent/service.py: prepare_event). No
thread of its own, so nothing to start or stop, and a process that dies loses only what no
writer was yet told was written.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from personvern.consent.ledger import (
    defer_appends,
    flush_appends,
    leave_lock_to_preload,
    lock_and_read_head,
    lock_left_to_preload,
)
from personvern.consent.tables import LedgerEvent
from personvern.crypto.checkpoints import sign_heads
from personvern.storage.locks import lock_chain
from personvern.storage.notify import send_notices
from personvern.storage.session import transaction

T = TypeVar("T")
MAX_BATCH = 64  # bounds the wait of the last writer in a batch and the transaction's size
# How long a leader holds a batch open for the writers of the batch before it, as a share
# of that batch's commit and at most MAX_GATHER_S (see GroupCommit._gather).
GATHER_SHARE = 0.5
MAX_GATHER_S = 0.004


# Reads a batch's writers need, made at once for the whole batch under the lock (e.g. the
# people they write about): given the session and the writers' hints. On PostgreSQL it is
# called before the lock is taken, with the lock left to it (ledger.lock_left_to_preload):
# it must take it with its reads (ledger.lock_and_read_head) before it reads anything.
Preload = Callable[[Session, list[object]], None]


@dataclass(eq=False)
class _Work(Generic[T]):
    work: Callable[[Session], T]
    hint: object = None
    wake: threading.Event = field(default_factory=threading.Event)  # done, or lead now
    finished: bool = False
    value: T | None = None
    error: BaseException | None = None
    # An asynchronous writer's (run_async): called instead of a thread waking on ``wake``.
    woken: Callable[[], None] | None = None

    def wake_up(self) -> None:
        """Tell the writer its work is done, or that it leads now."""
        if self.woken is not None:
            self.woken()
        else:
            self.wake.set()


class GroupCommit:
    """Runs ledger writes submitted from many threads, several to a transaction."""

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = MAX_BATCH,
                 preload: Preload | None = None) -> None:
        self._sessions = sessions
        self._preload = preload
        self._max_batch = max_batch
        self._queue: list[_Work[object]] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a writer queued
        self._leading = False
        self._last_size = 0  # writers in the batch committed last
        self._last_commit_s = 0.0  # and how long its transaction took
        self._want = MAX_BATCH + 1  # writers a gathering leader waits for (none waits: more)
        self.batches = 0  # transactions committed (benchmarks and tests read these)
        self.writes = 0
        self.reruns = 0  # batches run again one savepoint a writer (a writer's work failed)
        self.leads = 0  # times a writer took the lead (each one a thread woken to lead)
        self.handovers = 0  # times a leader handed the lead to a queued writer

    def run(self, work: Callable[[Session], T], *, hint: object = None) -> T:
        """Run ``work(session)`` inside a shared ledger transaction and return its result
        once that transaction has committed; its exception if it raised (its savepoint is
        rolled back, the others' writes stand), or the commit's if the commit failed.

        ``work`` must return plain values: ORM objects it loaded expire at the commit.
        ``hint`` is handed to the preload (with the batch's other writers' hints).
        """
        item: _Work[object] = _Work(work, hint)
        if not self._enqueue(item):
            item.wake.wait()
        if not item.finished:  # first in line, or handed the lead by a writer who left
            self._lead(item)
        if item.error is not None:
            raise item.error
        return item.value  # type: ignore[return-value]

    async def run_async(self, work: Callable[[Session], T], *, hint: object = None) -> T:
        """:meth:`run` for a writer on an event loop: it waits for its batch without a
        thread of its own; only a writer that must lead runs in one (the loop's default
        executor), which leads on while writers are queued: a thread hop when the queue
        was empty, not one per writer or per batch. Cancelling the
        caller does not withdraw the work (as a thread's could not be either), and a lead
        handed to it is taken all the same."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        item: _Work[object] = _Work(work, hint)

        def led() -> None:
            try:
                self._lead(item)
            except BaseException as err:  # as run() would raise it to its writer
                # Not once its write was committed and told: the thread led on after it.
                if item.error is None and not item.finished:
                    item.error = err
            finally:
                loop.call_soon_threadsafe(_settle, done)

        def on_loop() -> None:  # woken: done, or handed the lead
            if item.finished:
                _settle(done)
            else:
                loop.run_in_executor(None, led)

        def woken() -> None:  # from the leader's thread
            loop.call_soon_threadsafe(on_loop)

        item.woken = woken
        if self._enqueue(item):
            loop.run_in_executor(None, led)
        await asyncio.shield(done)
        if item.error is not None:
            raise item.error
        return item.value  # type: ignore[return-value]

    def _enqueue(self, item: _Work[object]) -> bool:
        """Queue ``item``; whether its writer leads (no batch was in progress). A gathering
        leader is woken once as many writers are queued as it waits for."""
        with self._lock:
            self._queue.append(item)
            lead = not self._leading
            self._leading = True
            if len(self._queue) >= self._want:
                self._arrived.notify()
        return lead

    def _lead(self, mine: _Work[object]) -> None:
        self.leads += 1
        try:
            while True:
                with self._lock:
                    if mine.finished and self._queue and mine.woken is None:
                        # Our own write is durable: hand the lead to the next in line rather
                        # than keep a caller's thread serving others for ever under a steady
                        # load. A loop writer's leader is a thread of the loop's executor,
                        # which no caller waits on (its writer was told at its batch's
                        # commit): it leads on, saving each batch a hand-over through the
                        # loop to a new thread (two wake-ups, under load milliseconds).
                        self.handovers += 1
                        self._queue[0].wake_up()
                        return
                    self._gather()
                    batch = self._queue[:self._max_batch]
                    del self._queue[:self._max_batch]
                    if not batch:  # decided under the lock: whoever queues next leads
                        self._leading = False
                        return
                started = time.perf_counter()
                self._commit(batch)
                self._last_size, self._last_commit_s = len(batch), time.perf_counter() - started
        except BaseException as err:  # interrupted: nobody may be left waiting for a leader
            with self._lock:
                left, self._queue, self._leading = self._queue, [], False
            for item in left:
                item.error, item.finished = err, True
                item.wake_up()
            raise

    def _gather(self) -> None:
        """With the lock held: when fewer writers are queued than the last batch had, wait
        a moment for the others (at most half that batch's commit, MAX_GATHER_S).

        Without it, a steady load of N writers split into a batch of N-1 and a batch of
        one, in turn: the one who queued during a commit led alone while the others were
        still being told theirs was written, and paid a whole commit (a flush) for its one
        write. Those others come back within a fraction of a commit, so waiting for them
        costs less than a second commit and every commit carries about N writes. A lone
        writer (last batch of one) never waits; a batch that does not fill in time goes
        as it is, and the next one waits for that many."""
        want = min(self._last_size, self._max_batch)
        if not 0 < len(self._queue) < want:
            return
        self._want = want
        try:
            self._arrived.wait(min(self._last_commit_s * GATHER_SHARE, MAX_GATHER_S))
        finally:
            self._want = MAX_BATCH + 1

    def _commit(self, batch: list[_Work[object]]) -> None:
        try:
            # A lone writer too: its rows, head and notice then go in one round trip
            # before the commit, and its reads with the batch's preload, instead of one
            # statement each (a lone write had about twice the round trips).
            if not self._together(batch):
                self.reruns += 1
                self._one_by_one(batch)
        finally:
            for item in batch:
                item.finished = True
                item.wake_up()

    def _together(self, batch: list[_Work[object]]) -> bool:
        """The batch in one transaction without a savepoint per writer, the people it
        writes about read at once and its rows inserted together: a handful of round trips
        a batch, not several a write, while the lock is held. False, with nothing written,
        when a writer's work failed: the batch is then run again one savepoint a writer,
        each row inserted as it is appended, so one writer's failure is its own. A failed
        commit fails every writer of the batch."""
        values: list[object] = []
        try:
            with transaction(self._sessions) as session:
                if self._preload is not None and session.connection().dialect.name == (
                        "postgresql"):
                    # The preload takes the lock and the head with its reads, in one round
                    # trip (ledger.lock_and_read_head): two or three fewer while it is held.
                    leave_lock_to_preload(session)
                    self._preload(session, [i.hint for i in batch if i.hint is not None])
                    if lock_left_to_preload(session):  # it had nothing to read
                        lock_and_read_head(session)
                else:
                    lock_and_read_head(session)
                    if self._preload is not None:
                        self._preload(session, [i.hint for i in batch if i.hint is not None])
                # Nothing can fail half-way here: the rows go in at the end, together.
                defer_appends(session)
                for item in batch:
                    try:
                        values.append(item.work(session))
                    except Exception as err:
                        raise _WriterFailed from err
                try:
                    _before_commit(session)
                except Exception as err:  # whose row broke a constraint is not known
                    raise _WriterFailed from err
        except _WriterFailed:
            return False
        except BaseException as err:  # the lock or the commit failed: nothing was written
            for item in batch:
                item.value, item.error = None, err
            if not isinstance(err, Exception):
                raise
            return True
        for item, value in zip(batch, values, strict=True):
            item.value = value
        self.batches += 1
        self.writes += len(batch)
        return True

    def _one_by_one(self, batch: list[_Work[object]]) -> None:
        # A batch of one needs no savepoint: its failure may roll back the whole
        # transaction, which holds nothing else (two statements less per lone write).
        alone = len(batch) == 1
        ran = 0
        try:
            with transaction(self._sessions) as session:
                # The chain's lock first, once for the batch: it also begins SQLite's
                # transaction, so the savepoints below nest inside it.
                lock_chain(session, LedgerEvent.__tablename__)
                for item in batch:
                    if alone:
                        item.value = item.work(session)
                    else:
                        try:
                            with session.begin_nested():
                                item.value = item.work(session)
                        except Exception as err:  # this writer's own failure, told to it
                            item.error = err
                            continue
                    ran += 1
            self.batches += 1
            self.writes += ran
        except BaseException as err:  # the commit (or the lock, or a lone write) failed
            for item in batch:
                if item.error is None:  # nothing of this batch was written
                    item.value, item.error = None, err
            if not isinstance(err, Exception):
                raise


def _before_commit(session: Session) -> None:
    """What the commit would send first: the batch's rows, its signed head and its notices.
    On PostgreSQL in one round trip (psycopg's pipeline mode; none of them is read back),
    not four; any error is raised once the pipeline's results are in, before the commit."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        flush_appends(session)
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.pipeline():
        flush_appends(session)
        sign_heads(session)
        send_notices(session)


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


class _WriterFailed(Exception):
    """One writer's work failed in a batch run without savepoints (the batch is rolled
    back and run again with them)."""
