"""A follow-up of a request's answer (the proof of erasure, the Art. 19 notices) is recorded
once, however many runs claim it. A run holds its claim for ``followups.STUCK_AFTER`` from
its start: a second claimer meanwhile runs nothing. Past it, the run is presumed dead and
taken over; should the first run finish after all, before or after the second, it records
nothing: one proof, one set of notices, one history line each. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from demo_support import MovingClock, open_as_owner
from personvern.requests import followups
from personvern.requests.engine import Requests, get_request
from personvern.requests.tables import FollowUp, RecipientNotice, RequestEvent
from personvern.runtime import Runtime
from personvern.storage.models import AuditEvent

REASON = "identity checked"
LATE = {"minutes": followups.STUCK_AFTER.total_seconds() / 60 + 1}



def recorded(rt: Runtime, rid: str) -> dict[str, Any]:
    """What the follow-ups left: history lines, audit events, notices, and the rows."""
    with rt.transaction() as s:
        notes = list(s.scalars(select(RequestEvent.note).where(RequestEvent.request_id == rid)))
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.target == f"request:{rid}")))
        return {
            "proof lines": sum(n.startswith("proof of erasure") for n in notes),
            "notices lines": sum(n.startswith("Art. 19 notices queued") for n in notes),
            "proof events": actions.count("request.proof"),
            "notices events": actions.count("request.notices"),
            "notices": s.scalar(select(func.count()).select_from(RecipientNotice).where(
                RecipientNotice.request_id == rid)),
            "states": sorted((f.kind, f.state) for f in followups.of_request(s, rid)),
            "proof": (get_request(s, rid).outcome or {}).get("proof", {}).get("state"),
        }


def answered(rt: Runtime, svc: Requests, who: str) -> tuple[str, list[int]]:
    """An erasure answered, its follow-ups (proof, notices) left to run."""
    result = svc.run(open_as_owner(rt, svc, "erasure", who), reason=REASON, follow_up=False)
    assert len(result.follow_ups) == 2
    return result.request_id, list(result.follow_ups)


ONCE = {"proof lines": 1, "notices lines": 1, "proof events": 1, "notices events": 1,
        "states": [("notices", "done"), ("proof", "done")], "proof": "done"}


def test_a_second_claimer_runs_nothing_while_the_first_holds_its_claim(
        two: tuple[Runtime, Requests, Requests]) -> None:
    rt, _, b = two
    rid, ids = answered(rt, b, "ext:8")
    for fid in ids:  # the first run claimed them and is still at it
        with rt.transaction() as s:
            followups.claim(s, rt.clock, fid)
    assert [b.run_follow_up(fid) for fid in ids] == ["running", "running"]
    assert b.run_due() == []
    now = recorded(rt, rid)
    assert now["proof lines"] == now["notices lines"] == now["notices"] == 0
    assert now["states"] == [("notices", "running"), ("proof", "running")]


def test_a_run_taken_over_and_finishing_after_the_second_records_nothing(
        two: tuple[Runtime, Requests, Requests], clock: MovingClock) -> None:
    rt, a, b = two
    rid, ids = answered(rt, a, "ext:9")
    claims = [a.claim_follow_up(fid) for fid in ids]
    assert all(isinstance(c, followups.Claim) for c in claims)
    clock.advance(**LATE)  # the first run is presumed dead: run_due takes it over
    b.run_due()
    once = recorded(rt, rid)
    assert {k: once[k] for k in ONCE} == ONCE and once["notices"] == 2
    # The first run was alive after all: it finishes, and records nothing.
    assert [a.carry_out_follow_up(c) for c in claims if isinstance(c, followups.Claim)] \
        == ["done", "done"]
    assert recorded(rt, rid) == once


def test_a_run_taken_over_and_finishing_first_records_nothing_and_the_second_does(
        two: tuple[Runtime, Requests, Requests], clock: MovingClock) -> None:
    rt, a, b = two
    rid, ids = answered(rt, a, "ext:10")
    first = [a.claim_follow_up(fid) for fid in ids]
    clock.advance(**LATE)
    second = [b.claim_follow_up(fid) for fid in ids]
    for c in first:  # the late first run ends before the one that took over
        assert isinstance(c, followups.Claim)
        assert a.carry_out_follow_up(c) == "running"
    nothing = recorded(rt, rid)
    assert nothing["proof lines"] == nothing["notices lines"] == nothing["notices"] == 0
    for c in second:
        assert isinstance(c, followups.Claim)
        assert b.carry_out_follow_up(c) == "done"
    once = recorded(rt, rid)
    assert {k: once[k] for k in ONCE} == ONCE and once["notices"] == 2
    with rt.transaction() as s:
        assert sorted(f.attempts for f in followups.of_request(s, rid)) == [2, 2]
        assert all(f.input is None for f in s.scalars(select(FollowUp).where(
            FollowUp.request_id == rid)))


def test_the_owner_running_the_request_again_after_a_crash_takes_its_claims_over(
        two: tuple[Runtime, Requests, Requests]) -> None:
    """``request run`` again after the process was killed during the follow-ups: the
    owner's run takes the dead run's claims over at once (waiting out STUCK_AFTER would
    leave the proof and the notices undone), and they are recorded once."""
    rt, a, b = two
    rid, ids = answered(rt, a, "ext:11")
    claims = [a.claim_follow_up(fid) for fid in ids]  # then the process is killed
    assert all(isinstance(c, followups.Claim) for c in claims)
    assert b.run(rid, reason="the run was killed").state == "completed"
    once = recorded(rt, rid)
    assert {k: once[k] for k in ONCE} == ONCE and once["notices"] == 2
    # Had the first run been alive after all, it records nothing.
    assert [a.carry_out_follow_up(c) for c in claims if isinstance(c, followups.Claim)] \
        == ["done", "done"]
    assert recorded(rt, rid) == once
