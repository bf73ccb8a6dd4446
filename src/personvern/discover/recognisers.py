"""What a single value or a column's name says it holds: e-mail addresses, phone numbers,
Norwegian identifiers (fødselsnummer and D-nummer, organisasjonsnummer, kontonummer), IBANs,
card numbers, IP addresses, birth dates, names and addresses — each recogniser naming the
data category (and the identity kind) it stands for. The checksums are python-stdnum's,
the phone rules phonenumbers', the e-mail syntax email-validator's."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import iban, luhn
from stdnum.no import fodselsnummer, kontonr, orgnr


@dataclass(frozen=True)
class Recogniser:
    """One kind of personal data: how its values look and what its columns are called."""

    name: str
    category: str
    identity: str | None  # the manifest's identity kind, when a value finds one person
    matches: Callable[[str], bool]
    names: re.Pattern[str]  # column names that suggest it (Norwegian and English)
    free_text: re.Pattern[str] | None = None  # how to find it inside longer text
    # Weak: its shape alone is common (a date, two capitalised words), so only a column
    # whose name also says so is taken for it with confidence.
    weak: bool = False


def _email(value: str) -> bool:
    if "@" not in value or len(value) > 254:
        return False
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


_PHONE_SHAPE = re.compile(r"^\+?[0-9][0-9 ()-]{6,18}[0-9]$")
_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _phone(value: str) -> bool:
    # The shape first: phonenumbers accepts many strings a person would not call a number.
    if not _PHONE_SHAPE.match(value) or _DATE_SHAPE.match(value):
        return False
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and not value.startswith("+"):
        return False  # eleven bare digits is a fødselsnummer's shape, not a phone's
    try:
        number = phonenumbers.parse(value, "NO")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _national_id(value: str) -> bool:
    # Fødselsnummer and D-nummer: eleven digits with two mod-11 check digits
    # (folkeregisterforskriften § 2-2-1); stdnum checks both and the date.
    compact = value.replace(" ", "")
    return len(compact) == 11 and compact.isdigit() and fodselsnummer.is_valid(compact)


def _orgnr(value: str) -> bool:
    compact = value.replace(" ", "")
    return len(compact) == 9 and compact.isdigit() and orgnr.is_valid(compact)


def _account(value: str) -> bool:
    compact = value.replace(" ", "").replace(".", "")
    return len(compact) == 11 and compact.isdigit() and kontonr.is_valid(compact)


def _iban(value: str) -> bool:
    compact = value.replace(" ", "")
    return 15 <= len(compact) <= 34 and compact[:2].isalpha() and iban.is_valid(compact)


def _card(value: str) -> bool:
    compact = re.sub(r"[ -]", "", value)
    # Payment card numbers: 13 to 19 digits with a Luhn check digit (ISO/IEC 7812-1).
    return (13 <= len(compact) <= 19 and compact.isdigit() and compact[0] in "23456"
            and luhn.is_valid(compact))


def _ip(value: str) -> bool:
    if not (7 <= len(value) <= 45) or not any(c in value for c in ".:"):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (address.is_unspecified or address.is_multicast)


def _birth_date(value: str) -> bool:
    # A day, not a moment: a timestamp records when something happened, not a birth.
    if len(value) != 10:
        return False
    try:
        day = date.fromisoformat(value)
    except ValueError:
        try:
            day = datetime.strptime(value, "%d.%m.%Y").date()
        except ValueError:
            return False
    return 1900 <= day.year <= 2100


def is_moment(value: str) -> bool:
    """Whether ``value`` reads as an ISO date or date and time (a column retention could
    count from)."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_NAME_WORD = r"[A-ZÆØÅÄÖÉ][a-zæøåäöéü'-]+"
_PERSON_NAME = re.compile(rf"^{_NAME_WORD}( {_NAME_WORD}){{1,3}}$")


# A role and a number standing in for a person ("Kunde 12", "Customer #4711", "Elev 3"), as
# billing and support systems write where no name was given: a pseudonym, still personal
# data for whoever holds the number's key (GDPR Art. 4(5), recital 26).
_PSEUDONYM = re.compile(
    r"^(kunde|customer|client|klient|bruker|user|medlem|member|elev|pupil|student|deltaker|"
    r"participant|pasient|patient|gjest|guest|ansatt|employee|kjøper|kjoper|buyer|abonnent|"
    r"subscriber|person)\s*(nr\.?|no\.?|nummer|number|#)?\s*\d{1,12}$", re.IGNORECASE)


def pseudonym(value: str) -> bool:
    """Whether ``value`` is a role and a number in a person's place (``Kunde 12``)."""
    return len(value) <= 40 and bool(_PSEUDONYM.match(value.strip()))


def _name(value: str) -> bool:
    return len(value) <= 80 and (bool(_PERSON_NAME.match(value)) or pseudonym(value))


_ADDRESS = re.compile(r"^[A-ZÆØÅ][\wæøåÆØÅ .'-]+ \d{1,4}\s?[A-Za-z]?(,\s*\d{4}\s+\S.*)?$")


def _address(value: str) -> bool:
    return len(value) <= 120 and bool(_ADDRESS.match(value))


def _names(*words: str) -> re.Pattern[str]:
    """Column names containing one of ``words`` as a whole part (``user_email``, ``epost``)."""
    return re.compile(rf"(^|[_\W]|\d)({'|'.join(words)})($|[_\W]|\d)", re.IGNORECASE)


RECOGNISERS: tuple[Recogniser, ...] = (
    Recogniser("e-mail address", "user.contact.email", "email", _email,
               _names("e?-?mail", "epost", "e_post", "mail_address", "email_address"),
               re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")),
    Recogniser("fødselsnummer or D-nummer", "user.government_id.national_identification_number",
               "national_id", _national_id,
               _names("fnr", "f_nr", "fodselsnummer", "fødselsnummer", "personnummer", "pnr",
                      "ssn", "national_id", "dnr", "d_nummer"),
               re.compile(r"\b\d{6} ?\d{5}\b")),
    Recogniser("phone number", "user.contact.phone_number", "phone", _phone,
               _names("phone", "telefon", "tlf", "mobil", "mobile", "cell", "msisdn"),
               re.compile(r"(\+\d{2} ?)?\b\d{2} ?\d{2} ?\d{2} ?\d{2}\b")),
    Recogniser("card number", "user.financial.credit_card", None, _card,
               _names("card", "kort", "kortnummer", "pan", "cc", "card_number"),
               re.compile(r"\b\d(?:[ -]?\d){12,18}\b")),
    Recogniser("IBAN", "user.financial.bank_account", None, _iban,
               _names("iban")),
    Recogniser("kontonummer", "user.financial.bank_account", None, _account,
               _names("kontonr", "kontonummer", "account", "bank_account", "bankkonto")),
    Recogniser("organisasjonsnummer", "user.professional_information.workplace", None, _orgnr,
               _names("orgnr", "org_nr", "organisasjonsnummer", "org_number", "orgno")),
    Recogniser("IP address", "user.device.ip_address", None, _ip,
               _names("ip", "ip_address", "ipaddr", "remote_addr", "client_ip")),
    Recogniser("birth date", "user.demographic.date_of_birth", None, _birth_date,
               _names("birth", "birth_date", "birthdate", "dob", "fodt", "født",
                      "fodselsdato", "fødselsdato", "born"), weak=True),
    Recogniser("name", "user.name", None, _name,
               _names("name", "navn", "fornavn", "etternavn", "first_name", "last_name",
                      "full_name", "surname", "given_name"), weak=True),
    Recogniser("postal address", "user.contact.address", None, _address,
               _names("address", "adresse", "street", "gate", "gateadresse", "postadresse"),
               weak=True),
    Recogniser("activity time", "user.behavior", None, is_moment,
               _names("last_login", "last_login_at", "last_seen", "last_active", "logged_in",
                      "last_activity", "last_visit", "sist_innlogget", "sist_aktiv"),
               weak=True),
    Recogniser("free text", "user.content.private", None, lambda value: len(value) > 20,
               _names("body", "notes?", "message", "comment", "melding", "notat",
                      "beskrivelse", "fritekst", "text"), weak=True),
)

def found_in_text(value: str) -> list[Recogniser]:
    """Identifiers inside a longer text (a note naming an e-mail or a fødselsnummer)."""
    seen: list[Recogniser] = []
    for recogniser in RECOGNISERS:
        if recogniser.free_text is None:
            continue
        for hit in recogniser.free_text.finditer(value):
            if recogniser.matches(hit.group(0)):
                seen.append(recogniser)
                break
    return seen


def suggested_by_name(column: str) -> Recogniser | None:
    """The kind a column's name suggests (``epost``, ``user_phone``), or None."""
    for recogniser in RECOGNISERS:
        if recogniser.names.search(column):
            return recogniser
    return None


def mask(value: str) -> str:
    """Evidence that shows a value's shape, never the value: ``k***@e***.no``, ``0***9``."""
    text = value.strip()
    if "@" in text:
        local, _, domain = text.partition("@")
        host, dot, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***{dot}{tld}" if host else f"{local[:1]}***@***"
    if len(text) <= 4:
        return "*" * len(text)
    return f"{text[:1]}{'*' * min(len(text) - 2, 8)}{text[-1:]}"
