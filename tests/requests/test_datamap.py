"""The data map walk: every row of a subject, and no one else's, on the demo service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from personvern.demo.init import init_demo
from personvern.errors import ConfigurationError
from personvern.manifest.loader import load_manifest, parse_manifest
from personvern.requests.datamap import Found, open_datasets

NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 200, now=NOW)
    return directory


def handwritten(conn: object, user: int) -> dict[str, set[int]]:
    """The same rows selected with SQL written by hand (the benchmark's limit, too)."""
    q = {
        "users": "SELECT id FROM users WHERE id = :u",
        "guardians": "SELECT id FROM guardians WHERE guardian_id = :u OR child_id = :u",
        "sessions": "SELECT id FROM sessions WHERE pupil_id = :u OR mentor_id = :u",
        "purchases": "SELECT id FROM purchases WHERE payer_id = :u OR pupil_id = :u",
        "invoices": "SELECT i.id FROM invoices i JOIN purchases p ON p.id = i.purchase_id "
                    "WHERE p.payer_id = :u OR p.pupil_id = :u",
        "messages": "SELECT id FROM messages WHERE sender_id = :u OR recipient_id = :u",
        "login_events": "SELECT id FROM login_events WHERE user_id = :u",
    }
    return {t: {r[0] for r in conn.execute(text(sql), {"u": user})}  # type: ignore[attr-defined]
            for t, sql in q.items()}


@pytest.mark.parametrize("user", [1, 30, 120, 199])
def test_walk_finds_exactly_the_handwritten_rows(demo: Path, user: int) -> None:
    [ds] = open_datasets(load_manifest(demo / "personvern.yaml").manifest)
    try:
        with ds.engine.connect() as conn:
            found = ds.find(conn, {"external_id": [str(user)]})
            expected = handwritten(conn, user)
    finally:
        ds.engine.dispose()
    got = {t: set(rows) for t, rows in found.rows.items() if rows}
    assert got == {t: ids for t, ids in expected.items() if ids}
    assert found.rows["users"][user]["id"] == user


def test_walk_by_email_and_multi_hop(demo: Path) -> None:
    [ds] = open_datasets(load_manifest(demo / "personvern.yaml").manifest)
    try:
        with ds.engine.connect() as conn:
            email = conn.execute(text("SELECT email FROM users WHERE id = 30")).scalar()
            found = ds.find(conn, {"email": [email]})
    finally:
        ds.engine.dispose()
    # user 30 is a parent: their invoices are found through their purchases (two hops).
    assert found.rows["users"] and found.rows.get("invoices")


def test_unknown_person_finds_nothing(demo: Path) -> None:
    [ds] = open_datasets(load_manifest(demo / "personvern.yaml").manifest)
    try:
        with ds.engine.connect() as conn:
            assert ds.find(conn, {"email": ["nobody@example.no"]}).count() == 0
    finally:
        ds.engine.dispose()


def _with_change(demo: Path, change: str) -> str:
    data = yaml.safe_load((demo / "personvern.yaml").read_text())
    data["jurisdiction"] = {"country": "NO"}
    tables = data["datasets"][0]["tables"]
    if change == "table":
        tables.append({"name": "no_such_table"})
    elif change == "column":
        tables[0]["columns"].append({"name": "no_such_column"})
    elif change == "reference":
        tables[1]["references"].append({"column": "guardian_id", "to": "users.nope"})
    elif change == "unmapped":
        tables[1]["references"] = []
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.mark.parametrize(("change", "message"), [
    ("table", "table no_such_table does not exist"),
    ("column", "users.no_such_column"),
    ("reference", "users.nope"),
])
def test_map_errors_are_clear_at_load(demo: Path, change: str, message: str) -> None:
    manifest = parse_manifest(_with_change(demo, change)).manifest
    with pytest.raises(ConfigurationError, match=message):
        open_datasets(manifest)


def test_missed_references_are_suggested(demo: Path) -> None:
    [ds] = open_datasets(parse_manifest(_with_change(demo, "unmapped")).manifest)
    try:
        assert ds.suggestions() == ["guardians.child_id -> users.id",
                                    "guardians.guardian_id -> users.id"]
    finally:
        ds.engine.dispose()


def test_missing_environment_variable_is_clear(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(_with_change(demo, "none"))
    data["datasets"][0].pop("url")
    data["datasets"][0]["url_env"] = "DEMO_SERVICE_URL"
    monkeypatch.delenv("DEMO_SERVICE_URL", raising=False)
    manifest = parse_manifest(yaml.safe_dump(data, allow_unicode=True)).manifest
    with pytest.raises(ConfigurationError, match="DEMO_SERVICE_URL is not set"):
        open_datasets(manifest)


def _same(one: Found, other: Found) -> None:
    assert one.rows == other.rows and one.owned == other.owned and one.named == other.named


def test_a_batch_walk_finds_for_each_person_what_their_own_walk_finds(demo: Path) -> None:
    """A batch erasure walks the map once for everyone (issue 15): each person must still
    get exactly their own rows, owned and named — parents, their children and mentors
    share guardians, purchases, sessions and messages here."""
    [ds] = open_datasets(load_manifest(demo / "personvern.yaml").manifest)
    people = {f"p{u}": {"external_id": [str(u)]} for u in range(1, 201)}
    people["nobody"] = {"email": ["nobody@example.no"]}
    try:
        with ds.engine.connect() as conn:
            together = ds.find_many(conn, people)
            alone = {pid: ds.find(conn, ids) for pid, ids in people.items()}
    finally:
        ds.engine.dispose()
    assert set(together) == set(people)
    for pid in people:
        _same(together[pid], alone[pid])
    assert together["nobody"].count() == 0
    assert any(together[p].named for p in together)  # messages naming others, and shared
    seen: dict[tuple[str, object], str] = {}
    shared = 0  # rows two people of the batch both reach, each given them
    for pid, found in together.items():
        for table, rows in found.rows.items():
            for key in rows:
                shared += (table, key) in seen
                seen.setdefault((table, key), pid)
    assert shared


def test_a_batch_walk_on_a_case_blind_column_still_finds_every_row(
        demo: Path, tmp_path: Path) -> None:
    """A column that matches values case-insensitively (COLLATE NOCASE) returns rows the
    batch cannot give to a person by their exact value: it walks one at a time instead,
    and nobody's row is missed (GDPR Art. 17: an erasure that misses a row fails)."""
    import shutil
    import sqlite3

    shutil.copy(demo / "service.db", tmp_path / "service.db")
    with sqlite3.connect(tmp_path / "service.db") as db:
        email = db.execute("SELECT email FROM users WHERE id = 7").fetchone()[0]
        db.executescript(
            "ALTER TABLE marketing_list RENAME TO old_list;"
            "CREATE TABLE marketing_list (id INTEGER PRIMARY KEY, email VARCHAR(320) "
            "COLLATE NOCASE NOT NULL UNIQUE, subscribed_at DATETIME NOT NULL, "
            "confirmed BOOLEAN NOT NULL);"
            "INSERT INTO marketing_list SELECT * FROM old_list;"
            "DROP TABLE old_list;")
        db.execute("DELETE FROM marketing_list WHERE lower(email) = lower(?)", (email,))
        db.execute("INSERT INTO marketing_list (email, subscribed_at, confirmed) "
                   "VALUES (?, '2026-01-01 00:00:00', 1)", (email.upper(),))
    text_ = (demo / "personvern.yaml").read_text().replace(
        str(demo / "service.db"), str(tmp_path / "service.db"))
    [ds] = open_datasets(parse_manifest(text_).manifest)
    people = {"seven": {"email": [email]}, "eight": {"external_id": ["8"]}}
    try:
        with ds.engine.connect() as conn:
            together = ds.find_many(conn, people)
            alone = {pid: ds.find(conn, ids) for pid, ids in people.items()}
    finally:
        ds.engine.dispose()
    assert together["seven"].keys("marketing_list")  # the upper-case address, found
    for pid in people:
        _same(together[pid], alone[pid])
