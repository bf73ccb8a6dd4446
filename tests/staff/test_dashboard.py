"""The dashboard over HTTP on the demo service: every role, every page, the actions and
the bad input a browser (or an attacker) can send."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from mail.support import SmtpServer, smtp_server  # noqa: F401
from personvern.consent.events import EventType
from personvern.consent.service import record_event
from personvern.consent.subjects import get_subject
from personvern.demo.init import init_demo
from personvern.requests.engine import Context, Requester, open_request
from personvern.requests.tables import Request
from personvern.runtime import Runtime
from personvern.settings import Settings
from personvern.staff.users import SIGN_IN_FAILED, add_user, disable_user
from personvern.storage.models import AuditEvent
from personvern.web import create_app
from staff.support import HashOnce, csrf_token, sign_in_as

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)  # a Monday
PASSWORD = "fjord lantern pebble 42"
ROLES = ("owner", "privacy_officer", "support", "finance")
EMAIL = {role: f"{role.replace('_', '.')}@leksehjelp.example.no" for role in ROLES}
# Which pages each role may open (200); the others answer 403 with a message.
PAGES = {
    "/dashboard/requests": {"owner", "privacy_officer", "support"},
    "/dashboard/subjects": {"owner", "privacy_officer", "support"},
    "/dashboard/consent": {"owner", "privacy_officer", "support"},
    "/dashboard/policy": {"owner", "privacy_officer", "support"},
    "/dashboard/ropa": {"owner", "privacy_officer"},
    "/dashboard/retention": {"owner", "privacy_officer"},
    "/dashboard/breaches": {"owner", "privacy_officer"},
    "/dashboard/audit": {"owner", "privacy_officer"},
    "/dashboard/bookkeeping": {"finance"},
    "/dashboard/users": {"owner"},
}


class MovingClock:
    """A clock the test can move."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 40, now=NOW)
    return directory


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock(NOW)


@pytest.fixture
def client(template: Path, tmp_path: Path, clock: MovingClock,
           hash_once: HashOnce) -> Iterator[TestClient]:
    """The app on a private copy of the demo, with one user per role and three requests."""
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, tmp_path / name)
    manifest = tmp_path / "personvern.yaml"
    manifest.write_text((template / "personvern.yaml").read_text(encoding="utf-8").replace(
        str(template / "service.db"), str(tmp_path / "service.db")), encoding="utf-8")
    settings = Settings(manifest=manifest, database_url=f"sqlite:///{tmp_path / 'personvern.db'}")
    app = create_app(settings, clock)
    # The dashboard speaks English; the shared messages (CSRF, limits) follow the browser.
    with TestClient(app, base_url="http://127.0.0.1", headers={"Accept-Language": "en"}) as c:
        rt = runtime(c)
        with rt.transaction() as s:
            for role in ROLES:
                add_user(s, clock, EMAIL[role], PASSWORD, role=role,
                         name=f"{role.replace('_', ' ').title()} Testesen")
            add_user(s, clock, "gone@leksehjelp.example.no", PASSWORD, role="owner")
            disable_user(s, clock, "gone@leksehjelp.example.no", reason="left")
        # Received long ago (overdue), recently (due soon) and today (not yet due).
        opened(c, clock, "access", "ext:9", datetime(2026, 11, 20, 10, tzinfo=UTC))
        opened(c, clock, "restriction", "ext:10", datetime(2026, 12, 10, 10, tzinfo=UTC))
        opened(c, clock, "erasure", "ext:8", NOW)
        yield c


def runtime(c: TestClient) -> Runtime:
    rt: Runtime = c.app.state.runtime  # type: ignore[attr-defined]
    return rt


def opened(c: TestClient, clock: MovingClock, type_: str, ref: str, at: datetime) -> str:
    rt = runtime(c)
    clock.at = at
    try:
        with rt.transaction() as s:
            return open_request(s, Context(rt.consent, clock), type_, subject=ref, channel="post",
                                by=Requester(kind="owner", verified_by="ID card seen")).request.id
    finally:
        clock.at = NOW


def request_ids(c: TestClient) -> dict[str, str]:
    with runtime(c).transaction() as s:
        return {r.type: r.id for r in s.scalars(select(Request))}


