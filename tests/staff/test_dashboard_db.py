"""The dashboard on both databases: sign in, see the queue, extend a request."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from personvern.clock import Clock
from personvern.consent.subjects import create_subject
from personvern.requests.engine import Context, Requester, open_request
from personvern.requests.tables import Request
from personvern.staff.users import add_user
from web.support import make_app, open_client, runtime_of

PASSWORD = "fjord lantern pebble 42"


def test_owner_extends_a_request_on_each_database(tmp_path: Path, db_url: str,
                                                  clock: Clock) -> None:
    with open_client(make_app(tmp_path, db_url, clock)) as c:
        c.headers["Accept-Language"] = "en"
        rt = runtime_of(c)
        with rt.transaction() as s:
            add_user(s, clock, "eier@example.no", PASSWORD, role="owner", name="Eier Eiersen")
            subject, _ = create_subject(s, clock, {"email": "kari.nordmann@example.no"})
            rid = open_request(s, Context(rt.consent, clock), "access", subject=subject.id,
                               channel="email", by=Requester(kind="owner",
                                                             verified_by="ID card seen")
                               ).request.id

        def token(path: str) -> str:
            found = re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text)
            assert found
            return found.group(1)

        r = c.post("/dashboard/sign-in", data={"email": "EIER@example.no", "password": PASSWORD,
                                               "csrf_token": token("/dashboard/sign-in")},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        assert f'data-request="{rid}"' in c.get("/dashboard/requests").text
        r = c.post(f"/dashboard/requests/{rid}/extend", follow_redirects=True, data={
            "reason": "many accounts to search", "csrf_token": token(f"/dashboard/requests/{rid}")})
        assert r.status_code == 200 and "Done: extended" in r.text
        with rt.transaction() as s:
            req = s.scalars(select(Request)).one()
            assert req.extended_to is not None and req.due_on == req.extended_to
