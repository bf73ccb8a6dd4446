"""A per-process cache of what decisions need, so the hot question costs no query.

Entries are dropped when this process writes a subject's events (after commit, so
the writer reads its own write) and, for writes by other processes, when their commit's
notice arrives (PostgreSQL NOTIFY, personvern.storage.notify: milliseconds) or else
when a sync finds newer ledger events — at most ``max_staleness`` seconds later. Subject facts
changed elsewhere (birth date, closed account) are reloaded after ``facts_ttl``.

A reference (an e-mail, a phone number, ``ext:ID``) found to name a subject is linked to
that subject's entry, so its next decision needs no lookup; the link holds only while that
very entry does, so it is dropped with it, by the same writes, notices and bounds. It is
kept under a keyed hash with a key of this process's: the cache holds no address.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from personvern.consent.decide import SubjectState
from personvern.consent.tables import LedgerEvent
from personvern.storage.notify import SUBJECT, announce

Loader = Callable[[Session, str], SubjectState]
# A reference -> the subject's id and decision inputs, found and read together.
RefLoader = Callable[[Session, str], tuple[str, SubjectState]]


class DecisionCache:
    """Subject id → decision inputs; when full, the oldest loaded is dropped first."""

    def __init__(self, max_entries: int = 200_000, max_staleness: float = 1.0,
                 facts_ttl: float = 30.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_staleness = max_staleness
        self.facts_ttl = facts_ttl
        self._now = monotonic
        # A plain dict keeps insertion order: dropping the first key drops the oldest
        # load, and reads need no lock (single dict operations are atomic in CPython).
        self._entries: dict[str, tuple[float, SubjectState]] = {}
        self._lock = threading.Lock()
        # Reference (keyed hash) -> the subject it names and the entry's inputs it was
        # linked to (weakly: a dropped entry's inputs are not kept alive by a link).
        self._refs: dict[bytes, tuple[str, weakref.ref[SubjectState]]] = {}
        self._ref_key = os.urandom(32)
        self._seen_seq: int | None = None
        self._synced_at = float("-inf")
        self.hits = self.misses = 0

    def inputs(self, session: Session, subject_id: str, load: Loader) -> SubjectState:
        """The decision inputs for ``subject_id``, from memory when fresh."""
        now = self._now()
        if now - self._synced_at >= self.max_staleness:
            self._sync(session, now)
        entry = self._entries.get(subject_id)
        if entry is not None and now - entry[0] < self.facts_ttl:
            self.hits += 1
            return entry[1]
        self.misses += 1
        loaded = load(session, subject_id)
        with self._lock:
            self._entries.pop(subject_id, None)
            self._entries[subject_id] = (now, loaded)
            if len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        return loaded

    def inputs_by_ref(self, session: Session, ref: str, load: RefLoader
                      ) -> tuple[str, SubjectState]:
        """:meth:`inputs` for the subject named by ``ref``, found and loaded together by
        ``load`` (its id and inputs); ``ref`` is then linked to the entry given, for as
        long as that very entry stays cached (:meth:`peek_ref`).
        A fresh entry already cached for that subject is kept and given (as :meth:`inputs`
        would give it once the subject was looked up), with the answers kept on it."""
        now = self._now()
        if now - self._synced_at >= self.max_staleness:
            self._sync(session, now)
        self.misses += 1
        subject_id, loaded = load(session, ref)
        key = self._ref_hash(ref)
        with self._lock:
            entry = self._entries.get(subject_id)
            if entry is not None and now - entry[0] < self.facts_ttl:
                loaded = entry[1]
            else:
                self._entries.pop(subject_id, None)
                self._entries[subject_id] = (now, loaded)
                if len(self._entries) > self.max_entries:
                    del self._entries[next(iter(self._entries))]
            self._refs.pop(key, None)
            self._refs[key] = (subject_id, weakref.ref(loaded))
            if len(self._refs) > self.max_entries:
                del self._refs[next(iter(self._refs))]
        return subject_id, loaded

    def peek(self, subject_id: str) -> SubjectState | None:
        """The cached inputs if fresh and no sync is due; None means "ask :meth:`inputs`".

        Touches no database, so an event loop can call it without blocking.
        """
        now = self._now()
        if now - self._synced_at >= self.max_staleness:
            return None
        entry = self._entries.get(subject_id)
        if entry is None or now - entry[0] >= self.facts_ttl:
            return None
        self.hits += 1
        return entry[1]

    def peek_ref(self, ref: str) -> tuple[str, SubjectState] | None:
        """:meth:`peek` for a subject named by ``ref``: its id and cached inputs, when
        ``ref`` was linked (:meth:`inputs_by_ref`) to the entry cached for it now; else None."""
        now = self._now()
        if now - self._synced_at >= self.max_staleness:
            return None
        linked = self._refs.get(self._ref_hash(ref))
        if linked is None:
            return None
        subject_id, state = linked
        entry = self._entries.get(subject_id)
        if entry is None or entry[1] is not state() or now - entry[0] >= self.facts_ttl:
            return None
        self.hits += 1
        return subject_id, entry[1]

    def _ref_hash(self, ref: str) -> bytes:
        return hashlib.blake2b(ref.encode(), key=self._ref_key, digest_size=16).digest()

    def invalidate(self, subject_id: str) -> None:
        """Forget ``subject_id`` now."""
        with self._lock:
            self._entries.pop(subject_id, None)

    def invalidate_on_commit(self, session: Session, subject_id: str) -> None:
        """Forget ``subject_id`` now and again when ``session`` commits.

        Now: this writer's next decision reloads. On commit: a reader that loaded the
        old events between our write and our commit does not keep them.
        """
        self.invalidate(subject_id)
        pending: list[tuple[DecisionCache, str]] = session.info.setdefault(_PENDING, [])
        pending.append((self, subject_id))
        # And on the other hosts (PostgreSQL NOTIFY, sent with this commit).
        announce(session, SUBJECT, subject_id)


    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self._refs.clear()

    def _sync(self, session: Session, now: float) -> None:
        if self._seen_seq is None:
            self._seen_seq = session.scalar(select(func.max(LedgerEvent.seq))) or 0
        else:
            changed = session.execute(
                select(LedgerEvent.seq, LedgerEvent.subject_id)
                .where(LedgerEvent.seq > self._seen_seq).order_by(LedgerEvent.seq)
            ).all()
            for seq, subject_id in changed:
                self.invalidate(subject_id)
                self._seen_seq = seq
        self._synced_at = now


_PENDING = "personvern.cache_invalidations"


# One listener for every session, registered once: listening per write cost about a
# tenth of a ledger append. A session's pending invalidations live in its ``info``.
@event.listens_for(Session, "after_commit")
def _invalidate_committed(session: Session) -> None:
    for cache, subject_id in session.info.pop(_PENDING, ()):
        cache.invalidate(subject_id)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    # Rolled back: nothing changed, but the entries were dropped already (harmlessly).
    session.info.pop(_PENDING, None)
