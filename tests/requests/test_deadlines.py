"""Deadlines as LAW.md counts them: Art. 12(3), Regulation 1182/71 Art. 3, NO holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from personvern.law import get_jurisdiction
from personvern.manifest.model import ResponseDeadline
from personvern.requests.deadlines import (
    add_working_days,
    deadlines,
    is_working_day,
    receipt_date,
)

NO = get_jurisdiction("NO")
MONTH = ResponseDeadline(months=1)


def oslo_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(("received", "due"), [
    # 1182/71 Art. 3: same date next month (received 5 March -> 5 April) ...
    (date(2027, 3, 5), date(2027, 4, 5)),
    # ... the month's last day when the date does not exist (31 Jan -> 28 Feb) ...
    (date(2027, 1, 31), date(2027, 3, 1)),  # 28 Feb 2027 is a Sunday -> Monday 1 March
    (date(2028, 1, 31), date(2028, 2, 29)),  # leap year: Tuesday 29 February
    # ... moved to the next working day past a weekend ...
    (date(2027, 1, 2), date(2027, 2, 2)),
    (date(2027, 4, 10), date(2027, 5, 10)),
    # ... and past Norwegian public holidays (17 May 2027 is Constitution Day and
    # Whit Monday; Easter 2027: 25, 26, 29 March).
    (date(2027, 4, 17), date(2027, 5, 18)),
    (date(2027, 2, 25), date(2027, 3, 30)),  # 25 Mar Maundy Thu -> 30 Mar (Easter)
    (date(2027, 11, 25), date(2027, 12, 27)),  # 25 Dec Sat, 26 Sun + 2. juledag -> Mon 27
])
def test_one_month_as_regulation_1182_71_counts(received: date, due: date) -> None:
    """GDPR Art. 12(3); Regulation 1182/71 Art. 3(2)(c) and 3(4)."""
    d = deadlines(oslo_noon(received), NO, MONTH)
    assert d.legal == due and d.due == due and d.promised is None


def test_receipt_day_is_the_local_date() -> None:
    """Counted in Norwegian time: 23:30 UTC on 31 March is 1 April in Oslo."""
    late = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)
    assert receipt_date(late, NO) == date(2027, 4, 1)
    assert deadlines(late, NO, MONTH).legal == date(2027, 5, 3)  # 1 May Sat -> 3 May


def test_fourteen_working_days_promise_comes_first() -> None:
    """Seed 001 promises 14 working days; the stricter promise is the deadline shown."""
    d = deadlines(oslo_noon(date(2027, 3, 22)), NO, ResponseDeadline(working_days=14))
    # 23, 24 Mar (25, 26, 29 Easter holidays), 30, 31 Mar, 1, 2, 5, 6, 7, 8, 9, 12, 13, 14 Apr.
    assert d.promised == date(2027, 4, 14)
    assert d.legal == date(2027, 4, 22)
    assert d.due == date(2027, 4, 14)


def test_extension_is_two_further_months() -> None:
    """GDPR Art. 12(3): extendable by two further months."""
    d = deadlines(oslo_noon(date(2027, 3, 5)), NO, MONTH)
    assert d.extended_limit == date(2027, 6, 7)  # 5 June 2027 is a Saturday


def test_working_days_and_holidays() -> None:
    assert not is_working_day(date(2027, 5, 17), "NO")
    assert not is_working_day(date(2027, 12, 25), "NO")
    assert is_working_day(date(2027, 12, 27), "NO")
    assert add_working_days(date(2027, 12, 23), 1, "NO") == date(2027, 12, 24)


def test_virkedager_count_saturdays_but_not_sundays_or_holidays() -> None:
    """ferieloven § 5(1): virkedager are all days but Sundays and public holidays.

    Received Thursday 13 May 2027: Friday 14 and Saturday 15 count, Sunday 16 does not,
    Monday 17 May (Constitution Day and Whit Monday) does not, Tuesday 18 is the third.
    Three working days (Monday to Friday) end a day later, on Wednesday 19 May.
    """
    received = oslo_noon(date(2027, 5, 13))
    assert deadlines(received, NO, ResponseDeadline(virkedager=3)).due == date(2027, 5, 18)
    assert deadlines(received, NO, ResponseDeadline(working_days=3)).due == date(2027, 5, 19)
    # Calendar days: 13 May + 3 = Sunday 16 May, moved past the holiday to Tuesday 18 May.
    assert deadlines(received, NO, ResponseDeadline(days=3)).due == date(2027, 5, 18)


def test_seed_001_promise_is_the_earlier_of_promise_and_law() -> None:
    """Seed 001 (Vekstly) promises "innen 14 virkedager": received Monday 1 March 2027,
    the 14th virkedag is Wednesday 17 March (Saturdays 6 and 13 count), well before the
    law's 1 April; read as working days it would have been Friday 19 March."""
    from examples.test_examples import manifest

    promise = manifest("vekstly").rights.deadline
    assert promise.virkedager == 14 and promise.working_days is None
    d = deadlines(oslo_noon(date(2027, 3, 1)), NO, promise)
    assert (d.promised, d.legal, d.due) == (date(2027, 3, 17), date(2027, 4, 1),
                                            date(2027, 3, 17))
    assert add_working_days(date(2027, 3, 1), 14, "NO") == date(2027, 3, 19)
    # A promise longer than the law never stretches it: the legal deadline is kept.
    late = deadlines(oslo_noon(date(2027, 3, 1)), NO, ResponseDeadline(virkedager=40))
    assert late.due == late.legal == date(2027, 4, 1)


def test_longest_honest_promises_in_each_unit() -> None:
    """PV018's limits: the fewest working days (17) and virkedager (21) between receipt
    and the legal deadline of any request received 2020-2059 (Easter 2020 is shortest)."""
    from datetime import timedelta

    from personvern.check.rules.rights import _MAX_VIRKEDAGER, _MAX_WORKING_DAYS
    from personvern.requests.deadlines import is_counted_day

    fewest = {"work": 99, "virke": 99}
    day = date(2020, 1, 1)
    while day < date(2060, 1, 1):
        legal = deadlines(oslo_noon(day), NO, MONTH).legal
        x, work, virke = day, 0, 0
        while x < legal:
            x += timedelta(days=1)
            work += is_counted_day(x, "NO", NO.working_weekdays)
            virke += is_counted_day(x, "NO", NO.virkedag_weekdays)
        fewest = {"work": min(fewest["work"], work), "virke": min(fewest["virke"], virke)}
        day += timedelta(days=1)
    assert (fewest["work"], fewest["virke"]) == (_MAX_WORKING_DAYS, _MAX_VIRKEDAGER)
