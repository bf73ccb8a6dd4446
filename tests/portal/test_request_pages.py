"""Every request a person can see in the portal has a page that opens, whatever its type
and state (it answered 500 for anything but a completed access request).

Rectification is not among them: this app's manifest maps no columns, so none can be
opened (tests/web/test_api_requests.py covers it where a data map exists)."""

from __future__ import annotations

import pytest

from portal.support import KARI, Portal, csrf_of, sign_in

TYPES = ("access", "portability", "erasure", "restriction", "objection", "withdrawal")


@pytest.mark.parametrize("type_", TYPES)
def test_an_open_request_of_every_type_has_a_page(portal: Portal, type_: str) -> None:
    from personvern.requests.engine import Context, Requester, open_request

    rt = portal.runtime
    sign_in(portal.client, KARI)
    # Something to withdraw: the newsletter, said yes to in the portal.
    token = csrf_of(portal.client.get("/portal/consents").text)
    assert portal.client.post("/portal/consents", data={
        "purpose": "newsletter", "action": "give", "csrf_token": token}).status_code in (200, 303)
    with rt.transaction() as s:
        opened = open_request(
            s, Context(rt.consent, rt.clock), type_, subject=portal.kari,
            by=Requester("owner", verified_by="called back on the number we hold"),
            channel="phone")
        rid = opened.request.id
    r = portal.client.get(f"/portal/requests/{rid}")
    assert r.status_code == 200, r.text
    assert 'id="request-state">Bekreftet<' in r.text
    assert 'id="download"' not in r.text and 'id="export-removed"' not in r.text


def test_a_refused_request_shows_why(portal: Portal) -> None:
    from personvern.requests.engine import Context, Requester, open_request, refuse

    rt = portal.runtime
    ctx = Context(rt.consent, rt.clock)
    with rt.transaction() as s:
        rid = open_request(s, ctx, "erasure", subject=portal.kari, by=Requester(
            "owner", verified_by="letter with ID"), channel="post").request.id
        refuse(s, ctx, rid, "Vi må beholde kontrakten til den er oppfylt")
    sign_in(portal.client, KARI)
    r = portal.client.get(f"/portal/requests/{rid}")
    assert r.status_code == 200, r.text
    assert 'id="request-state">Avslått<' in r.text
    assert "Vi må beholde kontrakten til den er oppfylt" in r.text
