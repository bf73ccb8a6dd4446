"""The answer's reads made cheaper give what the ORM's gave: the person's e-mail address
read through Core (first e-mail identity, opened; erased; none; a row written before
encryption), and a request's tasks looked for cheaply first, still listed in the answer
when the manifest no longer names their dataset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, event, insert
from sqlalchemy.orm import Session

from personvern.clock import fixed_clock
from personvern.consent.subjects import create_subject, identities_of
from personvern.consent.tables import Identity
from personvern.crypto import ERASED
from personvern.keys.shred import shred_subjects
from personvern.requests import tasks
from personvern.requests.engine import _email_of
from personvern.storage.session import make_sessionmaker

NOW = datetime(2027, 3, 1, 11, tzinfo=UTC)
CRM = {"id": "crm", "kind": "manual", "recipient": "vipps", "contact": "personvern@crm.example.no"}


def as_the_orm_read_it(engine: Engine, subject_id: str) -> str | None:
    """The address as the engine read it before: every identity loaded and opened."""
    with make_sessionmaker(engine)() as s:
        return next((i.value for i in identities_of(s, subject_id) if i.kind == "email"), None)


def test_the_address_read_through_core_is_the_orms(db_engine: Engine) -> None:
    clock = fixed_clock(NOW)
    with make_sessionmaker(db_engine).begin() as s:
        # A phone first, then two addresses: the oldest address is the one written to.
        kari, _ = create_subject(s, clock, {"phone": "+4791234567"})
        s.add_all([Identity(subject_id=kari.id, kind="email", lookup="", value=v,
                            created_at=NOW) for v in ("kari@example.no", "kari2@example.no")])
        erased, _ = create_subject(s, clock, {"email": "ola@example.no"})
        phone_only, _ = create_subject(s, clock, {"phone": "+4798765432"})
        legacy, _ = create_subject(s, clock, {"phone": "+4790000000"})
        # A row written before encryption: the plain address in the lookup column.
        s.connection().execute(insert(Identity.__table__), {
            "subject_id": legacy.id, "kind": "email", "value": "per@example.no",
            "sealed": None, "created_at": NOW})
    with make_sessionmaker(db_engine).begin() as s:
        shred_subjects(s, [erased.id], at=NOW)
    expected = {kari.id: "kari@example.no", erased.id: ERASED, phone_only.id: None,
                legacy.id: "per@example.no"}
    for sid, address in expected.items():
        assert as_the_orm_read_it(db_engine, sid) == address
        with make_sessionmaker(db_engine)() as s:
            assert _email_of(s, sid) == address


def test_an_identity_added_in_the_session_is_seen_as_the_orm_saw_it(
        db_session: Session) -> None:
    kari, _ = create_subject(db_session, fixed_clock(NOW), {"phone": "+4791234567"})
    db_session.add(Identity(subject_id=kari.id, kind="email", lookup="",
                            value="kari@example.no", created_at=NOW))
    assert _email_of(db_session, kari.id) == "kari@example.no"  # flushed first (autoflush)


def test_tasks_looked_for_cheaply_are_those_loaded(
        with_datasets: Any, opener: Callable[..., str], service_db: Any) -> None:
    rt, service = with_datasets(CRM)
    with_task = opener(rt, service, "erasure", "ext:8")
    assert service.run(with_task, reason="identity checked").state == "waiting"
    without = opener(rt, service, "erasure", "ext:9")
    with rt.transaction() as s:
        loaded = tasks.tasks_of_many(s, [with_task, without])
        assert list(loaded) == [with_task] and [t.dataset for t in loaded[with_task]] == ["crm"]
        sent: list[str] = []
        event.listen(s.get_bind(), "before_cursor_execute",
                     lambda *a: sent.append(a[2].split()[0]))
        assert tasks.tasks_of_many(s, [with_task, without], probe=True) == loaded
        assert tasks.tasks_of_many(s, [without], probe=True) == {}
        assert len(sent) == 3  # the probe, the load of the one with a task, the probe


def test_a_task_opened_under_an_earlier_manifest_is_listed_in_the_answer(
        with_datasets: Any, opener: Callable[..., str], service_db: Any, demo: Path
        ) -> None:
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "erasure", "ext:8")
    assert service.run(rid, reason="identity checked").state == "waiting"
    # The processor is dropped from the manifest before it answers: no dataset is left
    # outside the engine's reach, yet the request has its task.
    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"] = [d for d in data["datasets"] if d["id"] != "crm"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _, again = with_datasets()
    assert not tasks.outside(again.ctx.manifest)
    done = again.task_done(rid, "crm", "deleted in the CRM on 1 March")
    assert done is not None and done.state == "completed"
    assert [(t["dataset"], t["kind"], t["note"]) for t in done.outcome["tasks"]] == [
        ("crm", "manual", "deleted in the CRM on 1 March")]
