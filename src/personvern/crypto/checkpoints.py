"""Signed checkpoints: a hash chain's head (sequence number and hash) signed with
HMAC-SHA256 under a key derived from the master key, which is never in the database.

Anyone who can write to the database can cut a chain's tail or recompute its unkeyed
SHA-256 links; without the master key they cannot sign a head. Every transaction that
appends to a chain rewrites the chain's one checkpoint row as it commits; an exported
checkpoint (a JSON file) is the same thing kept where the database's writers cannot reach.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from sqlalchemy import Connection, Dialect, Select, Table, bindparam, event, select, text
from sqlalchemy.orm import Session

from personvern.crypto.keyring import Keyring, keyring_for
from personvern.crypto.master import MasterKey
from personvern.crypto.tables import ChainCheckpoint
from personvern.errors import Conflict, InvalidInput
from personvern.storage.models import AwareDateTime, as_utc

FORMAT = "personvern-checkpoint"
SCHEME = 1
# The signing key is derived, not the master key itself: a checkpoint MAC can never be
# confused with (or help attack) the key wrapping.
_LABEL = b"chain checkpoint"
_PENDING = "personvern.chain_heads"
# Chains whose stored checkpoint this transaction must leave as it is (see vet_head).
_HELD_BACK = "personvern.chain_held_back"
_TABLE: Table = ChainCheckpoint.__table__  # type: ignore[assignment]
_FIELDS = ("chain", "seq", "hash", "at", "key_id", "signature")
# The command that adopts a chain found without a checkpoint (see vet_head).
_ADOPTED_BY = {"audit_events": "`personvern audit checkpoint`",
               "ledger_events": "`personvern ledger checkpoint`"}


def _stamp(at: datetime) -> str:
    return as_utc(at).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Checkpoint:
    """A chain's newest event (sequence number and hash) as signed at ``at``."""

    chain: str
    seq: int
    hash: str
    at: datetime
    key_id: str
    signature: str

    def signed_text(self) -> bytes:
        """What the signature covers, in one canonical form: the JSON object of v, chain,
        seq, hash, at and key_id with sorted keys, no spaces and ASCII escapes."""
        return _signed_text(self.chain, self.seq, self.hash, self.at, self.key_id)

    def as_json(self) -> dict[str, Any]:
        """The checkpoint as its exported file holds it."""
        return {"format": FORMAT, "v": SCHEME, "chain": self.chain, "seq": self.seq,
                "hash": self.hash, "at": _stamp(self.at), "key_id": self.key_id,
                "signature": self.signature}

    def __str__(self) -> str:
        return f"event {self.seq} ({self.at:%Y-%m-%d %H:%M} UTC)"


def _signed_text(chain: str, seq: int, head_hash: str, at: datetime, key_id: str) -> bytes:
    # Spelled out rather than json.dumps(sort_keys=True): the same bytes (a test holds them
    # equal) at a fraction of the cost, paid at every appending commit.
    return (f'{{"at":{_quote(_stamp(at))},"chain":{_quote(chain)},"hash":{_quote(head_hash)},'
            f'"key_id":{_quote(key_id)},"seq":{int(seq)},"v":{SCHEME}}}').encode()


@lru_cache(maxsize=8)
def _signing_key(master: MasterKey) -> bytes:
    return master.derive(_LABEL)


def _mac(master: MasterKey, checkpoint: Checkpoint) -> str:
    return hmac.digest(_signing_key(master), checkpoint.signed_text(), "sha256").hex()


def sign(master: MasterKey, chain: str, seq: int, head_hash: str, at: datetime) -> Checkpoint:
    """``chain``'s head ``seq`` with ``head_hash``, signed at ``at``."""
    at, key_id = as_utc(at), master.key_id
    signed = _signed_text(chain, seq, head_hash, at, key_id)
    signature = hmac.digest(_signing_key(master), signed, "sha256").hex()
    return Checkpoint(chain, seq, head_hash, at, key_id, signature)


def signature_problem(keyring: Keyring, checkpoint: Checkpoint) -> str | None:
    """Why ``checkpoint``'s signature is not this engine's, or None when it is."""
    master = keyring.master_by_id(checkpoint.key_id)
    if master is None:
        return (f"is signed by master key {checkpoint.key_id}, which this engine does not hold "
                f"(it holds {keyring.master.key_id}): forged, or signed before a key rotation")
    if not hmac.compare_digest(_mac(master, checkpoint), checkpoint.signature):
        return "has a signature that does not match: it was forged or altered"
    return None


