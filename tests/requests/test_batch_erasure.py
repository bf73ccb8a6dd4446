"""Batch erasure (GDPR Art. 17): many erasure requests carried out together, a statement per
table, must leave the service's data exactly as erasing the same people one at a time
does (the same rows gone, the same rows kept under a legal hold), with each person's own
request, answer and proof; an unknown person is reported and the rest go on; a dataset
that cannot be reached mid-batch leaves nobody recorded as erased."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, select, text

from demo_support import (
    DEMO_NOW,
    OWNER,
    MovingClock,
    demo_sides,
    left_behind,
    service_values,
)
from personvern.audit import check_audit_chain
from personvern.consent.subjects import get_subject
from personvern.consent.tables import Subject
from personvern.crypto.tables import SubjectKey
from personvern.errors import UnknownSubject
from personvern.mail.tables import OutboxMessage
from personvern.requests.batch import erase_batch, open_erasures
from personvern.requests.engine import Context, Requests, get_request, open_request, view
from personvern.requests.tables import RecipientNotice
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for
from personvern.storage.models import AuditEvent

REASON = "the people asked to be erased"
# Parents, pupils and mentors of the demo, some sharing purchases, sessions and messages.
USER_IDS = (3, 5, 8, 9, 12, 17, 20, 22, 25, 31, 40, 54)
PEOPLE = [f"ext:{n}" for n in USER_IDS]
MASKED = re.compile(r"^slettet-[0-9a-f]+$")
AFTER = ("request.notices", "request.proof")


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, a random mask written as ``slettet-*``."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            got = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            out[table] = sorted((tuple("slettet-*" if isinstance(v, str) and MASKED.match(v)
                                       else v for v in r) for r in got), key=repr)
    return out


def kept(result_outcome: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((k["table"], k["rule"], k["until"], tuple(k["keys"]))
                  for k in result_outcome["kept"])


def opened(rt: Runtime, service: Requests, people: list[str]) -> list[str]:
    ids, refused = open_erasures(service, people, verified_by="called back on file")
    assert refused == []
    return ids


def trail(rt: Runtime, ids: list[str]) -> list[list[tuple[Any, ...]]]:
    """Per request, in order: its audit events (action, what changed) and its person's key
    destroyed (whether, under which master key, for this request), as one would read them;
    the trail verified to its signed checkpoint first."""
    out: list[list[tuple[Any, ...]]] = []
    with rt.transaction() as s:
        assert check_audit_chain(s).problem is None  # `personvern audit verify`
        for n, rid in enumerate(ids):
            req = get_request(s, rid)
            events = [(e.action, e.details.get("from"), e.details.get("to"))
                      for e in s.scalars(select(AuditEvent).where(
                          AuditEvent.target == f"request:{rid}").order_by(AuditEvent.id))]
            # The follow-ups after the answer come in either order: a batch queues
            # everyone's notices in one transaction, then runs each proof.
            after = sorted(e for e in events if e[0] in AFTER)
            events = [e for e in events if e[0] not in AFTER] + after
            shred = [(e.details["destroyed"], e.details["master_key_id"],
                      e.details["reason"].replace(rid, f"#{n}"))
                     for e in s.scalars(select(AuditEvent).where(
                         AuditEvent.target == f"subject:{req.subject_id}",
                         AuditEvent.action == "crypto.shredded"))]
            key = s.get(SubjectKey, req.subject_id)
            assert key is not None
            # The letter to the person and the Art. 19 notices and their mail, queued.
            told = sorted((n.recipient, n.action, n.channel, n.status) for n in s.scalars(
                select(RecipientNotice).where(RecipientNotice.request_id == rid)))
            mail = sorted((m.kind, m.to_address, m.status, m.title) for m in s.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key.contains(rid))))
            out.append([*events, *shred, ("key", key.wrapped is None,
                                          key.shredded_at is not None), *told, *mail])
    return out


def test_a_batch_leaves_the_data_as_one_at_a_time_does(
        demo_template: Path, tmp_path: Path, clock: MovingClock) -> None:
    (one_rt, one_svc, one_dir), (batch_rt, batch_svc, batch_dir) = demo_sides(
        demo_template, tmp_path, clock, ("one", "batch"))
    try:
        one_ids = opened(one_rt, one_svc, PEOPLE)
        singles = [one_svc.run(rid, reason=REASON) for rid in one_ids]
        ids = opened(batch_rt, batch_svc, PEOPLE)
        batch = erase_batch(batch_svc, ids, reason=REASON)
        # The same audit events for each person, in the same order, the same keys
        # destroyed (Art. 5(2): each erasure provable on its own), the chain intact.
        told = trail(batch_rt, ids)
        assert told == trail(one_rt, one_ids)
        firsts = {e[0] for person in told for e in person}
        assert {"request_completed", "hosting", "vipps"} <= firsts  # letters, notices
        assert batch.refused == [] and batch.waiting == []
        assert [r.request_id for r in batch.completed] == ids
        one_db = create_engine_for(f"sqlite:///{one_dir / 'service.db'}")
        batch_db = create_engine_for(f"sqlite:///{batch_dir / 'service.db'}")
        assert rows(batch_db) == rows(one_db)
        # Legal holds (bokføringsloven § 13) kept the same rows, said to the same people.
        assert [kept(r.outcome) for r in batch.completed] == [kept(r.outcome) for r in singles]
        assert any(r.outcome["kept"] for r in batch.completed)
        for result in batch.completed:
            assert result.outcome["proof"]["state"] == "done"
            assert result.outcome["proof"]["clean"] is True
        with batch_rt.transaction() as s:
            for rid in ids:  # each person: their own request, history and audit record
                shown = view(s, batch_svc.ctx, get_request(s, rid))
                assert shown["state"] == "completed" and shown["outcome"]["key_destroyed"]
                assert [e["to"] for e in shown["events"]] == [
                    "received", "verified", "in_progress", "completed", "completed",
                    "completed"]
                assert s.scalars(select(AuditEvent.action).where(
                    AuditEvent.target == f"request:{rid}", AuditEvent.action == "request.run")
                    ).all() == ["request.run"]
            for ref in PEOPLE:
                with pytest.raises(UnknownSubject):
                    get_subject(s, ref)
        one_db.dispose()
        batch_db.dispose()
    finally:
        for svc, rt in ((one_svc, one_rt), (batch_svc, batch_rt)):
            svc.close()
            rt.close()


def test_an_unknown_person_is_reported_and_the_rest_are_erased(
        rt: Runtime, service: Requests) -> None:
    ids, refused = open_erasures(service, ["ext:3", "ext:99999", "ext:5"],
                                 verified_by="called back on file")
    assert [r["ref"] for r in refused] == ["ext:99999"]
    assert "99999" in refused[0]["error"]
    with rt.transaction() as s:
        access = open_request(s, service.ctx, "access", subject="ext:9", by=OWNER).request.id
    result = erase_batch(service, [*ids, "0123456789abcdef", access], reason=REASON)
    assert len(result.completed) == 2
    assert [r["ref"] for r in result.refused] == ["0123456789abcdef", access]
    assert "not an erasure" in result.refused[1]["error"]
    with rt.transaction() as s:
        assert get_request(s, access).state == "verified"  # untouched
        get_subject(s, "ext:9")


def test_a_dataset_down_mid_batch_records_nobody_as_erased(
        with_datasets: Any, demo: Path) -> None:
    crm = demo / "crm.db"
    with sqlite3.connect(crm) as db:
        db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
    service_db = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with service_db.connect() as conn:
        emails = [conn.execute(text("SELECT email FROM users WHERE id = :i"), {"i": i}
                               ).scalar_one() for i in (3, 5)]
    with sqlite3.connect(crm) as db:
        db.executemany("INSERT INTO contacts (email) VALUES (?)", [(e,) for e in emails])
    rt, service = with_datasets({
        "id": "crm", "description": {"nb": "Kundelisten.", "en": "The customer list."},
        "url": f"sqlite:///{crm}",
        "tables": [{"name": "contacts", "columns": [
            {"name": "email", "categories": ["user.contact.email"], "identity": "email"}]}]})
    ids = opened(rt, service, ["ext:3", "ext:5"])
    before = rows(service_db)
    # Both datasets are read (reflected) while up; then the crm goes down, its connections
    # with it, so the batch reaches it after the app's dataset committed.
    for ds in service.datasets():
        if ds.spec.id == "crm":
            ds.engine.dispose()
    assert [ds.spec.id for ds in service.datasets()] == ["app", "crm"]
    shutil.move(crm, demo / "crm.db.away")
    crm.write_bytes(b"this is not SQLite " * 100)  # the second dataset, after the app's
    try:
        result = erase_batch(service, ids, reason=REASON)
    finally:
        crm.unlink()
        shutil.move(demo / "crm.db.away", crm)
    assert result.completed == [] and [r.request_id for r in result.waiting] == ids
    assert all("could not be reached" in (r.error or "") for r in result.waiting)
    with rt.transaction() as s:
        for rid, ref in zip(ids, ["ext:3", "ext:5"], strict=True):
            req = get_request(s, rid)
            assert req.state == "waiting" and req.closed_at is None
            # What the app's dataset committed is kept as intended, never as done.
            assert "deleted" not in req.outcome  # type: ignore[operator]
            assert req.outcome["intended"]["deleted"]  # type: ignore[index]
            subject = get_subject(s, ref)  # the engine still knows them: not erased
            assert s.get(Subject, subject.id).erased_at is None  # type: ignore[union-attr]
        assert not s.scalars(select(AuditEvent).where(
            AuditEvent.action == "request.completed")).all()
    assert rows(service_db) != before  # the app's rows went before the crm failed
    again = erase_batch(service, ids, reason=REASON)
    assert [r.request_id for r in again.completed] == ids
    for r in again.completed:
        assert r.outcome["deleted"].get("crm.contacts") == 1
        assert any(t.startswith("app.") for t in r.outcome["deleted"])  # as intended
        assert r.outcome["proof"]["clean"] is True
    with sqlite3.connect(crm) as db:
        assert db.execute("SELECT count(*) FROM contacts").fetchone() == (0,)
    service_db.dispose()




def test_a_batch_in_chunks_rewrites_the_file_once_and_leaves_no_byte_when_done(
        rt: Runtime, service: Requests, demo: Path) -> None:
    values = service_values(demo, USER_IDS)
    assert left_behind(demo, values)  # the scan sees the service's plaintext
    ids = opened(rt, service, PEOPLE)
    [ds] = service.datasets()
    vacuums: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.strip().upper() == "VACUUM":
            vacuums.append(statement)

    event.listen(ds.engine, "before_cursor_execute", seen)
    try:
        result = erase_batch(service, ids, reason=REASON, chunk=5)  # three chunks
    finally:
        event.remove(ds.engine, "before_cursor_execute", seen)
    assert [r.request_id for r in result.completed] == ids
    # The file rewritten once for the batch, not once per chunk; and as the batch left
    # the files, before anything closed them, no byte of anyone it erased.
    assert len(vacuums) == 1
    assert left_behind(demo, values) == []


def test_a_scrub_that_fails_leaves_every_chunk_waiting_none_answered(
        rt: Runtime, service: Requests, monkeypatch: pytest.MonkeyPatch) -> None:
    from personvern.errors import StorageError
    from personvern.requests import batch

    def down(*_: Any, **__: Any) -> list[str]:
        raise StorageError("database sqlite:///service.db: disk I/O error")

    monkeypatch.setattr(batch, "scrub_erased", down)
    ids = opened(rt, service, PEOPLE[:6])
    result = erase_batch(service, ids, reason=REASON, chunk=2)
    assert result.completed == [] and [r.request_id for r in result.waiting] == ids
    assert all("could not be reached" in (r.error or "") for r in result.waiting)
    with rt.transaction() as s:
        assert {get_request(s, rid).state for rid in ids} == {"waiting"}
        assert not s.scalars(select(AuditEvent).where(
            AuditEvent.action == "request.completed")).all()


def test_notices_that_fail_in_the_answer_leave_the_answer_and_run_after_it(
        rt: Runtime, service: Requests, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from personvern.requests import followups

    def broken(*_: Any, **__: Any) -> dict[str, Any]:
        raise RuntimeError("the notices broke")

    # Together they fail (in the answer's transaction, then in the follow-ups' own); one
    # at a time they work: the answers are recorded, then each request's notices.
    monkeypatch.setattr(followups, "notify_many", broken)
    ids = opened(rt, service, PEOPLE[:4])
    result = erase_batch(service, ids, reason=REASON)
    assert [r.request_id for r in result.completed] == ids and result.waiting == []
    assert gc.get_freeze_count() == 0  # the objects set aside for the batch are given back
    with rt.transaction() as s:
        # The answer's first attempt rolled back whole: nothing of it held over into the
        # second (each event once, the chain intact to its signed checkpoint).
        assert check_audit_chain(s).problem is None
        for rid in ids:
            assert sorted(s.scalars(select(AuditEvent.action).where(
                AuditEvent.target == f"request:{rid}"))) == sorted([
                    "request.received", "request.verified", "request.run",
                    "request.in_progress", "request.completed", "request.notices",
                    "request.proof"])
            shown = view(s, service.ctx, get_request(s, rid))
            assert shown["state"] == "completed" and shown["outcome"]["key_destroyed"]
            assert sorted((f["kind"], f["state"]) for f in shown["follow_ups"]) == [
                ("notices", "done"), ("proof", "done")]
            assert s.scalars(select(RecipientNotice).where(
                RecipientNotice.request_id == rid)).all()


# ---- PostgreSQL --------------------------------------------------------------------------

@pytest.fixture
def pg_pair(pg_cluster: Any, tmp_path: Path, clock: MovingClock
            ) -> Iterator[list[tuple[Runtime, Requests, str]]]:
    """Two identical copies of the demo on PostgreSQL (service and engine each)."""
    from personvern.demo.init import _register_subjects, manifest_text
    from personvern.demo.templates import get_template
    from personvern.storage.migrate import upgrade

    service_url, engine_url = pg_cluster.create_database(), pg_cluster.create_database()
    service = create_engine_for(service_url)
    template = get_template("snapmentor")
    generated = template.generate(service, 40, now=DEMO_NOW, seed=7)
    service.dispose()
    upgrade(engine_url)
    _register_subjects(engine_url, generated, DEMO_NOW, 7)
    made: list[tuple[Runtime, Requests, str]] = []
    urls = [service_url, engine_url]
    for side in ("one", "batch"):
        s_url = pg_cluster.create_database(template=service_url.rsplit("/", 1)[1])
        e_url = pg_cluster.create_database(template=engine_url.rsplit("/", 1)[1])
        urls += [s_url, e_url]
        manifest = tmp_path / f"{side}.yaml"
        manifest.write_text(manifest_text(template, s_url), encoding="utf-8")
        rt = open_runtime(Settings(manifest=manifest, database_url=e_url), clock)
        made.append((rt, Requests(rt.sessions, Context(rt.consent, clock)), s_url))
    yield made
    for rt, svc, _ in made:
        svc.close()
        rt.close()
    for url in urls:
        pg_cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.mark.postgres
def test_on_postgresql_a_batch_leaves_the_data_as_one_at_a_time_does(
        pg_pair: list[tuple[Runtime, Requests, str]]) -> None:
    (one_rt, one_svc, one_url), (batch_rt, batch_svc, batch_url) = pg_pair
    people = [f"ext:{n}" for n in range(1, 21)]
    one_ids = opened(one_rt, one_svc, people)
    singles = [one_svc.run(rid, reason=REASON) for rid in one_ids]
    ids = opened(batch_rt, batch_svc, people)
    batch = erase_batch(batch_svc, ids, reason=REASON, chunk=7)  # three chunks
    assert trail(batch_rt, ids) == trail(one_rt, one_ids)
    assert batch.refused == [] and batch.waiting == [] and len(batch.completed) == 20
    assert [kept(r.outcome) for r in batch.completed] == [kept(r.outcome) for r in singles]
    assert any(r.outcome["kept"] for r in batch.completed)
    assert all(r.outcome["proof"]["clean"] is True for r in batch.completed)
    one_db, batch_db = create_engine_for(one_url), create_engine_for(batch_url)
    try:
        assert rows(batch_db) == rows(one_db)
    finally:
        one_db.dispose()
        batch_db.dispose()
