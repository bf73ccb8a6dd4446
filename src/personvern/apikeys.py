"""API keys: random bearer tokens, stored only as SHA-256, shown once, each with its scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import weakref
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.consent.tables import ApiKey
from personvern.errors import InvalidInput, MissingScope, NotFound, Unauthorized
from personvern.storage.notify import KEY, announce

PREFIX = "pv_"
ADMIN = "admin"

# Every scope a key may hold, and what it allows; the web layer names one per route.
SCOPES: dict[str, str] = {
    ADMIN: "everything, the scopes below and any added later",
    "subjects:read": "look subjects up, and see whom a cookie choice is tied to",
    "subjects:write": "create subjects, note their activity, link guardians",
    "consent:write": "record consent and objection events, tie cookie choices to a subject",
    "decisions:read": "ask whether a purpose may be carried out; read consent decisions",
    "cookies:write": "record anonymous cookie choices (what a cookie banner needs)",
    "requests:open": "open data-subject requests and verify them with the person's code",
    "requests:read": "list and show data-subject requests",
    "requests:run": "carry requests out, extend, refuse or lift them, close manual tasks",
    "packages:read": "download access packages and portability exports",
    "policy:read": "read the privacy policy, its versions and what changed",
    "policy:publish": "publish a new version of the privacy policy",
    "records:read": "read the record of processing and the breach register",
    "breach:write": "record breaches, add updates and close them",
}


def parse_scopes(given: Iterable[str]) -> str:
    """``given`` checked and in the table's order, space-separated as stored."""
    wanted = {g.strip() for g in given}
    valid = ", ".join(SCOPES)
    unknown = sorted(wanted - SCOPES.keys())
    if unknown:
        raise InvalidInput(f"unknown scope {', '.join(map(repr, unknown))}; "
                           f"valid scopes: {valid}")
    if not wanted:
        raise InvalidInput(f"an API key needs at least one scope ({ADMIN} for everything); "
                           f"valid scopes: {valid}")
    return " ".join(s for s in SCOPES if s in wanted)


def scopes_of(key: ApiKey) -> list[str]:
    """The scopes ``key`` holds, in the table's order."""
    return key.scopes.split()


def has_scope(key: ApiKey, scope: str) -> bool:
    """Whether ``key`` may do what ``scope`` allows (admin may do everything)."""
    held = scopes_of(key)
    return ADMIN in held or scope in held


def require_scope(key: ApiKey, scope: str) -> None:
    """Forbidden, naming the missing scope, unless ``key`` holds ``scope`` (or admin)."""
    if not has_scope(key, scope):
        raise MissingScope(f"this API key lacks the scope {scope!r} (it has: "
                        f"{', '.join(scopes_of(key))}); create one that has it with "
                        f"`personvern keys create NAME --scope {scope}`")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(session: Session, clock: Clock, name: str, scopes: Iterable[str]
               ) -> tuple[str, ApiKey]:
    """A new key named ``name`` holding ``scopes``: (token, row); the token is not stored."""
    if not name.strip():
        raise InvalidInput("an API key needs a name saying who uses it")
    held = parse_scopes(scopes)
    # 32 random bytes: a SHA-256 of it needs no salt or slow hash to resist guessing.
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(prefix=token[:12], key_hash=_digest(token), name=name.strip(),
                 scopes=held, created_at=clock())
    session.add(row)
    session.flush()
    return token, row


def authenticate(session: Session, token: str | None) -> ApiKey:
    """The live key for ``token``; Unauthorized when missing, unknown or revoked."""
    if not token:
        raise Unauthorized("an API key is required: send `Authorization: Bearer <key>`")
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == token[:12])).first()
    if row is None or not hmac.compare_digest(row.key_hash, _digest(token)):
        raise Unauthorized("the API key is not valid")
    if row.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    return row


# Every cache in this process, so a revocation here takes effect at once.
_CACHES: weakref.WeakSet[KeyCache] = weakref.WeakSet()


class KeyCache:
    """Recently verified keys, so the hot path does not query for every request.

    A key revoked in this process is dropped at once; one revoked by another process
    stops working within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._now = monotonic
        self._verified: dict[str, tuple[float, ApiKey]] = {}
        _CACHES.add(self)

    def authenticate(self, session: Session, token: str | None, *, fresh: bool = False) -> ApiKey:
        """Like :func:`authenticate`, answering from memory while the entry is fresh.

        ``fresh`` always asks the database: requests that change data use it, so a
        revoked key can never write, even within the cache's few seconds.
        """
        if token and not fresh:
            digest = _digest(token)
            hit = self._verified.get(digest)
            if hit is not None and self._now() - hit[0] < self.ttl:
                return hit[1]
        row = authenticate(session, token)
        assert token is not None
        session.expunge(row)  # kept beyond this session, read-only
        self._verified[_digest(token)] = (self._now(), row)
        return row

    def peek(self, token: str | None) -> ApiKey | None:
        """The verified key for ``token`` if known and fresh; never touches the database."""
        if not token:
            return None
        hit = self._verified.get(_digest(token))
        if hit is not None and self._now() - hit[0] < self.ttl:
            return hit[1]
        return None

    def clear(self) -> None:
        """Forget every key (another host may have revoked any)."""
        self._verified.clear()

    def forget(self, prefix: str) -> None:
        """Drop the key whose token starts with ``prefix``."""
        for digest, (_, row) in list(self._verified.items()):
            if row.prefix == prefix[:12]:
                del self._verified[digest]


def revoke_key(session: Session, clock: Clock, prefix: str) -> tuple[ApiKey, bool]:
    """Revoke the key whose token starts with ``prefix`` (as listed); the key, and whether
    this revoked it (False: it was revoked before, and its time is kept)."""
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix[:12])).first()
    if row is None:
        raise NotFound(f"no API key {prefix!r}")
    revoked = row.revoked_at is None
    if revoked:
        row.revoked_at = clock()
    for cache in list(_CACHES):
        cache.forget(prefix)
    announce(session, KEY, row.prefix)  # the other hosts forget it when this commits
    return row, revoked


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first (prefixes and names only; tokens are never stored)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
