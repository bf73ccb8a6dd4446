"""How long the files a request makes (``access-<id>.zip``, ``portability-<id>.json``) wait
in a server's export directory: removed once past their lifetime, counted from the
request's completion by the caller's clock (time is an argument), never from the file's
modification time. The portal, the API and the dashboard share one directory and this rule.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.requests.tables import Request

_NAME = re.compile(r"(?:access-([0-9a-f]{1,64})\.zip|portability-([0-9a-f]{1,64})\.json)")


def expired(completed_at: datetime | None, now: datetime, lifetime: timedelta) -> bool:
    """Whether a package made at ``completed_at`` is past its lifetime at ``now``."""
    return completed_at is None or now - completed_at >= lifetime


def remove_expired(session: Session, directory: Path, now: datetime,
                   lifetime: timedelta) -> int:
    """Remove every package in ``directory`` past its lifetime (or of no known request);
    how many were removed. One query for the whole directory."""
    files: dict[Path, str] = {}
    for path in directory.iterdir():
        if (m := _NAME.fullmatch(path.name)) is not None:
            files[path] = m.group(1) or m.group(2)
    if not files:
        return 0
    done = dict(session.execute(select(Request.id, Request.closed_at)
                                .where(Request.id.in_(set(files.values())))).tuples().all())
    removed = 0
    for path, request_id in files.items():
        if expired(done.get(request_id), now, lifetime):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
