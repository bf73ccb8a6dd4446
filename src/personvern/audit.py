"""The append-only audit trail: each event carries the SHA-256 of itself and its predecessor."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, event, insert, select
from sqlalchemy.orm import Session

from personvern.clock import Clock
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
from personvern.crypto.columns import ERASED_JSON
from personvern.crypto.keyring import keyring_for
from personvern.errors import InvalidInput
from personvern.storage.locks import lock_and_read, lock_chain
from personvern.storage.models import AuditEvent, as_utc
from personvern.wording import count

# The prev_hash of the first event: no predecessor.
GENESIS_HASH = "0" * 64
CHAIN = "audit_events"  # the trail's name in signed checkpoints
_HEAD = select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
# The head and the stored checkpoint in one round trip, read at a transaction's first append.
_ANCHORED_HEAD = head_and_checkpoint(AuditEvent.id, AuditEvent.hash, CHAIN)
# Version of the hashed layout below, hashed too, so the layout can change without
# making old events look tampered with.
HASH_SCHEME = 1
# Where sealed personal details live inside an event's details, and for whom.
PERSONAL = "personal"
PERSONAL_SUBJECT = "personal_subject"
PERSONAL_CONTEXT = "audit_events.details"
# A staff action that runs, extends or refuses a request, or sweeps data away, says why:
# the accountability of GDPR Art. 5(2) is the reason as much as the fact. Bounded so a
# reason stays a reason (and the audit log a log).
MAX_REASON = 2000
# Inside :func:`audit_in_bulk`: the events chained so far, not yet written (session.info).
_BULK = "personvern.audit.bulk"
_BULK_CHUNK = 1000  # rows per multi-row INSERT
_TABLE: Table = AuditEvent.__table__  # type: ignore[assignment]
_INSERT = insert(_TABLE)  # built once: its cache key is computed once too


def require_reason(value: str | None, doing: str) -> str:
    """The reason for ``doing`` (e.g. "run the request now"), stripped; InvalidInput
    (code ``reason_missing`` or ``reason_too_long``) when it is empty or too long."""
    reason = (value or "").strip()
    if not reason:
        raise InvalidInput(f"say why you {doing} (the reason is kept in the audit log)",
                           code="reason_missing")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is too long: at most {MAX_REASON} characters",
                           code="reason_too_long", limit=MAX_REASON)
    return reason


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: one text per value, so its hash is stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


# canonical_json's encoder, built once: json.dumps with options builds a JSONEncoder per
# call, a third of the cost of a small event's details. The same class and options, so
# the same text and the same errors; kept private (canonical_json is shared with the
# ledger, which is not this module's to change).
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode


def event_hash(event: AuditEvent | Row[Any]) -> str:
    """SHA-256 (hex) of the event's content and its predecessor's hash."""
    return _hash(event.id, event.at, event.actor, event.action, event.target, event.details,
                 event.prev_hash)


def _hash(id: int, at: datetime, actor: str, action: str, target: str,
          details: dict[str, Any], prev_hash: str) -> str:
    body = {
        "v": HASH_SCHEME,
        "id": id,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
        "prev": prev_hash,
    }
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


def audit_head(session: Session) -> AuditEvent | None:
    """The newest event, whose hash can be kept elsewhere to detect a cut-off tail."""
    return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()


def append_audit(
    session: Session,
    clock: Clock,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    *,
    personal: dict[str, Any] | None = None,
    subject_id: str | None = None,
) -> None:
    """Append one event at ``clock()`` to the trail, in the session's transaction (inside
    :func:`audit_in_bulk`, written at the block's end); read it back with a query.

    ``personal`` details are sealed with ``subject_id``'s key under ``details["personal"]``:
    the chain hashes the ciphertext, so it still verifies once the key is destroyed.
    """
    at = as_utc(clock())
    try:
        # Round-trip through canonical JSON so what is stored is exactly what is hashed
        # (no details: the round trip's answer, a fresh {}, without it).
        stored_details = json.loads(_canonical(details)) if details else {}
        if personal:
            if subject_id is None:
                raise ValueError("personal audit details need the subject_id to seal them with")
            stored_details[PERSONAL] = keyring_for(session).seal(
                session.connection(), subject_id, PERSONAL_CONTEXT,
                _canonical(personal).encode())
            stored_details[PERSONAL_SUBJECT] = subject_id
    except (TypeError, ValueError) as err:
        raise ValueError(f"audit details must be plain JSON: {err}") from None
    # A request's run audits several steps in one transaction: after the first, the lock
    # is held and the head is the event just appended (a round trip each saved).
    head = appended_head(session, CHAIN)
    if head is None:
        if appended_uncommitted(session, CHAIN):  # after a savepoint rolled back: vetted
            lock_chain(session, AuditEvent.__tablename__)
            row = session.connection().execute(_HEAD).first()
            head = None if row is None else (row[0], row[1])
        else:
            # A trail cut off, emptied or rewritten keeps its checkpoint: the next event
            # does not sign the tampered head as if it were whole. The lock and this read
            # go together (one round trip on PostgreSQL).
            head = vet_head(session, CHAIN,
                            lock_and_read(session, AuditEvent.__tablename__, _ANCHORED_HEAD))
    seq = 1 if head is None else head[0] + 1
    prev_hash = GENESIS_HASH if head is None else head[1]
    digest = _hash(seq, at, actor, action, target, stored_details, prev_hash)
    values = {"id": seq, "at": at, "actor": actor, "action": action, "target": target,
              "details": stored_details, "prev_hash": prev_hash, "hash": digest}
    bulk: list[dict[str, Any]] | None = session.info.get(_BULK)
    if bulk is not None:  # chained here, written with the others (audit_in_bulk)
        bulk.append(values)
    else:
        # The rows the ORM holds go first, as before; the event itself is one Core INSERT
        # (the bulk path's statement and bind types), not an ORM object and its unit of
        # work: the same row, for about a third of the CPU.
        session.flush()
        session.connection().execute(_INSERT, values)
    # Signed once per transaction as it commits, like the ledger's head: a trail cut off
    # at its end, or emptied, no longer matches the stored checkpoint.
    note_append(session, CHAIN, _HEAD, seq, digest, at)


@contextmanager
def audit_in_bulk(session: Session) -> Iterator[None]:
    """Within the block, :func:`append_audit` chains each event in Python as ever (the same
    ids, hashes and checkpoint) but writes none: they go at the end of the block, in one
    multi-row INSERT per chunk, still in the session's transaction. For a batch that
    appends many events and reads none back before the block ends."""
    if _BULK in session.info:  # nested: the outer block writes them
        yield
        return
    session.info[_BULK] = []
    try:
        yield
        write_bulk(session)
    finally:
        session.info.pop(_BULK, None)


# A savepoint rolled back inside the block would leave its events held here, chained to
# a head that no longer is: refused, loudly, rather than written wrong.
@event.listens_for(Session, "after_transaction_create")
def _no_savepoint_in_bulk(session: Session, transaction: Any) -> None:
    if transaction.nested and session.info.get(_BULK) is not None:
        raise RuntimeError("no savepoint inside audit_in_bulk: its events are not written yet")


# A commit inside the block (a caller's own, or one a helper makes) writes what is held
# first: the checkpoint signed at that commit names them, and they must be in the trail.
@event.listens_for(Session, "before_commit")
def _write_bulk_before_commit(session: Session) -> None:
    write_bulk(session)


def held_in_bulk(session: Session) -> int | None:
    """How many events an open :func:`audit_in_bulk` block holds unwritten (None: no
    block is open)."""
    bulk: list[dict[str, Any]] | None = session.info.get(_BULK)
    return None if bulk is None else len(bulk)


def write_bulk(session: Session) -> None:
    """Write the events :func:`audit_in_bulk` holds so far (a statement per chunk)."""
    bulk: list[dict[str, Any]] | None = session.info.get(_BULK)
    if not bulk:
        return
    rows, bulk[:] = list(bulk), []
    session.flush()  # the rows the ORM holds first, in the order they were made
    conn = session.connection()
    for start in range(0, len(rows), _BULK_CHUNK):
        conn.execute(_INSERT, rows[start:start + _BULK_CHUNK])


def personal_details(session: Session, event: AuditEvent) -> dict[str, Any] | None:
    """The event's sealed personal details opened; None if it has none; an erased marker
    (``{"erased": "[erased]"}``) once the subject's key is destroyed."""
    sealed = (event.details or {}).get(PERSONAL)
    if sealed is None:
        return None
    data = keyring_for(session).open(session.connection(), event.details[PERSONAL_SUBJECT],
                                     PERSONAL_CONTEXT, sealed)
    return dict(ERASED_JSON) if data is None else dict(json.loads(data))


