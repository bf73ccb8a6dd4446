"""A running proof of erasure renews its claim (``heartbeat_at``) as its search goes from
table to table, so a second claimer never takes a live run over however long it searches;
a run that stops renewing (its process killed, or one table's search longer than the
lease) is taken over ``STUCK_AFTER`` after it was last heard from, and stops at its next
renewal, recording nothing. The clock is the test's: time passes as each table is read.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from demo_support import MovingClock, open_as_owner
from personvern.requests import followups
from personvern.requests.engine import Requests, get_request, view
from personvern.requests.tables import FollowUp, RequestEvent
from personvern.runtime import Runtime

REASON = "identity checked"
TABLE_TAKES = {"minutes": 10}  # each table's search, on the test's clock



def answered(rt: Runtime, svc: Requests, who: str) -> tuple[str, int]:
    """An erasure answered, its proof left to run; (request id, the proof's id)."""
    result = svc.run(open_as_owner(rt, svc, "erasure", who), reason=REASON, follow_up=False)
    with rt.transaction() as s:
        [proof] = [f.id for f in followups.of_request(s, result.request_id)
                   if f.kind == "proof"]
    return result.request_id, proof


def on_each_search(svc: Requests, then: Callable[[int], None]) -> list[str]:
    """Call ``then(n)`` as ``svc``'s proof starts reading its n-th table (n from 1); the
    statements it searched with, in order."""
    searched: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        low = statement.lower()
        if low.lstrip().startswith("select") and re.search(r"\bwhere\b", low) \
                and not re.search(r"sqlite_|pg_\w+|information_schema", low):
            searched.append(statement)
            then(len(searched))

    for ds in svc.datasets():
        event.listen(ds.engine, "before_cursor_execute", before)
    return searched


def recorded(rt: Runtime, rid: str) -> dict[str, Any]:
    """What the proof left: its history lines, its rows' state and attempts."""
    with rt.transaction() as s:
        notes = list(s.scalars(select(RequestEvent.note).where(RequestEvent.request_id == rid)))
        [proof] = [f for f in followups.of_request(s, rid) if f.kind == "proof"]
        return {"proof lines": sum(n.startswith("proof of erasure") for n in notes),
                "state": proof.state, "attempts": proof.attempts,
                "outcome": (get_request(s, rid).outcome or {}).get("proof", {}).get("state")}


def test_a_long_proof_that_renews_its_claim_is_never_taken_over(
        two: tuple[Runtime, Requests, Requests], clock: MovingClock) -> None:
    rt, a, b = two
    rid, proof = answered(rt, a, "ext:8")
    start = clock()
    tried: list[object] = []

    def ten_minutes_a_table(n: int) -> None:
        clock.advance(**TABLE_TAKES)
        tried.append(b.claim_follow_up(proof))  # a worker's retried job, run-due

    searched = on_each_search(a, ten_minutes_a_table)
    claim = a.claim_follow_up(proof)
    assert isinstance(claim, followups.Claim)
    assert a.carry_out_follow_up(claim) == "done"
    # Far longer than STUCK_AFTER in all, and never taken over: searched once, recorded once.
    assert clock() - start > 2 * followups.STUCK_AFTER
    assert len(searched) > 6 and tried == ["running"] * len(searched)
    assert recorded(rt, rid) == {"proof lines": 1, "state": "done", "attempts": 1,
                                 "outcome": "done"}
    b.run_due()
    assert recorded(rt, rid)["attempts"] == 1


def test_a_run_not_heard_from_is_taken_over_and_stops_at_its_next_renewal(
        two: tuple[Runtime, Requests, Requests], clock: MovingClock) -> None:
    """One table's search outlasts the lease: the run is presumed dead and another takes
    the proof over; the first, alive after all, stops searching and records nothing."""
    rt, a, b = two
    rid, proof = answered(rt, a, "ext:9")
    took: list[str] = []

    def hangs_at_the_second(n: int) -> None:
        if n == 2:
            clock.advance(minutes=followups.STUCK_AFTER.total_seconds() / 60 + 1)
            took.append(b.run_follow_up(proof))

    searched = on_each_search(a, hangs_at_the_second)
    claim = a.claim_follow_up(proof)
    assert isinstance(claim, followups.Claim)
    assert a.carry_out_follow_up(claim) == "done"  # as the run that took over left it
    assert took == ["done"] and len(searched) == 2  # no table read after it was taken over
    assert recorded(rt, rid) == {"proof lines": 1, "state": "done", "attempts": 2,
                                 "outcome": "done"}


def test_a_killed_run_is_taken_over_stuck_after_its_last_renewal_not_its_start(
        two: tuple[Runtime, Requests, Requests], clock: MovingClock) -> None:
    rt, a, b = two
    rid, proof = answered(rt, a, "ext:10")
    start = clock()
    claim = a.claim_follow_up(proof)
    assert isinstance(claim, followups.Claim)
    lease = claim.lease
    assert lease is not None
    clock.advance(minutes=20)
    lease.renew()  # its search reads the next table, then the process is killed
    clock.advance(minutes=20)  # 40 minutes from its start, 20 from its last renewal
    assert b.run_follow_up(proof) == "running"
    b.run_due()
    with rt.transaction() as s:
        [shown] = [f for f in view(s, b.ctx, get_request(s, rid))["follow_ups"]
                   if f["kind"] == "proof"]
    assert (shown["state"], shown["started_at"], shown["heartbeat_at"]) == (
        "running", start.isoformat(), (start + timedelta(minutes=20)).isoformat())
    clock.advance(minutes=11)  # STUCK_AFTER and a minute since it was last heard from
    b.run_due()
    assert recorded(rt, rid) == {"proof lines": 1, "state": "done", "attempts": 2,
                                 "outcome": "done"}
    with pytest.raises(followups.TakenOver):  # the killed run, were it alive after all
        clock.advance(minutes=10)
        lease.renew()
    with rt.transaction() as s:
        row = s.get(FollowUp, proof)
        assert row is not None and row.input is None
