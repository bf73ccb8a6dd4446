"""A retention rule that reaches no mapped data is said to be unenforced, loudly: never the
"nothing is due" a sweep of checked data would print (GDPR Art. 5(1)(e))."""

from __future__ import annotations

import json
from pathlib import Path

from cli_inprocess import run_personvern

ROOT = Path(__file__).resolve().parents[2]
NOW = "2027-06-01T12:00:00+02:00"


def test_a_manifest_without_a_data_map_enforces_nothing_and_says_so(tmp_path: Path) -> None:
    # Seed 001's policy without its data map, as a manifest starts out.
    text = (ROOT / "examples" / "vekstly.yaml").read_text(encoding="utf-8")
    unmapped = tmp_path / "vekstly.yaml"
    unmapped.write_text(text[:text.index("\ndatasets:")], encoding="utf-8")
    where = ["-m", str(unmapped),
             "--db", f"sqlite:///{tmp_path / 'pv.db'}", "--now", NOW]
    plan = run_personvern("retention", "plan", *where)
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert "nothing is due" not in lines
    assert "nothing is due in the mapped data" in lines
    unenforced = [line for line in lines if line.startswith("not enforced: rule ")]
    assert [line.split()[3] for line in unenforced] == [
        "course_end", "until_unsubscribed", "payment", "bookkeeping"]
    assert all("the manifest maps no dataset" in line for line in unenforced)
    data = json.loads(run_personvern("retention", "plan", *where, "--json").stdout)
    assert [u["rule"] for u in data["unmapped"]] == [
        "course_end", "until_unsubscribed", "payment", "bookkeeping"]
    assert data["unmapped"][0]["purposes"]  # which published purposes it leaves unkept
