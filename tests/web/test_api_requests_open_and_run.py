# ruff: noqa: F401, F811  (fixtures imported from test_api_requests by name)
"""POST /api/v1/requests/verified/open-and-run: a request whose identity was checked, opened and
carried out in one call (GDPR Art. 12(3), 15, 17) — recorded before any data is touched,
every guarantee of the two calls kept, and the statements it costs counted so a drop in
them cannot silently come back."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from personvern.audit import check_audit_chain
from personvern.mail.tables import OutboxMessage
from web.support import assert_problem, new_key, runtime_of
from web.test_api_requests import (
    PARENT,
    WHY,
    api,
    clock,
    demo,
    stored,
    template,
)

CHECKED = "called back on the number on file"


def open_and_run(api: TestClient, type: str, subject: str = PARENT, **body: Any) -> Any:
    return api.post("/api/v1/requests/verified/open-and-run", json={
        "type": type, "subject": subject, "opened_by": "owner", "verified_by": CHECKED,
        "reason": WHY, **body})


@contextmanager
def engine_statements(api: TestClient) -> Iterator[dict[str, int]]:
    """The statements and commits sent to the engine's database inside the block."""
    engine = runtime_of(api).engine
    sent = {"statements": 0, "commits": 0}

    def statement(*_: object) -> None:
        sent["statements"] += 1

    def commit(*_: object) -> None:
        sent["commits"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


def test_an_access_request_opened_and_run_in_one_call(api: TestClient) -> None:
    r = open_and_run(api, "access", lang="en")
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["state"] == "completed"
    rid = run["id"]
    assert run["package"] == f"/api/v1/requests/{rid}/package"
    with zipfile.ZipFile(io.BytesIO(api.get(run["package"]).content)) as zf:
        assert {"data.json", "summary.html", "app/users.csv"} <= set(zf.namelist())
    shown = api.get(f"/api/v1/requests/{rid}").json()
    # The same history as opening, then running: every step is there.
    assert [(e["from"], e["to"]) for e in shown["events"]] == [
        (None, "received"), ("received", "verified"), ("verified", "in_progress"),
        ("in_progress", "completed")]
    assert shown["verified_by"] == CHECKED and shown["channel"] == "api"
    with runtime_of(api).transaction() as s:
        assert check_audit_chain(s).problem is None
        letters = s.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.subject_id == shown["subject_id"])).all()
    assert "request_completed" in letters


def test_an_erasure_opened_and_run_says_its_proof_is_pending(api: TestClient) -> None:
    r = open_and_run(api, "erasure")
    assert r.status_code == 200, r.text
    # The answer does not wait for the proof (Art. 17): pending, never clean, until it ran.
    assert r.json()["outcome"]["proof"] == {"state": "pending"}
    shown = api.get(f"/api/v1/requests/{r.json()['id']}").json()
    assert shown["outcome"]["proof"]["state"] == "done"
    assert shown["outcome"]["proof"]["clean"] is True
    assert {(f["kind"], f["state"]) for f in shown["follow_ups"]} == {
        ("proof", "done"), ("notices", "done")}
    with runtime_of(api).transaction() as s:
        assert check_audit_chain(s).problem is None


def test_without_a_checked_identity_or_a_reason_nothing_is_stored(
        api: TestClient, demo: Path) -> None:
    before = stored(api, demo)
    r = api.post("/api/v1/requests/verified/open-and-run", json={
        "type": "access", "subject": PARENT, "reason": WHY})
    assert_problem(r, 422, "verified_by")
    r = open_and_run(api, "access", reason="  ")
    assert r.status_code == 422, r.text
    assert_problem(open_and_run(api, "access", subject="ext:99999"), 404)
    # A guardian who is not the person's: refused before anything is stored.
    r = open_and_run(api, "access", opened_by="guardian", acting_subject="ext:9",
                     subject="ext:40")
    assert r.status_code in (403, 422), r.text
    assert stored(api, demo) == before


def test_only_a_key_that_may_run_requests_opens_and_runs(api: TestClient, demo: Path
                                                         ) -> None:
    before = stored(api, demo)
    app = new_key(api, "app", ("requests:open", "requests:read"))
    r = api.post("/api/v1/requests/verified/open-and-run",
                 headers={"Authorization": f"Bearer {app}"},
                 json={"type": "access", "subject": PARENT, "opened_by": "owner",
                       "verified_by": CHECKED, "reason": WHY})
    assert_problem(r, 403, "requests:run")
    assert stored(api, demo) == before


def test_one_call_costs_fewer_statements_and_commits_than_two(api: TestClient) -> None:
    """On the engine's database: opened and started in one transaction, each transaction's
    audit events and history in one INSERT each. The bounds are today's counts: one more
    statement per step would fail here."""
    with engine_statements(api) as two:
        opened = api.post("/api/v1/requests", json={
            "type": "access", "subject": PARENT, "opened_by": "owner",
            "verified_by": CHECKED}).json()
        assert api.post(f"/api/v1/requests/{opened['id']}/run",
                        json={"reason": WHY}).status_code == 200
    with engine_statements(api) as one:
        assert open_and_run(api, "access", subject="ext:9").status_code == 200
    assert one["commits"] < two["commits"]
    assert one["statements"] < two["statements"]
    # Measured on SQLite and PostgreSQL alike (two calls: 36-38 and 4 commits).
    assert one["commits"] <= 3, one
    assert one["statements"] <= 25, one
