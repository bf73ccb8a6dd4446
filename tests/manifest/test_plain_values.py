"""The manifest's short checks for plain addresses and organisation numbers agree with the
libraries they stand in for: whatever they accept, email-validator and python-stdnum accept
too, with the same value."""

from __future__ import annotations

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from personvern.law.identifiers import real_orgnr
from personvern.manifest.model import (
    Children,
    JurisdictionSettings,
    PolicyChanges,
    ResponseDeadline,
    Rights,
)
from personvern.manifest.types import _SPECIAL_USE_DOMAINS, plain_email, plain_orgnr


def _library_accepts(text: str) -> bool:
    """Whether email-validator accepts ``text`` as ``contact.normalise_email`` calls it."""
    try:
        validate_email(text, check_deliverability=False, strict=True)
    except EmailNotValidError:
        return False
    return True


def test_the_special_use_names_are_the_librarys() -> None:
    assert list(_SPECIAL_USE_DOMAINS) == email_validator.SPECIAL_USE_DOMAIN_NAMES


@pytest.mark.parametrize("text", [
    "a@b.no", "post@minmentor.no", "Kari.Nordmann+x@Mail.Example.COM", "-_+@a-b.c-d.no",
    "a" * 64 + "@b.no", "a@" + "b" * 63 + ".no", "a@" + ".".join(["b" * 49] * 5) + ".no",
])
def test_plain_addresses_at_the_limits_are_accepted_by_both(text: str) -> None:
    assert len(text) <= 254
    assert plain_email(text) and _library_accepts(text)


@pytest.mark.parametrize("text", [
    "a" * 65 + "@b.no", "a@" + "b" * 64 + ".no", "a@" + ".".join(["b" * 63] * 4) + ".no",
    "a@b.test", "a@b.LOCALHOST", "a@b.onion", "a@b.arpa", "a@b.invalid", "a@b.local",
    "a@ab--cd.no", "a@xn--abc.no", "a@b-.no", "a@-b.no", "a@b", "a@b.n0", "a..b@c.no",
    ".a@b.no", "a.@b.no", "a b@c.no", "\"a\"@b.no", "a@b.no.", "a@[1.2.3.4]", "pøst@b.no",
    "a@bø.no", "A <a@b.no>", "a@b@c.no", "", "@b.no", "a@",
])
def test_what_the_library_refuses_or_is_not_plain_goes_to_the_library(text: str) -> None:
    assert not plain_email(text)


_ATOM = st.text("abcXYZ019_+-!#.", min_size=1, max_size=70)
_LABEL = st.text("abzAZ09-", min_size=1, max_size=66)
_ADDRESSES = st.one_of(
    st.builds(lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}", _ATOM,
              st.lists(_LABEL, min_size=1, max_size=5),
              st.sampled_from(["no", "COM", "test", "localhost", "a", "xn", "n0", "onion"])),
    st.text("ab.@-_+ø1", max_size=30),
)


@settings(max_examples=3000, deadline=None)
@given(_ADDRESSES)
def test_every_plain_address_is_one_email_validator_accepts(text: str) -> None:
    if plain_email(text):
        assert _library_accepts(text), text


def _real(text: str) -> str | None:
    try:
        return real_orgnr(text)
    except ValueError:
        return None


@pytest.mark.parametrize("text", ["988077917", "923609016", "974760673"])
def test_issued_numbers_are_plain_and_real(text: str) -> None:
    assert plain_orgnr(text) and _real(text) == text


@pytest.mark.parametrize("text", ["988077918", "100000008", "999999999", "000000000",
                                  "988 077 917", "98807791", "9880779170", "９88077917", ""])
def test_wrong_placeholder_or_spaced_numbers_are_not_plain(text: str) -> None:
    assert not plain_orgnr(text)


@settings(max_examples=5000, deadline=None)
@given(st.integers(0, 999_999_999).map(lambda n: f"{n:09d}"))
def test_plain_orgnr_accepts_exactly_the_nine_digit_numbers_stdnum_accepts(text: str) -> None:
    assert plain_orgnr(text) == (_real(text) == text)


@pytest.mark.parametrize("model", [JurisdictionSettings, Rights, Children, PolicyChanges])
def test_section_defaults_are_what_validating_nothing_gives(model: type) -> None:
    built, validated = model.model_construct(), model.model_validate({})
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set == set()
    assert built.model_dump() == validated.model_dump()
    deadline = ResponseDeadline.model_construct(months=1)
    assert deadline == ResponseDeadline(months=1)
    assert deadline.model_fields_set == {"months"}
