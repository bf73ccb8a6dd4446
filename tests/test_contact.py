"""E-mail addresses and phone numbers: what is accepted, the normal form, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from personvern.consent.subjects import create_subject, find_subject
from personvern.contact import email_key, normalise_email, normalise_phone
from personvern.errors import InvalidInput

# Inputs and the form the regex-based normaliser this module replaced stored for them.
# Identities are found by a keyed hash of that form, so it must not change.
STORED_EMAILS = {
    " Kari@Example.NO ": "kari@example.no",
    "KARI.NORDMANN+nyhetsbrev@Leksehjelp.Example.no":
        "kari.nordmann+nyhetsbrev@leksehjelp.example.no",
    "ola_o'neil@gmail.com": "ola_o'neil@gmail.com",
    "Ærlig.Åse@Bølgen.no": "ærlig.åse@bølgen.no",
    "per@xn--blgen-vua.no": "per@xn--blgen-vua.no",
}
STORED_PHONES = {
    "+4791234567": "+4791234567",
    "+47 912 34 567": "+4791234567",
    "912 34 567": "+4791234567",
    "0047 912 34 567": "+4791234567",
    "(+47) 912-34-567": "+4791234567",
    "22334455": "+4722334455",
    "+47 458 07 600": "+4745807600",
    "+358 40 1234567": "+358401234567",
}


# ---- e-mail --------------------------------------------------------------------

@pytest.mark.parametrize(("written", "stored"), STORED_EMAILS.items())
def test_addresses_keep_the_form_they_were_stored_in(written: str, stored: str) -> None:
    assert normalise_email(written) == stored


@given(st.emails())
def test_an_address_is_its_trimmed_case_folded_text(address: str) -> None:
    assert normalise_email(f" {address.upper()} ") == address.casefold()


def test_a_unicode_domain_is_accepted() -> None:
    """RFC 6531 (SMTPUTF8) addresses and IDNA domains are real addresses in Norway."""
    assert normalise_email("kari@BØLGEN.no") == "kari@bølgen.no"


@pytest.mark.parametrize(("address", "why"), [
    ("kari", "must have an @-sign"),
    ("kari example.no", "must have an @-sign"),
    ("kari nordmann@example.no", "invalid characters before the @-sign: SPACE"),
    ("kari@@example.no", "invalid characters: '@'"),
    ("kari@ola@example.no", "invalid characters: '@'"),
    ("kari@example.no.", "cannot end with a period"),
    ("kari.@example.no", "cannot have a period immediately before the @-sign"),
    ("kari@localhost", "should have a period"),
    ("kari@example.test", "special-use or reserved name"),
    ("Kari <kari@example.no>", "display name"),
    ("k" * 65 + "@example.no", "too long before the @-sign"),  # RFC 5321 4.5.3.1.1
    ("k" * 64 + "@" + ".".join(["a" * 60] * 3) + ".example.no",
     "is too long (4 characters too many)"),  # RFC 5321 4.5.3.1.3: 254 in all
    ("", "must have an @-sign"),
])
def test_bad_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    with pytest.raises(InvalidInput, match="is not an e-mail address") as refused:
        normalise_email(address)
    assert why in str(refused.value)
    assert refused.value.code == "bad_email"


# ---- phone ---------------------------------------------------------------------

@pytest.mark.parametrize(("written", "stored"), STORED_PHONES.items())
def test_numbers_keep_the_form_they_were_stored_in(written: str, stored: str) -> None:
    assert normalise_phone(written) == stored


def test_a_national_number_is_read_in_the_region_given() -> None:
    assert normalise_phone("91234567", "NO") == "+4791234567"
    assert normalise_phone("070-123 45 67", "SE") == "+46701234567"


def test_a_foreign_number_keeps_its_country() -> None:
    assert normalise_phone("+46 70 123 45 67", "NO") == "+46701234567"
    assert normalise_phone("0046 70 123 45 67", "NO") == "+46701234567"


@pytest.mark.parametrize(("number", "why"), [
    ("ring meg", "letters are not digits"),
    ("12ab", "letters are not digits"),
    ("9123456A", "letters are not digits"),  # libphonenumber would read A as the digit 2
    ("91234567 ext. 12", "letters are not digits"),
    ("12", "too few digits for +47"),
    ("+47 123", "too few digits for +47"),
    ("+47 912 34 567 8", "too many digits for +47"),
    ("+4712345678", "no such number with country code +47"),
    ("+999 1234567", "unknown country code"),
    ("1" * 40, "too many digits"),
    ("", "no phone number in it"),
    ("   ", "no phone number in it"),
    ("+", "no phone number in it"),
])
def test_bad_numbers_are_refused_with_the_reason(number: str, why: str) -> None:
    with pytest.raises(InvalidInput, match="is not a phone number") as refused:
        normalise_phone(number)
    assert why in str(refused.value)
    assert refused.value.code == "bad_phone"


# ---- the identities stored with the old form are still found ---------------------

def test_stored_identities_are_found_by_any_spelling(db_session: Session) -> None:
    at = datetime(2027, 3, 1, 12, tzinfo=UTC)
    kari, _ = create_subject(db_session, lambda: at, {
        "email": "kari.nordmann+nyhetsbrev@leksehjelp.example.no", "phone": "+4791234567"})
    for email in ("KARI.NORDMANN+nyhetsbrev@Leksehjelp.Example.no",
                  " kari.nordmann+nyhetsbrev@leksehjelp.example.no"):
        assert find_subject(db_session, "email", email) == kari
    for phone in ("912 34 567", "+47 912 34 567", "0047 91 23 45 67"):
        assert find_subject(db_session, "phone", phone) == kari


@pytest.mark.parametrize("look_alike", [
    "kari.nordmann@example.no", " KARI.Nordmann@Example.NO ",
    "\u212aari.nordmann@example.no",  # the Kelvin sign
    "\uff4b\uff41\uff52\uff49.nordmann@example.no",  # fullwidth
    "kari.nordmann@\uff45xample.no",
])
def test_look_alike_addresses_share_one_limit_key(look_alike: str) -> None:
    assert email_key(look_alike) == "kari.nordmann@example.no"
    assert email_key("ka\u017fi@example.no") == email_key("KASI@example.no")  # long s


@given(st.emails())
def test_one_identity_is_one_limit_key(address: str) -> None:
    # Whatever finds one identity counts against one limit.
    assert email_key(address.upper()) == email_key(normalise_email(address))
