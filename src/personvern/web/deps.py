"""What routes share: the runtime, API keys and their scopes, the GPC signal, hashed evidence."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from personvern.apikeys import has_scope, parse_scopes, require_scope
from personvern.consent.service import key_revoked_at
from personvern.consent.tables import ApiKey
from personvern.errors import Conflict, InvalidInput, Unauthorized
from personvern.runtime import Runtime

EVIDENCE_KEY_ENV = "PERSONVERN_EVIDENCE_KEY"
log = logging.getLogger("personvern.web")

_bearer = HTTPBearer(
    auto_error=False, scheme_name="ApiKey",
    description="An API key from `personvern keys create NAME --scope SCOPE`, sent as "
                "`Authorization: Bearer pv_...`. Each operation lists the scope it needs "
                "(`admin` holds every scope); a key without it gets a 403.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def runtime(request: Request) -> Runtime:
    """The Runtime the lifespan opened."""
    rt: Runtime = request.app.state.runtime
    return rt


@contextmanager
def unit(rt: Runtime) -> Iterator[Session]:
    """One transaction for one request; a unique-key race becomes a 409, not a 500."""
    with collisions(), rt.transaction() as session:
        yield session


@contextmanager
def collisions() -> Iterator[None]:
    """A unique-key race with a concurrent request as a 409, not a 500."""
    try:
        yield
    except IntegrityError as err:
        raise Conflict("the request collided with a concurrent change; retry it") from err


async def _live_key(request: Request, credentials: Credentials) -> ApiKey:
    """The caller's live API key; 401 when missing, unknown or revoked.

    Async so a read with a recently verified key costs no thread hop; anything that
    needs the database runs in a worker thread.
    """
    rt = runtime(request)
    token = credentials.credentials if credentials else None
    fresh = request.method not in {"GET", "HEAD"}
    if not fresh:
        known = rt.keys.peek(token)
        if known is not None:
            return known
    return await anyio.to_thread.run_sync(_check_key, rt, token, fresh)


def _check_key(rt: Runtime, token: str | None, fresh: bool) -> ApiKey:
    # One read: no transaction of its own (rt.reading), a round trip to the key's row.
    with rt.reading() as session:
        return rt.keys.authenticate(session, token, fresh=fresh)


async def _scoped_key(request: Request, scopes: SecurityScopes, credentials: Credentials
                      ) -> ApiKey:
    """The caller's live key, holding every scope the route names (403 naming one it lacks)."""
    key = await _live_key(request, credentials)
    for scope in scopes.scopes:
        require_scope(key, scope)
    return key


async def _scoped_key_checked_in_route(request: Request, scopes: SecurityScopes,
                                       credentials: Credentials) -> ApiKey:
    """Like :func:`_scoped_key`, trusting a recently verified key for any method: the route
    reads the key again in the write's transaction (:func:`still_live`) before it changes
    anything, so a write costs no thread hop and no transaction of its own for the key."""
    rt = runtime(request)
    token = credentials.credentials if credentials else None
    key = rt.keys.peek(token)
    if key is None:
        key = await anyio.to_thread.run_sync(_check_key, rt, token, True)
    for scope in scopes.scopes:
        require_scope(key, scope)
    return key


async def key_checked_in_route(request: Request, scopes: SecurityScopes) -> ApiKey:
    """The key ``need(..., checked_in_route=True)`` gives a route, for a handler that
    solves no dependencies (the same header read, the same checks, the same errors)."""
    return await _scoped_key_checked_in_route(request, scopes, await _bearer(request))


async def cached_key(request: Request, scopes: SecurityScopes) -> ApiKey | None:
    """The key :func:`key_checked_in_route` gives from the cache, if it would neither read
    the database nor refuse (None then: the caller leaves the request to the route)."""
    credentials = await _bearer(request)
    key = runtime(request).keys.peek(credentials.credentials if credentials else None)
    if key is None or not all(has_scope(key, scope) for scope in scopes.scopes):
        return None
    return key


# The key's row read again: revoked_at, by primary key (one indexed statement).
_REVOKED_AT = select(ApiKey.revoked_at).where(ApiKey.id == bindparam("key_id"))


