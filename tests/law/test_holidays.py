"""Norwegian public holidays from their statutes (helligdagsfredloven § 2, høgtidsdagsloven
§ 1), computed as data, checked against dates written out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from personvern.errors import ConfigurationError
from personvern.law.holidays import public_holidays


def test_2027_as_a_calendar_prints_it() -> None:
    # Easter Sunday 2027 is 28 March; 2. pinsedag falls on 17 May that year.
    assert sorted(public_holidays("NO", 2027)) == [
        date(2027, 1, 1), date(2027, 3, 25), date(2027, 3, 26), date(2027, 3, 28),
        date(2027, 3, 29), date(2027, 5, 1), date(2027, 5, 6), date(2027, 5, 16),
        date(2027, 5, 17), date(2027, 12, 25), date(2027, 12, 26)]


def test_an_early_and_a_late_easter() -> None:
    early, late = public_holidays("NO", 2008), public_holidays("NO", 2038)
    assert date(2008, 3, 21) in early and date(2008, 5, 1) in early  # langfredag; 1 May
    assert date(2008, 5, 12) in early  # 2. pinsedag, 50 days after Easter Sunday 23 March
    assert date(2038, 4, 26) in late and date(2038, 6, 3) in late  # 2. påskedag; himmelfart


def test_a_calendar_without_rules_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="no public-holiday rules for calendar 'XX'"):
        public_holidays("XX", 2027)
