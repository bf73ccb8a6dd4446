"""How long the files a request makes (``access-<id>.zip``, ``portability-<id>.json``) wait
in a server's export directory: removed once past their lifetime, counted from the
request's completion by the caller's clock (time is an argument), never from the file's
modification time; the package of a request still waiting (for a processor's answer) is
kept until it completes. The portal, the API and the dashboard share one directory and
this rule.
A package is written as ``.access-<id>.zip.part`` and renamed when whole; a part a killed
run left is removed once its request is no longer in progress.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.requests.tables import Request

_NAME = re.compile(r"(?:access-([0-9a-f]{1,64})\.zip|portability-([0-9a-f]{1,64})\.json)")
# A package being written (requests.access): renamed to its name only once whole.
_PART = re.compile(r"\.access-([0-9a-f]{1,64})\.zip\.part")


def expired(completed_at: datetime | None, now: datetime, lifetime: timedelta) -> bool:
    """Whether a package made at ``completed_at`` is past its lifetime at ``now``."""
    return completed_at is None or now - completed_at >= lifetime


def remove_expired(session: Session, directory: Path, now: datetime,
                   lifetime: timedelta) -> int:
    """Remove every package in ``directory`` past its lifetime (or of no known request);
    how many were removed. One query for the whole directory."""
    files: dict[Path, str] = {}
    parts: dict[Path, str] = {}
    for path in directory.iterdir():
        if (m := _NAME.fullmatch(path.name)) is not None:
            files[path] = m.group(1) or m.group(2)
        elif (m := _PART.fullmatch(path.name)) is not None:
            parts[path] = m.group(1)
    if not files and not parts:
        return 0
    ids = set(files.values()) | set(parts.values())
    rows = session.execute(select(Request.id, Request.closed_at, Request.state)
                           .where(Request.id.in_(ids))).tuples().all()
    done = {rid: closed for rid, closed, _ in rows}
    running = {rid for rid, _, state in rows if state == "in_progress"}
    # A package written while a processor's answer is awaited is the one the request's
    # answer amends and offers (requests.access.amend_manual): its lifetime starts then.
    awaited = {rid for rid, _, state in rows if state == "waiting"}
    removed = 0
    for path, request_id in files.items():
        if request_id in awaited:
            continue
        if expired(done.get(request_id), now, lifetime):
            path.unlink(missing_ok=True)
            removed += 1
    # A part left by a run that was killed: once its request is no longer being carried
    # out (finished, refused, waiting, or unknown), nothing will ever complete it.
    for path, request_id in parts.items():
        if request_id not in running:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
