"""The consent ledger: append-only events chained by SHA-256, and its verification.

The hash covers the event's facts and a digest of its sealed evidence, not the evidence
itself, so erasing a person's evidence (or destroying their key) leaves a chain that still
verifies.

Each transaction that appends signs the new head as it commits (a checkpoint, see
:mod:`personvern.crypto.checkpoints`): a cut-off tail or a chain rewritten with fresh
hashes no longer reaches it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Dialect, Row, Table, bindparam, event, exc, insert, select
from sqlalchemy.orm import Session

from personvern.audit import GENESIS_HASH, canonical_json
from personvern.consent.events import Actor, Channel, ConsentEvent, EventType
from personvern.consent.subjects import new_id
from personvern.consent.tables import LedgerEvent, LedgerEvidence
from personvern.crypto.checkpoints import (
    Anchors,
    Checkpoint,
    appended_head,
    appended_uncommitted,
    head_and_checkpoint,
    note_append,
    sign_verified_head,
    vet_head,
)
from personvern.crypto.keyring import keyring_for
from personvern.errors import Conflict, InvalidInput
from personvern.storage.locks import LOCK_SQL, chain_lock_key, lock_chain, note_locked
from personvern.storage.models import as_utc
from personvern.wording import count

HASH_SCHEME = 1
CHAIN = "ledger_events"  # the ledger's name in signed checkpoints
EVIDENCE_CONTEXT = "ledger_evidence.data"
_HASHED = ("seq", "id", "subject_id", "purpose", "type", "actor", "actor_subject_id",
           "channel", "policy_version", "idempotency_key", "evidence_digest", "prev_hash")


def evidence_digest(evidence: dict[str, Any]) -> str:
    """SHA-256 of the evidence in canonical JSON."""
    return hashlib.sha256(canonical_json(evidence).encode()).hexdigest()


def sealed_digest(sealed: str) -> str:
    """SHA-256 of sealed evidence as stored."""
    return hashlib.sha256(sealed.encode()).hexdigest()


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: LedgerEvent | Row[Any]) -> str:
    """SHA-256 of an event's hashed fields and its predecessor's hash."""
    return values_hash({name: getattr(event, name) for name in (*_HASHED, "at", "recorded_at")})


def values_hash(values: dict[str, Any]) -> str:
    """:func:`event_hash` of an event given as its column values (a row to insert)."""
    body: dict[str, Any] = {name: values[name] for name in _HASHED}
    body.update(v=HASH_SCHEME, at=_stamp(values["at"]), recorded_at=_stamp(values["recorded_at"]))
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


@dataclass(frozen=True)
class NewEvent:
    """What a caller wants appended; the ledger adds seq, time and hashes."""

    subject_id: str
    type: EventType
    actor: Actor
    channel: Channel
    purpose: str | None = None
    actor_subject_id: str | None = None
    policy_version: str | None = None
    evidence: dict[str, Any] | None = None
    idempotency_key: str | None = None
    # ``evidence`` sealed already (see seal_evidence), so the append under the ledger's
    # lock does no cryptography; None: sealed by append_event.
    sealed_evidence: str | None = None

    def same_as(self, stored: dict[str, Any]) -> bool:
        """Whether a replay with the same idempotency key asks for the same event (the
        stored one given as its column values)."""
        return (stored["subject_id"], stored["type"], stored["actor"], stored["channel"],
                stored["purpose"], stored["actor_subject_id"]) == (
                    self.subject_id, self.type, self.actor, self.channel, self.purpose,
                    self.actor_subject_id)


_EVENTS: Table = LedgerEvent.__table__  # type: ignore[assignment]
_EVIDENCE: Table = LedgerEvidence.__table__  # type: ignore[assignment]
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
# The head and the stored checkpoint in one round trip, read at a transaction's first
# append: a ledger cut off, emptied or rewritten keeps its checkpoint (vet_head), so the
# next write does not sign the tampered head as if it were whole.
_ANCHORED_HEAD = head_and_checkpoint(_EVENTS.c.seq, _EVENTS.c.hash, CHAIN)
_INSERT_EVENT = insert(_EVENTS)
_INSERT_EVIDENCE = insert(_EVIDENCE)
_BY_KEY = select(_EVENTS).where(_EVENTS.c.idempotency_key == bindparam("key"))
_NO_EVIDENCE_DIGEST = evidence_digest({})


def append_event(
    session: Session, at: datetime, new: NewEvent, *, locked: bool = False
) -> tuple[LedgerEvent, bool]:
    """Append ``new`` at ``at`` in the session's transaction; returns (event, replayed).

    A replay (same idempotency key, same request) returns the stored event and adds
    nothing; the same key for a different request is a Conflict.
    """
    values, replayed = append_values(session, at, new, locked=locked)
    return LedgerEvent(**values), replayed


def append_values(
    session: Session, at: datetime, new: NewEvent, *, locked: bool = False
) -> tuple[dict[str, Any], bool]:
    """:func:`append_event`, the event given as its column values (a dict by column name)
    rather than an ORM instance: the group commit's leader built one a write, a fifth of
    its Python (py-spy, docs/performance.md). Core statements on the session's
    connection: this is the ledger's hot path.
    """
    conn = session.connection()
    # Appended to already in this transaction (a batch of the group commit, an erasure's
    # events): the lock is held and the head known, so neither is asked for again.
    known = appended_head(session, CHAIN)
    # Read with the lock (lock_and_read_head) and not yet appended to: taken once.
    read = session.info.pop(_READ_HEAD, None) if known is None else None
    if not locked and known is None:  # record_event takes the lock before its checks
        lock_chain(session, LedgerEvent.__tablename__)
    if new.idempotency_key is not None:
        stored = _values_by_key(session, new.idempotency_key)
        if stored is not None:
            return _replay(stored, new), True
    sealed = new.sealed_evidence
    if sealed is None and new.evidence:
        sealed = seal_evidence(session, new.subject_id, new.evidence)
    if read is not None:
        known = read[0]
    elif known is None and appended_uncommitted(session, CHAIN):
        # After a savepoint rolled back this transaction's appends: vetted at the first.
        row = conn.execute(_HEAD).first()
        known = None if row is None else (row.seq, row.hash)
    elif known is None:
        known = vet_head(session, CHAIN, conn.execute(_ANCHORED_HEAD).one())
    head = known
    stamp = as_utc(at)
    seq = 1 if head is None else head[0] + 1
    # In the table's column order (the INSERT's and the ORM's).
    row_values: dict[str, Any] = {
        "seq": seq, "id": new_id(), "subject_id": new.subject_id, "purpose": new.purpose,
        "type": str(new.type), "actor": str(new.actor),
        "actor_subject_id": new.actor_subject_id, "channel": str(new.channel),
        "policy_version": new.policy_version, "at": stamp, "recorded_at": stamp,
        "idempotency_key": new.idempotency_key,
        # The digest of what stays: the sealed evidence (it outlives the key), so the chain
        # neither verifies nor confirms a guess at erased evidence.
        "evidence_digest": sealed_digest(sealed) if sealed else _NO_EVIDENCE_DIGEST,
        "prev_hash": GENESIS_HASH if head is None else head[1],
    }
    row_values["hash"] = digest = values_hash(row_values)
    # No row for no evidence: one write less on the hot path.
    evidence_row = ({"event_seq": seq, "subject_id": new.subject_id, "data": sealed}
                    if sealed else None)
    deferred: _Deferred | None = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.events.append(row_values)
        if evidence_row is not None:
            deferred.evidence.append(evidence_row)
    else:
        conn.execute(_INSERT_EVENT, row_values)
        if evidence_row is not None:
            conn.execute(_INSERT_EVIDENCE, evidence_row)
    note_append(session, CHAIN, _HEAD, seq, digest, stamp)
    # A copy: the deferred row is the INSERT's, and the caller's is its own to keep.
    return dict(row_values), False


_READ_HEAD = "personvern.ledger_head_read"


# A driver-level read sent with the lock and the head: psycopg SQL text and its parameters.
DriverRead = tuple[str, tuple[Any, ...]]


def lock_and_read_head(session: Session, reads: Sequence[DriverRead] = ()
                       ) -> list[list[tuple[Any, ...]]]:
    """Take the ledger's lock and read its head for the next :func:`append_event`, at the
    start of a transaction (the group commit's batches); ``reads`` (PostgreSQL only) are
    sent after them, in the same round trip, and their rows returned in order.

    PostgreSQL: the lock, the head's read and ``reads`` go to the server together, one
    round trip instead of two or more (psycopg's pipeline mode; psycopg still sends BEGIN
    and waits for its answer first, libpq's trace shows, tests/storage/test_audit_lock.py).
    The server runs them in order and each read, a statement of its own (its own snapshot
    under READ COMMITTED), begins only once the lock is held: it sees every append (and
    every erasure, every key revoked) committed before, as a separate read would.
    SQLite: the lock as :func:`lock_chain` takes it; the head is read at the append.
    """
    session.info.pop(_LEFT_TO_PRELOAD, None)
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        if reads:
            raise ValueError("driver-level reads are PostgreSQL's")
        lock_chain(session, LedgerEvent.__tablename__)
        return []
    driver = conn.connection.driver_connection
    assert driver is not None
    statements: list[DriverRead] = [
        (LOCK_SQL, (chain_lock_key(LedgerEvent.__tablename__),)),
        (_anchored_head_sql(conn.dialect), ()), *reads]
    cursors = [driver.cursor() for _ in statements]
    try:
        with driver.pipeline():
            for cursor, (sql, params) in zip(cursors, statements, strict=True):
                # Seen by the engine's statement listeners as any statement is (the counts
                # of tests and benchmarks), as storage.locks.lock_and_read sends its own.
                conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, False)
                cursor.execute(sql, params)
            head = cursors[1].fetchone()  # the pipeline's results, in the order sent
            rows = [cursor.fetchall() for cursor in cursors[2:]]
    except conn.dialect.loaded_dbapi.Error as err:
        # As SQLAlchemy raises a driver's error of its own statements (a lock timeout: an
        # OperationalError, which storage_errors turns into a StorageError).
        raise exc.DBAPIError.instance(statements[0][0], None, err,
                                      conn.dialect.loaded_dbapi.Error,
                                      dialect=conn.dialect) from err
    finally:
        for cursor in cursors:
            cursor.close()
    note_locked(session, LedgerEvent.__tablename__)
    assert head is not None  # scalar subqueries: always one row
    session.info[_READ_HEAD] = (vet_head(session, CHAIN, head),)
    return rows


_LEFT_TO_PRELOAD = "personvern.ledger_lock_left_to_preload"


def leave_lock_to_preload(session: Session) -> None:
    """Let the batch's preload take the ledger's lock and head, with its reads in the same
    round trip (:func:`lock_and_read_head`): the group commit on PostgreSQL."""
    session.info[_LEFT_TO_PRELOAD] = True


def lock_left_to_preload(session: Session) -> bool:
    """Whether this transaction's preload is to take the ledger's lock with its reads (and
    must read nothing before it)."""
    return bool(session.info.get(_LEFT_TO_PRELOAD))


_ANCHORED_HEAD_SQL: dict[str, str] = {}


def _anchored_head_sql(dialect: Dialect) -> str:
    """:data:`_ANCHORED_HEAD` as the dialect's SQL text (psycopg's pipeline), built once."""
    sql = _ANCHORED_HEAD_SQL.get(dialect.name)
    if sql is None:
        sql = _ANCHORED_HEAD_SQL[dialect.name] = str(_ANCHORED_HEAD.compile(
            dialect=dialect, compile_kwargs={"literal_binds": True}))
    return sql


@dataclass(frozen=True)
class _Deferred:
    events: list[dict[str, Any]]
    evidence: list[dict[str, Any]]


_DEFERRED = "personvern.ledger_deferred"


def defer_appends(session: Session) -> None:
    """Hold the rows this transaction appends in memory and insert them together at
    :func:`flush_appends` (the group commit's batches: two statements a batch, not two a
    write). Every read of the ledger here flushes them first, and so does the commit."""
    session.info.setdefault(_DEFERRED, _Deferred([], []))


def flush_appends(session: Session) -> None:
    """Insert the appended rows held by :func:`defer_appends` (events before their evidence)."""
    deferred: _Deferred | None = session.info.get(_DEFERRED)
    if deferred is None or not deferred.events:
        return
    conn = session.connection()
    conn.execute(_INSERT_EVENT, deferred.events)
    if deferred.evidence:
        conn.execute(_INSERT_EVIDENCE, deferred.evidence)
    deferred.events.clear()
    deferred.evidence.clear()


@event.listens_for(Session, "before_commit")
def _flush_before_commit(session: Session) -> None:
    flush_appends(session)


# Rolled back or closed: rows held and not inserted are dropped with the transaction.
@event.listens_for(Session, "after_transaction_end")
def _drop_deferred(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_DEFERRED, None)
        session.info.pop(_READ_HEAD, None)
        session.info.pop(_LEFT_TO_PRELOAD, None)


def seal_evidence(session: Session, subject_id: str, evidence: dict[str, Any]) -> str | None:
    """``evidence`` in canonical JSON sealed under the subject's key; None when empty (no
    row is stored for no evidence)."""
    try:
        canonical = canonical_json(evidence)
    except ValueError as err:  # NaN or ±Infinity (Python's JSON reads them; JSON has none)
        raise InvalidInput("evidence may hold only finite numbers, not NaN or Infinity"
                           ) from err
    if not evidence:
        return None
    # The canonical text itself, the bytes Keyring.seal_json would seal for it (it is
    # canonical already: read back and written again it is the same), without reading it
    # back and writing it again under the ledger's lock.
    return keyring_for(session).seal(session.connection(), subject_id, EVIDENCE_CONTEXT,
                                     canonical.encode())


def event_by_key(session: Session, key: str) -> LedgerEvent | None:
    """The event stored under idempotency ``key``, as a detached object, or None."""
    stored = _values_by_key(session, key)
    return None if stored is None else LedgerEvent(**stored)


def _values_by_key(session: Session, key: str) -> dict[str, Any] | None:
    """The column values of the event stored under idempotency ``key``, or None."""
    flush_appends(session)
    row = session.connection().execute(_BY_KEY, {"key": key}).first()
    return None if row is None else dict(row._mapping)


def _replay(stored: dict[str, Any], new: NewEvent) -> dict[str, Any]:
    if not new.same_as(stored):
        raise Conflict(
            f"idempotency key {new.idempotency_key!r} was already used for a different event"
        )
    return stored


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain breaks (an event, or None for the chain as a whole) and what it means."""

    seq: int | None
    event_id: str | None
    problem: str

    def __str__(self) -> str:
        if self.seq is None:
            return self.problem
        return f"event {self.seq} ({self.event_id}): {self.problem}"


