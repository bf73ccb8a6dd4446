"""A link between two people (the demo's guardian link: no personal column, only two
references) ends with either profile. No purpose holds such a row, so no rule would ever
date it: the sweep deletes it with the person (GDPR Art. 5(1)(e)), and says so."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from demo_support import demo_cli, fresh_demo


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    return fresh_demo(tmp_path, 60)


def sweep(demo: Path, *args: str) -> dict[str, object]:
    done = demo_cli(demo, "retention", *args, "--json", now="2027-06-01T12:00:00+02:00")
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
