"""The owner's dashboard in headless Chromium: sign in, handle requests before their
deadline (extend one with a reason, run another) and watch the queue change."""

from __future__ import annotations

from typing import Any

import pytest

from browser.support import Site, shot

pytestmark = pytest.mark.browser

PASSWORD = "fjord lantern pebble 42"
OWNER = "eier@leksehjelp.example.no"


def setup_owner_and_requests(site: Site) -> tuple[str, str]:
    """The first owner, and two requests received today: (access id, restriction id)."""
    from personvern.requests.engine import Context, Requester, open_request
    from personvern.staff.users import add_user

    rt = site.runtime
    ctx = Context(rt.consent, rt.clock)
    by = Requester(kind="owner", verified_by="letter with ID copy")
    with rt.transaction() as s:
        add_user(s, rt.clock, OWNER, PASSWORD, role="owner", name="Eva Eier")
        access = open_request(s, ctx, "access", subject="ext:9", by=by, channel="post")
        restriction = open_request(s, ctx, "restriction", subject="ext:10", by=by,
                                   channel="post")
        return access.request.id, restriction.request.id


def test_owner_handles_requests_before_their_deadline(site: Site, page: Any) -> None:
    access, restriction = setup_owner_and_requests(site)
    page.goto(f"{site.url}/dashboard/requests?lang=en")
    page.wait_for_url(f"{site.url}/dashboard/sign-in")
    page.get_by_label("E-mail address").fill(OWNER)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    assert "wrong" in page.get_by_role("alert").inner_text()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/dashboard")
    assert "2 open" in page.locator("main").inner_text()
    shot(page, "dashboard-overview")

    page.get_by_role("link", name="Requests").first.click()
    queue = page.locator("#queue tbody tr")
    assert queue.count() == 2
    shot(page, "dashboard-queue-before")

    # Extend the restriction with a reason (GDPR Art. 12(3)), keyboard only for the form.
    page.goto(f"{site.url}/dashboard/requests/{restriction}")
    due_before = page.locator("#due").inner_text()
    page.get_by_label("Extend by two months").focus()
    page.keyboard.type("The person holds three linked accounts to search")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/dashboard/requests/{restriction}?done=extend")
    assert page.get_by_role("status").inner_text().startswith("Done: extended")
    assert page.locator("#due").inner_text() != due_before
    assert "three linked accounts" in page.locator("#history").inner_text()
    shot(page, "dashboard-request-extended")

    # Run the access request: it is done and leaves the open queue.
    page.goto(f"{site.url}/dashboard/requests/{access}")
    page.get_by_label("Run it now").fill("identity checked from the letter")
    page.get_by_role("button", name="Run").click()
    page.wait_for_url(f"**/dashboard/requests/{access}?done=run")
    assert page.locator("#state").inner_text() == "completed"

    page.get_by_role("link", name="Back to the queue").click()
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-request") == restriction
    assert "(extended)" in rows.first.inner_text()
    shot(page, "dashboard-queue-after")

    # The audit log shows who did what, and the chains hold.
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("button", name="Verify the chains").click()
    verified = page.locator("#verified").inner_text()
    assert "Audit trail: audit trail intact:" in verified
    assert "Consent ledger: ledger " in verified and "BROKEN" not in verified
    log = page.locator("#audit").inner_text()
    assert f"staff:{OWNER}" in log and "request.extended" in log and "request.completed" in log
    shot(page, "dashboard-audit")


def test_consent_chart_renders_without_scripts(site: Site, page: Any) -> None:
    from datetime import timedelta

    from personvern.consent.events import EventType
    from personvern.consent.service import record_event
    from personvern.consent.subjects import get_subject

    setup_owner_and_requests(site)
    rt = site.runtime
    now = rt.clock()
    with rt.transaction() as s:
        for n in range(8, 20):
            sid = get_subject(s, f"ext:{n}").id
            record_event(s, rt.consent, now - timedelta(days=25 * (n % 6) + 1), sid,
                         EventType.CONSENT_GIVEN, purpose_id="newsletter",
                         evidence={"text": "Vil du ha nyhetsbrevet?"})
            if n % 4 == 0:
                record_event(s, rt.consent, now, sid, EventType.CONSENT_WITHDRAWN,
                             purpose_id="newsletter")
    page.goto(f"{site.url}/dashboard/sign-in")
    page.get_by_label("E-mail address").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Consent").click()
    chart = page.get_by_role("img", name="Newsletter")
    assert chart.is_visible()
    assert chart.locator("rect").count() > 24  # two bars a month and the legend
    assert page.locator("script").count() == 0
    shot(page, "dashboard-consent-chart")


def test_owner_sees_the_retention_plan_and_runs_a_sweep(site: Site, page: Any) -> None:
    setup_owner_and_requests(site)
    page.goto(f"{site.url}/dashboard/sign-in")
    page.get_by_label("E-mail address").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Dashboard").get_by_role("link",
                                                                 name="Retention").click()
    assert page.get_by_role("heading", name="The plan at").is_visible()
    assert page.locator("#no-sweeps").is_visible()
    due = [c.get_attribute("data-rule") for c in page.locator("[data-rule]").all()]
    assert "logs" in due  # the demo keeps login events older than six months
    shot(page, "dashboard-retention-plan")
    page.get_by_label("Run a sweep now").fill("first sweep after the move to the new server")
    page.get_by_role("button", name="Run the sweep").click()
    page.wait_for_url("**/dashboard/retention?done=1")
    assert page.get_by_role("status").inner_text().startswith("Done: sweep 1 ran")
    row = page.locator('#sweeps tr[data-sweep="1"]').inner_text()
    assert f"staff:{OWNER}" in row and "finished" in row
    # What was due is done: the plan at the same time has nothing left of it.
    left = [c.get_attribute("data-rule") for c in page.locator("[data-rule]").all()]
    assert len(left) <= len(due) and "logs" not in left
    shot(page, "dashboard-retention-history")
