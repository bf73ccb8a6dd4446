"""A small in-process rate limit (sliding window), used on sign-in by IP and by e-mail.

In-process is enough for one ``personvern serve``: it slows guessing and mail-bombing
from one place. Several processes each keep their own count (a limit per process).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from personvern.clock import Clock
from personvern.errors import PersonvernError


class RateLimited(PersonvernError):
    """Too many attempts from one IP address or for one e-mail address; try again later."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many attempts; try again in {retry_after} seconds")


class RateLimit:
    """At most ``limit`` hits per key within ``window``; thread-safe."""

    def __init__(self, limit: int, window: timedelta, clock: Clock,
                 max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one attempt for ``key``; RateLimited when over the limit (not counted)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._sweep(now)
                hits = self._hits[key] = deque()
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = self.window - (now - hits[0])
                raise RateLimited(max(1, int(wait.total_seconds()) + 1))
            hits.append(now)

    def _sweep(self, now: datetime) -> None:
        """Forget keys whose hits have all left the window (bounds the memory used)."""
        for key in [k for k, h in self._hits.items() if not h or now - h[-1] >= self.window]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # still full: forget the oldest half
            for key in list(self._hits)[: self.max_keys // 2]:
                del self._hits[key]


class SignInLimits:
    """The sign-in limits: per IP address and per e-mail address."""

    def __init__(self, clock: Clock, *, per_ip: int = 20, per_email: int = 5,
                 window: timedelta = timedelta(minutes=15)) -> None:
        self.by_ip = RateLimit(per_ip, window, clock)
        self.by_email = RateLimit(per_email, window, clock)

    def check(self, ip: str | None, email: str) -> None:
        """Count one sign-in attempt; RateLimited when either limit is reached."""
        self.by_ip.hit(ip or "unknown")
        self.by_email.hit(email.strip().lower())
