"""A batch erasure records, for each person, what erasing them one at a time records: the
same history lines, audit events, request row, follow-ups, letters and Art. 19 notices,
field by field (the clock stands still, so the times match too). Only the start says it
was a batch: its note and its ``request.run`` event's ``batch`` count. One at a time,
the follow-ups run in the batch's order (the notices, then the proof)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from demo_support import MovingClock, demo_sides
from personvern.audit import check_audit_chain
from personvern.errors import InvalidInput
from personvern.mail.outbox import Mail, queue_many
from personvern.mail.tables import OutboxMessage
from personvern.requests.batch import erase_batch, open_erasures
from personvern.requests.engine import Requests, get_request
from personvern.requests.tables import FollowUp, RecipientNotice, RequestEvent
from personvern.runtime import Runtime
from personvern.storage.models import AuditEvent

REASON = "the people asked to be erased"
# Parents, pupils and mentors of the demo who share no row: a row two people share (a
# guardianship, a message between them) counts in each one's answer in a batch, and only
# in the first one's one at a time, whose erasure removed it before the second's
# (tests/requests/test_batch_erasure.py checks the rows left are the same).
PEOPLE = [f"ext:{n}" for n in (3, 5, 8, 9, 12, 17, 20, 22, 25)]


@pytest.fixture
def sides(demo_template: Path, tmp_path: Path, clock: MovingClock
          ) -> Iterator[list[tuple[Runtime, Requests]]]:
    """Two copies of the demo, each with its runtime and request service."""
    opened = [(rt, service) for rt, service, _ in
              demo_sides(demo_template, tmp_path, clock, ("one", "batch"))]
    yield opened
    for rt, service in opened:
        service.close()
        rt.close()


def _plain(value: Any, ids: list[str]) -> Any:
    """``value`` as JSON, each request id written as its place in ``ids``."""
    text = json.dumps(value, sort_keys=True, default=str)
    for n, rid in enumerate(ids):
        text = text.replace(rid, f"#{n}")
    return json.loads(text)


def records(rt: Runtime, ids: list[str]) -> list[dict[str, Any]]:
    """Per request: everything the engine recorded about it, as a reader sees it."""
    out = []
    with rt.transaction() as s:
        assert check_audit_chain(s).problem is None
        for rid in ids:
            req = get_request(s, rid)
            lines = [(e.at, e.actor, e.from_state, e.to_state,
                      e.note.replace("work started (batch)", "work started"))
                     for e in s.scalars(select(RequestEvent).where(
                         RequestEvent.request_id == rid).order_by(RequestEvent.id))]
            events = []
            for e in s.scalars(select(AuditEvent).where(AuditEvent.target.in_(
                    [f"request:{rid}", f"subject:{req.subject_id}"])).order_by(AuditEvent.id)):
                details = dict(e.details)
                if e.action == "request.run":
                    details.pop("batch", None)
                if details.get("note") == "work started (batch)":
                    details["note"] = "work started"
                events.append((e.at, e.actor, e.action, e.target, details))
            follow_ups = [(f.kind, f.state, f.attempts, f.created_at, f.started_at,
                           f.finished_at, f.result, f.error, f.input)
                          for f in s.scalars(select(FollowUp).where(
                              FollowUp.request_id == rid).order_by(FollowUp.id))]
            mail = sorted((m.kind, m.subject_id, m.to_address, m.title, m.body_text,
                           m.status, m.created_at, m.dedupe_key)
                          for m in s.scalars(select(OutboxMessage).where(
                              OutboxMessage.dedupe_key.contains(rid))))
            told = sorted((n.recipient, n.action, n.channel, n.target, n.status)
                          for n in s.scalars(select(RecipientNotice).where(
                              RecipientNotice.request_id == rid)))
            out.append(_plain({"state": req.state, "outcome": req.outcome,
                               "closed_at": req.closed_at, "lines": lines, "events": events,
                               "follow_ups": follow_ups, "mail": mail, "told": told}, ids))
    return out


@pytest.mark.parametrize("prove", [True, False])
def test_a_batch_records_for_each_person_what_one_at_a_time_records(
        sides: list[tuple[Runtime, Requests]], prove: bool) -> None:
    (one_rt, one), (batch_rt, batch) = sides
    one_ids, refused = open_erasures(one, PEOPLE, verified_by="called back on file")
    ids, refused_too = open_erasures(batch, PEOPLE, verified_by="called back on file")
    assert refused == refused_too == []
    for rid in one_ids:
        answered = one.run(rid, reason=REASON, prove=prove, follow_up=False)
        # A batch queues its notices with the answers, then runs the proofs: in that
        # order here too (the proof notes what is still held, the notices' input among it).
        one.run_follow_ups(replace(answered, follow_ups=tuple(sorted(answered.follow_ups,
                                                                     reverse=True))))
    result = erase_batch(batch, ids, reason=REASON, prove=prove)
    assert [r.request_id for r in result.completed] == ids
    got, want = records(batch_rt, ids), records(one_rt, one_ids)
    assert got == want, "\n".join(_diff(got, want)[:30])
    # Not empty on either side: the letters, the notices, the proof and the key's end.
    for person in got:
        assert person["state"] == "completed" and person["outcome"]["key_destroyed"]
        assert [f[0] for f in person["follow_ups"]] == ["proof", "notices"][not prove:]
        assert [m[0] for m in person["mail"]] == ["request_completed"] and person["told"]
        assert "crypto.shredded" in {e[2] for e in person["events"]}



def test_only_addresses_of_stored_identities_in_their_normal_form_skip_the_check(
        rt: Runtime, clock: MovingClock) -> None:
    """``queue_many(stored=...)``: a stored address not in its normal form is normalised
    (checked), and an address the caller did not read from an identity is still checked."""
    def mail(to: str, key: str) -> Mail:
        return Mail(kind="notice", to_address=to, title="t", body_text="b", dedupe_key=key)

    stored = {"kari@example.no", "Ola@Example.no "}
    with rt.transaction() as s:
        assert queue_many(s, clock, [mail("kari@example.no", "a"),
                                     mail("Ola@Example.no ", "b")], stored=stored) == 2
    with rt.transaction() as s:
        assert dict(s.execute(select(OutboxMessage.dedupe_key, OutboxMessage.to_address)
                              .where(OutboxMessage.dedupe_key.in_(["a", "b"]))).tuples().all()) == {
            "a": "kari@example.no", "b": "ola@example.no"}
    with pytest.raises(InvalidInput) as failed, rt.transaction() as s:
        queue_many(s, clock, [mail("kari@example.no", "c"), mail("kari@@example.no", "d")],
                   stored=stored)
    assert failed.value.code == "bad_email"



def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Where ``a`` and ``b`` differ, one line each (for the assertion's message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b))
                for d in _diff(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for n, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _diff(x, y, f"{path}[{n}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
