"""``subject show``: guardians, organisations and the last activity from every source."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from cli_inprocess import run_personvern
from demo_support import DEMO_NOW
from personvern.clock import fixed_clock
from personvern.consent.subjects import add_member, create_organisation, get_subject
from personvern.runtime import Runtime


def _env(demo: Path) -> dict[str, str]:
    return {**os.environ, "PERSONVERN_MANIFEST": str(demo / "personvern.yaml"),
            "PERSONVERN_DATABASE_URL": f"sqlite:///{demo / 'personvern.db'}"}


def _show(demo: Path, ref: str, *extra: str) -> list[str]:
    out = run_personvern("subject", "show", ref, "--now", DEMO_NOW.isoformat(), *extra,
                         env=_env(demo))
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def _last_login(demo: Path, uid: int) -> datetime:
    with sqlite3.connect(demo / "service.db") as conn:
        (value,) = conn.execute("select last_login_at from users where id = ?",
                                (uid,)).fetchone()
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def test_a_pupil_shows_the_guardian_and_the_service_s_last_sign_in(demo: Path,
                                                                   rt: Runtime) -> None:
    with rt.transaction() as s:
        parent = get_subject(s, "ext:8").id
    login = _last_login(demo, 31).strftime("%Y-%m-%d %H:%M UTC")
    lines = _show(demo, "ext:31")
    assert f"  guardian: ext:8 (subject {parent})" in lines
    at = lines.index(f"  last activity: {login}")
    assert lines[at + 1:at + 3] == ["    recorded by the engine: never",
                                    f"    app.users.last_login_at: {login}"]
    assert any(line.startswith("  child: ext:31 (subject ") for line in _show(demo, "ext:8"))


def test_the_latest_source_wins_and_organisations_are_listed(demo: Path, rt: Runtime) -> None:
    later = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)
    assert later > _last_login(demo, 9)
    out = run_personvern("subject", "activity", "ext:9", "--now", later.isoformat(),
                         env=_env(demo))
    assert out.returncode == 0, out.stderr
    with rt.transaction() as s:
        org = create_organisation(s, fixed_clock(DEMO_NOW), "Fjellskolen AS", "923641645")
        add_member(s, fixed_clock(DEMO_NOW), org, get_subject(s, "ext:9"), "admin")
    lines = _show(demo, "ext:9")
    assert "  organisation: Fjellskolen AS (923641645), admin" in lines
    assert "  last activity: 2027-02-01 09:30 UTC" in lines
    assert "    recorded by the engine: 2027-02-01 09:30 UTC" in lines


def test_no_row_in_the_service_says_never(demo: Path) -> None:
    with sqlite3.connect(demo / "service.db") as conn:
        conn.execute("update users set last_login_at = null where id = 10")
    lines = _show(demo, "ext:10")
    assert lines[lines.index("  last activity: never") + 1:][:2] == [
        "    recorded by the engine: never", "    app.users.last_login_at: never"]


def test_json_gives_every_source(demo: Path) -> None:
    data = json.loads("\n".join(_show(demo, "ext:31", "--json")))
    assert [s["source"] for s in data["activity_sources"]] == [
        "recorded by the engine", "app.users.last_login_at"]
    assert data["last_activity"] == data["activity_sources"][1]["at"]


def test_a_service_database_that_cannot_be_read_is_named_and_the_rest_shown(
        demo: Path) -> None:
    manifest = demo / "personvern.yaml"
    gone = demo / "gone" / "service.db"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        str(demo / "service.db"), str(gone)), encoding="utf-8")
    lines = _show(demo, "ext:31")
    at = lines.index("  last activity: never in the sources read; 1 source not read")
    assert lines[at + 1] == "    recorded by the engine: never"
    assert lines[at + 2] == (f"    app.users.last_login_at: not read (cannot create SQLite "
                             f"database {gone}: directory {gone.parent} does not exist)")
    assert "  yes account: necessary for the contract (GDPR Art. 6(1)(b))" in lines