def still_live(session: Session, rt: Runtime, key: ApiKey) -> None:
    """401 unless ``key`` is still live, read in ``session``'s transaction.

    A route declared with ``need(..., checked_in_route=True)`` calls it before it writes:
    a key revoked on another host a moment ago (its notice not yet here, or lost) never
    writes, as when the key was read fresh for every write.
    """
    # Read with the batch's other writers' keys when the group commit's batch has
    # (consent.service.WriteLookups); else Core, not the ORM's execute: one indexed column
    # needs none of its machinery.
    read = key_revoked_at(session, key.id)
    if read is None:
        row = session.connection().execute(_REVOKED_AT, {"key_id": key.id}).first()
        read = (False, None) if row is None else (True, row.revoked_at)
    exists, revoked_at = read
    if not exists or revoked_at is not None:
        rt.keys.forget(key.prefix)
        raise Unauthorized("the API key has been revoked" if exists
                           else "the API key is not valid")


async def _optional_scoped_key(request: Request, scopes: SecurityScopes,
                               credentials: Credentials) -> ApiKey | None:
    """Like :func:`_scoped_key` when a key is sent (then it must be valid), else None."""
    if credentials is None and "authorization" not in request.headers:
        return None
    return await _scoped_key(request, scopes, credentials)


def need(scope: str, *, optional: bool = False, checked_in_route: bool = False) -> Any:
    """The dependency a route declares: a live API key holding ``scope``.

    A ``Security`` dependency, so the OpenAPI document lists the scope as the operation's
    security requirement. ``optional``: a request without a key passes (as None); one with
    a key is held to the scope like any other. ``checked_in_route``: a write whose route
    takes the key as a parameter and calls :func:`still_live` in its own transaction
    before writing; the dependency then answers from the cache of verified keys.
    """
    parse_scopes([scope])  # a misspelt scope stops the app at import, not a caller at 403
    if checked_in_route:
        assert not optional, "an optional key is not read again by the route"
        return Security(_scoped_key_checked_in_route, scopes=[scope])
    return Security(_optional_scoped_key if optional else _scoped_key, scopes=[scope])


async def gpc_signal(
    sec_gpc: Annotated[str | None, Header(
        alias="Sec-GPC", description="Global Privacy Control: exactly `1` means the signal is "
        "present; any other value is ignored, as the GPC specification says.",
    )] = None,
) -> bool:
    """Whether the request carries the GPC signal: the value ``1`` exactly (async: no thread)."""
    return sec_gpc == "1"


def evidence_key(configured: str | None) -> tuple[bytes, bool]:
    """The key request evidence is hashed with, and whether it is configured (persistent).

    ``configured`` is Settings.evidence_key (``PERSONVERN_EVIDENCE_KEY``). Without it a
    random per-process key still keeps IPs unreadable, but hashes from before a restart
    can no longer be checked against a claimed address.
    """
    if configured and configured.strip():
        return configured.strip().encode(), True
    log.warning("%s is not set: request evidence is hashed with a key that lasts only "
                "while this process runs", EVIDENCE_KEY_ENV)
    return secrets.token_bytes(32), False


def keyed_hash(key: bytes, value: str) -> dict[str, str]:
    """HMAC-SHA256 of ``value`` under ``key`` with a fresh salt, so equal values don't link."""
    salt = secrets.token_bytes(16)
    digest = hmac.new(key, salt + value.encode(), hashlib.sha256).hexdigest()
    key_id = hashlib.sha256(b"personvern evidence key id\0" + key).hexdigest()[:16]
    return {"alg": "hmac-sha256", "key_id": key_id, "salt": salt.hex(), "digest": digest}


RESERVED_EVIDENCE = frozenset({"ip_hash", "user_agent_hash"})


def hashed_evidence(
    request: Request, given: dict[str, Any], ip: str | None, user_agent: str | None
) -> dict[str, Any]:
    """The evidence to store: ``given`` plus the person's IP and user agent, hashed only.

    ``ip``/``user_agent`` are the person's as the calling app saw them; without them the
    request's own connection address and User-Agent header are used.
    """
    reserved = sorted(RESERVED_EVIDENCE & set(given))
    if reserved:
        raise InvalidInput(f"evidence field(s) {', '.join(reserved)} are set by the server")
    # "given": the calling app passed the person's; "connection": this request's own,
    # which is the app server's when an app calls (the person's when a browser does).
    ip_source = ua_source = "given"
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            raise InvalidInput(f"evidence.ip {ip!r} is not an IP address") from None
    else:
        ip, ip_source = (request.client.host if request.client else None), "connection"
    if user_agent is None:
        user_agent, ua_source = request.headers.get("user-agent"), "connection"
    key: bytes = request.app.state.evidence_key
    evidence = dict(given)
    if ip:
        evidence["ip_hash"] = {**keyed_hash(key, ip), "source": ip_source}
    if user_agent:
        evidence["user_agent_hash"] = {**keyed_hash(key, user_agent), "source": ua_source}
    return evidence
