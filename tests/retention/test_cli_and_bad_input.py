"""``personvern retention plan|run`` as a person types them, and every bad input: a rule
with an unknown trigger or a negative duration, a date column the database lacks, a keep
flag that is not a boolean, a clock that goes backwards, a bad --now or --batch. Each is
exit code 2 with one clear line (file:line:column for the manifest) and changes nothing.
The commands run in the test process (tests/cli_inprocess.py); tests/retention/test_crash.py
runs the installed script and kills it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli_inprocess import run_personvern
from personvern.demo.init import init_demo
from retention.support import column, scalar

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
LATER = "2027-06-01T12:00:00+00:00"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 80, now=NOW)
    return directory


@pytest.fixture
def demo(template: Path, tmp_path: Path) -> Path:
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, tmp_path / name)
    (tmp_path / "personvern.yaml").write_text(
        (template / "personvern.yaml").read_text(encoding="utf-8").replace(
            str(template / "service.db"), str(tmp_path / "service.db")), encoding="utf-8")
    return tmp_path


def pv(demo: Path, *args: str, reason: str | None = "test sweep"
       ) -> subprocess.CompletedProcess[str]:
    why = ["--reason", reason] if args[0] == "run" and reason is not None else []
    return run_personvern("retention", *args, *why, "--manifest", str(demo / "personvern.yaml"),
                          "--db", f"sqlite:///{demo / 'personvern.db'}")


def edit(demo: Path, old: str, new: str) -> tuple[int, int]:
    """Replace text in the demo manifest; the 1-based (line, column) of the change."""
    path = demo / "personvern.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    before = text[:text.index(old)]
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def service_rows(demo: Path) -> int:
    url = f"sqlite:///{demo / 'service.db'}"
    return sum(int(scalar(url, f"SELECT count(*) FROM {t}")) for t in (
        "users", "sessions", "purchases", "invoices", "messages", "login_events",
        "marketing_list"))


def test_plan_changes_nothing_and_run_does_what_it_said(demo: Path) -> None:
    before = service_rows(demo)
    planned = pv(demo, "plan", "--now", LATER, "--json")
    assert planned.returncode == 0, planned.stderr
    data = json.loads(planned.stdout)
    assert data["dry_run"] is True and service_rows(demo) == before
    logs = next(r for r in data["rules"] if r["rule"] == "logs")
    assert "six months" in logs["reason"] and logs["rows"] > 0
    assert logs["tables"][0]["examples"]  # row keys, no personal values
    text = pv(demo, "plan", "--now", LATER)
    assert "rule logs:" in text.stdout and "login_events: delete rows" in text.stdout
    ran = pv(demo, "run", "--now", LATER, "--json")
    assert ran.returncode == 0, ran.stderr
    done = json.loads(ran.stdout)
    assert {r["rule"]: r["rows"] for r in done["rules"]} == {
        r["rule"]: r["rows"] for r in data["rules"]}
    assert service_rows(demo) == before - sum(
        t["rows"] for r in data["rules"] for t in r["tables"]
        if t["action"] == "delete rows")
    again = json.loads(pv(demo, "run", "--now", LATER, "--json").stdout)
    assert again["rules"] == []  # idempotent: nothing left to do
    url = f"sqlite:///{demo / 'personvern.db'}"
    actions = column(url, "SELECT action FROM audit_events WHERE actor = 'retention'")
    assert actions.count("retention.sweep.start") == 2 and "retention.batch" in actions


def test_a_clock_that_goes_backwards_is_refused(demo: Path) -> None:
    assert pv(demo, "run", "--now", LATER).returncode == 0
    before = service_rows(demo)
    back = pv(demo, "run", "--now", "2027-05-31T12:00:00+00:00")
    assert back.returncode == 2
    assert back.stderr.strip().splitlines() == [
        "error: the clock went backwards: a sweep already ran at 2027-06-01T12:00:00+00:00, "
        "later than --now 2027-05-31T12:00:00+00:00; nothing was changed"]
    assert service_rows(demo) == before


@pytest.mark.parametrize(("args", "message"), [
    (("--now", "2027-06-01T12:00:00"), "needs a UTC offset"),
    (("--now", "tomorrow"), "is not an ISO 8601 time"),
    (("--now", LATER, "--batch", "0"), "--batch"),
])
def test_bad_options(demo: Path, args: tuple[str, ...], message: str) -> None:
    before = service_rows(demo)
    result = pv(demo, "run", *args)
    assert result.returncode == 2 and message in result.stderr
    assert service_rows(demo) == before


@pytest.mark.parametrize(("reason", "message"), [
    (None, "Missing option '--reason'"),
    ("   ", "say why you run the retention sweep now (the reason is kept in the audit log)"),
    ("x" * 2001, "the reason is too long: at most 2000 characters"),
])
def test_a_sweep_needs_a_reason(demo: Path, reason: str | None, message: str) -> None:
    before = service_rows(demo)
    result = pv(demo, "run", "--now", LATER, reason=reason)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert service_rows(demo) == before


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    trigger: collected\n", "    trigger: when_we_feel_like_it\n",
     "expected one of collected, last_activity"),
    ("    duration: 6 months\n", "    duration: -6 months\n", "is negative"),
    ("dates: {collected: at}", "dates: {whenever: at}", "expected one of collected"),
    ("dates: {collected: at}", "dates: {collected: logged_at}",
     "login_events.logged_at does not exist in the database"),
    ("dates: {collected: at}", "dates: {collected: ip}", "login_events.ip is VARCHAR(45), not a "
                                                          "date or timestamp"),
    ("      - name: login_events\n", "      - name: login_events\n        keep_flag: ip\n",
     "login_events.ip is not a boolean"),
    ("        dates: {fiscal_year_end: purchased_at}\n", "",
     "hold 'books' cannot be dated for purchases"),
])
def test_bad_rules_and_maps_are_errors_with_their_place(
        demo: Path, old: str, new: str, message: str) -> None:
    line, _ = edit(demo, old, new)
    before = service_rows(demo)
    for command in ("plan", "run") if "negative" in message else ("run",):
        result = pv(demo, command, "--now", LATER)
        assert result.returncode == 2, result.stdout
        first = result.stderr.strip().splitlines()[0]
        assert message in first
        found = re.match(r"(.+personvern\.yaml):(\d+):(\d+): error: ", first)
        assert found, first
        assert abs(int(found.group(2)) - line) <= 2  # the line of the change, or its key
    assert service_rows(demo) == before
