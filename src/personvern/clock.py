"""Time as an argument: everything that depends on "now" takes a Clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock stopped at ``at`` (must be timezone-aware), for --now and tests."""
    if at.tzinfo is None:
        raise ValueError("a fixed clock needs a timezone-aware time, e.g. 2027-03-01T12:00+01:00")
    return lambda: at


def parse_now(value: str | None) -> Clock:
    """The clock for a CLI ``--now`` value (ISO 8601), or the system clock when absent."""
    if value is None:
        return system_clock
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--now {value!r} is not an ISO 8601 time such as 2027-03-01T12:00:00+01:00"
        ) from None
    if at.tzinfo is None:
        raise ValueError(f"--now {value!r} needs a UTC offset, e.g. 2027-03-01T12:00:00+01:00")
    return fixed_clock(at)
