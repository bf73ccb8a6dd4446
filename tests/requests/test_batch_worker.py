"""A batch erasure with follow-ups queued for workers (``PERSONVERN_JOBS=worker``): each
answer recorded with its proof and notices pending and a job queued for each, which the
worker's call then runs."""

from __future__ import annotations

from typing import Any

import pytest

from demo_support import MovingClock, open_as_owner
from personvern.requests.batch import erase_batch
from personvern.requests.engine import Context, Requests, get_request, view
from personvern.runtime import Runtime

REASON = "identity checked"


def shown(rt: Runtime, service: Requests, rid: str) -> dict[str, Any]:
    """What the owner's view shows of request ``rid``."""
    with rt.transaction() as s:
        return view(s, service.ctx, get_request(s, rid))


@pytest.mark.postgres
def test_a_batch_with_workers_queues_each_answers_follow_ups(
        pg_demo: Runtime, clock: MovingClock) -> None:
    svc = Requests(pg_demo.sessions, Context(pg_demo.consent, clock), later=True)
    try:
        rids = [open_as_owner(pg_demo, svc, "erasure", f"ext:{n}") for n in (12, 14)]
        result = erase_batch(svc, rids, reason=REASON)
        assert sorted(r.request_id for r in result.completed) == sorted(rids)
        assert all(r.follow_ups == () for r in result.completed)  # a worker runs them
        for rid in rids:
            data = shown(pg_demo, svc, rid)
            assert data["state"] == "completed"
            assert {f["kind"]: f["state"] for f in data["follow_ups"]} == {
                "proof": "pending", "notices": "pending"}
            assert {j["status"] for j in data["jobs"]} == {"todo"} and len(data["jobs"]) == 2
            for f in data["follow_ups"]:  # what the worker's job calls
                assert svc.run_follow_up(f["id"], actor="worker") == "done"
            done = shown(pg_demo, svc, rid)
            assert {f["state"] for f in done["follow_ups"]} == {"done"}
            assert done["outcome"]["proof"]["clean"] is True
    finally:
        svc.close()
