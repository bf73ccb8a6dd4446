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


def trail(rt: Runtime, request_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The request's history (from, to) and every audit event about it and its person
    (action, actor, the names of its details), in order: what differs from person to
    person (the notes' counts, the ids) left out."""
    from personvern.requests.tables import RequestEvent
    from personvern.storage.models import AuditEvent

    with rt.transaction() as s:
        req = get_request(s, request_id)
        history = [(e.from_state, e.to_state) for e in s.scalars(
            select(RequestEvent).where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id))]
        targets = (f"request:{request_id}", f"subject:{req.subject_id}")
        audit = [(a.action, a.actor, sorted(a.details)) for a in s.scalars(
            select(AuditEvent).where(AuditEvent.target.in_(targets)).order_by(AuditEvent.id))]
    return history, audit


def test_an_erasure_opened_and_run_records_what_opening_then_running_does(
        rt: Runtime, service: Requests) -> None:
    """Its plan is kept with the opening, not in a transaction of its own: the person's
    history, the audit trail and the answer are those of opening it, then running it."""
    one = service.open_and_run("erasure", subject="ext:25", by=OWNER, reason=WHY,
                               follow_up=False)
    with rt.transaction() as s:
        from personvern.requests.engine import open_request

        rid = open_request(s, service.ctx, "erasure", subject="ext:26", by=OWNER,
                           channel="api").request.id
    two = service.run(rid, reason=WHY, follow_up=False)
    assert one.state == two.state == "completed"
    assert one.outcome.keys() == two.outcome.keys()
    assert one.outcome["key_destroyed"] is True
    assert trail(rt, one.request_id) == trail(rt, two.request_id)
    with rt.transaction() as s:
        assert verify_audit_chain(s) is None


def test_what_an_erasure_will_change_is_kept_before_the_dataset_changes(
        rt: Runtime, service: Requests, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dataset that fails as it is changed finds the plan kept with the opening: the
    request waits, and a run again after a crash reports what the first one intended."""
    import sqlite3

    from personvern.errors import StorageError
    from personvern.requests import erase

    def down(*_: object) -> None:
        raise StorageError("database app: server closed the connection")

    monkeypatch.setattr(erase, "_apply_in", down)
    result = service.open_and_run("erasure", subject="ext:29", by=OWNER, reason=WHY)
    assert result.state == "waiting"
    with rt.transaction() as s:
        outcome = get_request(s, result.request_id).outcome or {}
    assert outcome["intended"]["deleted"], outcome
    assert sqlite3.connect(demo / "service.db").execute(
        "SELECT count(*) FROM users WHERE id = 29").fetchone() == (1,)
    monkeypatch.undo()
    done = service.run(result.request_id, reason=WHY, follow_up=False)
    assert done.state == "completed"
    assert done.outcome["deleted"] == outcome["intended"]["deleted"]


def test_an_erasure_opened_and_run_costs_two_engine_commits(
        rt: Runtime, service: Requests) -> None:
    """Opened, started and its plan kept in one commit (before the dataset's), the answer
    in another: the plan's own transaction is gone. The bounds are today's counts on the
    demo (SQLite; before: 3 commits and 42 statements, then 37 until the key was read once
    and the letter's dedupe key no longer read before its INSERT, 34 until the outbox
    was cancelled and blanked in one UPDATE)."""
    from sqlalchemy import event

    sent = {"statements": 0, "commits": 0}

    def statement(*_: object) -> None:
        sent["statements"] += 1

    def commit(*_: object) -> None:
        sent["commits"] += 1

    event.listen(rt.engine, "before_cursor_execute", statement)
    event.listen(rt.engine, "commit", commit)
    try:
        result = service.open_and_run("erasure", subject="ext:27", by=OWNER, reason=WHY,
                                      follow_up=False)
    finally:
        event.remove(rt.engine, "before_cursor_execute", statement)
        event.remove(rt.engine, "commit", commit)
    assert result.state == "completed"
    assert sent["commits"] <= 2, sent
    assert sent["statements"] <= STATEMENTS, sent


@pytest.mark.parametrize("failure", ["data map", "dataset down"])
def test_an_erasure_whose_plan_fails_at_the_opening_is_kept_waiting(
        rt: Runtime, service: Requests, demo: Path, monkeypatch: pytest.MonkeyPatch,
        failure: str) -> None:
    """The plan is made in the opening transaction; when making it fails, the request is
    still stored, started and then waiting with the error, and no row was touched."""
    import sqlite3

    from personvern.errors import ConfigurationError, StorageError
    from personvern.requests import erase

    def broken(*_: object, **__: object) -> object:
        if failure == "data map":
            raise ConfigurationError("app.users.email cannot be set to null")
        raise StorageError("database app: connection refused")

    monkeypatch.setattr(erase, "_plan_in", broken)
    before = sqlite3.connect(demo / "service.db").execute(
        "SELECT count(*) FROM users").fetchone()
    if failure == "data map":
        with pytest.raises(ConfigurationError):
            service.open_and_run("erasure", subject="ext:28", by=OWNER, reason=WHY)
        with rt.transaction() as s:
            req = s.scalars(select(Request).where(Request.type == "erasure")).one()
            rid, error = req.id, (req.outcome or {})["error"]
        assert "could not be carried out" in error
    else:
        result = service.open_and_run("erasure", subject="ext:28", by=OWNER, reason=WHY)
        assert result.state == "waiting" and "connection refused" in (result.error or "")
        rid = result.request_id
    history, _ = trail(rt, rid)
    assert history == [
        (None, "received"), ("received", "verified"), ("verified", "in_progress"),
        ("in_progress", "waiting")]
    assert sqlite3.connect(demo / "service.db").execute(
        "SELECT count(*) FROM users").fetchone() == before


def test_forgetting_people_is_one_statement_on_postgresql(
        db_url: str, demo_template: Path, clock: MovingClock) -> None:
    """GDPR Art. 17: identities, relations, sessions, sign-in links and the person's details
    go and the subject becomes a tombstone, and nobody else's (SQLite and PostgreSQL); on
    PostgreSQL in one round trip, each change a data-modifying CTE."""
    from datetime import timedelta

    from sqlalchemy import event

    from personvern.consent.subjects import create_subject
    from personvern.consent.tables import Guardianship, Identity, Subject
    from personvern.requests.erase import forget_subjects
    from personvern.sessions.tables import SignInLink, WebSession

    runtime = open_runtime(Settings(manifest=demo_template / "personvern.yaml",
                                    database_url=db_url), clock)
    now = clock()
    try:
        with runtime.transaction() as s:
            person, _ = create_subject(s, clock, {"email": "borte@example.no"})
            other, _ = create_subject(s, clock, {"email": "bli@example.no"})
            s.add(Guardianship(guardian_id=person.id, child_id=other.id, created_at=now))
            for who in (person, other):
                s.add(WebSession(token_hash=f"{who.id:0<64}", kind="subject",
                                 principal=who.id, created_at=now, last_seen_at=now,
                                 expires_at=now + timedelta(days=1)))
                s.add(SignInLink(token_hash=f"{who.id:1<64}", subject_id=who.id,
                                 created_at=now, expires_at=now + timedelta(days=1)))
        sent: list[str] = []

        def keep(*args: Any) -> None:
            sent.append(str(args[2]))

        event.listen(runtime.engine, "before_cursor_execute", keep)
        with runtime.transaction() as s:
            forget_subjects(s, [person.id], now)
        event.remove(runtime.engine, "before_cursor_execute", keep)
        with runtime.transaction() as s:
            assert {i.subject_id for i in s.scalars(select(Identity))} == {other.id}
            assert s.scalars(select(Guardianship)).all() == []
            assert {w.principal: w.ended_at is not None
                    for w in s.scalars(select(WebSession))} == {person.id: True,
                                                               other.id: False}
            assert {link.subject_id for link in s.scalars(select(SignInLink))} == {other.id}
            erased = {x.id: x.erased_at is not None for x in s.scalars(select(Subject))}
            assert erased[person.id] and not erased[other.id]
        assert len(sent) == (1 if runtime.engine.dialect.name == "postgresql" else 9), sent
    finally:
        runtime.close()


# An erasure opened and run, on the demo's SQLite engine database (forget_subjects sends
# nine statements there; one on PostgreSQL).
STATEMENTS = 33


@pytest.mark.parametrize("read_before", [True, False], ids=["schema-read", "first-request"])
def test_a_table_the_service_has_locked_makes_the_opening_wait_not_the_audit_trail(
        pg_demo: Runtime, clock: MovingClock, read_before: bool) -> None:
    """A dataset table the service has locked (a migration) stalls neither the engine nor
    its audit trail. A server that has run a while has read the datasets' schema: the plan,
    made while the opening holds the trail's lock, fails within the plan's lock timeout. The
    first request after start-up reads the schema first: that read fails within the
    reflection's lock timeout. Either way the request waits with the error, the trail is
    free at once, and once the lock is gone a run completes it, proof and all."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text

    from personvern.audit import append_audit
    from personvern.requests.datamap import REFLECT_LOCK_TIMEOUT
    from personvern.requests.erase import PLAN_LOCK_TIMEOUT
    from personvern.storage.engine import create_engine_for

    bound = PLAN_LOCK_TIMEOUT if read_before else REFLECT_LOCK_TIMEOUT
    service = Requests(pg_demo.sessions, Context(pg_demo.consent, clock))
    app = create_engine_for(pg_demo.loaded.manifest.datasets[0].url)
    pool = ThreadPoolExecutor(1)
    try:
        if read_before:
            service.datasets()
        with app.connect() as migration:
            migration.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            # In a thread: an engine that waited for the lock fails the test, not hangs it.
            result = pool.submit(service.open_and_run, "erasure", subject="ext:12", by=OWNER,
                                 reason=WHY).result(timeout=60)
            took = time.monotonic() - started
            assert result.state == "waiting", result
            assert "lock timeout" in (result.error or ""), result.error
            assert took < 10 * float(bound.removesuffix("s")), took

            def ping() -> None:
                with pg_demo.transaction() as s:
                    append_audit(s, clock, "test", "test.ping", "trail")

            pool.submit(ping).result(timeout=30)  # the trail was free again at once
            migration.rollback()
        done = service.run(result.request_id, reason="the migration has finished")
        assert done.state == "completed", done
        assert done.outcome["proof"]["clean"] is True, done.outcome["proof"]
        with pg_demo.transaction() as s:
            assert verify_audit_chain(s) is None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        service.close()
        app.dispose()
