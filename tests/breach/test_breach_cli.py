"""``personvern breach``: record, list, show, notify, update, report and close, with --now."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from breach.support import EXAMPLES, T0, ok, run
from personvern.breach.tables import Breach, BreachUpdate
from personvern.errors import InvalidInput, NotFound
from personvern.mail.tables import OutboxMessage
from personvern.storage.engine import create_engine_for
from personvern.storage.models import AuditEvent

EXE = str(Path(sys.executable).parent / "personvern")
AWARE = "2027-03-01T09:00:00+01:00"


def counts(opts: list[str]) -> tuple[int, ...]:
    engine = create_engine_for(opts[3])
    try:
        with Session(engine) as s:
            return tuple(s.scalar(select(func.count()).select_from(t)) or 0
                         for t in (Breach, BreachUpdate, AuditEvent, OutboxMessage))
    finally:
        engine.dispose()


RECORD = ("breach", "record", "--title", "Lost laptop", "--description",
          "A laptop with profile exports was stolen", "--risk", "high", "--aware-at", AWARE,
          "--data-category", "user.name", "--data-category", "user.contact.email",
          "--subject-category", "employees", "--subjects", "120", "--records", "300",
          "--nature", "confidentiality", "--consequences", "Phishing",
          "--measures", "Remote wipe", "--discovery", "The owner reported it")


def test_full_flow(opts: list[str]) -> None:
    view = ok(opts, *RECORD, "--now", T0)
    assert view["id"] == "B-2027-001" and view["status"] == "awaiting_notice"
    assert view["deadline"].startswith("2027-03-04T08:00:00")  # 09:00 +01:00, stored in UTC
    assert view["time_left_seconds"] == 69 * 3600 and view["subjects_must_be_told"]
    human = run(opts, "breach", "show", "B-2027-001", "--now", "2027-03-03T09:00:00+01:00")
    assert "deadline:     2027-03-04 09:00 +0100  (24 h 0 min left)" in human.stdout
    assert "people:       must be told: high risk (GDPR Art. 34)" in human.stdout
    listed = ok(opts, "breach", "list", "--now", T0)
    assert [b["id"] for b in listed] == ["B-2027-001"]
    notified = ok(opts, "breach", "notify", "B-2027-001", "--authority", "--text",
                  "Sent via Altinn", "--now", "2027-03-02T10:00:00+01:00")
    assert notified["status"] == "notified" and notified["late"] is False
    ok(opts, "breach", "update", "B-2027-001", "--kind", "phase", "--text", "312 profiles",
       "--now", "2027-03-03T10:00:00+01:00")
    subject = ok(opts, "subject", "add", "--email", "ola@example.no", "--now", T0)
    told = ok(opts, "breach", "notify", "B-2027-001", "--subjects", "--subject", subject["id"],
              "--now", "2027-03-03T11:00:00+01:00")
    assert told["subjects_notified_at"] is not None
    report = run(opts, "breach", "report", "B-2027-001", "--format", "json", "--lang", "en",
                 "--now", "2027-03-03T12:00:00+01:00")
    data = json.loads(report.stdout)
    assert data["notice"]["phases"] == 2
    # Queued is not told (Art. 34(1)): the letter has not left the outbox.
    assert data["subjects_informed"]["informed"] is False
    assert data["subjects_informed"]["mail"] == {"sent": 0, "waiting": 1, "failed": 0}
    shown = run(opts, "breach", "show", "B-2027-001", "--now", "2027-03-03T12:00:00+01:00")
    assert "people:       not yet told: e-mail queued 2027-03-03 11:00 +0100, 0 sent, 1 waiting" \
        in shown.stdout
    assert data["times"]["discovery"] == "The owner reported it"
    md = run(opts, "breach", "report", "B-2027-001", "--now", T0).stdout
    assert md.startswith("# Melding om brudd på personopplysningssikkerheten: B-2027-001")
    closed = ok(opts, "breach", "close", "B-2027-001", "--now", "2027-03-10T12:00:00+01:00")
    assert closed["status"] == "closed"
    assert ok(opts, "breach", "list", "--open", "--now", T0) == []
    assert counts(opts)[3] == 1  # one e-mail queued


def test_no_risk_breach_is_documented(opts: list[str]) -> None:
    view = ok(opts, "breach", "record", "--title", "Misdirected e-mail", "--description",
              "One e-mail to the wrong colleague", "--risk", "low", "--no-notice-reason",
              "Deleted unread, confirmed in writing", "--now", T0)
    assert view["status"] == "no_notice_required" and view["notify_authority"] is False
    assert view["no_notice_reason"] == "Deleted unread, confirmed in writing"
    human = run(opts, "breach", "list", "--now", T0).stdout
    assert "no_notice_required" in human and "Misdirected e-mail" in human


BAD: dict[str, tuple[list[str], type[Exception], str]] = {
    "awareness in the future": (
        [*RECORD[:-2], "--aware-at", "2027-03-05T09:00:01+01:00"], InvalidInput,
        "is in the future"),
    "risk none without a reason": (
        ["breach", "record", "--title", "x", "--description", "y", "--risk", "none"],
        InvalidInput, "give the reason the breach is unlikely to result in a risk"),
    "unknown risk": (
        ["breach", "record", "--title", "x", "--description", "y", "--risk", "severe"],
        InvalidInput, "unknown risk 'severe'"),
    "awareness without offset": (
        ["breach", "record", "--title", "x", "--description", "y", "--risk", "high",
         "--aware-at", "2027-03-01T09:00"], InvalidInput, "needs a UTC offset"),
    "unknown id (show)": (["breach", "show", "B-2027-404"], NotFound, "no breach 'B-2027-404'"),
    "unknown id (report)": (["breach", "report", "X"], NotFound, "no breach 'X'"),
    "unknown id (close)": (["breach", "close", "X"], NotFound, "no breach 'X'"),
    "late notice without reason": (
        ["breach", "notify", "B-2027-001", "--authority"], InvalidInput,
        "late (deadline 2027-03-04T09:00+01:00); give the reasons for the delay"),
    "notify both ways": (
        ["breach", "notify", "B-2027-001", "--authority", "--subjects"], InvalidInput,
        "choose one: --authority or --subjects"),
    "unknown subject": (
        ["breach", "notify", "B-2027-001", "--subjects", "--subject", "ghost"], NotFound,
        "no subject 'ghost'; nothing was queued"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_changes_nothing(case: str, opts: list[str]) -> None:
    ok(opts, *RECORD, "--now", T0)
    before = counts(opts)
    args, error, message = BAD[case]
    result = run(opts, *args, "--now", "2027-03-05T09:00:00+01:00")
    assert result.exit_code == 1 and isinstance(result.exception, error), result.output
    assert message in str(result.exception)
    assert counts(opts) == before


def test_the_people_are_told_once_the_assessment_says_what_to_tell_them(
        opts: list[str]) -> None:
    """GDPR Art. 34(2): no letter without the likely consequences and the measures;
    `assess` records them as they become known, without changing the risk."""
    bare = [a for i, a in enumerate(RECORD) if a not in ("--consequences", "--measures")
            and RECORD[i - 1] not in ("--consequences", "--measures")]
    ok(opts, *bare, "--now", T0)
    subject = ok(opts, "subject", "add", "--email", "ola@example.no", "--now", T0)
    before = counts(opts)
    refused = run(opts, "breach", "notify", "B-2027-001", "--subjects", "--all", "--now", T0)
    assert refused.exit_code == 1 and isinstance(refused.exception, InvalidInput)
    assert "GDPR Art. 34(2)" in str(refused.exception)
    assert counts(opts) == before
    view = ok(opts, "breach", "assess", "B-2027-001", "--consequences", "Targeted phishing",
              "--measures", "Passwords reset", "--now", T0)
    assert (view["consequences"], view["measures"], view["risk"]) == (
        "Targeted phishing", "Passwords reset", "high")
    told = ok(opts, "breach", "notify", "B-2027-001", "--subjects", "--subject", subject["id"],
              "--now", T0)
    assert told["subjects_notified_at"] is not None


def test_bad_option_values_are_usage_errors(opts: list[str]) -> None:
    result = run(opts, "breach", "update", "B-2027-001", "--kind", "gossip", "--text", "x")
    assert result.exit_code == 2
    result = run(opts, "breach", "record", "--title", "x", "--description", "y", "--risk",
                 "high", "--subjects", "many")
    assert result.exit_code == 2


def test_installed_script(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PERSONVERN_MANIFEST": str(EXAMPLES / "minmentor.yaml"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{tmp_path / 'pv.db'}",
           "PERSONVERN_MASTER_KEY": os.environ["PERSONVERN_MASTER_KEY"]}

    def pv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EXE, *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)

    made = pv(*RECORD, "--now", T0, "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["id"] == "B-2027-001"
    future = pv("breach", "record", "--title", "x", "--description", "y", "--risk", "high",
                "--aware-at", "2030-01-01T00:00:00+01:00", "--now", T0)
    assert future.returncode == 2 and future.stderr.startswith("error: awareness time")
    missing = pv("breach", "show", "B-2027-404")
    assert missing.returncode == 1 and "no breach 'B-2027-404'" in missing.stderr
    late = pv("breach", "notify", "B-2027-001", "--authority", "--now",
              "2027-03-05T09:00:00+01:00")
    assert late.returncode == 2 and "give the reasons for the delay" in late.stderr
    shown = pv("breach", "show", "B-2027-001", "--now", "2027-03-05T09:00:00+01:00")
    assert "status:       overdue" in shown.stdout and "(24 h 0 min overdue)" in shown.stdout
    report = pv("breach", "report", "B-2027-001", "--format", "html", "--lang", "en")
    assert report.returncode == 0 and '<html lang="en">' in report.stdout
