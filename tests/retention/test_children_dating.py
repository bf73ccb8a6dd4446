"""A row dated by the rows that refer to it: a Vekstly participant by the end of their
last course (``dates: {course_end: enrolments.course_ends_on}``).

Seed 001: "Når kurset du deltar på er over, sletter vi opplysningene om deg, med mindre du
ønsker at vi beholder dem til neste gang du vil på kurs." A participant on two courses
keeps their details until the second has ended; one who asked to keep them (the
enrolment's keep flag) keeps them; their cookie records go with them (GDPR Art. 5(1)(e)).
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from demo_support import demo_cli, fresh_demo


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    return fresh_demo(tmp_path, 20, template="vekstly")


def pv(demo: Path, *args: str, now: str) -> tuple[int, str]:
    done = demo_cli(demo, *args, now=now)
    return done.returncode, done.stdout + done.stderr


def sql(demo: Path, query: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(demo / "service.db") as conn:
        return conn.execute(query, params).fetchall()


def courses_for(demo: Path, person: int, *ends: tuple[date, bool]) -> None:
    """Replace the participant's enrolments with courses ending on these dates."""
    course = sql(demo, "SELECT id FROM courses LIMIT 1")[0][0]
    sql(demo, "DELETE FROM enrolments WHERE participant_id = ?", person)
    for n, (end, keep) in enumerate(ends):
        sql(demo, "INSERT INTO enrolments (participant_id, course_id, level, enrolled_at, "
                  "course_ends_on, keep_until_next_course) VALUES (?, ?, 'nybegynner', ?, ?, ?)",
            person, course, f"2026-0{n + 1}-01 10:00:00", end.isoformat(), keep)


def email(demo: Path, person: int) -> str:
    return str(sql(demo, "SELECT email FROM participants WHERE id = ?", person)[0][0])


def sweep(demo: Path, now: str) -> str:
    code, out = pv(demo, "retention", "run", "--reason", "course sweep", now=now)
    assert code == 0, out
    return out


def test_a_participant_stays_until_their_last_course_has_ended(demo: Path) -> None:
    two, kept, one = (r[0] for r in sql(demo, "SELECT id FROM participants ORDER BY id LIMIT 3"))
    courses_for(demo, two, (date(2027, 3, 1), False), (date(2027, 9, 1), False))
    courses_for(demo, kept, (date(2027, 3, 1), True))
    courses_for(demo, one, (date(2027, 3, 1), False))
    addresses = {p: email(demo, p) for p in (two, kept, one)}
    cookies = len(sql(demo, "SELECT id FROM cookie_records WHERE participant_id = ?", two))

    out = sweep(demo, "2027-04-01T12:00:00+02:00")
    assert "latest enrolments.course_ends_on of the rows referring to participants" in out
    # The first course is over for all three; only the one-course participant is done.
    assert email(demo, one).startswith("slettet-")
    assert email(demo, two) == addresses[two]
    assert sql(demo, "SELECT course_ends_on FROM enrolments WHERE participant_id = ?", two) \
        == [("2027-09-01",)]
    # Asked to keep them until the next course: kept, details and enrolment.
    assert email(demo, kept) == addresses[kept]
    assert len(sql(demo, "SELECT id FROM enrolments WHERE participant_id = ?", kept)) == 1

    out = sweep(demo, "2027-09-02T12:00:00+02:00")
    assert email(demo, two).startswith("slettet-")
    assert not sql(demo, "SELECT id FROM enrolments WHERE participant_id = ?", two)
    # Their cookie records were dated by the same last course, through participant_id.
    if cookies:
        assert not sql(demo, "SELECT id FROM cookie_records WHERE participant_id = ?", two)
    assert email(demo, kept) == addresses[kept]


@pytest.mark.parametrize(("value", "message"), [
    ("enrolmnts.course_ends_on", "'enrolmnts' is not a mapped table of dataset 'vekstly'"),
    ("courses.starts_on", "courses does not refer to participants"),
    ("enrolments.level", "enrolments.level is VARCHAR(40), not a date or timestamp"),
    ("enrolments.ends", "enrolments.ends does not exist in the database"),
])
def test_a_wrong_children_date_is_refused_with_its_place(demo: Path, value: str,
                                                         message: str) -> None:
    path = demo / "personvern.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("course_end: enrolments.course_ends_on",
                                 f"course_end: {value}"), encoding="utf-8")
    line = next(i for i, x in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if f"course_end: {value}" in x)
    before = sql(demo, "SELECT * FROM participants ORDER BY id")
    code, out = pv(demo, "retention", "run", "--reason", "sweep",
                   now="2030-01-01T12:00:00+01:00")
    assert code == 2, out
    assert f"personvern.yaml:{line}:" in out and message in out
    assert sql(demo, "SELECT * FROM participants ORDER BY id") == before


def test_a_table_dated_by_its_children_cannot_be_deleted_row_by_row(demo: Path) -> None:
    path = demo / "personvern.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(
        "        erase: mask      # the row stays: receipts (bookkeeping) refer to it\n", "", 1),
        encoding="utf-8")
    code, out = pv(demo, "retention", "plan", now="2030-01-01T12:00:00+01:00")
    assert code == 2, out
    assert "participants is dated by the rows referring to it" in out and "erase: mask" in out
