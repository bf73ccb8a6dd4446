"""Jurisdiction settings: ages, deadlines, retention years, authorities and statutes.

Each number carries the provision it comes from, so a test can cite it and a
privacy owner can check it. Norway is the default and, for now, the only one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from personvern.errors import ConfigurationError

# EU 27 + Iceland, Liechtenstein, Norway (EEA Agreement, Annex XI as amended by
# Joint Committee Decision 154/2018 incorporating the GDPR).
EEA_COUNTRIES: frozenset[str] = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
    " IS LI NO".split()
)

# Countries with a Commission adequacy decision under GDPR Art. 45(3), as of 2025.
# The United States is adequate only for organisations certified under the
# EU-US Data Privacy Framework (Decision (EU) 2023/1795); a manifest says so
# with transfer mechanism ``adequacy`` plus ``framework: dpf``.
ADEQUATE_COUNTRIES: frozenset[str] = frozenset(
    "AD AR CA FO GB GG IL IM JE JP KR NZ CH UY".split()
)
PARTIAL_ADEQUACY: frozenset[str] = frozenset({"US"})


def is_eea(country: str) -> bool:
    """Whether ``country`` (ISO 3166-1 alpha-2) is in the EEA."""
    return country.upper() in EEA_COUNTRIES


def has_adequacy_decision(country: str, *, certified: bool = False) -> bool:
    """Whether a transfer to ``country`` rests on an Art. 45 adequacy decision."""
    code = country.upper()
    return code in ADEQUATE_COUNTRIES or (certified and code in PARTIAL_ADEQUACY)


@dataclass(frozen=True)
class Authority:
    """The supervisory authority people complain to (GDPR Art. 77)."""

    name: str
    address: str
    website: str
    complaint_url: str


@dataclass(frozen=True)
class Statute:
    """A provision with its citation, for messages and documentation."""

    citation: str
    url: str = ""


@dataclass(frozen=True)
class Jurisdiction:
    """Every country-dependent number or name Personvern uses."""

    code: str
    name: dict[str, str]
    authority: Authority
    # Art. 8(1) lets member states set 13-16; personopplysningsloven § 5 sets 13.
    child_consent_age: int
    child_consent_source: Statute
    # Parents act for their child until the age of majority; vergemålsloven § 2 sets 18.
    age_of_majority: int
    age_of_majority_source: Statute
    holiday_calendar: str
    # bokføringsloven § 13 first paragraph: primary documentation 5 years after
    # the end of the fiscal year; second paragraph: some secondary 3.5 years.
    bookkeeping_years: int
    bookkeeping_secondary_months: int
    bookkeeping_source: Statute
    # Words that name the bookkeeping statute in a retention rule's ``statute`` text.
    bookkeeping_words: tuple[str, ...]
    # angrerettloven: 14 days' right of withdrawal for distance sales (LAW.md;
    # the paragraph number is not verified, so the citation names the act only).
    withdrawal_period_days: int
    withdrawal_source: Statute
    marketing_source: Statute
    cookie_source: Statute
    # Dates (receipt, deadlines) are counted in the controller's local time.
    timezone: str = "Europe/Oslo"
    # A phone number written without its E.164 country code (91234567) is read as a number
    # of this region: an ISO 3166-1 alpha-2 code, as libphonenumber names regions.
    phone_region: str = "NO"
    # Which weekdays (Monday 0) a promised "virkedag" covers. In Norwegian statutory language
    # a virkedag is every day but Sundays and public holidays, so Saturdays count
    # (ferieloven § 5(1)); a "working day" (arbeidsdag) is Monday to Friday.
    virkedag_weekdays: frozenset[int] = frozenset(range(6))
    working_weekdays: frozenset[int] = frozenset(range(5))
    virkedag_source: Statute = field(default_factory=lambda: Statute(
        "ferieloven § 5 første ledd", "https://lovdata.no/lov/1988-04-29-21/§5"))
    # GDPR Art. 12(3): one month, extendable by two further months.
    response_months: int = 1
    extension_months: int = 2
    statutes: dict[str, Statute] = field(default_factory=dict)

    def local_date(self, at: datetime) -> date:
        """The controller's calendar date at ``at`` (23:30 UTC may be tomorrow in Oslo)."""
        return at.astimezone(ZoneInfo(self.timezone)).date()

    def is_bookkeeping(self, flagged: bool, statute: str | None) -> bool:
        """Whether a retention rule (``bookkeeping: true``, or a statute naming the
        bookkeeping act) exists to meet the bookkeeping statute."""
        text = (statute or "").lower()
        return flagged or any(word in text for word in self.bookkeeping_words)


NORWAY = Jurisdiction(
    code="NO",
    name={"nb": "Norge", "en": "Norway"},
    authority=Authority(
        name="Datatilsynet",
        address="Postboks 458 Sentrum, 0105 Oslo",
        website="https://www.datatilsynet.no",
        complaint_url="https://www.datatilsynet.no/om-datatilsynet/kontakt-oss/klage-til-datatilsynet/",
    ),
    child_consent_age=13,
    child_consent_source=Statute(
        "personopplysningsloven § 5", "https://lovdata.no/lov/2018-06-15-38/§5"
    ),
    age_of_majority=18,
    age_of_majority_source=Statute(
        "vergemålsloven § 2", "https://lovdata.no/lov/2010-03-26-9/§2"
    ),
    holiday_calendar="NO",
    bookkeeping_years=5,
    bookkeeping_secondary_months=42,
    bookkeeping_source=Statute("bokføringsloven § 13", "https://lovdata.no/lov/2004-11-19-73/§13"),
    bookkeeping_words=("bokføring", "regnskap"),
    withdrawal_period_days=14,
    withdrawal_source=Statute("angrerettloven", "https://lovdata.no/lov/2014-06-20-27"),
    marketing_source=Statute(
        "markedsføringsloven § 15", "https://lovdata.no/lov/2009-01-09-2/§15"
    ),
    cookie_source=Statute("ekomloven § 3-15", "https://lovdata.no/lov/2024-12-13-76"),
)

JURISDICTIONS: dict[str, Jurisdiction] = {"NO": NORWAY}
# The rules of a manifest that names no country, and of code with no manifest at hand.
DEFAULT_JURISDICTION = NORWAY


def age_on(birth: date, day: date) -> int:
    """Completed years of age on ``day`` (a birthday counts from its first moment)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def get_jurisdiction(code: str) -> Jurisdiction:
    """The settings for ``code``; an unknown country is a configuration error."""
    try:
        return JURISDICTIONS[code.upper()]
    except KeyError:
        known = ", ".join(sorted(JURISDICTIONS))
        raise ConfigurationError(f"unknown jurisdiction {code!r}; known: {known}") from None
