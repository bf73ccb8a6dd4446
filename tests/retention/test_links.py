"""A link between two people (the demo's guardian link: no personal column, only two
references) ends with either profile. No purpose holds such a row, so no rule would ever
date it: the sweep deletes it with the person (GDPR Art. 5(1)(e)), and says so."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli_inprocess import run_personvern
from personvern.demo.init import init_demo

BUILT = datetime(2026, 12, 1, 11, tzinfo=UTC)


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    init_demo(tmp_path, 60, now=BUILT)
    return tmp_path


def sweep(demo: Path, *args: str) -> dict[str, object]:
    env = {"PERSONVERN_MASTER_KEY_FILE": str(demo / "master.key"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{demo / 'personvern.db'}",
           "PERSONVERN_MANIFEST": str(demo / "personvern.yaml"), "PATH": "/usr/bin:/bin"}
    done = run_personvern("retention", *args, "--json", "--now", "2027-06-01T12:00:00+02:00",
                          env=env, cwd=demo)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def links(demo: Path) -> list[tuple[int, int, str, str]]:
    with sqlite3.connect(demo / "service.db") as conn:
        return conn.execute(
            "SELECT g.guardian_id, g.child_id, a.email, b.email FROM guardians g "
            "JOIN users a ON a.id = g.guardian_id JOIN users b ON b.id = g.child_id").fetchall()


def link_counts(report: dict[str, object]) -> int:
    return sum(n for r in report["rules"] for t in r["tables"]  # type: ignore[attr-defined]
               for n in t["links"].values())


def test_a_guardian_link_goes_with_either_profile_and_the_plan_says_so(demo: Path) -> None:
    before = links(demo)
    planned = link_counts(sweep(demo, "plan"))
    assert links(demo) == before  # a plan changes nothing
    done = link_counts(sweep(demo, "run", "--reason", "monthly sweep"))
    after = links(demo)
    assert planned == done == len(before) - len(after) > 0
    # What is left links two people whose profiles are both still there.
    assert after and all(not a.startswith("slettet-") and not b.startswith("slettet-")
                         for _, _, a, b in after)
    # Nothing further the next time.
    assert link_counts(sweep(demo, "run", "--reason", "monthly sweep")) == 0
