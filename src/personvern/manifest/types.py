"""Small value types the manifest is built from: texts in two languages, durations, ids."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    RootModel,
    WithJsonSchema,
    model_validator,
)

from personvern.errors import InvalidInput
from personvern.law.identifiers import ISSUED_FIRST_DIGITS

LANGUAGES = ("nb", "en")

_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            "expected an id of lower-case letters, digits, '_' or '-', starting with a letter"
        )
    return value


def _check_category(value: str) -> str:
    if not _CATEGORY.match(value):
        raise ValueError("expected a dotted category key such as user.contact.email")
    return value


# A plain ASCII address: dot-separated runs of letters, digits, _ + - before the @, and a
# domain of at least two labels of letters and digits joined by single hyphens, the last
# all letters. email-validator 2.4 (strict, no network) accepts every one of these that
# keeps its length limits and is under no special-use name: tests/manifest/
# test_plain_email.py holds this against the library itself.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+[A-Za-z]+"
)
# email_validator.SPECIAL_USE_DOMAIN_NAMES, which the library refuses with any label before them.
_SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def plain_email(text: str) -> bool:
    """Whether ``text`` is a plain ASCII address that ``contact.normalise_email`` accepts."""
    if len(text) > 254 or not _PLAIN_EMAIL.fullmatch(text):
        return False
    local, _, domain = text.partition("@")
    labels = domain.lower().split(".")
    return (len(local) <= 64 and len(domain) <= 253 and max(map(len, labels)) <= 63
            and labels[-1] not in _SPECIAL_USE_DOMAINS)


# An organisasjonsnummer as nine digits and nothing else: mod-11 with weights 3, 2, 7, 6,
# 5, 4, 3, 2 and 1 on the check digit, as python-stdnum's ``stdnum.no.orgnr`` computes it.
_ORGNR_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2, 1)


def plain_orgnr(text: str) -> bool:
    """Whether ``text`` is nine digits that ``law.identifiers.real_orgnr`` returns unchanged.

    Importing python-stdnum costs `personvern check` ~50 ms (its helpers import ssl and
    pydoc), so a number written plainly is checked here; anything else (spaces, a wrong
    digit, a placeholder) goes to ``real_orgnr`` for its answer and its error.
    """
    return (len(text) == 9 and text.isascii() and text.isdigit()
            and sum(w * int(d) for w, d in zip(_ORGNR_WEIGHTS, text, strict=True)) % 11 == 0
            and text[0] in ISSUED_FIRST_DIGITS and len(set(text)) > 1)


def _check_email(value: str) -> str:
    """The address trimmed, else as written (a policy prints it), if ``contact`` accepts it."""
    text = value.strip()
    if plain_email(text):
        return text
    # Only for addresses that are not plain: email-validator compiles its Unicode patterns
    # on import, ~30 ms of the 300 ms `personvern check` has, and most manifests need none.
    from personvern.contact import normalise_email

    try:
        normalise_email(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None  # pydantic places a ValueError at file:line:column
    return text


def _check_country(value: str) -> str:
    value = value.upper()
    if not _COUNTRY.match(value):
        raise ValueError("expected a two-letter ISO 3166 country code such as NO or US")
    return value


Id = Annotated[str, AfterValidator(_check_id)]
CategoryKey = Annotated[str, AfterValidator(_check_category)]
Email = Annotated[str, AfterValidator(_check_email)]
Country = Annotated[str, AfterValidator(_check_country)]


class Text(RootModel[dict[str, str]]):
    """Text in bokmål and/or English; a plain string is language-neutral (a name, a URL)."""

    # As the manifest's sections (model.Strict): built inside the manifest's validator,
    # not one of its own at import.
    model_config = ConfigDict(defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _from_plain(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"*": value}
        if isinstance(value, dict):
            # "*" is a neutral text as the model holds it (a dump read back in).
            unknown = [k for k in value if k not in LANGUAGES and k != "*"]
            if unknown:
                raise ValueError(
                    f"unknown language {unknown[0]!r}; expected {' or '.join(LANGUAGES)}"
                )
            if not value:
                raise ValueError("expected text in at least one language")
        return value

    def get(self, lang: str) -> str:
        """The text in ``lang``, else the neutral text, else any language given."""
        texts = self.root
        return texts.get(lang) or texts.get("*") or next(iter(texts.values()))

    def has(self, lang: str) -> bool:
        """Whether a text was written for ``lang`` (neutral text counts)."""
        return lang in self.root or "*" in self.root

    @property
    def neutral(self) -> bool:
        """Whether the text was given once for every language."""
        return "*" in self.root


# ---- durations ---------------------------------------------------------------

_UNITS = {
    "y": "years", "year": "years", "years": "years", "år": "years",
    "m": "months", "mo": "months", "month": "months", "months": "months", "mnd": "months",
    "måned": "months", "måneder": "months",
    "w": "weeks", "week": "weeks", "weeks": "weeks", "uke": "weeks", "uker": "weeks",
    "d": "days", "day": "days", "days": "days", "dag": "days", "dager": "days",
}
_PART = re.compile(r"(-?\d+)\s*([a-zæøå]+)")
_ISO = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
UNLIMITED_WORDS = frozenset({"unlimited", "forever", "indefinitely", "ubegrenset"})


@dataclass(frozen=True, order=True)
class Duration:
    """A calendar duration (years, months, days), or ``unlimited``."""

    years: int = 0
    months: int = 0
    days: int = 0
    unlimited: bool = False

    @classmethod
    def parse(cls, value: object) -> Duration:
        """Read ``"2 years"``, ``"6 months"``, ``"3 years 6 months"``, ``"P14D"`` or
        ``"unlimited"``; a number alone is refused because its unit would be a guess."""
        if isinstance(value, Duration):
            return value
        if not isinstance(value, str):
            raise ValueError('expected a duration such as "2 years", "6 months" or "14 days"')
        text = value.strip().lower()
        if text in UNLIMITED_WORDS:
            return cls(unlimited=True)
        iso = _ISO.match(value.strip().upper())
        if iso and any(iso.groups()):
            y, m, w, d = (int(g or 0) for g in iso.groups())
            return cls(y, m, d + 7 * w)
        parts = _PART.findall(text)
        rest = _PART.sub("", text).replace(",", " ").replace(" and ", " ").replace(" og ", " ")
        if not parts or rest.strip():
            raise ValueError(
                f'{value!r} is not a duration; expected e.g. "2 years", "6 months", "14 days"'
            )
        amounts = {"years": 0, "months": 0, "weeks": 0, "days": 0}
        for number, unit in parts:
            if unit not in _UNITS:
                raise ValueError(f"unknown unit {unit!r} in {value!r}")
            amount = int(number)
            if amount < 0:
                raise ValueError(f"{value!r} is negative; a duration cannot be")
            amounts[_UNITS[unit]] += amount
        return cls(amounts["years"], amounts["months"], amounts["days"] + 7 * amounts["weeks"])

    @property
    def total_months(self) -> int:
        """Years and months as months (days ignored): for comparing retention lengths."""
        return self.years * 12 + self.months

    def approx_days(self) -> float:
        """Length in days on average calendars, for ordering only."""
        if self.unlimited:
            return float("inf")
        return self.years * 365.25 + self.months * 30.44 + self.days

    def __str__(self) -> str:
        if self.unlimited:
            return "unlimited"
        parts = [
            f"{n} {unit if n != 1 else unit[:-1]}"
            for n, unit in ((self.years, "years"), (self.months, "months"), (self.days, "days"))
            if n
        ]
        return " ".join(parts) or "0 days"


DurationField = Annotated[
    Duration,
    BeforeValidator(Duration.parse),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["2 years", "6 months", "14 days"]}),
]
