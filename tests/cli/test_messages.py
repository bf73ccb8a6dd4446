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


def test_check_summary_says_1_note() -> None:
    out = run_personvern("check", str(ROOT / "examples" / "lillemini.yaml"))
    assert out.returncode == 1
    assert out.stdout.splitlines()[-1].endswith(": 33 errors, 16 warnings, 1 note")
