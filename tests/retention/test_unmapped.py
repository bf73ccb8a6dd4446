"""A retention rule that reaches no mapped data is said to be unenforced, loudly: never the
"nothing is due" a sweep of checked data would print (GDPR Art. 5(1)(e))."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


def test_a_mapped_table_no_purpose_holds_is_said_to_be_unenforced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SnapMentor example maps the demo's newsletter list, whose addresses no purpose of
    the seed uses: no rule reaches it, and plan says so (and `check`, PV091) instead of
    skipping it. With the profile's sessions, messages and sign-ins mapped as the profile's
    too ("tilhørende personopplysninger"), they are reached, and `check` says instead that
    the seed never names their notes, bodies and IP addresses (PV092)."""
    from demo_support import demo_cli, fresh_demo

    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    demo = fresh_demo(tmp_path, 10)
    manifest = demo / "personvern.yaml"
    example = (ROOT / "examples" / "snapmentor.yaml").read_text(encoding="utf-8")
    manifest.write_text(example.replace("url_env: SNAPMENTOR_DATABASE_URL",
                                        f"url: sqlite:///{demo / 'service.db'}"),
                        encoding="utf-8")
    done = demo_cli(demo, "retention", "plan", now=NOW)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [x for x in done.stdout.splitlines() if "no purpose uses its categories" in x]
    assert [x.split(":")[1].strip() for x in lines] == ["customer_database.marketing_list"]
    checked = run_personvern("check", str(manifest))
    assert checked.stdout.count("PV091") == 1
    unsaid = [x for x in checked.stdout.splitlines() if " PV092 " in x]
    assert any("user.content.private is held in customer_database.sessions.notes, "
               "customer_database.messages.body" in x for x in unsaid), unsaid
