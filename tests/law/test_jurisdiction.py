"""The jurisdiction settings say what LAW.md says, each number with its source."""

from __future__ import annotations

from datetime import date

import pytest

from personvern.errors import ConfigurationError
from personvern.law import (
    JURISDICTIONS,
    Jurisdiction,
    age_on,
    get_jurisdiction,
    has_adequacy_decision,
    is_eea,
)


def test_norwegian_child_consent_age_is_13() -> None:
    """personopplysningsloven § 5 (GDPR Art. 8(1) lets states choose 13-16)."""
    no = get_jurisdiction("NO")
    assert no.child_consent_age == 13
    assert no.child_consent_source.citation == "personopplysningsloven § 5"


def test_bookkeeping_is_five_years_after_fiscal_year() -> None:
    """bokføringsloven § 13 first paragraph: five years; secondary documentation 3.5 years."""
    no = get_jurisdiction("no")
    assert no.bookkeeping_years == 5
    assert no.bookkeeping_secondary_months == 42
    assert no.bookkeeping_source.citation == "bokføringsloven § 13"


def test_answer_within_one_month_extendable_by_two() -> None:
    """GDPR Art. 12(3)."""
    no = get_jurisdiction("NO")
    assert (no.response_months, no.extension_months) == (1, 2)


def test_distance_sale_withdrawal_period_is_14_days() -> None:
    """angrerettloven: 14 days' right of withdrawal (seed 001 keeps payment data until then)."""
    assert get_jurisdiction("NO").withdrawal_period_days == 14


def test_complaints_go_to_datatilsynet() -> None:
    """GDPR Art. 77; Datatilsynet, Postboks 458 Sentrum, 0105 Oslo."""
    authority = get_jurisdiction("NO").authority
    assert authority.name == "Datatilsynet"
    assert "Postboks 458 Sentrum, 0105 Oslo" in authority.address
    assert authority.website == "https://www.datatilsynet.no"


def test_marketing_and_cookie_statutes() -> None:
    """markedsføringsloven § 15; ekomloven (2024) § 3-15 as cited by secondary sources."""
    no = get_jurisdiction("NO")
    assert no.marketing_source.citation == "markedsføringsloven § 15"
    assert no.cookie_source.citation == "ekomloven § 3-15"


def test_unknown_jurisdiction_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown jurisdiction 'XX'; known: NO"):
        get_jurisdiction("XX")


@pytest.mark.parametrize(("country", "eea"), [
    ("NO", True), ("IS", True), ("LI", True), ("SE", True), ("de", True),
    ("CH", False), ("GB", False), ("US", False),
])
def test_eea_membership(country: str, eea: bool) -> None:
    """EEA Agreement: EU 27 plus Iceland, Liechtenstein and Norway."""
    assert is_eea(country) is eea


def test_adequacy_decisions() -> None:
    """GDPR Art. 45: Japan, UK, Switzerland are adequate; the USA only under the DPF
    (Decision (EU) 2023/1795); China has no decision."""
    assert has_adequacy_decision("JP") and has_adequacy_decision("GB")
    assert has_adequacy_decision("CH")
    assert not has_adequacy_decision("US")
    assert has_adequacy_decision("US", certified=True)
    assert not has_adequacy_decision("CN", certified=True)


@pytest.mark.parametrize(("birth", "day", "age"), [
    (date(2014, 6, 1), date(2027, 5, 31), 12), (date(2014, 6, 1), date(2027, 6, 1), 13),
    (date(2012, 2, 29), date(2025, 2, 28), 12), (date(2012, 2, 29), date(2025, 3, 1), 13),
])
def test_age_on(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


def test_a_guardian_acts_until_eighteen() -> None:
    """vergemålsloven § 2: a person under 18 is a minor, for whom the guardians act."""
    norway = get_jurisdiction("NO")
    assert norway.age_of_majority == 18
    assert norway.age_of_majority_source.citation == "vergemålsloven § 2"


def test_national_phone_numbers_are_norwegian() -> None:
    """A number without its country code is read as +47 (ITU-T E.164 assignments)."""
    import phonenumbers

    no = get_jurisdiction("NO")
    assert no.phone_region == "NO"
    assert phonenumbers.country_code_for_region(no.phone_region) == 47


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS.values(), ids=JURISDICTIONS.keys())
def test_every_phone_region_is_known_to_libphonenumber(jurisdiction: Jurisdiction) -> None:
    import phonenumbers

    assert jurisdiction.phone_region in phonenumbers.SUPPORTED_REGIONS
