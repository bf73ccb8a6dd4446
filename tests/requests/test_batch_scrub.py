"""A batch's scrub (SQLite's VACUUM of the service file) runs in a thread of its own while
the answers are prepared: nobody may be told they are erased, nor recorded as erased,
before the scrub that removes their bytes has finished; a scrub that fails late, the
answers already prepared, leaves every request waiting and nobody told."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from demo_support import MovingClock, left_behind, service_values
from personvern.errors import StorageError
from personvern.requests import batch
from personvern.requests.batch import erase_batch, open_erasures
from personvern.requests.engine import Context, Requests, get_request
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.models import AuditEvent

REASON = "the people asked to be erased"
USER_IDS = (3, 5, 8, 9, 12, 17, 20, 22, 25, 31, 40, 54)
PEOPLE = [f"ext:{n}" for n in USER_IDS]
# Long enough for the answers to be prepared and waiting on the scrub.
SLOW = 0.5


def opened(service: Requests, people: list[str]) -> list[str]:
    ids, refused = open_erasures(service, people, verified_by="called back on file")
    assert refused == []
    return ids


def told(demo: Path, ids: list[str]) -> tuple[list[str], int, int]:
    """As another process reads the engine's file now: the requests' states, the letters
    queued and the completions audited."""
    marks = ",".join("?" * len(ids))
    with sqlite3.connect(demo / "personvern.db") as db:
        states = [s for (s,) in db.execute(
            f"SELECT state FROM requests WHERE id IN ({marks})", ids)]
        letters = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        completed = db.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'request.completed'"
        ).fetchone()[0]
    db.close()
    return states, letters, completed


def test_nobody_is_told_before_the_scrub_has_finished(
        rt: Runtime, service: Requests, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = service_values(demo, USER_IDS)
    ids = opened(service, PEOPLE)
    letters_before = told(demo, ids)[1]
    real = batch.scrub_erased
    seen: list[tuple[list[str], int, int, list[str]]] = []

    def slow(*args: Any, **kw: Any) -> list[str]:
        time.sleep(SLOW)
        left = real(*args, **kw)
        # The moment the scrub is done: no byte left, and still nobody told.
        seen.append((*told(demo, ids), left_behind(demo, values)))
        return left

    monkeypatch.setattr(batch, "scrub_erased", slow)
    result = erase_batch(service, ids, reason=REASON, chunk=5)  # three chunks
    assert [r.request_id for r in result.completed] == ids
    [(states, letters, completed, bytes_left)] = seen
    assert set(states) == {"in_progress"} and letters == letters_before and completed == 0
    assert bytes_left == []
    states, letters, completed = told(demo, ids)
    assert set(states) == {"completed"} and letters >= letters_before + len(ids)
    assert completed == len(ids)


def test_a_scrub_that_fails_late_leaves_everyone_waiting_nobody_told(
        rt: Runtime, service: Requests, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = opened(service, PEOPLE[:6])
    letters_before = told(demo, ids)[1]

    def fails_late(*_: Any, **__: Any) -> list[str]:
        time.sleep(SLOW)
        raise StorageError("database sqlite:///service.db: disk I/O error")

    monkeypatch.setattr(batch, "scrub_erased", fails_late)
    result = erase_batch(service, ids, reason=REASON, chunk=2)
    assert result.completed == [] and [r.request_id for r in result.waiting] == ids
    assert all("could not be reached" in (r.error or "") for r in result.waiting)
    states, letters, completed = told(demo, ids)
    assert set(states) == {"waiting"} and letters == letters_before and completed == 0
    with rt.transaction() as s:
        assert {get_request(s, rid).state for rid in ids} == {"waiting"}
        assert not s.scalars(select(AuditEvent).where(
            AuditEvent.action == "request.completed")).all()


def test_a_dataset_in_the_engines_own_file_is_scrubbed_and_everyone_answered(
        demo: Path, clock: MovingClock) -> None:
    # The service's tables moved into the engine's file, the manifest pointing there: the
    # scrub's VACUUM needs that file to itself, so it cannot run beside the answers'
    # open write transaction (it would wait on it, and it on the VACUUM).
    engine_db = demo / "personvern.db"
    values = service_values(demo, USER_IDS)
    with sqlite3.connect(engine_db) as db:
        db.execute(f"ATTACH DATABASE '{demo / 'service.db'}' AS service")
        ddl = db.execute("SELECT type, name, sql FROM service.sqlite_master WHERE sql IS "
                         "NOT NULL ORDER BY type = 'index'").fetchall()
        for kind, name, sql in ddl:
            db.execute(sql)
            if kind == "table":
                db.execute(f'INSERT INTO main."{name}" SELECT * FROM service."{name}"')
    db.close()
    manifest = demo / "personvern.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        str(demo / "service.db"), str(engine_db)), encoding="utf-8")
    (demo / "service.db").unlink()
    rt = open_runtime(Settings(manifest=manifest, database_url=f"sqlite:///{engine_db}"),
                      clock)
    service = Requests(rt.sessions, Context(rt.consent, clock))
    try:
        ids = opened(service, PEOPLE)
        result = erase_batch(service, ids, reason=REASON, chunk=5)
        assert [r.request_id for r in result.completed] == ids
        states, _, completed = told(demo, ids)
        assert set(states) == {"completed"} and completed == len(ids)
        with sqlite3.connect(engine_db) as db:  # their rows gone from the service's tables
            marks = ",".join("?" * len(values))
            assert db.execute(f"SELECT count(*) FROM users WHERE email IN ({marks}) OR "
                              f"phone IN ({marks}) OR name IN ({marks})",
                              values * 3).fetchone() == (0,)
        db.close()
    finally:
        service.close()
        rt.close()


def test_batches_in_two_threads_give_the_collector_back_when_the_last_ends() -> None:
    import gc
    import threading

    from personvern.requests.batch import YOUNG_THRESHOLD, young_objects_only

    before = gc.get_threshold()
    a_in, b_in, a_out, b_may_end = (threading.Event() for _ in range(4))
    seen: dict[str, Any] = {}

    def a() -> None:
        with young_objects_only():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with young_objects_only():
            b_in.set()
            b_may_end.wait(5)
            seen["while_b_runs"] = (gc.get_threshold(), gc.get_freeze_count() > 0)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    a_out.wait(5)  # the first batch ended while the second still runs
    b_may_end.set()
    for t in threads:
        t.join(5)
    assert seen["while_b_runs"] == ((max(before[0], YOUNG_THRESHOLD), *before[1:]), True)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
