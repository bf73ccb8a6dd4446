"""Telling the other hosts that a cached thing changed: PostgreSQL ``NOTIFY`` sent with the
commit of the change, and a :class:`Listener` that hears them.

A notice is queued on the writer's session (:func:`announce`) and sent by one
``pg_notify`` just before it commits; PostgreSQL delivers it only if the transaction
commits, and after it did, so a host that drops its cache on a notice reloads the
committed state. SQLite has one host: nothing is sent. A host that misses notices (its
listening connection dropped) still has each cache's own time bound, and clears its
caches on reconnecting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("personvern.notify")
CHANNEL = "personvern_changed"
# pg_notify takes up to 8000 bytes a payload; several notices are joined by newlines.
MAX_PAYLOAD = 7000
_PENDING = "personvern.notices"

# What a notice names: a subject's ledger (id), an API key (prefix), the policy, everything;
# LOST is the listener's own word to its handler: the connection dropped, notices may be
# missed until it is back (then ALL).
SUBJECT, KEY, POLICY, ALL, LOST = "subject", "key", "policy", "all", "lost"


def announce(session: Session, kind: str, key: str = "") -> None:
    """Tell the other hosts, when ``session`` commits, that ``kind``/``key`` changed."""
    pending: set[str] = session.info.setdefault(_PENDING, set())
    pending.add(f"{kind}:{key}")


def payloads(notices: set[str]) -> list[str]:
    """The notices joined into as few payloads as fit pg_notify."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for n in sorted(notices):
        if current and size + len(n) + 1 > MAX_PAYLOAD:
            out.append("\n".join(current))
            current, size = [], 0
        current.append(n)
        size += len(n) + 1
    if current:
        out.append("\n".join(current))
    return out


@event.listens_for(Session, "before_commit")
def send_notices(session: Session) -> None:
    """Send the notices queued on ``session`` (run as it commits; called before, the commit
    finds nothing left to send)."""
    notices = session.info.pop(_PENDING, None)
    if not notices or session.get_bind().dialect.name != "postgresql":
        return
    # The driver's cursor: no result to read, so this rides a pipeline the caller opened
    # (the group commit's last round trip before its commit).
    cursor = session.connection().connection.cursor()
    try:
        for payload in payloads(notices):
            cursor.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
    finally:
        cursor.close()


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)


Handler = Callable[[str, str], None]


class Listener:
    """A thread holding one connection that LISTENs and hands each notice to ``handle``
    (kind, key); ``handle(ALL, "")`` on every (re)connect, since notices may have been
    missed meanwhile."""

    def __init__(self, conninfo: str, handle: Handler, *, retry_s: float = 1.0) -> None:
        self.conninfo = conninfo
        self.handle = handle
        self.retry_s = retry_s
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="personvern-listen",
                                        daemon=True)

    def start(self) -> Listener:
        """Begin listening in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop within a second."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True,
                                     application_name="personvern listen") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.handle(ALL, "")
                    self.listening.set()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._dispatch(notice.payload)
            except Exception:  # the database went away: the caches' own bounds hold
                if self.listening.is_set():
                    self.listening.clear()
                    self.handle(LOST, "")
                log.warning("listening for changes failed; trying again", exc_info=True)
                self._stop.wait(self.retry_s)

    def _dispatch(self, payload: str) -> None:
        for line in payload.split("\n"):
            kind, _, key = line.partition(":")
            try:
                self.handle(kind, key)
            except Exception:  # one bad notice must not stop the others
                log.exception("handling the notice %r failed", line)
