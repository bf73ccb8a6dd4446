"""A step with no engine side takes its rows in batches in key order, each batch after the
last key the batch before took: rows the rule does not take (kept on the person's request)
between them neither stop the sweep nor are taken, and one sweep takes every due row."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table

from retention.support import build_service, column, plan, runtime, sweep, urls, write_manifest

NOW = datetime(2026, 5, 12, 12, tzinfo=UTC)
KEPT = {4, 5, 9}  # asked to be kept until the next course: the rule does not take them


def _enrolments(tmp_path: Path, db_url: str) -> tuple[Path, str, str]:
    engine_url, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("enrolments", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False), Column("level", String(40)),
          Column("course_ends_on", Date, nullable=False),
          Column("keep_until_next", Boolean, nullable=False, default=False))
    # Inserted out of key order, so no batch can rely on the order rows were written in.
    ids = [7, 2, 12, 9, 1, 4, 11, 3, 10, 5, 8, 6, 13]
    build_service(service_url, m, {"enrolments": [
        {"id": i, "email": f"p{i}@example.no", "level": "nybegynner",
         # 13's course is not over yet: not due either.
         "course_ends_on": date(2026, 5, 13) if i == 13 else date(2026, 5, 11),
         "keep_until_next": i in KEPT} for i in ids]})
    manifest = write_manifest(tmp_path / "personvern.yaml", "vekstly", [{
        "id": "courses", "url": service_url, "tables": [
            {"name": "enrolments", "dates": {"course_end": "course_ends_on"},
             "keep_flag": "keep_until_next",
             "columns": [{"name": "email", "identity": "email"},
                         {"name": "level", "categories": ["user.account.settings"]}]}]}])
    return manifest, engine_url, service_url


def test_batches_walk_the_keys_past_rows_kept_and_take_every_due_row(
        tmp_path: Path, db_url: str) -> None:
    """Seed 001's course rule (GDPR Art. 5(1)(e)) with a batch of 2: nine due rows in five
    batches, the three kept on request and the one not yet due left, in one sweep."""
    manifest, engine_url, service_url = _enrolments(tmp_path, db_url)
    due = sorted(set(range(1, 13)) - KEPT)
    with runtime(manifest, engine_url, NOW) as rt:
        planned = next(r for r in plan(rt, NOW)["rules"] if r["rule"] == "course_end")
        assert planned["rows"] == len(due) == 9
        done = sweep(rt, NOW, batch=2)
        course = next(r for r in done["rules"] if r["rule"] == "course_end")
        assert course["rows"] == 9 and course["tables"][0]["examples"] == due[:len(
            course["tables"][0]["examples"])]
        assert column(service_url, "SELECT id FROM enrolments ORDER BY id") == [4, 5, 9, 13]
        again = sweep(rt, NOW, batch=2)  # nothing left to take
        assert all(r["rows"] == 0 for r in again["rules"])
        assert column(service_url, "SELECT id FROM enrolments ORDER BY id") == [4, 5, 9, 13]