@dataclass(frozen=True)
class LedgerCheck:
    """What a verification found: how many events, the signed checkpoint they reach (the
    stored one), and the first break, if any."""

    events: int
    checkpoint: Checkpoint | None
    broken: ChainBreak | None


def verdict(check: LedgerCheck, *, against: Checkpoint | None = None, source: str = "") -> str:
    """What a verification found, in one line: the words every surface uses, so none says
    "intact" for a ledger that could have been wiped together with its checkpoint."""
    if check.broken is not None:
        return f"ledger BROKEN: {check.broken}"
    if check.events == 0 and check.checkpoint is None and against is None:
        return ("ledger empty: 0 events and no checkpoint (a ledger wiped with its checkpoint "
                "looks the same; verify --against an exported checkpoint)")
    reached = ("no checkpoint yet" if check.checkpoint is None
               else f"up to the signed checkpoint at {check.checkpoint}")
    line = f"ledger intact: {count(check.events, 'event')} verified, {reached}"
    return line if against is None else f"{line}; reaches {source} ({against})"


def _evidence_altered(stored: Any, digest: str) -> bool:
    if isinstance(stored, str):
        return sealed_digest(stored) != digest
    # Evidence written before it was sealed: the digest of its canonical JSON.
    return evidence_digest(stored) != digest


