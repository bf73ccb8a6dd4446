"""Server-side sessions for the portal (subjects) and the dashboard (staff).

The browser holds a random token in a cookie; the table ``web_sessions`` holds only its
SHA-256, so a copy of the database signs no one in. A session ends when it is signed
out, when it has been idle too long, or at its absolute end, whichever comes first.

Each kind has its own cookie (``pv_subject``, ``pv_staff``), HttpOnly and SameSite=Lax,
and ``Secure`` with the ``__Host-`` prefix everywhere except plain http on a loopback
address (the demo and the tests), where a browser would refuse a Secure cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import Request, Response
from sqlalchemy import Connection, Executable, bindparam, select, update
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.errors import Unauthorized
from personvern.sessions.tables import WebSession
from personvern.storage.models import as_utc

Kind = Literal["subject", "staff"]
KINDS: tuple[Kind, ...] = ("subject", "staff")


@dataclass(frozen=True)
class Timeouts:
    """How long a session of one kind lasts without use, and at most."""

    idle: timedelta
    absolute: timedelta


# Staff see everyone's data: shorter absolute life than a subject looking at their own.
TIMEOUTS: dict[Kind, Timeouts] = {
    "subject": Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12)),
    "staff": Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=8)),
}
# last_seen_at is written at most this often, so reading pages is not a write each time.
TOUCH_EVERY = timedelta(seconds=60)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class SignInRequired(Unauthorized):
    """No live session of ``kind``: the site answers with a redirect to its sign-in page."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        super().__init__(f"sign in as {kind} first")


