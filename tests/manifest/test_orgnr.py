"""The organisasjonsnummer: mod-11 and issued by Brønnøysundregistrene, or left out."""

from __future__ import annotations

import pytest

from personvern.errors import ManifestError
from personvern.manifest.loader import parse_manifest

BASE = """personvern: 1
service: {name: Testtjenesten}
controller:
  name: Test AS
  orgnr: "%s"
  email: post@test.example.no
"""


@pytest.mark.parametrize(("number", "says"), [
    ("100000008", "placeholder"),     # the old Vekstly number: mod-11 valid, never issued
    ("100 000 016", "placeholder"),   # Lillemini's, as printed
    ("999999999", "placeholder"),     # one digit repeated
    ("923641646", "not a valid organisasjonsnummer"),   # seed 000's with a wrong check digit
    ("12345", "not a valid organisasjonsnummer"),
])
def test_placeholder_or_invalid_orgnr_is_refused_at_its_line(number: str, says: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(BASE % number, file="m.yaml")
    message = str(caught.value)
    assert says in message
    assert message.startswith("m.yaml:5:10: controller.orgnr: "), message


def test_real_orgnr_is_kept_as_nine_digits_and_absent_is_allowed() -> None:
    """Seed 000 prints "923 641 645"; a manifest without a number is valid."""
    loaded = parse_manifest(BASE % "923 641 645", file="m.yaml")
    assert loaded.manifest.controller.orgnr == "923641645"
    text = BASE.replace('  orgnr: "%s"\n', "")
    assert parse_manifest(text, file="m.yaml").manifest.controller.orgnr is None
