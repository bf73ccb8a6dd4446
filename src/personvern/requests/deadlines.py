"""Answer deadlines for data-subject requests, counted as the law counts them.

GDPR Art. 12(3): within one month of receipt, extendable by two further months.
Counting follows Regulation (EEC, Euratom) No 1182/71 Art. 3 as LAW.md summarises:
the day of receipt is not counted; a period in months ends on the same date in the
last month, or on that month's last day if the date does not exist; a period ending
on a Saturday, Sunday or public holiday ends on the next working day. A stricter
promise in the manifest is the deadline shown when it comes first, counted in the unit
the promise uses: working days (Monday to Friday), virkedager (Monday to Saturday, as
ferieloven § 5(1) counts them: seed 001 promises "innen 14 virkedager") or calendar
days; the jurisdiction says which weekdays each covers and which days are holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from personvern.law import Jurisdiction
from personvern.law.holidays import public_holidays
from personvern.manifest.model import ResponseDeadline


def _holidays(calendar: str, year: int) -> frozenset[date]:
    return public_holidays(calendar, year)


def is_working_day(day: date, calendar: str) -> bool:
    """Not a Saturday, Sunday or public holiday of ``calendar`` (e.g. "NO")."""
    return day.weekday() < 5 and day not in _holidays(calendar, day.year)


def is_counted_day(day: date, calendar: str, weekdays: frozenset[int]) -> bool:
    """One of ``weekdays`` (Monday 0) and not a public holiday of ``calendar``."""
    return day.weekday() in weekdays and day not in _holidays(calendar, day.year)


def add_counted_days(received: date, days: int, calendar: str,
                     weekdays: frozenset[int]) -> date:
    """The ``days``-th counted day after ``received`` (the day of receipt not counted)."""
    day = received
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_counted_day(day, calendar, weekdays):
            counted += 1
    return day


def next_working_day(day: date, calendar: str) -> date:
    """``day`` itself if it is a working day, else the next one (1182/71 Art. 3(4))."""
    while not is_working_day(day, calendar):
        day += timedelta(days=1)
    return day


def add_months(received: date, months: int) -> date:
    """The same date ``months`` later; the month's last day when that date does not exist."""
    return received + relativedelta(months=months)  # relativedelta clamps to the month end


def add_working_days(received: date, days: int, calendar: str) -> date:
    """The ``days``-th working day (Monday to Friday) after ``received``."""
    return add_counted_days(received, days, calendar, frozenset(range(5)))


def promised_date(received: date, promise: ResponseDeadline, j: Jurisdiction) -> date | None:
    """The date the manifest's promise falls on, in its own unit; None without one."""
    calendar = j.holiday_calendar
    if promise.working_days is not None:
        return add_counted_days(received, promise.working_days, calendar, j.working_weekdays)
    if promise.virkedager is not None:
        return add_counted_days(received, promise.virkedager, calendar, j.virkedag_weekdays)
    if promise.days is not None:
        return next_working_day(received + timedelta(days=promise.days), calendar)
    if promise.months is not None and promise.months < j.response_months:
        return next_working_day(add_months(received, promise.months), calendar)
    return None


def receipt_date(received_at: datetime, j: Jurisdiction) -> date:
    """The local calendar date of receipt (a request at 23:30 UTC may be tomorrow in Oslo)."""
    return j.local_date(received_at)


@dataclass(frozen=True)
class Deadlines:
    """The deadlines of one request: the law's, the promise's, and the one shown."""

    received: date
    legal: date
    promised: date | None
    extended_limit: date

    @property
    def due(self) -> date:
        """The deadline to meet: the stricter of the law and the manifest's promise."""
        return min(self.legal, self.promised) if self.promised else self.legal


def deadlines(received_at: datetime, j: Jurisdiction, promise: ResponseDeadline) -> Deadlines:
    """All deadlines for a request received at ``received_at``."""
    received = receipt_date(received_at, j)
    calendar = j.holiday_calendar
    legal = next_working_day(add_months(received, j.response_months), calendar)
    promised = promised_date(received, promise, j)
    extended = next_working_day(
        add_months(received, j.response_months + j.extension_months), calendar
    )
    return Deadlines(received, legal, promised, extended)