@dataclass(frozen=True)
class Current:
    """The signed-in principal of one request, and the raw token (for CSRF)."""

    kind: Kind
    principal: str
    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """The SHA-256 (hex) stored for a cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_secure(request: Request) -> bool:
    """Whether the cookie gets ``Secure``: always, except plain http on loopback."""
    host = (request.url.hostname or "").lower()
    return not (request.url.scheme == "http" and host in LOOPBACK_HOSTS)


def cookie_name(request: Request, base: str) -> str:
    """``__Host-<base>`` where the cookie is Secure, else ``<base>``."""
    return f"__Host-{base}" if is_secure(request) else base


def start(session: Session, clock: Clock, kind: Kind, principal: str) -> tuple[str, WebSession]:
    """A new session for ``principal``; returns (token for the cookie, row)."""
    if kind not in KINDS:
        raise ValueError(f"unknown session kind {kind!r}")
    now = as_utc(clock())
    token = secrets.token_urlsafe(32)
    row = WebSession(token_hash=token_hash(token), kind=kind, principal=principal,
                     created_at=now, last_seen_at=now,
                     expires_at=now + TIMEOUTS[kind].absolute, ended_at=None)
    session.add(row)
    session.flush()
    return token, row


# Built once: every signed-in page runs these (Core, not the ORM: no identity map to fill).
_LIVE = select(WebSession.kind, WebSession.principal, WebSession.last_seen_at,
               WebSession.expires_at).where(WebSession.token_hash == bindparam("h"),
                                            WebSession.ended_at.is_(None))
_ENDED = update(WebSession).where(WebSession.token_hash == bindparam("h")).values(
    ended_at=bindparam("at"))
_TOUCHED = update(WebSession).where(WebSession.token_hash == bindparam("h")).values(
    last_seen_at=bindparam("at"))


# A write to the session's row that a lookup found due: the statement and its values.
Due = tuple[Executable, dict[str, Any]]


def lookup(session: Session, clock: Clock, token: str | None, kind: Kind) -> Current | None:
    """The live session of ``kind`` for ``token``, touched; None when absent or over (one
    found over its time is marked ended)."""
    current, due = _find(session.connection(), clock, token, kind)
    if due is not None:
        session.connection().execute(*due)
    return current


def _find(conn: Connection, clock: Clock, token: str | None, kind: Kind
          ) -> tuple[Current | None, Due | None]:
    """The live session, and the write that is due on its row: marking it ended when it
    was found over its time, touching it when it was last touched a while ago."""
    if not token or len(token) > 128:
        return None, None
    hashed = token_hash(token)
    row = conn.execute(_LIVE, {"h": hashed}).first()
    if row is None or row.kind != kind:
        return None, None
    now = as_utc(clock())
    expires_at, last_seen_at = as_utc(row.expires_at), as_utc(row.last_seen_at)
    if now >= expires_at or now >= last_seen_at + TIMEOUTS[kind].idle:
        return None, (_ENDED, {"h": hashed, "at": now})
    current = Current(kind, row.principal, token, expires_at)
    if now - last_seen_at < TOUCH_EVERY:
        return current, None
    return current, (_TOUCHED, {"h": hashed, "at": now})


def end(session: Session, clock: Clock, token: str | None) -> None:
    """Sign out: the session of ``token`` (if any) ends now."""
    if token:
        session.execute(update(WebSession).where(
            WebSession.token_hash == token_hash(token), WebSession.ended_at.is_(None),
        ).values(ended_at=as_utc(clock())))


def end_all(session: Session, clock: Clock, kind: Kind, principal: str) -> int:
    """End every live session of ``principal`` (account deleted, password changed)."""
    result = session.execute(update(WebSession).where(
        WebSession.kind == kind, WebSession.principal == principal,
        WebSession.ended_at.is_(None),
    ).values(ended_at=as_utc(clock())))
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_cookie(response: Response, request: Request, kind: Kind, token: str) -> None:
    """Put the session token in the browser (a session cookie: gone when it closes)."""
    response.set_cookie(cookie_name(request, f"pv_{kind}"), token, httponly=True,
                        samesite="lax", secure=is_secure(request), path="/")


def clear_cookie(response: Response, request: Request, kind: Kind) -> None:
    """Remove the session cookie of ``kind`` from the browser."""
    response.delete_cookie(cookie_name(request, f"pv_{kind}"), httponly=True,
                           samesite="lax", secure=is_secure(request), path="/")


def token_of(request: Request, kind: Kind) -> str | None:
    """The session token of ``kind`` the browser sent, if any."""
    return request.cookies.get(cookie_name(request, f"pv_{kind}"))


def live_in(session: Session, request: Request, kind: Kind) -> Current | None:
    """The live session of ``kind``, read in the caller's transaction (one per request);
    None when there is none. Remembered on the request."""
    from personvern.web.deps import runtime

    cached: Current | None = getattr(request.state, "web_session", None)
    if cached is not None and cached.kind == kind:
        return cached
    current = lookup(session, runtime(request).clock, token_of(request, kind), kind)
    if current is not None:
        request.state.web_session = current
    return current


def _current(request: Request, kind: Kind) -> Current:
    from personvern.web.deps import runtime, unit

    current: Current | None = getattr(request.state, "web_session", None)
    if current is not None and current.kind == kind:
        return current
    with unit(runtime(request)) as session:
        current = live_in(session, request, kind)
    if current is None:
        raise SignInRequired(kind)
    return current


@contextmanager
def signed_in(request: Request, kind: Kind) -> Iterator[tuple[Session, Current]]:
    """A session for a page's reads, with its live session of ``kind`` read first: the
    page needs no connection (nor thread) of its own to find who is signed in.

    The reads run without a transaction (``Runtime.reading``: no BEGIN, no COMMIT); nothing
    may be written through the session. The one write a page can need, the session's
    touch (at most once a minute) or its end when found over its time, is made after the
    reads, in a transaction of its own: a write holds SQLite's one write lock (and
    PostgreSQL the row's) until its commit, and every other page's touch waits. A page
    that fails is not a use: its session is not touched, as before.

    SignInRequired when there is none, raised after a session found over its time has been
    marked ended (as :func:`lookup` does).
    """
    from personvern.web.deps import runtime, unit

    rt = runtime(request)
    with rt.reading() as session:
        # Nothing to look for on request.state first: a page is the request's only reader.
        current, due = _find(session.connection(), rt.clock, token_of(request, kind), kind)
        if current is not None:
            request.state.web_session = current
            yield session, current
    if due is not None:
        with unit(rt) as writing:
            writing.connection().execute(*due)
    if current is None:
        raise SignInRequired(kind)


def optional_session(request: Request, kind: Kind) -> Current | None:
    """The live session of ``kind``, or None (for pages that look different signed in)."""
    try:
        return _current(request, kind)
    except SignInRequired:
        return None


def subject_session(request: Request) -> Current:
    """FastAPI dependency: the signed-in subject (``.principal`` is the subject id)."""
    return _current(request, "subject")
