"""``personvern org leave`` says "left" only with what it did: when the data map marks no
table with an organisation's rows (``organisation:``), their rows were not looked for, and
the report says so instead of passing the members' erasure off as the whole leaving."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from cli_inprocess import run_personvern
from demo_support import DEMO_NOW

REASON = "the customer contract ended on 31 December"


def cli(demo: Path, *args: str) -> Any:
    env = {**os.environ, "PERSONVERN_MANIFEST": str(demo / "personvern.yaml"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{demo / 'personvern.db'}"}
    return run_personvern(*args, "--now", DEMO_NOW.isoformat(), env=env)


def test_leaving_says_the_organisations_own_rows_were_not_looked_for(demo: Path) -> None:
    path = demo / "personvern.yaml"
    text = path.read_text(encoding="utf-8")
    unmarked = re.sub(r"\n\s*organisation: orgnr[^\n]*", "", text)
    assert unmarked != text
    path.write_text(unmarked, encoding="utf-8")
    left = cli(demo, "org", "leave", "100000075", "--reason", REASON)
    assert left.returncode == 0, left.stderr
    out = left.stdout
    assert "members erased: 10" in out
    assert "not enforced: the data map marks no table with an organisation's rows " \
        "(organisation: on a table), so its own rows were not looked for" in out, out
    other = next(o["id"] for o in json.loads(cli(demo, "org", "list", "--json").stdout)
                 if o["left_at"] is None)
    left = cli(demo, "org", "leave", str(other), "--reason", REASON, "--json")
    assert left.returncode == 0, left.stderr
    assert json.loads(left.stdout)["own_rows_not_mapped"] is True