def sign_in(c: TestClient, email: str, password: str = PASSWORD) -> Any:
    """The sign-in form's answer (for the refusals; ``as_role`` signs in)."""
    c.cookies.clear()
    return c.post("/dashboard/sign-in", data={
        "email": email, "password": password, "csrf_token": csrf_token(c, "/dashboard/sign-in")},
        follow_redirects=False)


def as_role(c: TestClient, role: str) -> TestClient:
    return sign_in_as(c, EMAIL[role], PASSWORD)


def post(c: TestClient, path: str, form_page: str, **data: str) -> Any:
    return c.post(path, data={**data, "csrf_token": csrf_token(c, form_page)},
                  follow_redirects=False)


def audit(c: TestClient, action: str) -> list[AuditEvent]:
    with runtime(c).transaction() as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)))
        s.expunge_all()
    return rows


# ---- signing in -------------------------------------------------------------------------

def test_signed_out_pages_send_to_sign_in(client: TestClient) -> None:
    for path in ["/dashboard", *PAGES]:
        r = client.get(path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/dashboard/sign-in"), path


def test_signing_in_goes_to_the_dashboard(client: TestClient) -> None:
    for role in ROLES:
        r = sign_in(client, EMAIL[role])
        assert r.status_code == 303 and r.headers["location"] == "/dashboard", r.text


@pytest.mark.parametrize(("email", "password", "why"), [
    (EMAIL["owner"], PASSWORD + "!", "wrong password"),
    ("nobody@leksehjelp.example.no", PASSWORD, "unknown user"),
    ("gone@leksehjelp.example.no", PASSWORD, "disabled"),
])
def test_failed_sign_in_says_one_thing_and_is_audited(
    client: TestClient, email: str, password: str, why: str
) -> None:
    r = sign_in(client, email, password)
    assert r.status_code == 401
    assert SIGN_IN_FAILED in r.text and 'aria-invalid="true"' in r.text
    assert "pv_staff" not in r.headers.get("set-cookie", "")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    assert [e.details["why"] for e in audit(client, "staff.sign_in_failed")] == [why]


def test_sign_in_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/dashboard/sign-in")
    r = client.post("/dashboard/sign-in", data={"email": EMAIL["owner"], "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 403
    assert "security token" in r.text
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    assert audit(client, "staff.signed_in") == []


def test_sign_in_is_rate_limited_per_address(client: TestClient) -> None:
    for _ in range(5):
        assert sign_in(client, EMAIL["support"], "wrong password 123").status_code == 401
    r = sign_in(client, EMAIL["support"])  # even the right password waits now
    assert r.status_code == 429
    assert "For mange forsøk" in r.text or "Too many attempts" in r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 16 * 60


def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(client: TestClient) -> None:
    attacker = TestClient(client.app, base_url="http://127.0.0.1", client=("203.0.113.9", 4444),
                          headers={"Accept-Language": "en"})
    for _ in range(5):
        assert sign_in(attacker, EMAIL["owner"], "wrong password 123").status_code == 401
    locked = sign_in(attacker, EMAIL["owner"])
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    # The owner, from their own address, signs in while the attacker's source is locked.
    as_role(client, "owner")
    assert sign_in(attacker, EMAIL["owner"]).status_code == 429


def test_signing_in_again_ends_the_earlier_session(client: TestClient) -> None:
    as_role(client, "owner")
    first = client.cookies.get("pv_staff")
    r = client.post("/dashboard/sign-in", follow_redirects=False, data={
        "email": EMAIL["support"], "password": PASSWORD,
        "csrf_token": csrf_token(client, "/dashboard/sign-in")})
    assert r.status_code == 303 and client.cookies.get("pv_staff") != first
    client.cookies.clear()
    client.cookies.set("pv_staff", first or "")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(client: TestClient) -> None:
    as_role(client, "owner")
    r = post(client, "/dashboard/sign-out", "/dashboard")
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard/sign-in")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


# ---- what each role sees --------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_pages_and_is_refused_the_others(client: TestClient,
                                                           role: str) -> None:
    as_role(client, role)
    home = client.get("/dashboard")
    assert home.status_code == 200
    for path, allowed in PAGES.items():
        r = client.get(path)
        if role in allowed:
            assert r.status_code == 200, (role, path, r.text)
            assert f'href="{path}"' in home.text, (role, path)
        else:
            assert r.status_code == 403, (role, path)
            assert "may not use" in r.text and "that is for:" in r.text
            assert f'href="{path}"' not in home.text, (role, path)
    refused = audit(client, "dashboard.refused")
    assert len(refused) == sum(role not in allowed for allowed in PAGES.values())
    assert all(e.actor == f"staff:{EMAIL[role]}" for e in refused)


def test_support_asking_for_the_finance_view_gets_403_with_who_may(client: TestClient) -> None:
    as_role(client, "support")
    # A browser set to Norwegian: the dashboard is English, and so is its 403 page.
    r = client.get("/dashboard/bookkeeping", headers={"Accept-Language": "nb-NO"})
    assert r.status_code == 403
    assert "your role (support) may not use data kept only for bookkeeping" in r.text
    assert "that is for: finance" in r.text
    assert '<html lang="en">' in r.text


def test_finance_may_not_act_on_requests(client: TestClient) -> None:
    rid = request_ids(client)["access"]
    as_role(client, "finance")
    r = post(client, f"/dashboard/requests/{rid}/extend", "/dashboard", reason="complex")
    assert r.status_code == 403
    with runtime(client).transaction() as s:
        assert s.get(Request, rid).extended_to is None  # type: ignore[union-attr]


def test_a_disabled_user_is_signed_out_at_once(client: TestClient) -> None:
    as_role(client, "support")
    assert client.get("/dashboard/requests").status_code == 200
    rt = runtime(client)
    with rt.transaction() as s:
        disable_user(s, rt.clock, EMAIL["support"], reason="left the company")
    assert client.get("/dashboard/requests", follow_redirects=False).status_code == 303


# ---- the queue and its actions ---------------------------------------------------------

def test_queue_is_sorted_by_deadline_with_marks(client: TestClient) -> None:
    ids = request_ids(client)
    r = as_role(client, "support").get("/dashboard/requests")
    order = re.findall(r'data-request="([0-9a-f]+)"', r.text)
    assert order == [ids["access"], ids["restriction"], ids["erasure"]]
    rows = r.text.split('data-request="')[1:]
    assert "Overdue by" in rows[0] and 'class="overdue"' in r.text
    assert re.search(r"Due in (1 day|[02-9] days)<", rows[1])
    assert "Overdue" not in rows[2] and "Due in" not in rows[2]
    assert "1 overdue" in r.text


def test_extend_with_a_reason_is_done_audited_and_escaped(client: TestClient) -> None:
    rid = request_ids(client)["restriction"]
    as_role(client, "owner")
    reason = '<script>alert("x")</script> many linked accounts'
    r = post(client, f"/dashboard/requests/{rid}/extend", f"/dashboard/requests/{rid}",
             reason=reason)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Done: extended" in page.text
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; many linked accounts" in page.text
    with runtime(client).transaction() as s:
        req = s.get(Request, rid)
        assert req is not None and req.extended_to is not None
    [event] = audit(client, "request.extended")
    assert event.actor == f"staff:{EMAIL['owner']}" and reason in event.details["note"]
    queue = client.get("/dashboard/requests").text
    assert "(extended)" in queue


def test_an_action_without_a_reason_changes_nothing(client: TestClient) -> None:
    rid = request_ids(client)["access"]
    as_role(client, "privacy_officer")
    for action in ("refuse", "run", "extend"):
        r = post(client, f"/dashboard/requests/{rid}/{action}", f"/dashboard/requests/{rid}",
                 reason="   ")
        assert r.status_code == 422, action
        assert "must not be empty" in r.text or "say why" in r.text
    with runtime(client).transaction() as s:
        req = s.get(Request, rid)
        assert req is not None and (req.state, req.extended_to) == ("verified", None)


def test_an_action_without_csrf_token_is_refused(client: TestClient) -> None:
    rid = request_ids(client)["access"]
    as_role(client, "owner")
    r = client.post(f"/dashboard/requests/{rid}/refuse", data={"reason": "no"},
                    follow_redirects=False)
    assert r.status_code == 403 and "security token" in r.text
    with runtime(client).transaction() as s:
        assert s.get(Request, rid).state == "verified"  # type: ignore[union-attr]


def test_too_late_to_extend_is_explained(client: TestClient) -> None:
    rid = request_ids(client)["access"]  # received 2026-11-20: the month has passed
    as_role(client, "owner")
    r = post(client, f"/dashboard/requests/{rid}/extend", f"/dashboard/requests/{rid}",
             reason="complex")
    assert r.status_code == 422
    assert "must be announced within it (GDPR Art. 12(3))" in r.text


def test_bad_query_values_get_a_page_not_a_crash(client: TestClient) -> None:
    as_role(client, "owner")
    for path, message in [("/dashboard/consent?months=abc", "months must be a whole number"),
                          ("/dashboard/consent?months=999", "statistics cover 1 to 60 months"),
                          ("/dashboard/audit?before=<b>x", "before must be a whole number")]:
        r = client.get(path)
        assert r.status_code == 422, path
        assert r.headers["content-type"].startswith("text/html") and message in r.text, path
        assert "<b>x" not in r.text
    r = post(client, "/dashboard/users/abc/disable", "/dashboard/users", reason="x")
    assert r.status_code == 422 and "user id must be a whole number" in r.text
    r = post(client, "/dashboard/users/999/disable", "/dashboard/users", reason="x")
    assert r.status_code == 404 and "no staff user 999" in r.text


def test_unknown_request_and_action(client: TestClient) -> None:
    as_role(client, "owner")
    assert client.get("/dashboard/requests/ffffffffffff").status_code == 404
    rid = request_ids(client)["access"]
    r = post(client, f"/dashboard/requests/{rid}/delete", f"/dashboard/requests/{rid}",
             reason="x")
    assert r.status_code == 404 and "unknown action" in r.text


def test_run_an_erasure_then_only_finance_sees_the_kept_books(client: TestClient) -> None:
    rid = request_ids(client)["erasure"]
    as_role(client, "owner")
    r = post(client, f"/dashboard/requests/{rid}/run", f"/dashboard/requests/{rid}",
             reason="identity checked by phone")
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert '<dd id="state">completed</dd>' in page
    assert "kept only for bookkeeping: visible to finance" in page
    # What followed the answer (GDPR Art. 17 proof, Art. 19 notices), with its state.
    after = page.split('id="follow-ups"', 1)[1].split("</table>", 1)[0]
    assert "<td>proof of erasure</td><td>done</td>" in after
    assert "nothing left that the data map does not keep" in after
    # GDPR Art. 17, 5(2): the proof says what it searched and what it did not.
    assert re.search(r"nothing left that the data map does not keep in the \d+ tables "
                     r"searched; not searched by this proof: files the rows point to, backups, "
                     r"datasets other than SQL \(http apps, manual tasks\) and "
                     r"recipients", after)
    assert "<td>Art. 19 notices</td><td>done</td>" in after
    with runtime(client).transaction() as s:
        req = s.get(Request, rid)
        assert req is not None
        kept = [k for k in req.outcome["kept"] if k["rule"] == "books"]  # type: ignore[index]
    assert kept, "the demo parent's purchases are kept for the books"
    keys = ", ".join(str(k) for k in kept[0]["keys"])
    assert f"<td>{keys}</td>" not in page
    # The core audits the run, with the staff user as actor.
    [run] = audit(client, "request.run")
    assert run.details == {"reason": "identity checked by phone"}
    assert run.actor.startswith("staff:")
    as_role(client, "finance")
    books = client.get("/dashboard/bookkeeping").text
    assert f"<td>{keys}</td>" in books and rid[:8] in books
    assert len(audit(client, "dashboard.bookkeeping_viewed")) == 1


# ---- the other pages ---------------------------------------------------------------------

def test_subject_search_by_email_phone_and_external_id(client: TestClient) -> None:
    from personvern.consent.subjects import identities_of

    with runtime(client).transaction() as s:
        subject = get_subject(s, "ext:9")
        ids = {i.kind: i.value for i in identities_of(s, subject.id)}
    as_role(client, "support")
    for q in (ids["email"].upper(), ids["phone"], "9"):
        r = client.get("/dashboard/subjects", params={"q": q})
        assert r.status_code == 200 and f"Subject {subject.id}" in r.text, q
        assert "access" in r.text  # the request of ext:9
        assert '<table id="decisions">' in r.text and "<td>newsletter</td><td>no</td>" in r.text
    r = client.get("/dashboard/subjects", params={"q": "nobody@example.no"})
    assert "No subject has that" in r.text
    r = client.get("/dashboard/subjects", params={"q": "<script>x</script>@"})
    assert r.status_code == 422 and "<script>x" not in r.text
    assert [e.details["found"] for e in audit(client, "dashboard.subject_search")] == \
        [True, True, True, False]


def test_consent_statistics_chart_and_table(client: TestClient, clock: MovingClock) -> None:
    rt = runtime(client)
    with rt.transaction() as s:
        parents = [get_subject(s, f"ext:{n}").id for n in range(8, 13)]
        for sid in parents:
            record_event(s, rt.consent, datetime(2026, 11, 5, tzinfo=UTC), sid,
                         EventType.CONSENT_GIVEN, purpose_id="newsletter",
                         evidence={"text": "Vil du ha nyhetsbrevet?"})
        record_event(s, rt.consent, datetime(2026, 12, 7, tzinfo=UTC), parents[0],
                     EventType.CONSENT_WITHDRAWN, purpose_id="newsletter")
    r = as_role(client, "privacy_officer").get("/dashboard/consent")
    assert r.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in r.text and 'role="img"' in r.text
    assert "5 consents given and 1 withdrawn over 12 months" in r.text
    assert "<td>2026-11</td><td>5</td><td>0</td>" in r.text
    assert "<td>2026-12</td><td>0</td><td>1</td>" in r.text
    assert "<script" not in r.text  # no chart library


def test_audit_log_and_chain_verification(client: TestClient) -> None:
    from personvern.consent.events import EventType
    from personvern.consent.service import record_event
    from personvern.consent.subjects import create_subject

    rt = runtime(client)
    as_role(client, "owner")
    r = post(client, "/dashboard/audit/verify", "/dashboard/audit")
    assert "Consent ledger: ledger empty: 0 events and no checkpoint" in r.text  # not "intact"
    purpose = next(p.id for p in rt.loaded.manifest.purposes if p.legal_basis == "consent")
    for email in ("en@example.no", "to@example.no"):
        with rt.transaction() as s:
            sid = create_subject(s, rt.clock, {"email": email})[0].id
            record_event(s, rt.consent, rt.clock(), sid, EventType.CONSENT_GIVEN,
                         purpose_id=purpose)
    r = post(client, "/dashboard/audit/verify", "/dashboard/audit")
    assert r.status_code == 200
    assert re.search(r"Audit trail: audit trail intact: \d+ events verified, up to the signed "
                     r"checkpoint at event \d+", r.text)
    assert re.search(r"Consent ledger: ledger intact: \d+ events verified", r.text)
    with runtime(client).transaction() as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 2"))
        # Someone removes the newest consent event: the signed checkpoint shows it.
        newest = s.execute(text("SELECT max(seq) FROM ledger_events")).scalar()
        s.execute(text("DELETE FROM ledger_events WHERE seq = :n"), {"n": newest})
    r = post(client, "/dashboard/audit/verify", "/dashboard/audit")
    assert "Audit trail: audit trail BROKEN: event 2: its content was changed" in r.text
    assert "Consent ledger: ledger BROKEN:" in r.text and "was deleted" in r.text
    mine = client.get("/dashboard/audit", params={"actor": f"staff:{EMAIL['owner']}"}).text
    assert "dashboard.chains_verified" in mine and "staff.user_added" not in mine


def test_breach_register_shows_the_72_hour_clock(client: TestClient) -> None:
    from personvern.breach.register import record_breach

    rt = runtime(client)
    with rt.transaction() as s:
        record_breach(s, rt.clock, title="Lost laptop", description="A laptop was lost.",
                      risk="high", aware_at=datetime(2027, 1, 3, 12, tzinfo=UTC))
    r = as_role(client, "owner").get("/dashboard/breaches")
    assert "Lost laptop" in r.text and "48 h 0 min left" in r.text


def test_art33_3_breach_register_says_cross_border_not_stated(client: TestClient) -> None:
    """GDPR Art. 33(3), 56: a breach recorded without the cross-border answer is shown as
    "not stated", not as "no"; one recorded with countries shows them."""
    from personvern.breach.register import record_breach

    rt = runtime(client)
    with rt.transaction() as s:
        record_breach(s, rt.clock, title="Lost laptop", description="A laptop was lost.",
                      risk="high", aware_at=datetime(2027, 1, 3, 12, tzinfo=UTC))
        record_breach(s, rt.clock, title="Open bucket", description="A bucket was public.",
                      risk="high", aware_at=datetime(2027, 1, 3, 12, tzinfo=UTC),
                      countries=["SE"])
    page = as_role(client, "owner").get("/dashboard/breaches").text
    assert "Cross-border (Art. 33(3), 56)" in page
    assert re.search(r"Lost laptop</td>.*?<td>not stated</td>", page, re.S)
    assert re.search(r"Open bucket</td>.*?<td>yes \(SE\)</td>", page, re.S)


def test_ropa_policy_and_retention_pages(client: TestClient) -> None:
    as_role(client, "privacy_officer")
    ropa = client.get("/dashboard/ropa").text
    assert "Driftsleverandør Norge AS" in ropa and "Vipps" not in ropa.split("Activities")[0]
    assert "No version has been published" in client.get("/dashboard/policy").text
    retention = client.get("/dashboard/retention").text
    assert "The plan at 2027-01-04T12:00" in retention and "books (bookkeeping)" in retention


def test_policy_versions_compared_in_plain_words(client: TestClient, tmp_path: Path) -> None:
    from personvern.manifest.loader import load_manifest
    from personvern.policy.versions import publish

    rt = runtime(client)
    text_ = rt.loaded.text.replace("name: Vipps MobilePay AS", "name: Betaling AS")
    (tmp_path / "older.yaml").write_text(text_, encoding="utf-8")
    with rt.transaction() as s:
        publish(s, rt.clock, load_manifest(tmp_path / "older.yaml"), date(2027, 2, 1))
    as_role(client, "support")
    r = client.get("/dashboard/policy", params={"a": "1", "b": "current"})
    assert r.status_code == 200
    diff = r.text.split('id="diff"')[1]
    assert "<strong>Minor:</strong> the text about “Vipps MobilePay AS” has changed" in diff
    # Dates in the controller's time zone: midnight in Oslo is 23:00 UTC the day before.
    assert "in force from 2027-02-01" in r.text
    r = client.get("/dashboard/policy", params={"a": "9", "b": "current"})
    assert r.status_code == 404 and 'role="alert"' in r.text
    r = client.get("/dashboard/policy", params={"a": "<i>1", "b": "current"})
    assert r.status_code == 422 and "<i>1" not in r.text


def test_owner_adds_and_disables_users(client: TestClient) -> None:
    as_role(client, "owner")
    r = post(client, "/dashboard/users", "/dashboard/users", email="ny@leksehjelp.example.no",
             name="Ny Ansatt", role="support", password="short")
    assert r.status_code == 422 and "the password is too short" in r.text
    r = post(client, "/dashboard/users", "/dashboard/users", email="ny@leksehjelp.example.no",
             name="<b>Ny</b> Ansatt", role="support", password=PASSWORD)
    assert r.status_code == 200 and "Done: added ny@leksehjelp.example.no as support" in r.text
    assert "&lt;b&gt;Ny&lt;/b&gt; Ansatt" in r.text
    [added] = audit(client, "staff.user_added")[-1:]
    assert added.actor == f"staff:{EMAIL['owner']}"
    user_id = re.search(r'/dashboard/users/(\d+)/disable"[^>]*>\s*<input type="hidden" '
                        r'name="csrf_token" value="[^"]+">\s*<label for="why-\d+">Reason to '
                        r'disable ny@', r.text)
    assert user_id, r.text
    r = post(client, f"/dashboard/users/{user_id.group(1)}/disable", "/dashboard/users",
             reason="temporary help ended")
    assert "Done: disabled ny@leksehjelp.example.no" in r.text
    assert sign_in(client, "ny@leksehjelp.example.no").status_code == 401


def test_ropa_page_names_processors_only_as_the_manifest_states_them(
        template: Path, tmp_path: Path, clock: MovingClock, hash_once: HashOnce) -> None:
    """GDPR Art. 28, 30(1)(d): a recipient whose role the manifest leaves out is not listed
    as a processor (the default role is no statement), and an agreement the manifest does
    not mention is "not stated", not "no"."""
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, tmp_path / name)
    text_ = (template / "personvern.yaml").read_text(encoding="utf-8")
    text_ = text_.replace(str(template / "service.db"), str(tmp_path / "service.db"))
    text_ = text_.replace("    role: processor\n", "", 1).replace("    dpa_signed: 2025-01-15\n",
                                                                    "", 1)
    manifest = tmp_path / "personvern.yaml"
    manifest.write_text(text_, encoding="utf-8")
    settings = Settings(manifest=manifest, database_url=f"sqlite:///{tmp_path / 'personvern.db'}")
    with TestClient(create_app(settings, clock), base_url="http://127.0.0.1",
                    headers={"Accept-Language": "en"}) as c:
        with runtime(c).transaction() as s:
            add_user(s, clock, EMAIL["privacy_officer"], PASSWORD, role="privacy_officer")
        page = as_role(c, "privacy_officer").get("/dashboard/ropa").text
    processors = page.split("<h2>Activities</h2>")[0]
    assert 'id="processors"' not in processors
    assert "No recipient is stated to be a processor." in processors
    assert "Role not stated in the manifest (check PV074): Driftsleverandør Norge AS" in processors


def test_art34_breach_letters_the_outbox_gave_up_on_are_flagged(
        client: TestClient, smtp_server: SmtpServer) -> None:  # noqa: F811
    """GDPR Art. 34(1): a letter the mail server refused for good told nobody. The breach
    register and the overview say so, even once the authority has been notified."""
    from personvern.breach.register import add_update, notify_subjects, record_breach
    from personvern.consent.subjects import create_subject
    from personvern.mail.smtp import send_pending

    rt = runtime(client)
    smtp_server.handler.refuse["ola@example.no"] = "550 5.1.1 no such user"
    with rt.transaction() as s:
        for email in ("ola@example.no", "kari@example.no", "per@example.no"):
            create_subject(s, rt.clock, {"email": email})
        b = record_breach(s, rt.clock, title="Stolen laptop", risk="high",
                          description="A laptop with pupils' profiles was stolen.",
                          aware_at=datetime(2027, 1, 3, 12, tzinfo=UTC),
                          consequences="Phishing", measures="Passwords reset")
        add_update(s, rt.clock, b.id, "authority_notice", "Sent via Altinn")
        notify_subjects(s, rt.clock, b.id, rt.loaded.manifest, all_subjects=True)
    as_role(client, "owner")
    waiting = client.get("/dashboard/breaches").text
    assert re.search(r"not yet told: \d+ e-mail\(s\) waiting to be sent", waiting)
    with rt.sessions() as s:  # the SMTP job commits as it goes, as `mail send` runs it
        sent = send_pending(s, rt.clock, smtp_server.host, smtp_server.port, "dpo@example.no")
    assert sent.failed == 1
    page = client.get("/dashboard/breaches").text
    assert "NOT TOLD: 1 e-mail(s) failed for good" in page
    home = client.get("/dashboard").text
    assert re.search(r"<strong>1</strong> breach\(es\) with e-mail to the people that failed "
                     r"for good: those people are not told", home)
    with rt.transaction() as s:
        add_update(s, rt.clock, b.id, "subject_notice", "Told Ola by phone")
    assert "1 e-mail(s) failed; told another way (recorded)" in client.get(
        "/dashboard/breaches").text
    assert "failed for good" not in client.get("/dashboard").text


# ---- what the pages claim, and what backs it -----------------------------------------------

def test_ropa_activity_with_no_recipient_listed_says_none_stated_not_none(
        template: Path, tmp_path: Path, clock: MovingClock, hash_once: HashOnce) -> None:
    """Art. 30(1)(d): a purpose the manifest lists no recipient for is no statement that
    nobody receives the data: the record says "none stated in the manifest"."""
    import yaml

    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, tmp_path / name)
    data = yaml.safe_load((template / "personvern.yaml").read_text(encoding="utf-8").replace(
        str(template / "service.db"), str(tmp_path / "service.db")))
    newsletter = next(p for p in data["purposes"] if p["id"] == "newsletter")
    newsletter["recipients"] = []
    manifest = tmp_path / "personvern.yaml"
    manifest.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    app = create_app(Settings(manifest=manifest,
                              database_url=f"sqlite:///{tmp_path / 'personvern.db'}"), clock)
    with TestClient(app, base_url="http://127.0.0.1", headers={"Accept-Language": "en"}) as c:
        with runtime(c).transaction() as s:
            add_user(s, clock, EMAIL["privacy_officer"], PASSWORD, role="privacy_officer")
        page = as_role(c, "privacy_officer").get("/dashboard/ropa").text
    card = page.split('id="h-a-newsletter"', 1)[1].split("</section>", 1)[0]
    assert "<dt>Recipients</dt><dd>none stated in the manifest</dd>" in card
    assert "<dd>none</dd>" not in page


