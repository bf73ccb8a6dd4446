"""Bad input to the portal: no CSRF token, another person's data, huge posts, script."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portal.support import KARI, OLA, Portal, csrf_of, new_subject, sign_in
from web.support import ledger_count


def _consent_form(client: TestClient) -> str:
    return csrf_of(client.get("/portal/consents").text)


def test_form_posts_without_or_with_a_wrong_csrf_token_are_refused(portal: Portal) -> None:
    client = portal.client
    sign_in(client, KARI)
    before = ledger_count(client)
    for data in ({"purpose": "newsletter", "action": "give"},
                 {"purpose": "newsletter", "action": "give", "csrf_token": "0" * 64},
                 {"purpose": "newsletter", "action": "give", "csrf_token": ""}):
        r = client.post("/portal/consents", data=data)
        assert r.status_code == 403
        assert "Skjemaet kunne ikke sendes" in r.text and "ingenting ble endret" in r.text
    assert ledger_count(client) == before
    # A token from another browser does not work either.
    other = TestClient(client.app, base_url="http://127.0.0.1")
    token = csrf_of(other.get("/portal/sign-in").text)
    r = client.post("/portal/consents", data={"purpose": "newsletter", "action": "give",
                                              "csrf_token": token})
    assert r.status_code == 403
    # Nor can the sign-in form, the link or sign-out be posted without one.
    assert client.post("/portal/sign-in", data={"email": KARI}).status_code == 403
    assert client.post("/portal/sign-in/link", data={"token": "x"}).status_code == 403
    assert client.post("/portal/sign-out").status_code == 403
    assert client.get("/portal", follow_redirects=False).status_code == 200  # still signed in


def test_one_subject_cannot_see_or_change_anothers_data(portal: Portal) -> None:
    from personvern.requests.engine import Context, Requester, open_request

    client = portal.client
    rt = portal.runtime
    with rt.transaction() as s:
        theirs = open_request(s, Context(rt.consent, rt.clock), "access", subject=portal.ola,
                              by=Requester("self", None, "test"), channel="portal").request.id
    sign_in(client, KARI)
    before = ledger_count(client)
    for path in (f"/portal?for={portal.ola}", f"/portal/consents?for={portal.ola}",
                 f"/portal/requests?for={portal.ola}", f"/portal/delete?for={portal.ola}",
                 f"/portal/requests/{theirs}", f"/portal/requests/{theirs}/export.zip",
                 "/portal/requests/nonexistent/export.zip"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert OLA not in r.text and portal.ola not in r.text.replace(path, ""), path
    token = _consent_form(client)
    for path, data in (("/portal/consents", {"for": portal.ola, "purpose": "newsletter",
                                             "action": "give"}),
                       ("/portal/delete", {"for": portal.ola, "confirm": "yes"}),
                       ("/portal/export", {"for": portal.ola}),
                       ("/portal/details", {"for": portal.ola,
                                            "app.users.name": "Stolen"})):
        r = client.post(path, data={**data, "csrf_token": token})
        assert r.status_code == 404, path
    assert ledger_count(client) == before
    from personvern.consent.tables import Subject

    with rt.transaction() as s:
        assert s.get(Subject, portal.ola).erased_at is None


PAGES_FOR = ("/portal", "/portal/consents", "/portal/requests", "/portal/details",
             "/portal/delete")


def test_an_overlong_for_is_the_sign_in_redirect_or_a_page_never_json(lite: Portal) -> None:
    """``?for=`` longer than any id: signed out, the sign-in redirect as for any page;
    signed in, the page saying there is no such person (it was a 422 in JSON before)."""
    client = lite.client
    long = "x" * 65
    for path in PAGES_FOR:
        r = client.get(path, params={"for": long}, follow_redirects=False)
        assert r.status_code == 303, (path, r.status_code, r.text[:200])
        assert r.headers["location"] == "/portal/sign-in", path
    sign_in(client, KARI)
    for path in PAGES_FOR:
        r = client.get(path, params={"for": long})
        assert r.status_code == 404, (path, r.text[:200])
        assert r.headers["content-type"].startswith("text/html"), path
        assert "Fant ikke siden" in r.text, path
    before = ledger_count(client)
    r = client.post("/portal/consents", data={"for": long, "purpose": "newsletter",
                                              "action": "give",
                                              "csrf_token": _consent_form(client)})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Fant ikke siden" in r.text and ledger_count(client) == before


def test_an_overlong_form_field_is_a_page_in_the_readers_language_never_json(
        lite: Portal) -> None:
    """Every form field the portal limits (purpose, action, confirm, e-mail, token): one
    too long is a page naming the field, in the reader's language, and nothing changes.
    (FastAPI answered these with a 422 in JSON.)"""
    client = lite.client
    r = client.post("/portal/sign-in", data={
        "email": "a" * 320 + "@example.no", "csrf_token": csrf_of(client.get(
            "/portal/sign-in").text)})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "Skjemaet kunne ikke leses" in r.text and "(email)" in r.text
    assert "aaaa" not in r.text  # the input is never shown back
    sign_in(client, KARI)
    before = ledger_count(client)
    token = _consent_form(client)
    for path, data, field in (
            ("/portal/consents", {"purpose": "p" * 101, "action": "give"}, "purpose"),
            ("/portal/consents", {"purpose": "newsletter", "action": "g" * 21}, "action"),
            ("/portal/delete", {"confirm": "y" * 11}, "confirm")):
        r = client.post(path, data={**data, "csrf_token": token})
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("text/html"), path
        assert "ingenting ble endret" in r.text and f"({field})" in r.text, path
        assert "ppp" not in r.text and "ggg" not in r.text and "yyy" not in r.text
    english = client.post("/portal/consents?lang=en", data={
        "purpose": "p" * 101, "action": "give", "csrf_token": token})
    assert english.status_code == 422
    assert "The form could not be read" in english.text and "nothing was changed" in english.text
    assert ledger_count(client) == before
    assert client.get("/portal", follow_redirects=False).status_code == 200  # still signed in
    # The API keeps problem+json for the same kind of error.
    api = client.post("/api/v1/consents", json={"subject": "x" * 5000})
    assert api.headers["content-type"].startswith("application/problem+json")


def test_an_organisation_admin_acts_for_members_but_not_the_other_way(portal: Portal) -> None:
    from personvern.consent.subjects import add_member, create_organisation, require_subject

    rt = portal.runtime
    with rt.transaction() as s:
        org = create_organisation(s, rt.clock, "Vekstly Demo AS")
        add_member(s, rt.clock, org, require_subject(s, portal.kari), "admin")
        add_member(s, rt.clock, org, require_subject(s, portal.ola), "member")
    client = portal.client
    sign_in(client, KARI)
    r = client.get(f"/portal/consents?for={portal.ola}")
    assert r.status_code == 200 and "et medlem i organisasjonen din" in r.text
    r = client.post("/portal/consents", data={"for": portal.ola, "purpose": "newsletter",
                                              "action": "give", "csrf_token": csrf_of(r.text)},
                    follow_redirects=True)
    assert r.status_code == 200 and 'data-allowed="yes"' in r.text
    ola = TestClient(client.app, base_url="http://127.0.0.1")
    sign_in(ola, OLA)
    assert ola.get(f"/portal?for={portal.kari}").status_code == 404


def test_a_guardian_acts_for_a_child_only_while_a_child(portal: Portal) -> None:
    from personvern.consent.subjects import link_guardian, require_subject

    rt = portal.runtime
    child = new_subject(portal, "barn@example.no", birth_date=date(2015, 1, 1))
    adult = new_subject(portal, "voksen@example.no", birth_date=date(2000, 1, 1))
    with rt.transaction() as s:
        kari = require_subject(s, portal.kari)
        link_guardian(s, rt.clock, kari, require_subject(s, child), "test", rt.consent.jurisdiction)
        link_guardian(s, rt.clock, kari, require_subject(s, adult), "test", rt.consent.jurisdiction)
    sign_in(portal.client, KARI)
    assert portal.client.get(f"/portal?for={child}").status_code == 200
    assert portal.client.get(f"/portal?for={adult}").status_code == 404
    # The guardian consents for the child; the ledger records who acted.
    page = portal.client.get("/portal/consents", params={"for": child})
    r = portal.client.post("/portal/consents", data={
        "for": child, "purpose": "newsletter", "action": "give",
        "csrf_token": csrf_of(page.text)}, follow_redirects=True)
    assert r.status_code == 200 and 'data-allowed="yes"' in r.text
    from personvern.consent.tables import LedgerEvent

    with rt.transaction() as s:
        event = s.scalars(select(LedgerEvent).where(LedgerEvent.subject_id == child)).one()
    assert (event.actor, event.actor_subject_id, event.channel) == (
        "guardian", portal.kari, "portal")
    # The child, signed in, may not consent alone: the refusal is a page, nothing stored.
    kid = TestClient(portal.client.app, base_url="http://127.0.0.1")
    sign_in(kid, "barn@example.no")
    page = kid.get("/portal/consents")
    before = ledger_count(kid)
    r = kid.post("/portal/consents", data={"purpose": "partners", "action": "give",
                                           "csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "en foresatt må gi dette samtykket" in r.text
    assert ledger_count(kid) == before


def test_oversized_posts_are_refused_before_parsing(lite: Portal) -> None:
    client = lite.client
    sign_in(client, KARI)
    token = _consent_form(client)
    r = client.post("/portal/details", data={"csrf_token": token, "app.users.name": "x" * 70_000})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html") and "For mye data" in r.text
    r = client.post("/portal/consents", files={"upload": ("big.bin", b"\0" * 100_000)},
                    data={"csrf_token": token})
    assert r.status_code == 413


SCRIPT = '<script>alert("x")</script>'


def test_script_in_every_field_shown_back_is_escaped(lite: Portal) -> None:
    client = lite.client
    token = csrf_of(client.get("/portal/sign-in").text)
    r = client.post("/portal/sign-in", data={"email": SCRIPT + "@example.no",
                                             "csrf_token": token})
    assert SCRIPT not in r.text and "&lt;script&gt;" in r.text
    r = client.post("/portal/sign-in", data={"email": SCRIPT, "csrf_token": token})
    assert r.status_code == 422 and SCRIPT not in r.text and "&lt;script&gt;" in r.text
    sign_in(client, KARI)
    token = _consent_form(client)
    r = client.post("/portal/consents", data={"purpose": SCRIPT, "action": "give",
                                              "csrf_token": token})
    assert r.status_code == 404 and SCRIPT not in r.text
    r = client.get("/portal", params={"lang": SCRIPT})
    assert r.status_code == 200 and SCRIPT not in r.text
    r = client.get("/portal/requests/" + SCRIPT)
    assert SCRIPT not in r.text


def test_script_in_a_correction_is_escaped_when_shown_back(tmp_path: object) -> None:
    """On the demo (whose data map allows corrections): a bad date echoes escaped."""
    import tempfile
    from pathlib import Path

    from personvern.demo.init import init_demo
    from personvern.settings import get_settings
    from personvern.web import create_app
    from web.support import T0, MovableClock

    with tempfile.TemporaryDirectory() as tmp:
        files = init_demo(Path(tmp), 12, now=T0)
        app = create_app(get_settings(manifest=files.manifest, database_url=files.engine_url),
                         MovableClock(T0))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            rt = app.state.runtime
            from personvern.consent.tables import Identity

            with rt.transaction() as s:
                first = s.scalars(select(Identity).where(Identity.kind == "email")
                                  .order_by(Identity.id)).first()
                email = first.value if first is not None else None
            assert email
            sign_in(client, email)
            form = client.get("/portal/details")
            assert 'name="app.users.birth_date"' in form.text
            r = client.post("/portal/details", data={"csrf_token": csrf_of(form.text),
                                                     "app.users.birth_date": SCRIPT,
                                                     "app.users.name": SCRIPT})
            assert r.status_code == 422
            assert SCRIPT not in r.text and "&lt;script&gt;" in r.text
            assert "skriv en dato som ÅÅÅÅ-MM-DD" in r.text
            # Nothing was changed: no rectification request was opened.
            from personvern.requests.tables import Request

            with rt.transaction() as s:
                assert s.scalar(select(func.count()).select_from(Request)) == 0
            # A valid correction goes through, and the name is shown escaped in the export.
            r = client.post("/portal/details", data={"csrf_token": csrf_of(form.text),
                                                     "app.users.name": SCRIPT},
                            follow_redirects=True)
            assert r.status_code == 200 and "Opplysningene er rettet" in r.text
            r = client.get("/portal/requests")
            assert "Retting" in r.text and SCRIPT not in r.text


def test_language_from_query_cookie_and_browser(lite: Portal) -> None:
    client = lite.client
    r = client.get("/portal/sign-in", params={"lang": "en"})
    assert '<html lang="en">' in r.text and "Send me a sign-in link" in r.text
    assert client.get("/portal/sign-in").text.count('<html lang="en">') == 1  # remembered
    fresh = TestClient(client.app, base_url="http://127.0.0.1")
    assert '<html lang="nb">' in fresh.get("/portal/sign-in").text
    r = fresh.get("/portal/sign-in", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.text
    r = fresh.get("/portal/sign-in", headers={"Accept-Language": "nn-NO,en;q=0.5"})
    assert '<html lang="nb">' in r.text


def test_pages_carry_a_strict_csp_and_no_inline_script(lite: Portal) -> None:
    r = lite.client.get("/portal/sign-in")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert "<script>" not in r.text and "style=" not in r.text
    assert r.headers["cache-control"] == "no-store"
    assert lite.client.get("/static/personvern.css").status_code == 200


def test_every_page_renders_in_both_languages(portal: Portal) -> None:
    client = portal.client
    sign_in(client, KARI)
    for lang in ("nb", "en"):
        for path in ("/portal", "/portal/consents", "/portal/details", "/portal/requests",
                     "/portal/delete", "/portal/sign-in/link?token=bad"):
            r = client.get(path, params={"lang": lang}, follow_redirects=False)
            assert r.status_code in (200, 400), (lang, path, r.text[:300])
            assert f'<html lang="{lang}">' in r.text, (lang, path)
            assert r.text.count("<h1") == 1 and '<main id="main"' in r.text, (lang, path)
