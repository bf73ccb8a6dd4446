"""Fault: the service's database cannot be read while an erasure runs (its file is not a
database). Nothing lost means the request waits (exit 1, state waiting) with nothing
half-done on the engine's side (nobody marked erased, no key destroyed), and once the
database is back a later run ends exactly as a run that never met the fault, with an
intact audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faults.support import T, chains_intact, copy_demo, erasure_state, make_demo, pv, rows


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo with an erasure request for ext:12, verified and ready to run."""
    demo = make_demo(tmp_path_factory.mktemp("down"))
    opened = pv(demo, "request", "open", "erasure", "--subject", "ext:12",
                "--verified-by", "called back on the number we have", "--now", T, "--json")
    return demo, opened.json()["id"]


RUN = ("--reason", "the person asked", "--now", T, "--json")


def engine_side(demo: Path) -> dict[str, Any]:
    """Who the engine erased and whose key it destroyed."""
    db = demo / "personvern.db"
    return {"subjects": rows(db, "SELECT id, erased_at FROM subjects"),
            "keys": rows(db, "SELECT subject_id, wrapped IS NULL, shredded_at "
                             "FROM subject_keys")}


def test_an_erasure_waits_for_its_database_and_then_loses_nothing(
        template: tuple[Path, str], tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    demo_template, request_id = template
    reference_demo = copy_demo(demo_template, tmp_path_factory.mktemp("clean"))
    assert pv(reference_demo, "request", "run", request_id, *RUN).json()["state"] == "completed"
    reference = erasure_state(reference_demo)

    demo = copy_demo(demo_template, tmp_path / "demo")
    before = engine_side(demo)
    good = (demo / "service.db").read_bytes()
    (demo / "service.db").write_bytes(b"not a database" * 64)
    down = pv(demo, "request", "run", request_id, *RUN)
    assert down.code == 1 and "waiting" in down.err, down.err
    assert "Traceback" not in down.err
    [(state,)] = rows(demo / "personvern.db",
                      f"SELECT state FROM requests WHERE id = '{request_id}'")
    assert state == "waiting"
    assert engine_side(demo) == before

    (demo / "service.db").write_bytes(good)
    assert pv(demo, "request", "run", request_id, *RUN).json()["state"] == "completed"
    after = erasure_state(demo)
    # The wait itself is history the audit trail keeps on top of a clean run's events.
    assert set(reference.pop("audited")) < set(after.pop("audited"))
    assert after == reference
    chains_intact(demo)


def test_an_erasure_whose_database_stops_answering_part_way_waits_and_loses_nothing(
        template: tuple[Path, str], tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The run reads the service's rows, then its first write meets a lock held longer
    than the busy timeout: the database is there but stops answering part-way."""
    import sqlite3

    demo_template, request_id = template
    reference_demo = copy_demo(demo_template, tmp_path_factory.mktemp("clean-mid"))
    assert pv(reference_demo, "request", "run", request_id, *RUN).json()["state"] == "completed"
    reference = erasure_state(reference_demo)

    demo = copy_demo(demo_template, tmp_path / "demo")
    before = engine_side(demo)
    lock = sqlite3.connect(demo / "service.db", timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # readers go on (WAL); the erasure's write cannot
    try:
        stuck = pv(demo, "request", "run", request_id, *RUN)
    finally:
        lock.rollback()
        lock.close()
    assert stuck.code == 1 and "waiting" in stuck.err, stuck.err
    assert "Traceback" not in stuck.err
    [(state,)] = rows(demo / "personvern.db",
                      f"SELECT state FROM requests WHERE id = '{request_id}'")
    assert state == "waiting"
    assert engine_side(demo) == before  # nobody marked erased, no key destroyed

    assert pv(demo, "request", "run", request_id, *RUN).json()["state"] == "completed"
    after = erasure_state(demo)
    assert set(reference.pop("audited")) < set(after.pop("audited"))
    assert after == reference
    chains_intact(demo)
