"""``retention plan`` is exactly what ``retention run`` then does, on the demo, at several
dates one after another (each run changes what the next plan sees), and a plan changes
nothing in either database."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli_inprocess import run_personvern
from demo_support import copy_demo
from personvern.demo.init import init_demo

DEMO_NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
# A month on, a sweep the demo's 30-day notices allow, then years on: each date sees what
# the runs before it left.
DATES = ["2027-01-01T12:00:00+01:00", "2027-06-01T12:00:00+02:00",
         "2028-03-01T12:00:00+01:00", "2031-01-15T12:00:00+01:00"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 400, now=DEMO_NOW)
    return directory


def _pv(demo: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PERSONVERN_MANIFEST": str(demo / "personvern.yaml"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{demo / 'personvern.db'}"}
    out = run_personvern(*args, "--json", env=env)
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout) if out.stdout.strip() else {}
    return data


def _what(report: dict[str, Any]) -> dict[str, Any]:
    """What a sweep does: rule by rule, table by table, and the notices; not its record."""
    return {k: report[k] for k in ("now", "rules", "notices", "undated")}


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def test_plan_then_run_at_several_dates(template: Path, tmp_path: Path) -> None:
    demo = copy_demo(template, tmp_path)
    # A withdrawal, so the engine-dated rule (unsubscribed) has someone to act on: the
    # parent who signed in last (no other rule takes them first).
    with sqlite3.connect(demo / "service.db") as conn:
        (reader,) = conn.execute("select id from users where role = 'parent' "
                                 "order by last_login_at desc limit 1").fetchone()
    _pv(demo, "consent", "give", f"ext:{reader}", "newsletter", "--text", "Nyhetsbrev?",
        "--now", "2026-12-02T10:00:00+01:00")
    _pv(demo, "consent", "withdraw", f"ext:{reader}", "newsletter", "--now",
        "2026-12-03T10:00:00+01:00")
    acted: set[str] = set()
    for at in DATES:
        before = {db: _dump(demo / db) for db in ("service.db", "personvern.db")}
        plan = _pv(demo, "retention", "plan", "--now", at)
        assert {db: _dump(demo / db) for db in before} == before, at  # a plan changes nothing
        done = _pv(demo, "retention", "run", "--now", at, "--reason", "test")
        assert plan["dry_run"] is True and done["dry_run"] is False
        assert _what(plan) == _what(done), at
        acted |= {r["rule"] for r in done["rules"] if r["rows"] or any(
            t["erased_subjects"] for t in r["tables"])}
    # The dates exercise every kind of rule: dated by a column, by the engine's records,
    # and the bookkeeping rule that can act only after another rule took the invoices.
    assert acted == {"inactive", "logs", "books", "unsubscribed"}