def verify_audit_chain(session: Session, *, batch: int = 1000) -> int | None:
    """The id of the first event that breaks the chain, or None when the trail is intact."""
    expected_prev = GENESIS_HASH
    # Plain rows, streamed: a long trail must not fill the session's identity map.
    query = (
        select(AuditEvent.__table__).order_by(AuditEvent.id).execution_options(yield_per=batch)
    )
    # Closed on early return too: on PostgreSQL, yield_per holds a server-side cursor.
    with session.execute(query) as rows:
        for row in rows:
            if row.prev_hash != expected_prev or event_hash(row) != row.hash:
                return int(row.id)
            expected_prev = row.hash
    return None


@dataclass(frozen=True)
class AuditCheck:
    """What a verification of the trail found: how many events, the signed checkpoint it
    reaches, and the first problem (with the event's id when one event is at fault)."""

    events: int
    checkpoint: Checkpoint | None
    problem: str | None
    event_id: int | None = None

    def verdict(self) -> str:
        """The one line every surface shows."""
        if self.problem is not None:
            where = f"event {self.event_id}: " if self.event_id is not None else ""
            return f"audit trail BROKEN: {where}{self.problem}"
        if self.events == 0 and self.checkpoint is None:
            return "audit trail empty: 0 events and no checkpoint"
        reached = ("no checkpoint yet" if self.checkpoint is None
                   else f"up to the signed checkpoint at {self.checkpoint}")
        return f"audit trail intact: {count(self.events, 'event')} verified, {reached}"


