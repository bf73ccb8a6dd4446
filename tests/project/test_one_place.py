"""Each legal rule is decided in one place: the tests read the source to keep it so."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "personvern"
# Both weighed bases of GDPR Art. 21(1) named together in code: an objection decided here.
_WEIGHED = re.compile(r"""["']legitimate_interests["']\s*,\s*["']public_task["']"""
                      r"""|["']public_task["']\s*,\s*["']legitimate_interests["']""")


def _code(path: Path) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1)
            if not line.lstrip().startswith("#")]


def _outside(*homes: str) -> list[Path]:
    return [p for p in SRC.rglob("*.py")
            if not any(p.is_relative_to(SRC / home) for home in homes)]


def test_the_right_to_object_is_decided_only_in_rights() -> None:
    """GDPR Art. 21(1): which bases may be objected to is answered by personvern.rights."""
    found = [f"{p.relative_to(SRC)}:{n}" for p in _outside("rights")
             for n, line in _code(p) if _WEIGHED.search(line)]
    assert found == []


def test_ages_are_computed_only_by_law_and_rights() -> None:
    """Art. 8(1) and vergemålsloven § 2 ages are weighed by personvern.rights alone."""
    found = [f"{p.relative_to(SRC)}:{n}" for p in _outside("law", "rights")
             for n, line in _code(p)
             if "age_on(" in line or "AGE_OF_MAJORITY" in line or "child_consent_age or" in line]
    assert found == []