def parse_checkpoint(text: str, source: str) -> Checkpoint:
    """A checkpoint from an exported file's text; InvalidInput naming ``source`` if malformed."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        if data.get("v") != SCHEME:
            raise ValueError(f"version {data.get('v')!r}; this Personvern reads version {SCHEME}")
        values = {name: data[name] for name in _FIELDS}
        if not isinstance(values["seq"], int) or isinstance(values["seq"], bool):
            raise ValueError("seq is not a whole number")
        if not all(isinstance(values[n], str) for n in _FIELDS if n != "seq"):
            raise ValueError("chain, hash, at, key_id and signature must be text")
        values["at"] = as_utc(datetime.fromisoformat(values["at"]))
    except KeyError as missing:
        raise InvalidInput(f"checkpoint {source} has no {missing}") from None
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        raise InvalidInput(f"checkpoint {source} is not a checkpoint: {err}") from None
    return Checkpoint(**values)


def stored_checkpoint(conn: Connection, chain: str) -> Checkpoint | None:
    """The checkpoint stored for ``chain``, or None."""
    row = conn.execute(select(_TABLE).where(_TABLE.c.chain == chain)).first()
    return None if row is None else Checkpoint(**{n: getattr(row, n) for n in _FIELDS})


# Written out: SQLAlchemy's ON CONFLICT constructs are never cached, so they would be
# compiled again at every commit. PostgreSQL and SQLite (3.24+) spell the upsert the same.
_UPSERT = text(
    f"INSERT INTO {_TABLE.name} ({', '.join(_FIELDS)}) "
    f"VALUES ({', '.join(':' + n for n in _FIELDS)}) "
    f"ON CONFLICT (chain) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n in _FIELDS[1:])
).bindparams(bindparam("at", type_=AwareDateTime()))


@lru_cache(maxsize=4)
def _driver_upsert(dialect: Dialect) -> tuple[str, tuple[str, ...] | None,
                                               Callable[[Any], Any] | None]:
    """The upsert as the driver takes it: its SQL, the order of positional parameters (None
    for named ones) and how a time is bound, compiled once per dialect."""
    compiled = _UPSERT.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positiontup else None
    return str(compiled), order, AwareDateTime().bind_processor(dialect)


def store_checkpoint(conn: Connection, checkpoint: Checkpoint) -> None:
    """Make ``checkpoint`` its chain's stored one (one row per chain, replaced)."""
    # Straight to the driver, inside the same transaction: this runs at every appending
    # commit, and SQLAlchemy's execution context cost more than the row write itself
    # (benchmarks/consent.py measures appends with and without checkpoints).
    sql, order, bind_time = _driver_upsert(conn.dialect)
    values = {n: getattr(checkpoint, n) for n in _FIELDS}
    if bind_time is not None:
        values["at"] = bind_time(values["at"])
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, values if order is None else tuple(values[n] for n in order))
    finally:
        cursor.close()


def note_append(session: Session, chain: str, head: Select[Any], seq: int, head_hash: str,
                at: datetime) -> None:
    """Record that this transaction appended event ``seq`` (``head_hash``) to ``chain``: the
    newest such head is signed and stored once, as the transaction commits. ``head`` (a
    select of seq and hash) reads it again if a savepoint was rolled back meanwhile."""
    pending: dict[str, _Pending] = session.info.setdefault(_PENDING, {})
    known = pending.get(chain)
    pending[chain] = _Pending(head, seq, head_hash,
                              at if known is None or at > known.at else known.at)


def appended_head(session: Session, chain: str) -> tuple[int, str] | None:
    """(seq, hash) of the newest event this session's open transaction appended to
    ``chain``, or None when it appended none or a savepoint rolled back since. Known, the
    chain's lock is held (taken before that append, kept until the transaction ends) and
    this is the head: the next append needs neither the lock nor the head read again."""
    noted = session.info.get(_PENDING, {}).get(chain)
    if noted is None or noted.seq is None:
        return None
    return noted.seq, noted.hash


