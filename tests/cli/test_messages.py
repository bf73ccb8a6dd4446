"""Messages read well: a count of one takes the singular ("1 note", not "1 notes")."""

from __future__ import annotations

from pathlib import Path

from cli_inprocess import run_personvern
from personvern.wording import count

ROOT = Path(__file__).resolve().parents[2]


def test_count_takes_the_number_of_its_noun() -> None:
    assert [count(0, "note"), count(1, "note"), count(2, "note")] == ["0 notes", "1 note",
                                                                       "2 notes"]
    assert [count(1, "person", "people"), count(1497, "person", "people")] == [
        "1 person", "1,497 people"]


def test_check_summary_says_1_note(tmp_path: Path) -> None:
    """The blank template with one declared commitment: its one note (PV088) says what
    Personvern does not check of it."""
    manifest = tmp_path / "personvern.yaml"
    blank = (ROOT / "src" / "personvern" / "templates" / "blank.yaml").read_text(
        encoding="utf-8")
    manifest.write_text(blank + "\ncommitments:\n  - kind: never_sold\n", encoding="utf-8")
    out = run_personvern("check", str(manifest))
    assert out.returncode == 0
    assert out.stdout.splitlines()[-1].endswith(": 0 errors, 0 warnings, 1 note")
