"""The portal overview says only what the manifest says (GDPR Art. 13-15, Art. 15(1)(b), (d)).

Where the manifest leaves out a purpose's legal basis or its storage period, the signed-in
person reads "not stated in our records", the words of the access package, never
"None (None)" or a blank.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from personvern.settings import get_settings
from portal.support import sign_in
from web.support import T0, MovableClock, runtime_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EMAIL = "deltaker@example.no"


@pytest.fixture
def vekstly(sqlite_url: str) -> Iterator[TestClient]:
    """The portal on Vekstly's seed (cookies: no basis, no retention), a participant signed in."""
    from personvern.consent.subjects import create_subject
    from personvern.web import create_app

    app = create_app(get_settings(manifest=EXAMPLES / "vekstly.yaml", database_url=sqlite_url,
                                  public_url="http://127.0.0.1"), MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        rt = runtime_of(client)
        with rt.transaction() as s:
            create_subject(s, rt.clock, {"email": EMAIL}, kind="participants")
        sign_in(client, EMAIL)
        yield client


def _cookies_card(client: TestClient, lang: str) -> str:
    """The text of the overview's card for the cookies purpose."""
    r = client.get(f"/portal?lang={lang}")
    assert r.status_code == 200, r.text
    card = re.search(r'<section class="card" aria-labelledby="purpose-cookies">(.*?)</section>',
                     r.text, re.S)
    assert card, r.text[:2000]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card.group(1)))


def test_art15_1_b_overview_purpose_without_a_basis_says_not_stated(
        vekstly: TestClient) -> None:
    """Art. 15(1)(b): no basis in the manifest reads "not stated in our records"."""
    card = _cookies_card(vekstly, "en")
    assert "None (None)" not in card and "(None)" not in card
    assert "Legal basis not stated in our records" in card


def test_art15_1_d_overview_purpose_without_retention_says_not_stated(
        vekstly: TestClient) -> None:
    """Art. 15(1)(d): no storage period in the manifest reads "not stated", never a blank."""
    card = _cookies_card(vekstly, "en")
    how_long = card.split("How long", 1)[1].strip()
    assert how_long == "not stated in our records"


def test_art15_1_b_overview_says_not_stated_in_bokmaal(vekstly: TestClient) -> None:
    """Art. 12(1): the same in bokmål, in the access package's words."""
    card = _cookies_card(vekstly, "nb")
    assert "None" not in card
    assert card.count("ikke oppgitt i våre opplysninger") == 3


@pytest.mark.parametrize(("lang", "label", "words", "never"), [
    ("en", "Recipients", "not stated in our records", "None"),
    ("nb", "Mottakere", "ikke oppgitt i våre opplysninger", "Ingen")])
def test_art15_1_c_overview_purpose_without_recipients_says_not_stated_not_none(
        vekstly: TestClient, lang: str, label: str, words: str, never: str) -> None:
    """Art. 15(1)(c): a purpose the manifest lists no recipients for is no statement that
    nobody receives the data; the overview says "not stated", in every language it has."""
    card = _cookies_card(vekstly, lang)
    recipients = card.split(label, 1)[1].split("Hvor lenge" if lang == "nb" else "How long",
                                                1)[0].strip()
    assert recipients == words and never not in card
