"""A person's last activity is the latest from every source: the service's own column
(``users.last_login_at``) and what the engine recorded (``subject activity``, the API).

Seed 000: "så lenge du har en aktiv profil ... slettet senest 2 år etter siste registrerte
aktivitet". An inquiry by e-mail is activity the service's login column never sees; the
profile must not be deleted two years after the last sign-in while the person wrote to
us last month (GDPR Art. 5(1)(e): kept no longer than necessary, and no shorter than
promised).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from demo_support import demo_cli, fresh_demo


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    return fresh_demo(tmp_path, 40)


def pv(demo: Path, *args: str, now: str) -> str:
    done = demo_cli(demo, *args, now=now)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def email_of(demo: Path, user: int) -> str:
    with sqlite3.connect(demo / "service.db") as conn:
        return str(conn.execute("SELECT email FROM users WHERE id = ?", (user,)).fetchone()[0])


def test_activity_recorded_by_the_engine_postpones_a_column_dated_deletion(demo: Path) -> None:
    with sqlite3.connect(demo / "service.db") as conn:
        (user, last_login), *_ = conn.execute(
            "SELECT id, last_login_at FROM users WHERE role != 'mentor' "
            "ORDER BY last_login_at LIMIT 2").fetchall()
        other = conn.execute("SELECT id FROM users WHERE role != 'mentor' AND id != ? "
                             "AND last_login_at < '2024-11-01' LIMIT 1", (user,)).fetchone()[0]
    assert last_login < "2024-11-01", "the demo has no sign-in older than two years"
    address = email_of(demo, user)
    # The person wrote to us a month ago: the engine records it.
    pv(demo, "subject", "activity", f"ext:{user}", now="2026-11-01T10:00:00+01:00")
    pv(demo, "retention", "run", "--reason", "monthly sweep", now="2026-12-02T10:00:00+01:00")
    assert email_of(demo, user) == address, "deleted though active a month ago"
    assert email_of(demo, other).startswith("slettet-"), \
        "a person inactive for two years by every source was kept"
    # Two years after that activity the profile goes, as promised.
    pv(demo, "retention", "run", "--reason", "monthly sweep", now="2028-11-02T10:00:00+01:00")
    assert email_of(demo, user).startswith("slettet-")


def test_the_plan_counts_the_same_rows_the_run_then_takes(demo: Path) -> None:
    import json

    with sqlite3.connect(demo / "service.db") as conn:
        user = conn.execute("SELECT id FROM users WHERE role != 'mentor' "
                            "ORDER BY last_login_at LIMIT 1").fetchone()[0]
    at = "2026-12-02T10:00:00+01:00"
    before = json.loads(pv(demo, "retention", "plan", "--json", now=at))
    pv(demo, "subject", "activity", f"ext:{user}", now="2026-11-01T10:00:00+01:00")
    after = json.loads(pv(demo, "retention", "plan", "--json", now=at))

    def users_rows(plan: dict[str, object]) -> int:
        return sum(t["rows"] for r in plan["rules"] for t in r["tables"]  # type: ignore[attr-defined,index]
                   if r["rule"] == "inactive" and t["table"] == "users")  # type: ignore[index]

    assert users_rows(after) == users_rows(before) - 1
    ran = json.loads(pv(demo, "retention", "run", "--json", "--reason", "sweep", now=at))
    assert users_rows(ran) == users_rows(after)
