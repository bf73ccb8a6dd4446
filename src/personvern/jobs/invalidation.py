"""What ``serve`` does on hearing that another host changed something it caches: a subject's
consent, an API key, the policy (personvern.storage.notify; PostgreSQL only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from personvern.storage.engine import libpq_conninfo
from personvern.storage.notify import ALL, KEY, LOST, POLICY, SUBJECT, Listener

if TYPE_CHECKING:
    from personvern.runtime import Runtime

# While notices arrive, the decision cache's own look at the ledger is only the fallback:
# it runs this rarely (seconds) instead of every second, and a consent written on another
# host reaches this one by its notice, in milliseconds.
FALLBACK_SYNC_S = 5.0


def follow(rt: Runtime) -> Listener | None:
    """Listen for the other hosts' changes (PostgreSQL); None on SQLite (one host)."""
    if rt.engine.dialect.name != "postgresql":
        return None
    from personvern.runtime import EngineSources

    cache = rt.consent.cache
    every_second = cache.max_staleness
    sources = rt.consent.sources

    def forget_policy() -> None:
        if isinstance(sources, EngineSources):
            sources.forget_policy()

    def handle(kind: str, key: str) -> None:
        if kind == SUBJECT:
            cache.invalidate(key)
        elif kind == KEY:
            rt.keys.forget(key)
        elif kind == POLICY:
            forget_policy()
        elif kind == ALL:  # (re)connected, or a sweep changed many people at once
            cache.clear()
            rt.keys.clear()
            forget_policy()
            cache.max_staleness = max(every_second, FALLBACK_SYNC_S)
        elif kind == LOST:  # notices may be missed: back to looking every second
            cache.max_staleness = every_second

    return Listener(libpq_conninfo(rt.settings.database_url), handle).start()