def check_ledger(session: Session, *, against: Checkpoint | None = None, source: str = "",
                 require_checkpoint: bool = True, batch: int = 5000) -> LedgerCheck:
    """Walk the chain: every link, hash and evidence digest, and that it reaches the stored
    signed checkpoint and ``against`` (an exported one, read from ``source``)."""
    flush_appends(session)
    anchors = Anchors(session.connection(), keyring_for(session), CHAIN, "ledger",
                      against=against, source=source, require_stored=require_checkpoint,
                      appending=appended_uncommitted(session, CHAIN))
    problem = anchors.start()
    if problem is not None:
        return LedgerCheck(0, anchors.stored, ChainBreak(None, None, problem))
    expected_prev, expected_seq = GENESIS_HASH, 1
    # The sealed evidence as stored (Core does not open it): its SHA-256 is in the chain.
    query = (select(_EVENTS, _EVIDENCE.c.data.label("sealed_evidence"))
             .outerjoin(_EVIDENCE, _EVIDENCE.c.event_seq == _EVENTS.c.seq)
             .order_by(_EVENTS.c.seq).execution_options(yield_per=batch))
    with session.execute(query) as rows:
        for row in rows:
            count = expected_seq - 1
            if row.seq != expected_seq:
                problem = f"event {expected_seq} is missing (deleted or renumbered)"
            elif row.prev_hash != expected_prev:
                problem = ("does not follow the event before it "
                           "(an event was deleted, inserted or reordered)")
            elif event_hash(row) != row.hash:
                problem = "its content was changed after it was written"
            elif row.sealed_evidence is not None and _evidence_altered(
                    row.sealed_evidence, row.evidence_digest):
                problem = ("its evidence does not match the digest the chain holds "
                           "(the evidence was altered, swapped or added)")
            else:
                problem = anchors.see(row.seq, row.hash)
            if problem is not None:
                return LedgerCheck(count, anchors.stored, ChainBreak(row.seq, row.id, problem))
            expected_prev, expected_seq = row.hash, expected_seq + 1
    count = expected_seq - 1
    problem = anchors.finish(count, count)
    broken = None if problem is None else ChainBreak(None, None, problem)
    return LedgerCheck(count, anchors.stored, broken)