def test_a_follow_up_running_is_said_running_not_not_run_yet(
        client: TestClient, clock: MovingClock) -> None:
    """The request page says what a follow-up's state is: one a run has claimed is running
    (since when, when its run last renewed its claim, and when it is taken over), not "not
    run yet"."""
    from personvern.requests import followups
    from personvern.requests.engine import Requests

    rid = request_ids(client)["erasure"]
    rt = runtime(client)
    svc = Requests(rt.sessions, Context(rt.consent, rt.clock))
    try:
        [proof, notices] = svc.run(rid, reason="ID card seen", follow_up=False).follow_ups
    finally:
        svc.close()
    with rt.transaction() as s:
        claim = followups.claim(s, rt.clock, proof)
    assert isinstance(claim, followups.Claim) and claim.lease is not None
    clock.at = NOW + timedelta(minutes=20)
    claim.lease.renew()  # its search goes on to the next table
    page = as_role(client, "owner").get(f"/dashboard/requests/{rid}").text
    after = page.split('id="follow-ups"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(\w+)</td>.*?<td>([^<]*)</td></tr>", after)
    said = {what: (state, result) for what, state, result in rows}
    assert said["proof of erasure"][0] == "running"
    assert said["proof of erasure"][1].startswith(
        "running since 2027-01-04 12:00:00, last heard from 2027-01-04 12:20:00: ")
    assert "run-due takes it over after 30 minutes without a sign of life" \
        in said["proof of erasure"][1]
    assert said["Art. 19 notices"] == ("pending", "not run yet: nothing is claimed until it has")
    assert notices


def test_bookkeeping_says_how_many_erasures_it_read_before_saying_none_kept(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page reads the most recent completed erasures only; "none kept" must say so, not
    claim no erasure ever kept rows when an older one did."""
    from personvern.web import dashboard

    rid = request_ids(client)["erasure"]
    as_role(client, "owner")
    assert post(client, f"/dashboard/requests/{rid}/run", f"/dashboard/requests/{rid}",
                reason="identity checked by phone").status_code == 303
    later = opened(client, MovingClock(NOW), "erasure", "ext:3", NOW)  # bought nothing
    assert post(client, f"/dashboard/requests/{later}/run", f"/dashboard/requests/{later}",
                reason="identity checked by phone").status_code == 303
    with runtime(client).transaction() as s:
        req = s.get(Request, later)
        assert req is not None and not (req.outcome or {}).get("kept")
        s.execute(text("UPDATE requests SET closed_at = :t WHERE id = :id"),
                  {"t": datetime(2027, 1, 5, tzinfo=UTC), "id": later})
    monkeypatch.setattr(dashboard, "KEPT_LIMIT", 1)
    books = as_role(client, "finance").get("/dashboard/bookkeeping").text
    assert "No rows have been kept" not in books
    assert "No rows are kept for bookkeeping after the 1 most recently completed erasures" \
        in books
    assert "From the 1 most recently completed erasures" in books


def test_art34_home_does_not_read_as_nothing_to_do_while_people_are_untold(
        client: TestClient) -> None:
    """A high-risk breach notified to the authority is no longer "waiting for a notice",
    but its people are still to be told (Art. 34(1)): the overview says so."""
    from personvern.breach.register import add_update, record_breach

    rt = runtime(client)
    with rt.transaction() as s:
        b = record_breach(s, rt.clock, title="Lost laptop", description="A laptop was lost.",
                          risk="high", aware_at=datetime(2027, 1, 3, 12, tzinfo=UTC))
        add_update(s, rt.clock, b.id, "authority_notice", "Sent via Altinn")
    home = as_role(client, "owner").get("/dashboard").text
    assert "<strong>0</strong> breach(es) waiting for a notice to the authority" in home
    assert re.search(r'id="breaches-untold"><strong>1</strong> open breach\(es\) with a high '
                     r"risk whose people are not told yet \(GDPR Art. 34\)", home)
