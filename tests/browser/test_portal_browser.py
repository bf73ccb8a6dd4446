"""The subject portal in headless Chromium, on the demo service, with mail over real SMTP."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from browser.support import Site, shot

pytestmark = pytest.mark.browser


def parent(site: Site) -> tuple[str, str]:
    """(subject id, e-mail) of a demo parent who has a child under 18."""
    from personvern.consent.tables import Guardianship, Identity, Subject

    with site.runtime.transaction() as s:
        # The whole Identity: its address is sealed and opens only when the object loads.
        identity = s.scalars(
            select(Identity).join(Subject, Identity.subject_id == Subject.id)
            .join(Guardianship, Guardianship.guardian_id == Subject.id)
            .where(Identity.kind == "email", Subject.kind == "parent").limit(1)).one()
        return identity.subject_id, identity.value


def sign_in(site: Site, page: Any, email: str) -> None:
    """Ask for a link, read it from the SMTP server, open it and press Sign in."""
    page.goto(f"{site.url}/portal/sign-in")
    page.get_by_label("E-postadresse").fill(email)
    page.get_by_role("button", name="Send meg en innloggingslenke").click()
    assert "Sjekk e-posten din" in page.locator("h1").inner_text()
    page.goto(site.sign_in_link(email))
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(f"{site.url}/portal")


def api_decision(site: Site, subject_id: str, purpose: str) -> bool:
    """The API's answer for (subject, purpose), asked with a fresh API key."""
    from personvern.apikeys import create_key

    rt = site.runtime
    with rt.transaction() as s:
        token, _ = create_key(s, rt.clock, "browser test", ["decisions:read"])
    r = httpx.get(f"{site.url}/api/v1/decisions", params={"subject": subject_id,
                                                          "purpose": purpose},
                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    allowed: bool = r.json()["allowed"]
    return allowed


def test_sign_in_export_consent_and_delete(site: Site, page: Any) -> None:
    sid, email = parent(site)
    sign_in(site, page, email)
    assert page.locator("h1").inner_text() == "Dine data, etter formål"
    assert page.get_by_role("heading", name="Regnskap").is_visible()
    main = page.locator("main").inner_text()
    assert "bokføringsloven § 13" in main
    assert "invoices.billed_name" in main  # where the data map keeps it
    shot(page, "portal-overview")

    # Export: an access request carried out at once, downloaded as a ZIP.
    page.get_by_role("button", name="Lag eksport").click()
    assert page.locator("#request-state").inner_text() == "Ferdig"
    with page.expect_download() as dl:
        page.locator("#download").click()
    data = dl.value.path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        document = json.loads(zf.read("data.json"))
    assert {"data.json", "summary.html", "app/users.csv"} <= names
    users = document["datasets"]["app"]["users"]
    assert [u["email"] for u in users] == [email]
    assert {i["value"] for i in document["personvern"]["identities"]} >= {email}
    shot(page, "portal-export")

    # Consent: give, then withdraw; the API's decision follows each time.
    page.get_by_role("link", name="Samtykker").click()
    page.get_by_role("button", name="Si ja til Nyhetsbrev").click()
    assert page.locator("#c-newsletter-state").get_attribute("data-allowed") == "yes"
    assert api_decision(site, sid, "newsletter") is True
    page.get_by_role("button", name="Trekk tilbake samtykket til Nyhetsbrev").click()
    assert page.locator("#c-newsletter-state").get_attribute("data-allowed") == "no"
    assert page.get_by_role("status").inner_text() == "Valget ditt er lagret."
    assert api_decision(site, sid, "newsletter") is False
    shot(page, "portal-consents")

    # Delete: told first what is kept, then erased and signed out.
    page.get_by_role("link", name="Slett konto").click()
    assert "bokføringsloven § 13" in page.locator("table").inner_text()
    page.get_by_role("button", name="Slett kontoen").click()
    assert "Kryss av" in page.get_by_role("alert").inner_text()  # not confirmed: nothing done
    page.get_by_label("Jeg forstår").check()
    page.get_by_role("button", name="Slett kontoen").click()
    assert page.locator("h1").inner_text() == "Kontoen er slettet"
    kept = page.locator("#kept").inner_text()  # what was kept, why and until which day
    assert "invoices" in kept and "bokføringsloven § 13" in kept
    assert re.search(r"20\d\d-12-31", kept), kept
    shot(page, "portal-deleted")
    page.goto(f"{site.url}/portal")
    assert page.url == f"{site.url}/portal/sign-in"
    from personvern.consent.tables import Subject

    with site.runtime.transaction() as s:
        assert s.get(Subject, sid).erased_at is not None


def test_the_link_works_once_and_a_tampered_one_not_at_all(site: Site, page: Any) -> None:
    _sid, email = parent(site)
    sign_in(site, page, email)
    link = site.sign_in_link(email)
    page.context.clear_cookies()
    page.goto(link)
    assert page.locator("h1").inner_text() == "Lenken virker ikke"
    assert "allerede brukt" in page.locator("main").inner_text()
    page.goto(link[:-3] + "xyz")
    assert "ikke gyldig" in page.locator("main").inner_text()
    shot(page, "portal-bad-link")


def test_keyboard_only_pass_through_the_portal(site: Site, page: Any) -> None:
    """Sign in, move through every page and withdraw nothing, all with Tab and Enter."""
    _sid, email = parent(site)
    page.goto(f"{site.url}/portal/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Hopp til innholdet"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    # From the main landmark, the e-mail field is reached by Tab alone.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "email":
            break
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(email)
    page.keyboard.press("Enter")
    assert "Sjekk e-posten din" in page.locator("h1").inner_text()
    page.goto(site.sign_in_link(email))
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Logg inn":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/portal")
    visited = []
    for name in ("Samtykker", "Rett opplysninger", "Mine forespørsler", "Slett konto"):
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == name:
                break
        # Focus is visible: the focused link has an outline.
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", name
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        visited.append(page.locator("h1").inner_text())
    assert visited == ["Samtykker", "Rett opplysninger om deg", "Forespørsler",
                       "Slett kontoen"]
    shot(page, "portal-keyboard")


def test_guardian_sees_the_childs_data_and_requests(site: Site, page: Any) -> None:
    sid, email = parent(site)
    sign_in(site, page, email)
    # A parent's own purposes: no sessions and messages (those are the pupil's).
    assert not page.get_by_role("heading", name="Timer og meldinger").is_visible()
    page.locator("#for").select_option(index=1)
    page.get_by_role("button", name="Vis").click()
    assert "barnet ditt" in page.locator("main").inner_text()
    assert page.get_by_role("heading", name="Timer og meldinger").is_visible()
    child_id = page.locator("#for").input_value()
    assert child_id and child_id != sid
    # The child's export, opened by the guardian, lands among the child's requests.
    page.get_by_role("button", name="Lag eksport").click()
    assert page.locator("#request-state").inner_text() == "Ferdig"
    page.goto(f"{site.url}/portal/requests?for={child_id}")
    assert page.locator("tbody tr").count() == 1
    shot(page, "portal-guardian")


UNLABELLED = """() => Array.from(document.querySelectorAll(
  'input:not([type=hidden]), select, textarea')).filter(e =>
  !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)"""


def test_every_portal_page_has_labels_one_heading_and_landmarks(site: Site, page: Any) -> None:
    _sid, email = parent(site)
    sign_in(site, page, email)
    for path in ("/portal", "/portal/consents", "/portal/details", "/portal/requests",
                 "/portal/delete", "/portal?lang=en"):
        page.goto(site.url + path)
        assert page.evaluate(UNLABELLED) == [], path
        assert page.locator("h1").count() == 1, path
        assert page.locator("main#main").count() == 1 and page.locator("header").count() == 1
        assert page.locator("html").get_attribute("lang") in ("nb", "en")
    shot(page, "portal-overview-en")


def test_an_overlong_for_signs_in_first_then_says_not_found(site: Site, page: Any) -> None:
    """A ``?for=`` longer than any id, in a browser: signed out, the sign-in page (it was
    a 422 in JSON); signed in, the page saying it is not found."""
    _sid, email = parent(site)
    long = "x" * 65
    page.goto(f"{site.url}/portal/requests?for={long}")
    assert page.url == f"{site.url}/portal/sign-in"
    sign_in(site, page, email)
    response = page.goto(f"{site.url}/portal/requests?for={long}")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Fant ikke siden"
