"""E-mail addresses and phone numbers: checked and normalised here, and nowhere else.

The normal form is part of the stored data: identities are found by a keyed hash of
it (``personvern.consent.subjects``), so a change to it would lose the people stored
under the old form. Both functions raise ``InvalidInput`` with the language-free codes
``bad_email`` and ``bad_phone`` that the portal words in the reader's language.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email

from personvern.errors import InvalidInput
from personvern.law import DEFAULT_JURISDICTION

if TYPE_CHECKING:
    from phonenumbers import NumberParseException, PhoneNumber


def normalise_email(value: str) -> str:
    """The address trimmed and case-folded, once email-validator accepts its syntax.

    The checks are RFC 5321/5322's as email-validator applies them, with no network:
    one @, no spaces, no dot at either end or doubled, a domain with a dot and no
    special-use name (.test, .local), at most 64 characters before the @ (RFC 5321
    4.5.3.1.1, ``strict``) and 254 in all. Unicode (RFC 6531) is allowed.

    The whole address is case-folded, as before this module existed: RFC 5321 2.4 lets
    a host treat the local part case-sensitively, but no mail service people use does,
    and Kari@ and kari@ must stay one person. email-validator's own normal form (NFC,
    IDNA-mapped domain, local part as typed) differs from this one for some unicode and
    xn-- addresses, so using it would orphan identities already stored.
    """
    text = value.strip()
    try:
        validate_email(text, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{value!r} is not an e-mail address ({exc})",
                           code="bad_email") from None
    return text.casefold()


def email_key(value: str) -> str:
    """The key limits count an address by: its normal form, then NFKC and case-folded again.

    Built on ``normalise_email``'s form, so every spelling that finds one identity (``ſ``
    for s, the Kelvin sign for K) is one key; NFKC then folds look-alikes the identity
    form keeps apart (fullwidth letters), so they cannot buy more attempts either. Only
    for counting: identities stay under ``normalise_email``. Text that is not an address
    gets the same folding, trimmed.
    """
    try:
        text = normalise_email(value)
    except InvalidInput:
        text = value.strip().casefold()
    return unicodedata.normalize("NFKC", text).casefold()


def normalise_phone(value: str, region: str = DEFAULT_JURISDICTION.phone_region) -> str:
    """The number in ITU-T E.164 form (+4791234567); one without a country code is ``region``'s."""
    # About 30 ms to import, so it waits for the first number: `personvern check`,
    # which must answer within 300 ms, reads the manifest's e-mails but never a phone.
    import phonenumbers

    text = value.strip()
    # libphonenumber reads letters as keypad digits (1-800-FLOWERS) or as an extension
    # ("ext. 12"); neither belongs in the number a person is found by.
    if any(ch.isalpha() for ch in text):
        raise _not_a_phone(value, "letters are not digits")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise _not_a_phone(value, _unreadable(exc)) from None
    # Valid, not only possible: the number must lie in a range its country has assigned.
    if not phonenumbers.is_valid_number(number):
        raise _not_a_phone(value, _not_in_use(number))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _unreadable(exc: NumberParseException) -> str:
    """Why libphonenumber could not read a number at all, in a few words."""
    if exc.error_type == exc.INVALID_COUNTRY_CODE:
        return "unknown country code"
    if exc.error_type == exc.NOT_A_NUMBER:
        return "no phone number in it"
    return "too many digits" if exc.error_type == exc.TOO_LONG else "too few digits"


def _not_in_use(number: PhoneNumber) -> str:
    """Why a number libphonenumber could read is not one its country uses."""
    from phonenumbers import ValidationResult, is_possible_number_with_reason

    country = f"+{number.country_code}"
    length = is_possible_number_with_reason(number)
    if length == ValidationResult.TOO_SHORT:
        return f"too few digits for {country}"
    if length == ValidationResult.TOO_LONG:
        return f"too many digits for {country}"
    return f"no such number with country code {country}"


def _not_a_phone(value: str, why: str) -> InvalidInput:
    """The refusal of ``value`` as a phone number."""
    return InvalidInput(f"{value!r} is not a phone number ({why})", code="bad_phone")
