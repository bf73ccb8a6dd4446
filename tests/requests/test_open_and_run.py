"""Requests.open_and_run: a request whose identity was checked, opened and carried out at
once (GDPR Art. 12(3), 15, 17) — opened and started in one transaction, committed before
any dataset is touched, so a failure after it leaves a visible request, and a request that
cannot be opened or started stores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from demo_support import OWNER, MovingClock
from personvern.audit import verify_audit_chain
from personvern.errors import Forbidden, InvalidInput, NotFound
from personvern.requests.engine import Context, Requester, Requests, get_request, view
from personvern.requests.tables import Request
from personvern.runtime import Runtime, open_runtime
from personvern.schema import Base
from personvern.settings import Settings

WHY = "identity checked in person"


def all_counts(rt: Runtime) -> dict[str, int]:
    import personvern.schema  # noqa: F401 - every table in the metadata

    with rt.transaction() as s:
        return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables}


def test_opened_and_run_keeps_every_step_of_the_two_calls(
        rt: Runtime, service: Requests, demo: Path) -> None:
    result = service.open_and_run("access", subject="ext:22", by=OWNER, reason=WHY,
                                  out_dir=demo)
    assert result.state == "completed" and result.outcome["rows"]["app.users"] == 1
    with rt.transaction() as s:
        req = get_request(s, result.request_id)
        shown = view(s, service.ctx, req)
        assert [(e["from"], e["to"]) for e in shown["events"]] == [
            (None, "received"), ("received", "verified"), ("verified", "in_progress"),
            ("in_progress", "completed")]
        assert verify_audit_chain(s) is None


def test_an_erasure_answers_with_its_proof_pending_then_runs_it(
        rt: Runtime, service: Requests) -> None:
    result = service.open_and_run("erasure", subject="ext:23", by=OWNER, reason=WHY,
                                  follow_up=False)
    assert result.state == "completed"
    assert result.outcome["proof"] == {"state": "pending"}  # never clean before it ran
    done = service.run_follow_ups(result)
    assert done.outcome["proof"]["state"] == "done" and done.outcome["proof"]["clean"]


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"by": Requester("self")}, InvalidInput, "verified_by"),
    ({"by": Requester("owner")}, InvalidInput, "verified_by"),
    ({"reason": "  "}, InvalidInput, "reason"),
    ({"subject": "ext:99999"}, NotFound, None),
    ({"type": "nonsense"}, InvalidInput, "unknown request type"),
    ({"by": Requester("guardian", "ext:9", "checked")}, Forbidden, None),
])
def test_what_cannot_open_or_start_stores_nothing(
        rt: Runtime, service: Requests, kwargs: dict[str, Any], error: type[Exception],
        match: str | None) -> None:
    before = all_counts(rt)
    call: dict[str, Any] = {"type": "access", "subject": "ext:40", "by": OWNER,
                            "reason": WHY, **kwargs}
    with pytest.raises(error, match=match):
        service.open_and_run(call.pop("type"), **call)
    assert all_counts(rt) == before


def test_a_dataset_that_is_down_leaves_it_recorded_and_waiting(
        demo: Path, clock: MovingClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded before the dataset is touched: the failure leaves a request to see and run
    again, not nothing."""
    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"][0].pop("url")
    data["datasets"][0]["url_env"] = "DEMO_APP_URL"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (demo / "broken.db").write_bytes(b"this is not SQLite" * 100)
    monkeypatch.setenv("DEMO_APP_URL", f"sqlite:///{demo / 'broken.db'}")
    runtime = open_runtime(Settings(manifest=path,
                                    database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    svc = Requests(runtime.sessions, Context(runtime.consent, clock))
    try:
        first = svc.open_and_run("erasure", subject="ext:24", by=OWNER, reason=WHY)
        assert first.state == "waiting" and "file is not a database" in (first.error or "")
        with runtime.transaction() as s:
            req = s.scalars(select(Request).where(Request.id == first.request_id)).one()
            assert req.state == "waiting"
            assert "could not be reached" in (req.outcome or {})["error"]
        monkeypatch.setenv("DEMO_APP_URL", f"sqlite:///{demo / 'service.db'}")
        svc.close()  # reconnect to the dataset, now up
        assert svc.run(first.request_id, reason=WHY).state == "completed"
    finally:
        svc.close()
        runtime.close()


def test_forgetting_a_person_blanks_their_other_requests_in_one_statement(
        db_url: str, demo_template: Path, clock: MovingClock) -> None:
    """GDPR Art. 17: what the person's other requests said and how they were checked goes;
    the erasure request keeps what it asked for (on SQLite and PostgreSQL)."""
    from personvern.consent.subjects import create_subject
    from personvern.requests.engine import open_request
    from personvern.requests.erase import forget_subjects

    runtime = open_runtime(Settings(manifest=demo_template / "personvern.yaml",
                                    database_url=db_url), clock)
    try:
        ctx = Context(runtime.consent, clock)
        with runtime.transaction() as s:
            person, _ = create_subject(s, clock, {"email": "glemt@example.no"})
            other, _ = create_subject(s, clock, {"email": "annen@example.no"})
            ids = [open_request(s, ctx, type, subject=who.id, by=OWNER,
                                details={"note": f"note {n}"}).request.id
                   for n, (type, who) in enumerate([("access", person), ("erasure", person),
                                                    ("access", other)])]
        with runtime.transaction() as s:
            forget_subjects(s, [person.id], clock(), keep_details_of=ids[1])
        with runtime.transaction() as s:
            rows = {r.id: (r.details, r.verified_by) for r in s.scalars(select(Request))}
        assert rows[ids[0]] == ({}, None)
        assert rows[ids[1]] == ({"note": "note 1"}, None)
        assert rows[ids[2]] == ({"note": "note 2"}, OWNER.verified_by)
    finally:
        runtime.close()