def verify_ledger(session: Session, *, batch: int = 5000) -> ChainBreak | None:
    """The first break in the chain (an edited, deleted, reordered or cut-off event, altered
    evidence, a forged checkpoint), or None."""
    return check_ledger(session, batch=batch).broken


def sign_ledger(session: Session, at: datetime) -> tuple[Checkpoint, bool]:
    """Verify the ledger, then sign and store its head at ``at``; returns (checkpoint,
    adopted), adopted when no checkpoint was stored before (a database from before them).

    Conflict, with nothing signed, when the ledger is broken or empty.
    """
    # Without a stored checkpoint the head as found is signed; with one, the chain must
    # reach it first.
    check = check_ledger(session, require_checkpoint=False)
    problem = None if check.broken is None else str(check.broken)
    return (sign_verified_head(session, CHAIN, "ledger", _HEAD, problem, at),
            check.checkpoint is None)


def as_consent_event(row: LedgerEvent) -> ConsentEvent:
    """The decision-relevant facts of a stored event."""
    return ConsentEvent(EventType(row.type), row.purpose, row.at, Actor(row.actor),
                        Channel(row.channel), row.policy_version)


# The columns a decision needs, as plain rows (:func:`consent_event_of`, in this order): a
# person's cold load read every column of every event into an ORM instance first (py-spy:
# half of a cold decision).
_EVENTS = cast(Table, LedgerEvent.__table__)
CONSENT_EVENT_COLUMNS = (_EVENTS.c.type, _EVENTS.c.purpose, _EVENTS.c.at, _EVENTS.c.actor,
                         _EVENTS.c.channel, _EVENTS.c.policy_version)
