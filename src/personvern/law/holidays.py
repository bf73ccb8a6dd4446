"""Public holidays as the statutes name them, computed from their rules: fixed dates, and
days counted from Easter Sunday (the Gregorian computus, dateutil's ``easter``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from dateutil.easter import easter

from personvern.errors import ConfigurationError
from personvern.law.jurisdiction import Statute


@dataclass(frozen=True)
class HolidayRules:
    """A country's public holidays: (month, day) pairs and offsets from Easter Sunday."""

    fixed: tuple[tuple[int, int], ...]
    from_easter: tuple[int, ...]
    sources: tuple[Statute, ...]


CALENDARS: dict[str, HolidayRules] = {
    # Helligdagsfredloven § 2: nyttårsdag, skjærtorsdag, langfredag, første og annen
    # påskedag, Kristi himmelfartsdag, første og annen pinsedag, første og annen juledag
    # (and every Sunday, which no counting here treats as a working day anyway); the
    # høgtidsdagsloven § 1: 1 and 17 May.
    "NO": HolidayRules(
        fixed=((1, 1), (5, 1), (5, 17), (12, 25), (12, 26)),
        from_easter=(-3, -2, 0, 1, 39, 49, 50),
        sources=(Statute("helligdagsfredloven § 2", "https://lovdata.no/lov/1995-02-24-12/§2"),
                 Statute("høgtidsdagsloven § 1", "https://lovdata.no/lov/1947-04-26-1/§1")),
    ),
}


@lru_cache(maxsize=256)
def public_holidays(calendar: str, year: int) -> frozenset[date]:
    """The public holidays of ``calendar`` (a jurisdiction's ``holiday_calendar``) in
    ``year``; a ConfigurationError for a calendar Personvern has no rules for."""
    rules = CALENDARS.get(calendar)
    if rules is None:
        raise ConfigurationError(f"no public-holiday rules for calendar {calendar!r}; "
                                 f"known: {', '.join(sorted(CALENDARS))}")
    sunday = easter(year)
    return frozenset([date(year, m, d) for m, d in rules.fixed]
                     + [sunday + timedelta(days=n) for n in rules.from_easter])
