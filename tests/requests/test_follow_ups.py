"""The proof of erasure (GDPR Art. 17) and the Art. 19 notices follow the answer: the
request completes and the person is told first; the follow-ups are pending until they
run, done with their result, or failed with the error, and the request shows which. On
PostgreSQL with a worker they are queued in the transaction that completes the request."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from demo_support import MovingClock, open_as_owner
from personvern.consent.subjects import get_subject
from personvern.mail.tables import OutboxMessage
from personvern.requests import followups
from personvern.requests.engine import Context, Requests, get_request, view
from personvern.requests.tables import FollowUp, RecipientNotice
from personvern.runtime import Runtime
from personvern.storage.engine import create_engine_for

REASON = "identity checked"


def shown(rt: Runtime, service: Requests, rid: str) -> dict[str, Any]:
    """The request as `request show` and GET /api/v1/requests/{id} show it."""
    with rt.transaction() as s:
        return view(s, service.ctx, get_request(s, rid))


def states(data: dict[str, Any]) -> dict[str, str]:
    return {f["kind"]: f["state"] for f in data["follow_ups"]}


def test_the_answer_comes_first_and_says_the_proof_is_pending_until_it_ran(
        rt: Runtime, service: Requests) -> None:
    rid = open_as_owner(rt, service, "erasure", "ext:8")
    answered = service.run(rid, reason=REASON, follow_up=False)
    assert answered.state == "completed" and len(answered.follow_ups) == 2
    # Completed and told, but nothing claimed about the proof: it has not run.
    assert answered.outcome["proof"] == {"state": "pending"}
    before = shown(rt, service, rid)
    assert before["state"] == "completed"
    assert states(before) == {"proof": "pending", "notices": "pending"}
    assert "clean" not in before["outcome"]["proof"]
    assert "proof: pending" in before["events"][-1]["note"]
    with rt.transaction() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "request_completed")) == 1
        assert s.scalar(select(func.count()).select_from(RecipientNotice)) == 0
    after = service.run_follow_ups(answered)
    assert after.outcome["proof"]["state"] == "done"
    assert after.outcome["proof"]["clean"] is True and after.outcome["proof"]["engine"] == []
    data = shown(rt, service, rid)
    assert states(data) == {"proof": "done", "notices": "done"}
    proof = next(f for f in data["follow_ups"] if f["kind"] == "proof")
    assert proof["result"]["clean"] is True and proof["attempts"] == 1
    assert {n["recipient"] for n in data["notices"]} == {"hosting", "vipps"}
    # Clean, but never "nothing left" while the letter to the person still waits in the
    # outbox with their address, and the notices' follow-up still holds their identities.
    assert proof["result"]["held"] == [
        {"table": "outbox", "rows": 1,
         "what": "e-mail to the person (their address), blanked once sent"},
        {"table": "request_follow_ups", "rows": 1,
         "what": "work after the answer (the identities it needs), blanked once it has run"}]
    assert [e["note"] for e in data["events"][-2:]] == [
        "proof of erasure: clean (held until delivered: 1 × e-mail to the person (their "
        "address), blanked once sent; 1 × work after the answer (the identities it needs), "
        "blanked once it has run)", "Art. 19 notices queued for 2 recipients"]
    with rt.transaction() as s:
        # What the proof had to know of the person (their identities) is gone with it.
        assert [f.input for f in s.scalars(select(FollowUp))] == [None, None]
    # Asked again (a worker retrying a job that in fact ended): nothing runs twice.
    assert service.run_follow_up(proof["id"]) == "done"
    assert len(shown(rt, service, rid)["events"]) == len(data["events"])


def test_a_proof_that_cannot_reach_its_dataset_is_failed_and_shown_then_runs_again(
        rt: Runtime, service: Requests, demo: Path) -> None:
    rid = open_as_owner(rt, service, "erasure", "ext:20")
    answered = service.run(rid, reason=REASON, follow_up=False)
    service.close()
    db = demo / "service.db"
    shutil.move(db, demo / "service.db.away")
    db.write_bytes(b"this is not SQLite " * 100)
    try:
        after = service.run_follow_ups(answered)
    finally:
        service.close()
        db.unlink()
        shutil.move(demo / "service.db.away", db)
    assert after.state == "completed"  # the answer stands; the proof is owed
    assert after.outcome["proof"]["state"] == "failed"
    assert "clean" not in after.outcome["proof"]
    data = shown(rt, service, rid)
    proof = next(f for f in data["follow_ups"] if f["kind"] == "proof")
    assert proof["state"] == "failed" and "file is not a database" in proof["error"]
    assert states(data)["notices"] == "done"  # the notices need no dataset
    assert "proof after the answer failed" in data["events"][-2]["note"] or \
        "proof after the answer failed" in data["events"][-1]["note"]
    assert service.run_follow_up(proof["id"]) == "done"
    again = shown(rt, service, rid)
    assert states(again)["proof"] == "done" and again["outcome"]["proof"]["clean"] is True
    assert next(f for f in again["follow_ups"] if f["kind"] == "proof")["attempts"] == 2


def test_a_proof_that_finds_rows_left_is_loud(rt: Runtime, service: Requests, demo: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    app = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with app.begin() as conn:
        email = conn.execute(text("SELECT email FROM users WHERE id = 21")).scalar_one()
        conn.execute(text("CREATE TABLE support_tickets (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("INSERT INTO support_tickets VALUES (1, :b)"), {"b": f"fra {email}"})
    app.dispose()
    result = service.run(open_as_owner(rt, service, "erasure", "ext:21"), reason=REASON)
    assert result.outcome["proof"]["clean"] is False
    data = shown(rt, service, result.request_id)
    assert states(data)["proof"] == "done"
    assert "proof of erasure: 1 left" in data["events"][-2]["note"]
    assert any("proof of erasure: 1 left" in r.getMessage() for r in caplog.records)


def test_follow_ups_a_killed_process_left_are_finished_by_a_rerun_or_run_due(
        rt: Runtime, service: Requests, clock: MovingClock) -> None:
    # Answered, then the process died before its follow-ups ran (follow_up=False).
    first = service.run(open_as_owner(rt, service, "erasure", "ext:22"), reason=REASON,
                        follow_up=False)
    again = service.run(first.request_id, reason=REASON)  # the owner runs it again
    assert again.state == "completed" and again.outcome["proof"]["clean"] is True
    second = service.run(open_as_owner(rt, service, "erasure", "ext:25"), reason=REASON,
                         follow_up=False)
    assert service.run_due() == []
    assert states(shown(rt, service, second.request_id))["proof"] == "pending"  # not yet
    clock.advance(minutes=6)  # longer than the answering process could still be at it
    service.run_due()
    assert states(shown(rt, service, second.request_id)) == {"proof": "done",
                                                             "notices": "done"}


def test_without_recipients_or_proof_nothing_follows(rt: Runtime, service: Requests) -> None:
    rid = open_as_owner(rt, service, "access", "ext:9")
    result = service.run(rid, reason=REASON, out_dir=rt.settings.manifest.parent)
    assert result.follow_ups == () and shown(rt, service, rid)["follow_ups"] == []


# ---- PostgreSQL with workers: queued in the transaction that completes the request ------

@pytest.mark.postgres
def test_on_postgresql_with_workers_they_are_queued_with_the_answer(
        pg_demo: Runtime, clock: MovingClock) -> None:
    svc = Requests(pg_demo.sessions, Context(pg_demo.consent, clock), later=True)
    try:
        rid = open_as_owner(pg_demo, svc, "erasure", "ext:12")
        answered = svc.run(rid, reason=REASON)
        assert answered.follow_ups == ()  # queued: a worker runs them, not this process
        assert answered.outcome["proof"] == {"state": "pending"}
        data = shown(pg_demo, svc, rid)
        assert states(data) == {"proof": "pending", "notices": "pending"}
        assert sorted(j["task"] for j in data["jobs"]) == [followups.TASK, followups.TASK]
        assert {j["status"] for j in data["jobs"]} == {"todo"}
        # What the worker's job calls (personvern.jobs.worker.run_follow_up):
        for f in data["follow_ups"]:
            assert svc.run_follow_up(f["id"], actor="worker") == "done"
        done = shown(pg_demo, svc, rid)
        assert states(done) == {"proof": "done", "notices": "done"}
        assert done["outcome"]["proof"]["clean"] is True
    finally:
        svc.close()


@pytest.mark.postgres
def test_a_rolled_back_completion_leaves_no_follow_up_and_no_job(
        pg_demo: Runtime, clock: MovingClock) -> None:
    svc = Requests(pg_demo.sessions, Context(pg_demo.consent, clock), later=True)
    rid = open_as_owner(pg_demo, svc, "erasure", "ext:13")

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), pg_demo.transaction() as s:
        _, job = followups.schedule(s, clock, rid, "proof", {"identities": {}}, queue=True)
        assert job is not None
        raise Abandoned
    with pg_demo.transaction() as s:
        assert followups.of_request(s, rid) == []
        assert s.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE "
                              "args ->> 'request_id' = :r"), {"r": rid}).scalar_one() == 0
        get_subject(s, "ext:13")  # and nothing else happened to the person
