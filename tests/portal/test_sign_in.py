"""Signing in with a one-time e-mail link: mailed over SMTP, single use, 15 minutes, limited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mail.support import SmtpServer
from personvern.storage.models import as_utc
from portal.support import KARI, OLA, Portal, csrf_of, link_token, new_subject, sign_in
from web.support import T0, MovableClock, make_app


def test_the_link_arrives_by_smtp_and_signs_in_once(
        tmp_path: Path, sqlite_url: str, smtp_server: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONVERN_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("PERSONVERN_SMTP_PORT", str(smtp_server.port))
    app = make_app(tmp_path, sqlite_url, MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        new_subject(client, KARI)
        form = client.get("/portal/sign-in")
        r = client.post("/portal/sign-in", data={"email": "Kari.Nordmann@Example.no",
                                                 "csrf_token": csrf_of(form.text)})
        assert r.status_code == 200 and "Sjekk e-posten din" in r.text
        # An unknown address gets the very same page, and no mail.
        r2 = client.post("/portal/sign-in", data={"email": "nobody@example.no",
                                                  "csrf_token": csrf_of(form.text)})
        assert r2.status_code == 200 and "Sjekk e-posten din" in r2.text
        assert [m.rcpt_tos for m in smtp_server.handler.received] == [[KARI]]
        mail = smtp_server.handler.received[0].message
        assert mail["Subject"] == "Logg inn hos Leksehjelp"
        text = mail.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"http://127\.0\.0\.1/portal/sign-in/link\?token=(\S+)", text)
        assert link, text
        page = client.get("/portal/sign-in/link", params={"token": link.group(1)})
        r = client.post("/portal/sign-in/link", data={"token": link.group(1),
                                                      "csrf_token": csrf_of(page.text)},
                        follow_redirects=False)
        assert r.status_code == 303
        assert client.get("/portal").status_code == 200
        # Used: a second press shows a clear page and starts no session.
        client.cookies.clear()
        again = client.get("/portal/sign-in/link", params={"token": link.group(1)})
        assert again.status_code == 410 and "allerede brukt" in again.text


def test_tampered_and_expired_links_get_a_clear_page(lite: Portal) -> None:
    client = lite.client
    token = link_token(client, KARI)
    # Changed for sure (a fixed suffix could, rarely, be the token's own).
    forged = token[:-2] + ("BB" if token.endswith("AA") else "AA")
    tampered = client.get("/portal/sign-in/link", params={"token": forged})
    assert tampered.status_code == 400 and "Lenken er ikke gyldig" in tampered.text
    huge = client.get("/portal/sign-in/link", params={"token": "x" * 5000})
    assert huge.status_code == 400
    lite.clock.advance(minutes=15)
    expired = client.get("/portal/sign-in/link", params={"token": token})
    assert expired.status_code == 410 and "for gammel" in expired.text
    # Posting it anyway signs no one in.
    page = client.get("/portal/sign-in")
    r = client.post("/portal/sign-in/link", data={"token": token,
                                                  "csrf_token": csrf_of(page.text)})
    assert r.status_code == 410
    assert client.get("/portal", follow_redirects=False).status_code == 303


def test_only_the_hash_of_tokens_is_stored(portal: Portal) -> None:
    from personvern.sessions.tables import SignInLink, WebSession

    token = link_token(portal.client, KARI)
    sign_in(portal.client, OLA)
    cookie = portal.client.cookies.get("pv_subject")
    assert cookie
    with portal.runtime.transaction() as s:
        hashes = list(s.scalars(select(SignInLink.token_hash))) + \
            list(s.scalars(select(WebSession.token_hash)))
    assert token not in hashes and cookie not in hashes and len(hashes) == 3


def test_sign_in_is_rate_limited_by_email_and_says_so(lite: Portal) -> None:
    client = lite.client
    page = client.get("/portal/sign-in")
    token = csrf_of(page.text)
    codes = [client.post("/portal/sign-in", data={"email": KARI, "csrf_token": token}).status_code
             for _ in range(6)]
    assert codes == [200] * 5 + [429]
    r = client.post("/portal/sign-in", data={"email": KARI, "csrf_token": token})
    assert "For mange forsøk" in r.text
    # After the window, it works again.
    lite.clock.advance(minutes=16)
    assert client.post("/portal/sign-in", data={"email": KARI,
                                                "csrf_token": token}).status_code == 200


def test_a_bad_email_is_shown_on_the_form(lite: Portal) -> None:
    page = lite.client.get("/portal/sign-in")
    r = lite.client.post("/portal/sign-in", data={"email": "not-an-address",
                                                  "csrf_token": csrf_of(page.text)})
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and "Skriv en e-postadresse" in r.text


def test_reading_pages_keeps_a_session_alive_and_its_end_is_recorded(portal: Portal) -> None:
    """Each page read touches the session (at most once a minute, in a write of its own
    after the page's reads), so a visitor who keeps reading stays signed in; a session
    found idle too long is marked ended in the database, not only refused."""
    from personvern.sessions.tables import WebSession

    client = portal.client
    sign_in(client, KARI)
    for path in ("/portal", "/portal/consents", "/portal/requests", "/portal/details"):
        portal.clock.advance(minutes=29)  # 58 minutes after the last touch but one
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 200, path
    with portal.runtime.transaction() as s:
        row = s.scalars(select(WebSession).where(WebSession.ended_at.is_(None))).one()
        assert as_utc(row.last_seen_at) == portal.clock()
    portal.clock.advance(minutes=31)
    r = client.get("/portal/requests", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/sign-in"
    with portal.runtime.transaction() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)
                        .where(WebSession.ended_at.is_(None))) == 0


def test_sessions_end_when_idle_at_their_end_and_on_sign_out(portal: Portal) -> None:
    from personvern.sessions.tables import WebSession

    client = portal.client
    sign_in(client, KARI)
    portal.clock.advance(minutes=29)
    assert client.get("/portal").status_code == 200
    portal.clock.advance(minutes=31)  # idle for more than 30 minutes
    r = client.get("/portal", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/sign-in"
    # Kept busy, a session still ends 12 hours after it began.
    sign_in(client, KARI)
    for _ in range(25):
        portal.clock.advance(minutes=29)
        client.get("/portal")
    assert client.get("/portal", follow_redirects=False).status_code == 303
    sign_in(client, KARI)
    page = client.get("/portal")
    r = client.post("/portal/sign-out", data={"csrf_token": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/portal", follow_redirects=False).status_code == 303
    with portal.runtime.transaction() as s:
        live = s.scalar(select(func.count()).select_from(WebSession)
                        .where(WebSession.ended_at.is_(None)))
    assert live == 0


def test_cookie_flags_on_loopback_and_behind_https(lite: Portal) -> None:
    client = lite.client
    token = link_token(client, KARI)
    page = client.get("/portal/sign-in/link", params={"token": token})
    r = client.post("/portal/sign-in/link", data={"token": token,
                                                  "csrf_token": csrf_of(page.text)},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "pv_subject=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on loopback: a Secure cookie would be dropped
    https = TestClient(client.app, base_url="https://portal.example.no")
    token = link_token(client, KARI)
    page = https.get("/portal/sign-in/link", params={"token": token})
    r = https.post("/portal/sign-in/link", data={"token": token,
                                                 "csrf_token": csrf_of(page.text)},
                   follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-pv_subject=") and "Secure" in cookie and "Path=/" in cookie


def test_console_mail_prints_the_link_for_the_demo(
        tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from personvern.mail.tables import OutboxMessage

    monkeypatch.setenv("PERSONVERN_SMTP_HOST", "console")
    app = make_app(tmp_path, sqlite_url, MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        new_subject(client, KARI)
        form = client.get("/portal/sign-in")
        client.post("/portal/sign-in", data={"email": KARI, "csrf_token": csrf_of(form.text)})
        printed = capsys.readouterr().out
        token = re.search(r"/portal/sign-in/link\?token=(\S+)", printed)
        assert token and f"e-mail to {KARI}" in printed
        page = client.get("/portal/sign-in/link", params={"token": token.group(1)})
        assert page.status_code == 200
        with app.state.runtime.transaction() as s:
            row = s.scalars(select(OutboxMessage)).one()
        assert (row.status, row.last_error) == ("sent", "printed to the console, not sent")


def test_signing_in_again_ends_the_browsers_earlier_session(portal: Portal) -> None:
    from personvern.sessions.tables import WebSession

    sign_in(portal.client, KARI)
    first = portal.client.cookies.get("pv_subject")
    sign_in(portal.client, OLA)
    with portal.runtime.transaction() as s:
        rows = {r.principal: r.ended_at for r in s.scalars(select(WebSession))}
    assert rows[portal.kari] is not None and rows[portal.ola] is None
    assert first != portal.client.cookies.get("pv_subject")


def _mail_app(tmp_path: Path, sqlite_url: str, smtp_server: SmtpServer,
              monkeypatch: pytest.MonkeyPatch, public_url: str | None) -> TestClient:
    monkeypatch.setenv("PERSONVERN_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("PERSONVERN_SMTP_PORT", str(smtp_server.port))
    monkeypatch.delenv("PERSONVERN_PUBLIC_URL", raising=False)
    app = make_app(tmp_path, sqlite_url, MovableClock(T0), public_url=public_url)
    return TestClient(app, base_url="http://127.0.0.1")


def test_a_forged_host_gets_no_link_to_that_host(
        tmp_path: Path, sqlite_url: str, smtp_server: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with _mail_app(tmp_path, sqlite_url, smtp_server, monkeypatch,
                   "https://personvern.example.no/") as client:
        new_subject(client, KARI)
        # The attacker's requests reach the server with the Host header they chose.
        forged = TestClient(client.app, base_url="https://evil.example",
                            headers={"X-Forwarded-Host": "evil.example"})
        form = forged.get("/portal/sign-in")
        r = forged.post("/portal/sign-in", data={"email": KARI, "csrf_token": csrf_of(form.text)})
        assert r.status_code == 200
    [mail] = smtp_server.handler.received
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert "evil.example" not in text
    assert re.search(r"^https://personvern\.example\.no/portal/sign-in/link\?token=\S+\s*$", text,
                     re.MULTILINE), text


def test_without_a_public_url_no_link_is_sent_and_the_page_says_why(
        tmp_path: Path, sqlite_url: str, smtp_server: SmtpServer,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from personvern.mail.tables import OutboxMessage

    with _mail_app(tmp_path, sqlite_url, smtp_server, monkeypatch, None) as client:
        assert "PERSONVERN_PUBLIC_URL is not set" in caplog.text
        new_subject(client, KARI)
        form = client.get("/portal/sign-in", params={"lang": "en"})
        assert form.status_code == 200
        assert "Sign-in by e-mail is not configured" in form.text
        assert 'name="email"' not in form.text  # no form that cannot work
        # A post anyway (a bookmarked form): a token from a page that has a form.
        token = csrf_of(client.get("/portal/sign-in/link",
                                   params={"token": link_token(client, KARI)}).text)
        r = client.post("/portal/sign-in", params={"lang": "en"},
                        data={"email": KARI, "csrf_token": token})
        assert r.status_code == 503 and "Sign-in by e-mail is not configured" in r.text
        with client.app.state.runtime.transaction() as s:  # type: ignore[attr-defined]
            assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert smtp_server.handler.received == []


def test_the_link_goes_to_the_address_the_person_is_known_by(
        tmp_path: Path, sqlite_url: str, smtp_server: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with _mail_app(tmp_path, sqlite_url, smtp_server, monkeypatch,
                   "https://personvern.example.no") as client:
        new_subject(client, "kasi@example.no")
        form = client.get("/portal/sign-in")
        # The long s finds kasi@ (one identity); whoever owns kaſi@ must not get the link.
        client.post("/portal/sign-in", data={"email": "Ka\u017fi@example.no",
                                             "csrf_token": csrf_of(form.text)})
    assert [m.rcpt_tos for m in smtp_server.handler.received] == [["kasi@example.no"]]
