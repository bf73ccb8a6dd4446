"""Access packages (``access-<request id>.zip``) in the site's private directory: each is
removed once downloaded, or when its lifetime (``export_lifetime_minutes``) has passed.

A package's age is counted from its request's completion, by the runtime's clock (time is
an argument), never from the file's modification time.
"""

from __future__ import annotations

import logging
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from sqlalchemy import select

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from personvern.runtime import Runtime

log = logging.getLogger("personvern.web.exports")
_NAME = re.compile(r"access-([0-9a-f]{1,64})\.zip")
# How often the directory is swept at most; a shorter lifetime sweeps as often as it lasts.
SWEEP_EVERY_S = 300.0


def expired(completed_at: datetime | None, now: datetime, lifetime: timedelta) -> bool:
    """Whether a package made at ``completed_at`` is past its lifetime at ``now``."""
    return completed_at is None or now - completed_at >= lifetime


def remove_expired(rt: Runtime, directory: Path, lifetime: timedelta) -> int:
    """Remove every package in ``directory`` past its lifetime (or of no known request);
    how many were removed. One query for the whole directory."""
    from personvern.requests.tables import Request

    files = {m.group(1): p for p in directory.glob("access-*.zip")
             if (m := _NAME.fullmatch(p.name))}
    if not files:
        return 0
    now = rt.clock()
    with rt.transaction() as s:
        done = dict(s.execute(select(Request.id, Request.closed_at)
                              .where(Request.id.in_(list(files)))).tuples().all())
    removed = 0
    for request_id, path in files.items():
        if expired(done.get(request_id), now, lifetime):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def start(jobs: TaskGroup, rt: Runtime, directory: Path, minutes: int) -> None:
    """Make sure the directory exists (private) and sweep it in the background."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    jobs.start_soon(sweep_periodically, rt, directory, timedelta(minutes=minutes))


def clear(directory: Path) -> None:
    """Remove the directory and every package in it (the server is stopping)."""
    shutil.rmtree(directory, ignore_errors=True)


async def sweep_periodically(rt: Runtime, directory: Path, lifetime: timedelta) -> None:
    """Remove expired packages every few minutes, until cancelled; a failure is logged."""
    interval = min(SWEEP_EVERY_S, max(lifetime.total_seconds(), 1.0))
    while True:
        await anyio.sleep(interval)
        try:
            n = await anyio.to_thread.run_sync(remove_expired, rt, directory, lifetime)
            if n:
                log.info("removed %s expired access package(s)", n)
        except Exception:  # the next round tries again; the site stays up
            log.exception("removing expired access packages failed")
