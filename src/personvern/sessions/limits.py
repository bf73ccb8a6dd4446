"""Rate limits counted in the engine's database, so every worker and every host shares them.

A limit allows ``limit`` attempts per key within ``window``. Attempts are counted in
buckets of a fifteenth of the window, and one is allowed while the buckets that overlap
the window hold fewer than ``limit``. The oldest bucket counts whole, so a limit is never
more generous than a true sliding window and at most one bucket stricter.

The current bucket is raised by one guarded upsert (``INSERT ... ON CONFLICT DO UPDATE
... WHERE hits < cap``), a single statement on SQLite and PostgreSQL alike: two workers
racing for the last place cannot both have it. A refused attempt is not counted. Only
the SHA-256 of a key is stored, and a row is removed by ``clean`` once its bucket has
left the window. Nothing here knows HTTP: a key is whatever the caller counts by.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.errors import PersonvernError
from personvern.sessions.tables import RateLimitCount

BUCKETS_PER_WINDOW = 15


class RateLimited(PersonvernError):
    """Too many attempts under one key; ``retry_after`` says how many seconds to wait."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many attempts; try again in {retry_after} seconds")


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` attempts per key within ``window``, counted under ``scope``."""

    scope: str
    limit: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window < timedelta(seconds=1) or len(self.scope) > 32:
            raise ValueError(f"a limit needs a scope of at most 32 characters, a limit of at "
                             f"least 1 and a window of at least a second: {self}")

    @property
    def bucket_seconds(self) -> int:
        """The length of one counting bucket, in whole seconds."""
        return max(1, math.ceil(self.window.total_seconds() / BUCKETS_PER_WINDOW))


def key_hash(key: str) -> str:
    """What is stored for ``key``: its SHA-256 (hex), never the address itself."""
    return hashlib.sha256(key.encode()).hexdigest()


def hit(session: Session, clock: Clock, limit: Limit, key: str) -> None:
    """Count one attempt under ``key``; RateLimited (and nothing counted) at the limit."""
    now = clock().timestamp()
    size, window = limit.bucket_seconds, limit.window.total_seconds()
    current = int(now // size)
    first = int((now - window) // size)  # the oldest bucket still overlapping the window
    digest = key_hash(key)
    # Buckets before the current one no longer change, so their sum can be read first.
    earlier = session.execute(select(RateLimitCount.bucket, RateLimitCount.hits).where(
        RateLimitCount.scope == limit.scope, RateLimitCount.key_hash == digest,
        RateLimitCount.bucket >= first, RateLimitCount.bucket < current)).all()
    cap = limit.limit - sum(hits for _, hits in earlier)
    until = int((current + 1) * size + window)  # when this bucket stops counting
    if cap > 0 and _increment(session, limit.scope, digest, current, cap, until):
        return
    counted = session.execute(select(RateLimitCount.hits).where(
        RateLimitCount.scope == limit.scope, RateLimitCount.key_hash == digest,
        RateLimitCount.bucket == current)).scalar() or 0
    buckets = [*sorted((int(b), int(h)) for b, h in earlier), (current, int(counted))]
    raise RateLimited(_retry_after(buckets, limit, now))


def _increment(session: Session, scope: str, digest: str, bucket: int, cap: int,
               until: int) -> bool:
    """Add one to the bucket if it holds fewer than ``cap``; whether it did."""
    conn = session.connection()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RateLimitCount).values(
        scope=scope, key_hash=digest, bucket=bucket, hits=1, until=until)
    statement = statement.on_conflict_do_update(
        index_elements=[RateLimitCount.scope, RateLimitCount.key_hash, RateLimitCount.bucket],
        set_={"hits": RateLimitCount.hits + 1}, where=RateLimitCount.hits < cap,
    ).returning(RateLimitCount.hits)
    return conn.execute(statement).first() is not None


def _retry_after(buckets: Sequence[tuple[int, int]], limit: Limit, now: float) -> int:
    """Seconds until enough of the oldest buckets have left the window for one attempt."""
    size, window = limit.bucket_seconds, limit.window.total_seconds()
    excess = sum(hits for _, hits in buckets) - limit.limit + 1
    freed = 0
    for bucket, hits in buckets:
        freed += hits
        if freed >= excess:
            return max(1, math.ceil((bucket + 1) * size + window - now))
    return max(1, math.ceil(window))


def clean(session: Session, clock: Clock) -> int:
    """Remove the counts of buckets that have left their window; how many went."""
    result = session.execute(delete(RateLimitCount).where(
        RateLimitCount.until <= clock().timestamp()))
    return int(result.rowcount)  # type: ignore[attr-defined]
