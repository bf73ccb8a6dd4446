"""The fault suite's tools: a small demo copied per test, the real CLI as a subprocess,
SIGKILL at seeded random points of a clean run's duration, and the state to compare."""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from personvern.demo.init import init_demo

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)
T = "2027-01-04T13:00:00+01:00"
SUBJECTS = 40
MASK = re.compile(r"slettet-[0-9a-f]{12}")
PV = str(Path(sys.executable).with_name("personvern"))
SERVICE = ("users", "guardians", "sessions", "purchases", "invoices", "messages",
           "login_events", "marketing_list")


_BASE: list[Path] = []


def make_demo(directory: Path) -> Path:
    """A demo service of SUBJECTS people in ``directory``."""
    if not _BASE:  # made once per test process, then copied: each make costs a second or two
        base = directory.parent / "faults-demo"
        init_demo(base, SUBJECTS, now=NOW)
        _BASE.append(base)
    return copy_demo(_BASE[0], directory)


def copy_demo(template: Path, to: Path) -> Path:
    """A private copy of ``template``, its manifest pointing at the copy's service.db."""
    to.mkdir(parents=True, exist_ok=True)
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, to / name)
    (to / "personvern.yaml").write_text(
        (template / "personvern.yaml").read_text(encoding="utf-8").replace(
            str(template / "service.db"), str(to / "service.db")), encoding="utf-8")
    return to


def env(demo: Path, **extra: str) -> dict[str, str]:
    """The environment a privacy owner would set for ``demo`` (the master key is inherited)."""
    import os

    return {**os.environ, "PERSONVERN_MANIFEST": str(demo / "personvern.yaml"),
            "PERSONVERN_DATABASE_URL": f"sqlite:///{demo / 'personvern.db'}", **extra}


@dataclass(frozen=True)
class Done:
    """A finished CLI run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The ``--json`` output."""
        assert self.code == 0, self.err
        return json.loads(self.out)


def pv(demo: Path, *args: str, **extra: str) -> Done:
    """``personvern ARGS`` on ``demo``, run to its end in this process (tests/cli_inprocess.py:
    the same entry point, without 2 s of interpreter start per call)."""
    from cli_inprocess import run_personvern

    done = run_personvern(*args, env=env(demo, **extra))
    return Done(done.returncode, done.stdout, done.stderr)


def timed(demo: Path, *args: str, timeout: float = 120) -> tuple[Done, float]:
    """``personvern ARGS`` in a real process, as the kills will run it, and its seconds."""
    started = time.monotonic()
    done = subprocess.run([PV, *args], env=env(demo), capture_output=True, text=True,
                          timeout=timeout, check=False)
    return Done(done.returncode, done.stdout, done.stderr), time.monotonic() - started


def kill_at_random(demo: Path, args: tuple[str, ...], clean_seconds: float, *, seed: int,
                   kills: int, **extra: str) -> int:
    """Start ``personvern ARGS`` ``kills`` times, each SIGKILLed after a seeded random
    fraction of a clean run's duration; how many kills landed before the run ended."""
    rng = random.Random(seed)
    landed = 0
    for _ in range(kills):
        # Not below 0.3: the first third is mostly Python importing, where nothing is at risk.
        after = clean_seconds * rng.uniform(0.3, 1.0)
        process = subprocess.Popen([PV, *args], env=env(demo, **extra),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            landed += process.returncode == -signal.SIGKILL
    return landed


def kill_mid_work(demo: Path, args: tuple[str, ...], request_id: str, *, seed: int) -> str:
    """Start ``personvern ARGS`` with the service's database write-locked by the test, so
    the run stops inside its work; SIGKILL it there, a seeded random while after the
    request turned in_progress. The request's state at the kill."""
    rng = random.Random(seed)
    lock = sqlite3.connect(demo / "service.db", timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the run's first write to the service waits on this
    try:
        process = subprocess.Popen([PV, *args], env=env(demo), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        state = ""
        while process.poll() is None and time.monotonic() < deadline:
            found = rows(demo / "personvern.db",
                         f"SELECT state FROM requests WHERE id = '{request_id}'")
            state = found[0][0]
            if state == "in_progress":
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, "the run ended before it was killed"
        return state
    finally:
        lock.rollback()
        lock.close()


def rows(db: Path, sql: str, *, timeout: float = 10) -> list[Any]:
    """The rows of ``sql`` on the SQLite file ``db``, sorted."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=timeout) as conn:
        return sorted(conn.execute(sql).fetchall(), key=repr)


def masked(value: Any) -> Any:
    """``value`` with the random part of a masked value left out."""
    # Masking writes a fresh random token per run by design, so two clean runs differ there.
    return MASK.sub("slettet-*", value) if isinstance(value, str) else value


def service_rows(demo: Path) -> dict[str, list[Any]]:
    """Every row of the demo service, masked values compared by shape."""
    return {t: sorted((tuple(masked(v) for v in row)
                       for row in rows(demo / "service.db", f"SELECT * FROM {t}")), key=repr)
            for t in SERVICE}


def erasure_state(demo: Path) -> dict[str, Any]:
    """What an erasure leaves behind, service and engine."""
    db = demo / "personvern.db"
    return {
        "service": service_rows(demo),
        "subjects": rows(db, "SELECT id, erased_at, closed_at FROM subjects"),
        "keys": rows(db, "SELECT subject_id, wrapped IS NULL, shredded_at FROM subject_keys"),
        "requests": rows(db, "SELECT id, state, outcome, closed_at FROM requests"),
        "tasks": rows(db, "SELECT dataset, kind, action, state FROM request_tasks"),
        "notices": rows(db, "SELECT recipient, action, channel, status FROM recipient_notices"),
        "outbox": rows(db, "SELECT kind, to_address, title, dedupe_key FROM outbox"),
        "audited": sorted({r[:2] for r in rows(db, "SELECT action, target FROM audit_events")}),
    }


def chains_intact(demo: Path) -> None:
    """The consent ledger and the audit trail verify (in-process: a CLI start costs 2 s)."""
    from personvern.audit import verify_audit_chain
    from personvern.consent.ledger import verify_ledger
    from personvern.storage.engine import create_engine_for
    from personvern.storage.session import make_sessionmaker

    engine = create_engine_for(f"sqlite:///{demo / 'personvern.db'}")
    try:
        with make_sessionmaker(engine)() as session:
            assert verify_ledger(session) is None, "the consent ledger is broken"
            assert verify_audit_chain(session) is None, "the audit chain is broken"
    finally:
        engine.dispose()
