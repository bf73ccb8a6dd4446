"""The dashboard's request page shows the processors' part of a request (datasets outside
the engine's reach) and records a processor's answer; a run waiting for one says that an
answer, not another run, is what is missing (GDPR Art. 12(3), 15(1), (3), 28(3)(e))."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import write_manifest
from personvern.requests.engine import Context, Requester, open_request
from personvern.requests.tables import Request
from personvern.requests.tasks import RequestTask
from personvern.settings import get_settings
from personvern.staff.users import add_user
from personvern.storage.models import AuditEvent
from portal.support import KARI, new_subject
from staff.support import HashOnce, csrf_token, sign_in_as
from web.support import T0, MovableClock, api_manifest_dict, runtime_of

PASSWORD = "fjord lantern pebble 42"
NOTE = "The CRM vendor <b>deleted</b> the person's record on 2 March"


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str, hash_once: HashOnce) -> Iterator[TestClient]:
    """The dashboard on a manifest with one manual dataset; an owner and a finance user."""
    from personvern.web import create_app

    data = api_manifest_dict()
    data.setdefault("datasets", []).append(
        {"id": "crm", "kind": "manual", "recipient": "hosting",
         "contact": "personvern@crm.example.no"})
    clock = MovableClock(T0)
    app = create_app(get_settings(manifest=write_manifest(tmp_path, data),
                                  database_url=sqlite_url, public_url="http://127.0.0.1"),
                     clock)
    with TestClient(app, base_url="http://127.0.0.1",
                    headers={"Accept-Language": "en"}) as c:
        with runtime_of(c).transaction() as s:
            add_user(s, clock, "owner@example.no", PASSWORD, role="owner")
            add_user(s, clock, "finance@example.no", PASSWORD, role="finance")
        yield c


def _opened(c: TestClient, type_: str) -> str:
    rt = runtime_of(c)
    kari = new_subject(c, KARI)
    with rt.transaction() as s:
        return open_request(s, Context(rt.consent, rt.clock), type_, subject=kari,
                            channel="post", by=Requester("owner", verified_by="ID card seen")
                            ).request.id


def _post(c: TestClient, path: str, page: str, **data: str) -> Any:
    return c.post(path, data={**data, "csrf_token": csrf_token(c, page)}, follow_redirects=False)


def _words(html: str, section: str) -> str:
    found = re.search(rf'<section aria-labelledby="{section}".*?</section>', html, re.S)
    assert found, html
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0)))


@pytest.mark.parametrize("type_", ["access", "erasure"])
def test_a_run_waiting_for_a_processor_says_to_record_its_answer_then_it_completes(
        client: TestClient, type_: str) -> None:
    rid = _opened(client, type_)
    page = f"/dashboard/requests/{rid}"
    sign_in_as(client, "owner@example.no", PASSWORD)
    ran = _post(client, f"{page}/run", page, reason="identity checked")
    # Not "run it again later": only a person can bring the processor's answer.
    assert ran.status_code == 409, ran.text
    assert "waiting for the processor to answer: crm (asked personvern@crm.example.no)" \
        in ran.text
    assert "run it again later" not in ran.text
    part = _words(ran.text, "h-tasks")
    assert "crm a processor, by hand waiting for an answer asked personvern@crm.example.no" \
        in part
    assert f'action="/dashboard/requests/{rid}/tasks/crm"' in ran.text

    done = _post(client, f"{page}/tasks/crm", page, note=NOTE)
    assert done.status_code == 303, done.text
    shown = client.get(done.headers["location"]).text
    assert "Done: the processor&#39;s answer recorded" in shown
    assert '<dd id="state">completed</dd>' in shown
    assert "The CRM vendor &lt;b&gt;deleted&lt;/b&gt;" in shown  # escaped, never markup
    assert "answered recorded by staff:owner@example.no" in _words(shown, "h-tasks")
    assert f'action="/dashboard/requests/{rid}/tasks/crm"' not in shown
    with runtime_of(client).transaction() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "request.task_done"))
        assert event.actor == "staff:owner@example.no" and event.details["note"] == NOTE


def test_bad_answers_are_refused_on_the_page_and_change_nothing(client: TestClient) -> None:
    rid = _opened(client, "access")
    page = f"/dashboard/requests/{rid}"
    sign_in_as(client, "owner@example.no", PASSWORD)
    assert _post(client, f"{page}/run", page, reason="identity checked").status_code == 409
    cases = [
        ("crm", {"note": "   "}, 422, "say what the processor answered"),
        ("crm", {"note": "x" * 2001}, 422, "longer than 2000 characters"),
        ("ledger", {"note": "done"}, 404,
         "has no task for dataset &#39;ledger&#39; (its tasks: crm)"),
    ]
    for dataset, data, status, says in cases:
        r = _post(client, f"{page}/tasks/{dataset}", page, **data)
        assert r.status_code == status, (dataset, r.text)
        assert says in r.text, r.text
    # Without the form's token: refused before anything.
    r = client.post(f"{page}/tasks/crm", data={"note": NOTE}, follow_redirects=False)
    assert r.status_code == 403
    # A role that may not act on requests.
    sign_in_as(client, "finance@example.no", PASSWORD)
    r = client.post(f"{page}/tasks/crm", data={"note": NOTE,
                    "csrf_token": csrf_token(client, "/dashboard/bookkeeping")},
                    follow_redirects=False)
    assert r.status_code == 403
    with runtime_of(client).transaction() as s:
        [task] = s.scalars(select(RequestTask).where(RequestTask.request_id == rid))
        assert (task.state, task.note) == ("pending", None)
        assert s.get(Request, rid).state == "waiting"  # type: ignore[union-attr]


def test_a_run_waiting_for_a_processor_says_so_in_a_field_and_in_the_same_words(
        client: TestClient) -> None:
    """``RunResult.waiting_for_processor`` tells the dashboard what is missing (not the
    error's first words); the words the person reads are as they were, byte for byte."""
    from personvern.requests.engine import Requests

    rid = _opened(client, "erasure")
    service = Requests.of(runtime_of(client))
    try:
        waiting = service.run(rid, reason="identity checked")
    finally:
        service.close()
    assert (waiting.state, waiting.waiting_for_processor) == ("waiting", True)
    assert waiting.error == \
        "waiting for the processor to answer: crm (asked personvern@crm.example.no)"