_CONSENT_EVENTS = (select(*CONSENT_EVENT_COLUMNS)
                   .where(_EVENTS.c.subject_id == bindparam("subject_id"))
                   .order_by(_EVENTS.c.seq))


def consent_event_of(type_: str, purpose: str | None, at: datetime, actor: str, channel: str,
                     policy_version: str | None) -> ConsentEvent:
    """An event as decisions see it, from its :data:`CONSENT_EVENT_COLUMNS`."""
    return ConsentEvent(EventType(type_), purpose, at, Actor(actor), Channel(channel),
                        policy_version)


def consent_events(session: Session, subject_id: str) -> list[ConsentEvent]:
    """A subject's events in ledger order, as decisions see them (:func:`as_consent_event`)."""
    flush_appends(session)
    return [consent_event_of(*row)
            for row in session.execute(_CONSENT_EVENTS, {"subject_id": subject_id})]


def subject_events(session: Session, subject_id: str) -> list[LedgerEvent]:
    """All of a subject's events in ledger order."""
    flush_appends(session)
    return list(session.scalars(
        select(LedgerEvent).where(LedgerEvent.subject_id == subject_id).order_by(LedgerEvent.seq)
    ))


def evidence_of(session: Session, seq: int) -> dict[str, Any] | None:
    """The evidence kept for event ``seq``: {} if there was none, None once erased.

    Evidence whose key was destroyed reads as ``{"erased": "[erased]"}``.
    """
    flush_appends(session)
    row = session.get(LedgerEvidence, seq)
    if row is not None:
        return row.data
    event = session.get(LedgerEvent, seq)
    if event is not None and event.evidence_digest == evidence_digest({}):
        return {}
    return None
