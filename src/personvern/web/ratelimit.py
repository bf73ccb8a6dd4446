"""The sign-in limits of the portal and the dashboard, counted in the engine's database.

Kept in the database (``personvern.sessions.limits``), so ``serve --workers N`` and
several hosts on one database share one count. Each attempt is counted in its own
transaction, so it stays counted whatever the request does next.

- Portal: 20 link requests per source address and 5 per e-mail address (its
  ``email_key``: look-alike spellings share one count) per 15 minutes.
- Dashboard: 20 attempts per source address, and 5 per account *and* source, so wrong
  passwords sent from elsewhere never lock the owner out.

The source address is the connection's, or the client a configured proxy names
(``forwarded_allow_ips``); an IPv6 client counts by its /64, which one subscriber
usually holds whole.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from fastapi import Request

from personvern.clock import Clock
from personvern.contact import email_key
from personvern.sessions import limits
from personvern.sessions.limits import Limit, RateLimited
from personvern.web.deps import runtime

__all__ = ["PORTAL", "STAFF", "RateLimited", "SignInLimits", "source_of"]

WINDOW = timedelta(minutes=15)
PORTAL = (Limit("portal.source", 20, WINDOW), Limit("portal.email", 5, WINDOW))
STAFF = (Limit("staff.source", 20, WINDOW), Limit("staff.account_source", 5, WINDOW))
# Old counts are removed at most this often per process (a DELETE over an index).
CLEAN_EVERY = timedelta(minutes=1)


def source_of(request: Request) -> str:
    """The address a request is counted under (an IPv6 address as its /64)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"  # not an IP (a test client, a Unix socket)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class SignInLimits:
    """Counts sign-in attempts against the limits above; RateLimited over one of them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._cleaned_at: float | None = None

    def portal(self, request: Request, email: str) -> None:
        """Count a request for a sign-in link for ``email``."""
        by_source, by_email = PORTAL
        self._count(request, [(by_source, source_of(request)), (by_email, email_key(email))])

    def staff(self, request: Request, email: str) -> None:
        """Count a staff password attempt for ``email``."""
        by_source, by_account = STAFF
        source = source_of(request)
        self._count(request, [(by_source, source), (by_account, f"{email_key(email)} {source}")])

    def _count(self, request: Request, hits: list[tuple[Limit, str]]) -> None:
        rt = runtime(request)
        now = self.clock().timestamp()
        if self._cleaned_at is None or now - self._cleaned_at >= CLEAN_EVERY.total_seconds():
            self._cleaned_at = now
            with rt.transaction() as session:
                limits.clean(session, self.clock)
        for limit, key in hits:  # the first refusal stops: later limits are not counted
            with rt.transaction() as session:
                limits.hit(session, self.clock, limit, key)
