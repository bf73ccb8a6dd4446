"""A sweep killed with SIGKILL at any point, then run again, ends in exactly the state of
a sweep that was never interrupted: the service's rows, who the engine has erased or
restricted, the notices queued, and an intact audit trail with no batch left pending."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from personvern.demo.init import init_demo
from personvern.storage.engine import create_engine_for
from personvern.storage.session import make_sessionmaker

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
SWEEP_AT = "2033-06-01T12:00:00+00:00"
PV = str(Path(sys.executable).with_name("personvern"))
SERVICE = ("users", "guardians", "sessions", "purchases", "invoices", "messages",
           "login_events", "marketing_list")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 400, now=NOW)
    return directory


def copy(template: Path, to: Path) -> Path:
    to.mkdir()
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, to / name)
    (to / "personvern.yaml").write_text(
        (template / "personvern.yaml").read_text(encoding="utf-8").replace(
            str(template / "service.db"), str(to / "service.db")), encoding="utf-8")
    return to


def command(demo: Path) -> list[str]:
    return [PV, "retention", "run", "--now", SWEEP_AT, "--batch", "10", "--json",
            "--reason", "crash test",
            "--manifest", str(demo / "personvern.yaml"),
            "--db", f"sqlite:///{demo / 'personvern.db'}"]


def batches(demo: Path) -> int:
    try:
        with sqlite3.connect(f"file:{demo / 'personvern.db'}?mode=ro", uri=True,
                             timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM retention_batches").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not there yet (migrating)
        return 0


def state(demo: Path) -> dict[str, Any]:
    with sqlite3.connect(demo / "service.db") as db:
        service = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                   for t in SERVICE}
    with sqlite3.connect(demo / "personvern.db") as db:
        engine = {
            "subjects": sorted(db.execute(
                "SELECT id, erased_at, last_activity, birth_date FROM subjects").fetchall()),
            "identities": sorted(db.execute(
                "SELECT subject_id, kind, value FROM subject_identities").fetchall()),
            "restrictions": sorted(db.execute(
                "SELECT subject_id, purposes, rule FROM retention_restrictions").fetchall()),
            "outbox": sorted(db.execute("SELECT dedupe_key FROM outbox").fetchall()),
            "pending": db.execute("SELECT count(*) FROM retention_batches "
                                  "WHERE state = 'pending'").fetchone()[0],
        }
    return {"service": service, "engine": engine}


def audit_intact(demo: Path) -> bool:
    from personvern.audit import verify_audit_chain

    engine = create_engine_for(f"sqlite:///{demo / 'personvern.db'}")
    try:
        with make_sessionmaker(engine)() as session:
            return verify_audit_chain(session) is None
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def reference(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    demo = copy(template, tmp_path_factory.mktemp("ref") / "demo")
    done = subprocess.run(command(demo), capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr
    result = state(demo)
    assert result["engine"]["pending"] == 0
    assert any(e[1] for e in result["engine"]["subjects"])  # somebody was erased
    return result


@pytest.mark.parametrize("kills", [(3,), (25, 90)])
def test_sigkill_mid_sweep_then_run_again_ends_right(
        template: Path, tmp_path: Path, reference: dict[str, Any], kills: tuple[int, ...]
) -> None:
    demo = copy(template, tmp_path / "demo")
    for after in kills:
        process = subprocess.Popen(command(demo), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while batches(demo) < after and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the sweep finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
    interrupted = state(demo)
    assert interrupted != reference  # the kill did stop it half-way
    finish = subprocess.run(command(demo), capture_output=True, text=True, timeout=600,
                            check=False)
    assert finish.returncode == 0, finish.stderr
    assert state(demo) == reference
    assert audit_intact(demo)
