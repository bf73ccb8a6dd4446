"""Subject keys: created on first use, unwrapped on demand and cached, destroyed on erasure.

Keys live in ``subject_keys`` wrapped (AES-256-GCM) by the master key. A key created in
an open transaction is cached only once that transaction commits, so a rollback never
leaves a cached key the database does not hold.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Select,
    Table,
    bindparam,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from personvern.crypto import envelope
from personvern.crypto.master import ENV_FILE, ENV_KEY, MasterKey, load_master_key
from personvern.crypto.tables import SubjectKey
from personvern.errors import ConfigurationError, Conflict
from personvern.settings import get_settings
from personvern.wording import count

LOOKUP_KEY = "_lookup"  # the key of keyed hashes (never a subject id: those are hex)
HASH_PREFIX = "h1:"
SESSION_INFO = "personvern.keyring"
_PENDING = "personvern.new_keys"
_SHREDDED = "personvern.shredded"

# Keys are cached per database (its URL), as two databases may hold the same subject id.
_SCOPES: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_KEYS: Table = SubjectKey.__table__  # type: ignore[assignment]
GET_KEY = select(_KEYS.c.wrapped, _KEYS.c.master_key_id).where(
    _KEYS.c.subject_id == bindparam("sid"))
_GET_KEYS = select(_KEYS.c.subject_id, _KEYS.c.wrapped, _KEYS.c.master_key_id).where(
    _KEYS.c.subject_id.in_(bindparam("sids", expanding=True)))
# shred_many's statements, built once (a fresh statement per call is built and its cache
# key computed anew, in Python, at every erasure).
_LIVE_KEYS = select(_KEYS.c.subject_id, _KEYS.c.wrapped.is_not(None), _KEYS.c.master_key_id
                    ).where(_KEYS.c.subject_id.in_(bindparam("ids", expanding=True)))
_DESTROY_KEYS = update(_KEYS).where(_KEYS.c.subject_id.in_(bindparam("ids", expanding=True))
                                    ).values(wrapped=None, master_key_id=None,
                                             shredded_at=bindparam("at"))

def _read_and_destroy() -> Select[Any]:
    """:data:`_LIVE_KEYS` and :data:`_DESTROY_KEYS` as one statement (PostgreSQL: a
    data-modifying CTE): the keys as they were before (the same rows, read from the same
    snapshot the UPDATE starts from), and every live one among them destroyed."""
    old = _LIVE_KEYS.cte("old_keys")
    alive = old.c[1]
    destroy = update(_KEYS).where(_KEYS.c.subject_id == old.c.subject_id, alive.is_(True)
                                  ).values(wrapped=None, master_key_id=None,
                                           shredded_at=bindparam("at")).cte("destroyed")
    return select(old.c.subject_id, alive, old.c.master_key_id).add_cte(destroy)


_READ_AND_DESTROY = _read_and_destroy()


class DataKey(NamedTuple):
    """An unwrapped key: raw bytes (for HMAC) and its AES-GCM object (built once)."""

    raw: bytes
    aead: AESGCM


class _Missing:
    """No key row at all (never created)."""


class _Shredded:
    """A tombstone: the key was destroyed."""


MISSING, SHREDDED = _Missing(), _Shredded()


def _wrap_ad(subject_id: str) -> bytes:
    return f"personvern:subject-key:v1:{subject_id}".encode()


class Keyring:
    """Wraps, unwraps, caches and destroys subject keys under one master key.

    ``previous`` masters can still unwrap (during a rotation). ``store``: an engine on the
    engine's database when the data lives elsewhere (a service's own database); without
    it keys are read and written on the caller's connection, in its transaction.
    """

    def __init__(self, master: MasterKey, *, previous: Sequence[MasterKey] = (),
                 store: Engine | None = None, cache_size: int = 10_000, ttl_s: float = 300.0,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.master = master
        self._masters = {m.key_id: m for m in (*previous, master)}
        self.store = store
        self.cache_size, self.ttl_s, self._timer = cache_size, ttl_s, timer
        self._cache: OrderedDict[tuple[Any, str], tuple[float, DataKey]] = OrderedDict()
        self._lock = threading.Lock()
        # Keys asked for and found unwrapped in memory, and those read and unwrapped (or
        # created): what the cache saves (docs/performance.md).
        self.hits = self.misses = 0

    def master_by_id(self, key_id: str) -> MasterKey | None:
        """The current or a previous master key with id ``key_id``, if this keyring holds it."""
        return self._masters.get(key_id)

    # ---- wrapping ---------------------------------------------------------------------

    def wrap(self, subject_id: str, raw: bytes, master: MasterKey | None = None) -> bytes:
        """``raw`` encrypted under the master key, bound to ``subject_id``."""
        nonce = secrets.token_bytes(envelope.NONCE_BYTES)
        aead = AESGCM((master or self.master).secret)
        return nonce + aead.encrypt(nonce, raw, _wrap_ad(subject_id))

    def unwrap(self, subject_id: str, wrapped: bytes, key_id: str | None) -> bytes:
        """The raw key; a wrong master key is a clear ConfigurationError, never garbage."""
        master = self._masters.get(key_id or "")
        if master is None:
            raise wrong_master(self.master, {key_id or "?": 1})
        try:
            return AESGCM(master.secret).decrypt(
                wrapped[:envelope.NONCE_BYTES], wrapped[envelope.NONCE_BYTES:],
                _wrap_ad(subject_id))
        except InvalidTag:
            raise envelope.CiphertextRejected(
                f"the stored key of subject {subject_id} does not authenticate under master "
                f"key {key_id} (altered or copied from another subject)") from None

    # ---- the cache ----------------------------------------------------------------------

    def _cached(self, conn: Connection, scope: Any, subject_id: str) -> DataKey | None:
        pending = conn.info.get(_PENDING)
        if pending and (scope, subject_id) in pending[1]:
            found: DataKey = pending[1][(scope, subject_id)]
            self.hits += 1
            return found
        with self._lock:
            hit = self._cache.get((scope, subject_id))
            if hit is None:
                self.misses += 1
                return None
            if hit[0] < self._timer():
                del self._cache[(scope, subject_id)]
                self.misses += 1
                return None
            self._cache.move_to_end((scope, subject_id))
            self.hits += 1
            return hit[1]

    def _remember(self, scope: Any, subject_id: str, key: DataKey) -> None:
        if self.cache_size <= 0:
            return
        with self._lock:
            self._cache[(scope, subject_id)] = (self._timer() + self.ttl_s, key)
            self._cache.move_to_end((scope, subject_id))
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def forget(self, scope: Any, subject_id: str) -> None:
        """Drop a subject's key from this process's cache."""
        with self._lock:
            self._cache.pop((scope, subject_id), None)

    def clear_cache(self) -> None:
        """Drop every cached key (benchmarks; after a rotation)."""
        with self._lock:
            self._cache.clear()

    # ---- keys -------------------------------------------------------------------------

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if self.store is not None:
            with self.store.begin() as own:
                yield own
        else:
            if conn is None:
                raise ConfigurationError("this keyring has no key store; pass a connection")
            yield conn

    def _scope(self, conn: Connection | None) -> Any:
        engine = self.store if self.store is not None else conn.engine if conn else None
        if engine is None:
            return None
        scope = _SCOPES.get(engine)
        if scope is None:  # the database's URL, rendered once (hashing a URL renders it)
            scope = _SCOPES[engine] = engine.url.render_as_string(hide_password=True)
        return scope

    def _load(self, c: Connection, subject_id: str) -> DataKey | _Missing | _Shredded:
        row = c.execute(GET_KEY, {"sid": subject_id}).first()
        if row is None:
            return MISSING
        if row.wrapped is None:
            return SHREDDED
        raw = self.unwrap(subject_id, row.wrapped, row.master_key_id)
        return DataKey(raw, AESGCM(raw))

    def warm(self, conn: Connection, subject_ids: Sequence[str]) -> None:
        """Read the stored keys of those of ``subject_ids`` not cached, in one statement,
        and cache the live ones, as :meth:`key` caches a key it reads (a group commit's
        batch, before its writers seal: one statement, not one a writer)."""
        if self.store is not None or self.cache_size <= 0:
            return
        scope = self._scope(conn)
        # A key created in this transaction is cached only when it commits.
        pending = conn.info.get(_PENDING)
        created = pending[1] if pending else {}
        with self._lock:
            missing = sorted({sid for sid in subject_ids if (scope, sid) not in self._cache
                              and (scope, sid) not in created})
        if not missing:
            return
        for row in conn.execute(_GET_KEYS, {"sids": missing}):
            if row.wrapped is not None:
                raw = self.unwrap(row.subject_id, row.wrapped, row.master_key_id)
                self._remember(scope, row.subject_id, DataKey(raw, AESGCM(raw)))

    def key(self, conn: Connection | None, subject_id: str, *, create: bool = False,
            now: datetime | None = None) -> DataKey | None:
        """The subject's key; None when destroyed (or absent and not ``create``).

        Creating a key for a subject whose key was destroyed is a Conflict: nothing new
        may be encrypted for an erased person.
        """
        scope = self._scope(conn)
        if conn is not None:
            hit = self._cached(conn, scope, subject_id)
            if hit is not None:
                return hit
        with self._conn(conn) as c:
            if conn is None:
                hit = self._cached(c, scope, subject_id)
                if hit is not None:
                    return hit
            found = self._load(c, subject_id)
            if isinstance(found, DataKey):
                self._remember(scope, subject_id, found)
                return found
            if found is SHREDDED and create:
                raise Conflict(f"subject {subject_id} was erased: its key is destroyed and "
                               "nothing new can be encrypted for it")
            if found is SHREDDED or not create:
                return None
            return self._create(c, scope, subject_id, now)

    def _create(self, c: Connection, scope: Any, subject_id: str,
                now: datetime | None) -> DataKey:
        raw = secrets.token_bytes(32)
        values = {"subject_id": subject_id, "wrapped": self.wrap(subject_id, raw),
                  "master_key_id": self.master.key_id,
                  "created_at": now or datetime.now().astimezone()}
        if c.execute(_INSERT_NEW_KEY, values).rowcount == 1:
            found: DataKey | _Missing | _Shredded = DataKey(raw, AESGCM(raw))
        else:  # another process won the race: its key (or its tombstone) is the one
            found = self._load(c, subject_id)
        if not isinstance(found, DataKey):
            raise Conflict(f"subject {subject_id} was erased meanwhile")
        if self.store is not None:
            self._remember(scope, subject_id, found)
        else:  # cached once the caller's transaction commits
            pending = c.info.setdefault(_PENDING, (self, {}))
            pending[1][(scope, subject_id)] = found
        return found

    def shred(self, conn: Connection | None, subject_id: str, at: datetime) -> bool:
        """Destroy the subject's key (a tombstone stays); whether a key was destroyed."""
        scope = self._scope(conn)
        with self._conn(conn) as c:
            row = c.execute(GET_KEY, {"sid": subject_id}).first()
            if row is None:
                c.execute(insert(_KEYS), {"subject_id": subject_id, "wrapped": None,
                                          "master_key_id": None, "created_at": at,
                                          "shredded_at": at})
                destroyed = False
            else:
                destroyed = row.wrapped is not None
                if destroyed:
                    c.execute(update(_KEYS).where(_KEYS.c.subject_id == subject_id).values(
                        wrapped=None, master_key_id=None, shredded_at=at))
            pending = c.info.get(_PENDING)
            if pending:
                pending[1].pop((scope, subject_id), None)
            c.info.setdefault(_SHREDDED, (self, set()))[1].add((scope, subject_id))
        self.forget(scope, subject_id)
        return destroyed

    def shred_many(self, conn: Connection | None, subject_ids: Sequence[str], at: datetime,
                   *, chunk: int = 500) -> dict[str, tuple[bool, str | None]]:
        """:meth:`shred` for many subjects, set-based: per chunk one read of their keys,
        one UPDATE destroying every live one and one INSERT of a tombstone for those that
        never had a key; per subject, whether a key was destroyed and the master key that
        wrapped it before (what the audit event names: read here, not again)."""
        scope = self._scope(conn)
        ids = list(dict.fromkeys(subject_ids))
        destroyed: dict[str, tuple[bool, str | None]] = {}
        with self._conn(conn) as c:
            # PostgreSQL: the read and the UPDATE in one round trip (SQLite has no
            # data-modifying CTE: two statements).
            at_once = c.dialect.name == "postgresql"
            for start in range(0, len(ids), chunk):
                part = ids[start:start + chunk]
                live = {sid: (bool(alive), master) for sid, alive, master in c.execute(
                    _READ_AND_DESTROY if at_once else _LIVE_KEYS,
                    {"ids": part, "at": at} if at_once else {"ids": part}).tuples()}
                gone = [sid for sid in part if sid in live and live[sid][0]]
                if gone and not at_once:
                    c.execute(_DESTROY_KEYS, {"ids": gone, "at": at})
                never = [sid for sid in part if sid not in live]
                if never:
                    c.execute(insert(_KEYS), [
                        {"subject_id": sid, "wrapped": None, "master_key_id": None,
                         "created_at": at, "shredded_at": at} for sid in never])
                destroyed.update({sid: (bool(live[sid][0]), live[sid][1]) if sid in live
                                  else (False, None) for sid in part})
            pending = c.info.get(_PENDING)
            shredded = c.info.setdefault(_SHREDDED, (self, set()))[1]
            for sid in ids:
                if pending:
                    pending[1].pop((scope, sid), None)
                shredded.add((scope, sid))
        for sid in ids:
            self.forget(scope, sid)
        return destroyed

    # ---- sealing ------------------------------------------------------------------------

    def seal(self, conn: Connection | None, subject_id: str, context: str, plaintext: bytes
             ) -> str:
        """``plaintext`` encrypted for the subject in ``context`` (a pv1 envelope)."""
        key = self.key(conn, subject_id, create=True)
        assert key is not None
        return envelope.seal(key.aead, subject_id, context, plaintext)

    def open(self, conn: Connection | None, subject_id: str, context: str, sealed: str
             ) -> bytes | None:
        """The plaintext, or None when the subject's key was destroyed (erased)."""
        key = self.key(conn, subject_id)
        if key is None:
            return None
        return envelope.open_(key.aead, subject_id, context, sealed)

    def seal_json(self, conn: Connection | None, subject_id: str, context: str,
                  value: Any) -> str:
        """``value`` as canonical JSON, sealed."""
        return self.seal(conn, subject_id, context, _json(value))

    def open_json(self, conn: Connection | None, subject_id: str, context: str,
                  sealed: str) -> Any:
        """The JSON value, or None when erased."""
        data = self.open(conn, subject_id, context, sealed)
        return None if data is None else json.loads(data)

    def lookup_hash(self, conn: Connection | None, kind: str, value: str) -> str:
        """A keyed hash (HMAC-SHA256) to find ``value`` by without storing it in clear."""
        key = self.key(conn, LOOKUP_KEY, create=True)
        assert key is not None
        digest = hmac.new(key.raw, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return HASH_PREFIX + digest

    # ---- checks -------------------------------------------------------------------------

    def check(self, conn: Connection) -> None:
        """ConfigurationError if stored keys are wrapped by a master key this one is not."""
        if not inspect(conn).has_table(_KEYS.name):
            return
        rows = conn.execute(select(_KEYS.c.master_key_id, func.count()).where(
            _KEYS.c.master_key_id.is_not(None)).group_by(_KEYS.c.master_key_id)).all()
        foreign = {r[0]: r[1] for r in rows if r[0] not in self._masters}
        if foreign:
            raise wrong_master(self.master, foreign)


def wrong_master(given: MasterKey, foreign: dict[str, int]) -> ConfigurationError:
    """The error for subject keys wrapped (locked) by a master key other than ``given``."""
    held = " and ".join(f"master key {k} ({count(n, 'key')})"
                        for k, n in sorted(foreign.items()))
    return ConfigurationError(
        f"wrong master key: this database holds subject keys locked with {held}, which the "
        f"key from {given.source} (id {given.key_id}) cannot open. Set {ENV_FILE} (or "
        f"{ENV_KEY}) to the master key in use: after a rotation, the new one; "
        "if a rotation was interrupted, run `personvern keys rotate --new-key-file FILE` "
        "again with the same new key"
    )


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


# Written out once: SQLAlchemy's ON CONFLICT constructs are never cached, so building one per
# new key recompiled it each time (most of a first consent's cost). PostgreSQL and SQLite
# (3.24+) spell it the same.
_INSERT_NEW_KEY = text(
    f"INSERT INTO {_KEYS.name} (subject_id, wrapped, master_key_id, created_at) "
    "VALUES (:subject_id, :wrapped, :master_key_id, :created_at) "
    "ON CONFLICT (subject_id) DO NOTHING"
).bindparams(bindparam("wrapped", type_=LargeBinary()),
             bindparam("created_at", type_=_KEYS.c.created_at.type))


# A transaction's new keys join the cache when it commits; its shredded ones leave it again
# (another thread may have cached the old key meanwhile).
@event.listens_for(Engine, "commit")
def _on_commit(conn: Connection) -> None:
    pending = conn.info.pop(_PENDING, None)
    if pending:
        keyring, keys = pending
        for (scope, sid), key in keys.items():
            keyring._remember(scope, sid, key)
    shredded = conn.info.pop(_SHREDDED, None)
    if shredded:
        keyring, gone = shredded
        for scope, sid in gone:
            keyring.forget(scope, sid)


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Connection) -> None:
    if conn.invalidated:  # the server ended it: its info went with it, and reading it
        return            # would raise instead of the error that ended the transaction
    conn.info.pop(_PENDING, None)
    conn.info.pop(_SHREDDED, None)


# ---- the process's keyring ------------------------------------------------------------

_DEFAULT: Keyring | None = None


def use_keyring(keyring: Keyring | None) -> None:
    """Make ``keyring`` the one sessions without their own use (the runtime sets it)."""
    global _DEFAULT  # noqa: PLW0603 (one keyring per process, like the settings)
    _DEFAULT = keyring


def default_keyring() -> Keyring:
    """The process's keyring; built from the environment's master key on first use."""
    global _DEFAULT  # noqa: PLW0603
    if _DEFAULT is None:
        _DEFAULT = Keyring(load_master_key(get_settings()))
    return _DEFAULT


def keyring_for(session: Session | None) -> Keyring:
    """The session's keyring (``session.info['personvern.keyring']``) or the process's."""
    if session is not None:
        own = session.info.get(SESSION_INFO)
        if isinstance(own, Keyring):
            return own
    return default_keyring()
