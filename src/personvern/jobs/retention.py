"""The daily sweep ``personvern serve`` runs: in a worker thread, never fatal to the server."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from personvern.wording import count

if TYPE_CHECKING:
    from personvern.runtime import Runtime

log = logging.getLogger("personvern.retention")
DAY_S = 24 * 60 * 60
# A minute after start-up: the server answers first, and a crash loop does not sweep
# on every restart.
FIRST_DELAY_S = 60.0


def enabled() -> bool:
    """Whether serve sweeps (``PERSONVERN_RETENTION_SWEEP=off`` turns it off)."""
    return os.environ.get("PERSONVERN_RETENTION_SWEEP", "on").strip().lower() not in (
        "off", "0", "false", "no")


# The reason the server's own daily sweep gives (a staff user's sweep gives theirs).
DAILY_REASON = "the daily retention sweep of personvern serve"


def sweep_once(rt: Runtime, by: str = "serve", reason: str = DAILY_REASON) -> dict[str, Any]:
    """One sweep at the runtime's clock; decisions cached before it are dropped."""
    from personvern import retention
    from personvern.requests.engine import Requests
    from personvern.storage.notify import ALL, announce

    service = Requests.of(rt)
    try:
        _, data = retention.run(rt.loaded, rt.sessions, rt.clock(), reason=reason, by=by,
                                requests=service)
    finally:
        service.close()
    rt.consent.cache.clear()
    with rt.transaction() as s:  # and on the other hosts (a worker's sweep: on every serve)
        announce(s, ALL)
    return dict(data)


async def sweep_daily(rt: Runtime, *, interval_s: float = DAY_S,
                      first_delay_s: float = FIRST_DELAY_S) -> None:
    """Sweep after ``first_delay_s``, then every ``interval_s``, until cancelled."""
    await anyio.sleep(first_delay_s)
    while True:
        try:
            data = await anyio.to_thread.run_sync(sweep_once, rt)
            rules = data.get("rules") or []
            log.info("retention sweep done: %s under %s",
                     count(sum(int(r["rows"]) for r in rules), "row"), count(len(rules), "rule"))
        except Exception:  # a sweep that fails is retried tomorrow; the API stays up
            log.exception("retention sweep failed")
        await anyio.sleep(interval_s)
