"""Whom a signed-in subject may act for, as the portal's person switcher shows it."""

from __future__ import annotations

import re
from datetime import date

from portal.support import KARI, OLA, Portal, new_subject, sign_in

_OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


def test_the_switcher_lists_me_then_my_children_then_my_members_by_address(
        portal: Portal) -> None:
    from personvern.consent.subjects import (
        add_member,
        create_organisation,
        link_guardian,
        require_subject,
    )

    rt = portal.runtime
    kids = {new_subject(portal, "barn@example.no", birth_date=date(2015, 1, 1)): "barn",
            new_subject(portal, "begge@example.no", birth_date=date(2016, 1, 1)): "begge"}
    both = next(i for i, name in kids.items() if name == "begge")
    grown = new_subject(portal, "voksen@example.no", birth_date=date(2000, 1, 1))
    with rt.transaction() as s:
        kari = require_subject(s, portal.kari)
        for child in (*kids, grown):
            # Art. 8: a guardian acts for a child only while the child is under age.
            link_guardian(s, rt.clock, kari, require_subject(s, child), "test",
                          rt.consent.jurisdiction)
        org = create_organisation(s, rt.clock, "Vekstly Demo AS")
        add_member(s, rt.clock, org, kari, "admin")
        add_member(s, rt.clock, org, require_subject(s, portal.ola), "member")
        add_member(s, rt.clock, org, require_subject(s, both), "member")
    sign_in(portal.client, KARI)
    page = portal.client.get("/portal")
    assert page.status_code == 200
    # Each person once, in their first role (a child who is also a member is the child);
    # the grown-up former child is not there at all.
    assert _OPTION.findall(page.text) == [
        ("", f"{KARI} (deg selv)"),
        *[(i, f"{kids[i]}@example.no (barnet ditt)") for i in sorted(kids)],
        (portal.ola, f"{OLA} (et medlem i organisasjonen din)"),
    ]
    assert "<strong>kari.nordmann@example.no</strong> (deg selv)" in page.text
    page = portal.client.get("/portal/requests", params={"for": both})
    assert "<strong>begge@example.no</strong> (barnet ditt)" in page.text
    assert portal.client.get("/portal/details", params={"for": grown}).status_code == 404


def test_alone_there_is_no_switcher(lite: Portal) -> None:
    sign_in(lite.client, OLA)
    page = lite.client.get("/portal/consents")
    assert page.status_code == 200
    assert "<strong>ola.nordmann@example.no</strong> (deg selv)" in page.text
    assert _OPTION.findall(page.text) == []