def head_and_checkpoint(seq: Any, head_hash: Any, chain: str) -> Select[Any]:
    """One statement: the chain's newest ``seq`` and ``head_hash`` (columns of its table)
    and the checkpoint stored for ``chain`` (None in each column where there is none)."""
    def newest(column: Any) -> Any:
        return select(column).order_by(seq.desc()).limit(1).scalar_subquery()

    def stored(name: str) -> Any:
        return select(_TABLE.c[name]).where(_TABLE.c.chain == chain).scalar_subquery()

    return select(newest(seq), newest(head_hash), *(stored(n) for n in _FIELDS[1:]))


def vet_head(session: Session, chain: str, row: Any) -> tuple[int, str] | None:
    """The head (seq, hash) of a :func:`head_and_checkpoint` row, read under the chain's
    lock before this transaction's first append. When the stored checkpoint is not this
    engine's signature of that head (events cut off the end, the chain emptied or
    rewritten, the checkpoint forged), this transaction leaves the checkpoint as it is:
    signing over it would make the tampered chain verify as intact. So does a chain with
    events and no checkpoint at all: the checkpoint deleted (perhaps with events cut off
    the end), or a database from before checkpoints; only an explicit adoption (`ledger
    checkpoint`, `audit checkpoint`), which says what it signs, gives it one."""
    head = None if row[0] is None else (int(row[0]), str(row[1]))
    if row[2] is None:  # none stored: a new chain (head None) is signed at its commit
        if head is not None:
            session.info.setdefault(_HELD_BACK, set()).add(chain)
        return head
    found = Checkpoint(chain, *row[2:])
    if (head is None or head != (found.seq, found.hash)
            or signature_problem(keyring_for(session), found) is not None):
        session.info.setdefault(_HELD_BACK, set()).add(chain)
    return head


@dataclass(frozen=True)
class _Pending:
    head: Select[Any]
    seq: int | None  # None: read the head again at commit
    hash: str
    at: datetime


def appended_uncommitted(session: Session, chain: str) -> bool:
    """Whether this session's open transaction appended to ``chain`` (not yet signed)."""
    return chain in session.info.get(_PENDING, {})


# Once per transaction, not per event: one row written at commit, still inside the
# transaction and under the chain's lock, so the head signed is the newest.
@event.listens_for(Session, "before_commit")
def sign_heads(session: Session) -> None:
    """Sign and store the newest head of every chain this transaction appended to (run as
    it commits; called before, the commit finds nothing left to sign)."""
    pending: dict[str, _Pending] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    master = keyring_for(session).master
    conn = session.connection()
    held_back: set[str] = session.info.get(_HELD_BACK, set())
    for chain, noted in pending.items():
        if chain in held_back:  # the chain it extends was tampered with: keep the evidence
            continue
        if noted.seq is not None:
            store_checkpoint(conn, sign(master, chain, noted.seq, noted.hash, noted.at))
            continue
        row = conn.execute(noted.head).first()
        if row is not None:  # a savepoint rolled back every append of this transaction
            store_checkpoint(conn, sign(master, chain, row[0], row[1], noted.at))


@event.listens_for(Session, "after_soft_rollback")
def _reread_heads(session: Session, previous: Any) -> None:
    pending: dict[str, _Pending] | None = session.info.get(_PENDING)
    if pending and previous.nested:  # appends inside the savepoint are gone
        for chain, noted in pending.items():
            pending[chain] = replace(noted, seq=None)


# Rolled back, or closed without a commit (which fires no rollback event): forget.
@event.listens_for(Session, "after_transaction_end")
def _forget_heads(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_HELD_BACK, None)


def sign_verified_head(session: Session, chain: str, noun: str, head: Select[Any],
                       problem: str | None, at: datetime) -> Checkpoint:
    """Sign and store ``chain``'s head (``head`` selects its seq and hash) at ``at``, the
    chain just verified with no ``problem``; Conflict, nothing signed, when it had one or
    has no events."""
    if problem is not None:
        raise Conflict(f"{noun} BROKEN: {problem}; nothing signed")
    row = session.connection().execute(head).first()
    if row is None:
        raise Conflict(f"the {noun} has no events yet: there is no head to sign")
    signed = sign(keyring_for(session).master, chain, row[0], row[1], at)
    store_checkpoint(session.connection(), signed)
    return signed


