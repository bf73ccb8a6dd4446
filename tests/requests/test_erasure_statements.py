"""An erasure's statements, fewer and built once: what each shortened step still records
(GDPR Art. 17, 19; Art. 5(2): the audit trail says which key was destroyed), on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from demo_support import OWNER, MovingClock
from personvern.consent.events import EventType
from personvern.consent.service import record_event
from personvern.consent.subjects import create_subject, get_subject
from personvern.crypto.tables import SubjectKey
from personvern.mail.outbox import Mail, queue_many
from personvern.mail.tables import OutboxMessage
from personvern.requests import jobs
from personvern.requests.engine import Context, Requests
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.models import AuditEvent

WHY = "identity checked in person"


def test_the_key_an_erasure_destroys_is_named_in_the_audit_trail(
        rt: Runtime, service: Requests) -> None:
    """The key is read once, as it is destroyed: the audit event still names the master
    key that wrapped it and the request, and the key is gone."""
    with rt.transaction() as s:
        subject_id = get_subject(s, "ext:31").id
        master = s.scalar(select(SubjectKey.master_key_id).where(
            SubjectKey.subject_id == subject_id))
    assert master is not None
    result = service.open_and_run("erasure", subject="ext:31", by=OWNER, reason=WHY,
                                  follow_up=False)
    assert result.state == "completed" and result.outcome["key_destroyed"] is True
    with rt.transaction() as s:
        [shredded] = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "crypto.shredded",
            AuditEvent.target == f"subject:{subject_id}")).all()
        assert shredded.details == {"destroyed": True, "master_key_id": master,
                                    "reason": f"request:{result.request_id}"}
        key = s.scalars(select(SubjectKey).where(SubjectKey.subject_id == subject_id)).one()
        assert key.wrapped is None and key.master_key_id is None


def test_an_erasure_letter_is_queued_once(rt: Runtime, service: Requests) -> None:
    """The letter's INSERT skips a dedupe key it finds (no read first): one letter to the
    person, and the request's own outbox row is it."""
    with rt.transaction() as s:
        before = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    result = service.open_and_run("erasure", subject="ext:32", by=OWNER, reason=WHY,
                                  follow_up=False)
    with rt.transaction() as s:
        letters = s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"%{result.request_id}%"))).all()
        after = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    assert len(letters) == 1 and letters[0].status == "queued"
    assert after == before + 1


def test_a_known_dedupe_key_queues_nothing(db_url: str, demo_template: Path,
                                           clock: MovingClock) -> None:
    """A retried job queues no second message: a key already in the outbox, or twice in one
    batch, is skipped by the INSERT; the first message stays as it was; messages without a
    key are all queued; the count says how many were queued now."""
    runtime = open_runtime(Settings(manifest=demo_template / "personvern.yaml",
                                    database_url=db_url), clock)
    try:
        def mail(key: str | None, body: str) -> Mail:
            return Mail(kind="notice", to_address="Ola@Example.no", title="t",
                        body_text=body, dedupe_key=key)

        with runtime.transaction() as s:
            assert queue_many(s, clock, [mail("k1", "first"), mail("k1", "again"),
                                         mail(None, "a"), mail(None, "b")]) == 3
        with runtime.transaction() as s:
            assert queue_many(s, clock, [mail("k1", "retried"), mail("k2", "new")]) == 1
            assert queue_many(s, clock, []) == 0
        with runtime.transaction() as s:
            rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.dedupe_key, m.body_text) for m in rows] == [
            ("k1", "first"), (None, "a"), (None, "b"), ("k2", "new")]
        assert {m.to_address for m in rows} == {"ola@example.no"}
    finally:
        runtime.close()


def test_a_jobs_purposes_are_those_of_the_persons_events(
        db_url: str, demo_template: Path, clock: MovingClock) -> None:
    """An erasure's snapshot reads the purposes alone: each purpose the person's events
    name, once; an access request's snapshot still carries every event."""
    from personvern.requests.engine import open_request

    runtime = open_runtime(Settings(manifest=demo_template / "personvern.yaml",
                                    database_url=db_url), clock)
    try:
        ctx = Context(runtime.consent, clock)
        [purpose, *_] = [p.id for p in runtime.consent.manifest.purposes
                         if p.legal_basis == "consent"]
        with runtime.transaction() as s:
            person, _ = create_subject(s, clock, {"email": "formaal@example.no"})
            for type in (EventType.CONSENT_GIVEN, EventType.CONSENT_WITHDRAWN,
                         EventType.CONSENT_GIVEN):
                record_event(s, runtime.consent, clock(), person.id, type, purpose_id=purpose)
            reqs = {t: open_request(s, ctx, t, subject=person.id, by=OWNER).request
                    for t in ("erasure", "access")}
            erasure = jobs.snapshot(s, reqs["erasure"])
            access = jobs.snapshot(s, reqs["access"])
        assert erasure.consent_purposes == access.consent_purposes == frozenset([purpose])
        assert erasure.engine_records == {}
        assert len(access.engine_records["consent_events"]) == 3
    finally:
        runtime.close()