def check_audit_chain(session: Session, *, against: Checkpoint | None = None, source: str = "",
                      require_checkpoint: bool = True, batch: int = 1000) -> AuditCheck:
    """Walk the trail: every link and hash, and that it reaches its signed checkpoint and
    ``against`` (an exported one, read from ``source``), so events cut off its end or a
    trail emptied show too (not only an edited event)."""
    anchors = Anchors(session.connection(), keyring_for(session), CHAIN, "audit trail",
                      against=against, source=source, require_stored=require_checkpoint,
                      appending=appended_uncommitted(session, CHAIN))
    problem = anchors.start()
    if problem is not None:
        return AuditCheck(0, anchors.stored, problem)
    expected_prev, count = GENESIS_HASH, 0
    query = (select(AuditEvent.__table__).order_by(AuditEvent.id)
             .execution_options(yield_per=batch))
    with session.execute(query) as rows:
        for row in rows:
            if row.id != count + 1 or row.prev_hash != expected_prev:
                return AuditCheck(count, anchors.stored,
                                  "does not follow the event before it (an event was deleted, "
                                  "inserted or reordered)", int(row.id))
            if event_hash(row) != row.hash:
                return AuditCheck(count, anchors.stored,
                                  "its content was changed after it was written", int(row.id))
            problem = anchors.see(int(row.id), row.hash)
            if problem is not None:
                return AuditCheck(count, anchors.stored, problem, int(row.id))
            expected_prev, count = row.hash, count + 1
    return AuditCheck(count, anchors.stored, anchors.finish(count, count))


def sign_audit_trail(session: Session, clock: Clock, actor: str) -> tuple[Checkpoint, bool]:
    """Verify the trail, then sign and store its head; returns (checkpoint, adopted), adopted
    when no checkpoint was stored before (a database from before them, or one deleted). The
    signing is itself the trail's next event, so an adoption is never silent.

    Conflict, with nothing signed, when the trail is broken or empty.
    """
    check = check_audit_chain(session, require_checkpoint=False)
    signed = sign_verified_head(session, CHAIN, "audit trail", _HEAD, check.problem, clock())
    append_audit(session, clock, actor, "audit.checkpoint_signed", "audit",
                 {"seq": signed.seq, "adopted": check.checkpoint is None})
    return signed, check.checkpoint is None
