"""The core's refusals in the reader's language: a bokmål page says them in bokmål, an
English page in English, and nothing is stored either way."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from personvern.errors import InvalidInput, NotFound
from personvern.law import get_jurisdiction
from personvern.requests.tables import Request
from personvern.web.portal_text import REFUSALS, refusal
from portal.support import Portal, csrf_of, new_subject, sign_in
from web.support import T0, MovableClock, ledger_count


def _child_gives_consent(portal: Portal, lang: str | None) -> tuple[int, str, int, int]:
    child = TestClient(portal.client.app, base_url="http://127.0.0.1")
    sign_in(child, "barn@example.no")
    query = f"?lang={lang}" if lang else ""
    page = child.get(f"/portal/consents{query}")
    before = ledger_count(child)
    r = child.post(f"/portal/consents{query}", data={
        "purpose": "partners", "action": "give", "csrf_token": csrf_of(page.text)})
    return r.status_code, r.text, before, ledger_count(child)


def test_a_child_consenting_alone_is_told_in_bokmal_or_english(portal: Portal) -> None:
    """GDPR Art. 8 with personopplysningsloven § 5: under 13, a guardian consents."""
    j = get_jurisdiction("NO")
    assert j.child_consent_age == 13  # personopplysningsloven § 5
    new_subject(portal, "barn@example.no", birth_date=date(2015, 1, 1))
    status, text, before, after = _child_gives_consent(portal, None)  # bokmål by default
    assert status == 422 and after == before
    assert '<html lang="nb"' in text
    assert ("Du er under 13 år, så en foresatt må gi dette samtykket "
            "(personopplysningsloven § 5, personvernforordningen artikkel 8).") in text
    assert "a guardian must give this consent" not in text
    status, text, before, after = _child_gives_consent(portal, "en")
    assert status == 422 and after == before
    assert "You are under 13, so a guardian must give this consent" in text


def test_withdrawing_what_was_never_given_is_explained_in_bokmal(portal: Portal) -> None:
    sign_in(portal.client, "kari.nordmann@example.no")
    page = portal.client.get("/portal/consents")
    r = portal.client.post("/portal/consents", data={
        "purpose": "newsletter", "action": "withdraw", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 422
    assert "Det er ikke gitt noe samtykke til dette, så det er ingenting å trekke tilbake." \
        in r.text and "there is no consent to withdraw" not in r.text


@pytest.fixture(scope="module")
def demo() -> Iterator[TestClient]:
    """The demo service, whose data map lets people correct their name, phone and birth date."""
    from personvern.consent.tables import Identity
    from personvern.demo.init import init_demo
    from personvern.settings import get_settings
    from personvern.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        files = init_demo(Path(tmp), 12, now=T0)
        app = create_app(get_settings(manifest=files.manifest, database_url=files.engine_url),
                         MovableClock(T0))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            with app.state.runtime.transaction() as s:
                # The entity, not the column: the address is sealed and read through it.
                first = s.scalars(select(Identity).where(Identity.kind == "email")
                                  .order_by(Identity.id)).first()
                email = first.value if first is not None else None
            assert email
            sign_in(client, email)
            yield client


def _correct(client: TestClient, lang: str, **fields: str) -> str:
    form = client.get(f"/portal/details?lang={lang}")
    r = client.post(f"/portal/details?lang={lang}",
                    data={"csrf_token": csrf_of(form.text), **fields})
    assert r.status_code == 422, r.text
    with client.app.state.runtime.transaction() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(Request)) == 0  # nothing changed
    return r.text


@pytest.mark.parametrize(("fields", "nb", "en"), [
    ({"app.users.birth_date": "17. mai"},
     "Fødselsdato: skriv en dato som ÅÅÅÅ-MM-DD, for eksempel 2010-05-17.",
     "Date of birth: enter a date as YYYY-MM-DD, for example 2010-05-17."),
    ({"app.users.phone": "ring meg"},
     ": skriv et gyldig telefonnummer, for eksempel +47 912 34 567.",
     ": enter a valid phone number, for example +47 912 34 567."),
    ({"app.users.name": "x" * 2100}, ": skriv 1 til 2000 tegn på én linje.",
     ": enter 1 to 2000 characters on one line."),
    ({}, "Fyll ut minst ett felt.", "Fill in at least one field."),
])
def test_a_bad_correction_is_explained_in_the_pages_language(
        demo: TestClient, fields: dict[str, str], nb: str, en: str) -> None:
    text = _correct(demo, "nb", **fields)
    assert nb in text and "is not a date" not in text and "give 1 to" not in text
    assert en in _correct(demo, "en", **fields)


def test_every_refusal_has_both_languages_and_an_unknown_one_keeps_its_words() -> None:
    assert all(set(texts) == {"nb", "en"} for texts in REFUSALS.values())
    assert refusal("nb", InvalidInput("bad_date", code="bad_date", field="a.b.born"),
                   lambda ref: "Født") == \
        "Født: skriv en dato som ÅÅÅÅ-MM-DD, for eksempel 2010-05-17."
    other = NotFound("no such thing here")
    assert refusal("en", other) == "no such thing here"
    assert refusal("nb", other).startswith("Det kunne ikke gjøres, og ingenting ble endret.")
    assert refusal("nb", other).endswith("no such thing here")
