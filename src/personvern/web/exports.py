"""The site's private directory of access packages and portability exports, swept in the
background: the rule of how long a package lives is the core's
(:mod:`personvern.requests.packages`); this module only runs it every few minutes.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from personvern.requests import packages
from personvern.wording import count

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from personvern.runtime import Runtime

log = logging.getLogger("personvern.web.exports")
# How often the directory is swept at most; a shorter lifetime sweeps as often as it lasts.
SWEEP_EVERY_S = 300.0


def remove_expired(rt: Runtime, directory: Path, lifetime: timedelta) -> int:
    """Remove the packages in ``directory`` past their lifetime, at the runtime's clock."""
    with rt.transaction() as s:
        return packages.remove_expired(s, directory, rt.clock(), lifetime)


def start(jobs: TaskGroup, rt: Runtime, directory: Path, minutes: int) -> None:
    """Sweep the (existing) directory in the background."""
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
                log.info("removed %s", count(n, "expired access package"))
        except Exception:  # the next round tries again; the site stays up
            log.exception("removing expired access packages failed")