def resign_checkpoints(conn: Connection, old: MasterKey, new: MasterKey) -> int:
    """Re-sign, under ``new``, every stored checkpoint ``old`` signed validly; how many."""
    done = 0
    for row in conn.execute(select(_TABLE).where(_TABLE.c.key_id == old.key_id)).all():
        found = Checkpoint(**{n: getattr(row, n) for n in _FIELDS})
        if hmac.compare_digest(_mac(old, found), found.signature):
            store_checkpoint(conn, sign(new, found.chain, found.seq, found.hash, found.at))
            done += 1
    return done


class Anchors:
    """Checks a chain, walked oldest first, against its signed checkpoints: the stored one
    and, optionally, an exported one (``against``, read from ``source``)."""

    def __init__(self, conn: Connection, keyring: Keyring, chain: str, noun: str, *,
                 against: Checkpoint | None = None, source: str = "",
                 appending: bool = False, require_stored: bool = True) -> None:
        self.conn, self.keyring, self.chain, self.noun = conn, keyring, chain, noun
        self.against, self.source = against, source
        # This session's own appends are signed at its commit: not yet, but not foreign.
        self.appending, self.require_stored = appending, require_stored
        self.stored: Checkpoint | None = None
        self._last_hash = ""

    def start(self) -> str | None:
        """Read the stored checkpoint (before the walk) and check both signatures."""
        self.stored = stored_checkpoint(self.conn, self.chain)
        if self.stored is not None:
            problem = signature_problem(self.keyring, self.stored)
            if problem:
                return f"the stored checkpoint ({self.stored}) {problem}"
        if self.against is not None:
            if self.against.chain != self.chain:
                return (f"checkpoint {self.source} is of the {self.against.chain} chain, "
                        f"not {self.chain}")
            problem = signature_problem(self.keyring, self.against)
            if problem:
                return f"checkpoint {self.source} {problem}"
        return None

    def see(self, seq: int, head_hash: str) -> str | None:
        """Check one event of the walk; a problem when a checkpoint signed another there."""
        for checkpoint, name in self._named():
            if seq == checkpoint.seq and head_hash != checkpoint.hash:
                return (f"is not the event {name} signed ({checkpoint}): the {self.noun} "
                        "was rewritten up to here")
        self._last_hash = head_hash
        return None

    def finish(self, count: int, last: int) -> str | None:
        """After the walk of ``count`` events ending at ``last``: a cut-off tail, or events
        no checkpoint covers; None when the chain reaches every checkpoint."""
        for checkpoint, name in self._named():
            if last < checkpoint.seq:
                if count == 0:
                    return (f"the {self.noun} is empty, but {name} signed {checkpoint}: "
                            "every event was deleted")
                gone = (f"event {checkpoint.seq} was" if checkpoint.seq == last + 1
                        else f"events {last + 1}-{checkpoint.seq} were")
                return (f"the {self.noun} ends at event {last}, but {name} signed "
                        f"{checkpoint}: {gone} deleted")
        if last <= (self.stored.seq if self.stored else 0) or self.appending:
            return None
        # Events committed during the walk come with a newer checkpoint: read it again.
        newer = stored_checkpoint(self.conn, self.chain)
        if newer is not None and newer != self.stored:
            problem = signature_problem(self.keyring, newer)
            if problem:
                return f"the stored checkpoint ({newer}) {problem}"
            # Checkpoints only move forward, so a newer one is at ``last`` or beyond it.
            if newer.seq == last and self._last_hash != newer.hash:
                return (f"event {newer.seq} is not the event the stored checkpoint signed "
                        f"({newer}): the {self.noun} was rewritten")
            self.stored = newer
        if self.stored is None:
            if not self.require_stored:
                return None
            return (f"no signed checkpoint is stored, though the {self.noun} has {count} events: "
                    "it was deleted, or the database predates checkpoints (then run "
                    f"{_ADOPTED_BY[self.chain]} once)")
        if last > self.stored.seq:
            return (f"events {self.stored.seq + 1}-{last} come after the last signed checkpoint "
                    f"({self.stored}): they were not appended by Personvern")
        return None

    def _named(self) -> list[tuple[Checkpoint, str]]:
        found = [(self.stored, "the stored checkpoint")] if self.stored else []
        if self.against is not None:
            found.append((self.against, f"checkpoint {self.source}"))
        return found
