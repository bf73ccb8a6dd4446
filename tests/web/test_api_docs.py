"""docs/api.md's scope tables are written from the routes and must not drift from them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from personvern.web.problems import TYPES
from personvern.web.reference import (
    BEGIN,
    END,
    TYPES_BEGIN,
    TYPES_END,
    render_scopes,
    render_types,
    rewrite,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_api_md_scope_tables_are_up_to_date() -> None:
    written = DOC.read_text(encoding="utf-8")
    assert rewrite(written) == written, (
        "docs/api.md's scope tables are out of date with the routes; run `make docs`")
    assert "| `POST /api/v1/policy/versions` | `policy:publish` |" in written
    assert "| `POST /api/v1/requests/{request_id}/run` | `requests:run` |" in written


def test_make_docs_rewrites_only_the_tables(tmp_path: Path) -> None:
    doc = tmp_path / "api.md"
    doc.write_text(f"# before\n\n{BEGIN}stale\n{END}\n## mid\n{TYPES_BEGIN}old\n{TYPES_END}"
                   "## after\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "personvern.web.reference", str(doc)],
                   capture_output=True, timeout=60, check=True)
    assert doc.read_text(encoding="utf-8") == (
        f"# before\n\n{render_scopes()}\n## mid\n{render_types()}## after\n")


def test_every_problem_type_is_documented_with_what_to_do() -> None:
    written = DOC.read_text(encoding="utf-8")
    for t in TYPES.values():
        row = next(line for line in written.splitlines() if line.startswith(f"| `{t.uri}` |"))
        assert row.endswith(f"| {t.what_to_do} |") and len(t.what_to_do) > 30, t.slug
