"""When a person is erased, whichever way: every portal session of theirs ends and every
sign-in link they were sent stops working (the link rows hold nothing once deleted)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, Delete, Table, Update, delete, update

from personvern.sessions.tables import SignInLink, WebSession

_SESSIONS: Table = WebSession.__table__  # type: ignore[assignment]
_LINKS: Table = SignInLink.__table__  # type: ignore[assignment]


def end_subject_sessions(conn: Connection, subject_ids: Collection[str], at: datetime) -> int:
    """End the live portal sessions of ``subject_ids`` and delete their sign-in links;
    how many sessions ended."""
    if not subject_ids:
        return 0
    end, unlink = ending_statements(subject_ids, at)
    ended = conn.execute(end)
    conn.execute(unlink)
    return int(ended.rowcount or 0)


def ending_statements(subject_ids: Collection[str], at: datetime) -> tuple[Update, Delete]:
    """The two statements :func:`end_subject_sessions` sends (for a caller that sends them
    together with others, in one statement on PostgreSQL)."""
    ids = list(subject_ids)
    return (update(_SESSIONS).where(_SESSIONS.c.kind == "subject",
                                    _SESSIONS.c.principal.in_(ids),
                                    _SESSIONS.c.ended_at.is_(None)).values(ended_at=at),
            delete(_LINKS).where(_LINKS.c.subject_id.in_(ids)))
