"""The breach report holds every field of Datatilsynet's notification form."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mail.support import SmtpServer, smtp_server  # noqa: F401
from markup_support import HOSTILE, Markup
from personvern.breach.register import add_update, assess_risk, record_breach
from personvern.breach.report import build_report, render
from personvern.clock import Clock, fixed_clock
from personvern.errors import InvalidInput, NotFound
from personvern.manifest.loader import load_manifest
from personvern.manifest.model import Manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# What the form asks (GDPR Art. 33(3) and Datatilsynet's schema), as report keys.
FORM_FIELDS = {
    "controller": {"name", "orgnr", "address", "email", "phone"},
    "contact": {"name", "email", "phone"},
    "notice": {"type", "required", "reason_not_required", "phases"},
    "times": {"occurred_at", "aware_at", "deadline", "notified_at", "late", "late_reason",
              "discovery"},
    "what": {"title", "description", "nature"},
    "people": {"subject_categories", "approx_subjects", "data_categories",
               "special_categories", "approx_records"},
    "subjects_informed": {"informed", "at", "how", "required"},
    "cross_border": {"cross_border", "countries"},
}


@cache
def snapmentor() -> Manifest:
    return load_manifest(EXAMPLES / "snapmentor.yaml").manifest


@pytest.fixture
def breach_id(db_session: Session, clock: Clock) -> str:
    b = record_breach(
        db_session, clock, title="Wrong recipients", risk="risk",
        description="A newsletter went out with every address visible",
        aware_at=datetime.fromisoformat("2027-03-01T08:00:00+01:00"),
        occurred_at=datetime.fromisoformat("2027-02-28T20:00:00+01:00"),
        data_categories=["user.contact.email", "user.name"], subject_categories=["parents"],
        approx_subjects=800, approx_records=800, consequences="Spam and phishing",
        measures="Asked recipients to delete it", nature=["confidentiality"],
        cross_border=True, countries=["SE"], discovery="A customer told us",
        manifest=snapmentor(),
    )
    later = fixed_clock(datetime.fromisoformat("2027-03-02T09:00:00+01:00"))
    add_update(db_session, later, b.id, "authority_notice", "Sent via Altinn")
    add_update(db_session, later, b.id, "phase", "Final count: 812")
    db_session.commit()
    return b.id


def test_report_has_every_field_of_the_form(db_session: Session, clock: Clock,
                                            breach_id: str) -> None:
    r = build_report(db_session, breach_id, snapmentor(), clock(), "nb")
    for section, keys in FORM_FIELDS.items():
        assert keys <= set(r[section]), section
    assert r["dpo"] == {"name": None, "email": "snapmentor@gmail.com", "phone": None}
    assert r["controller"]["name"] == "SnapMentor AS"
    assert r["times"]["aware_at"] == "2027-03-01T08:00+01:00"
    assert r["times"]["occurred_at"] == "2027-02-28T20:00+01:00"
    assert r["times"]["deadline"] == "2027-03-04T08:00+01:00"
    assert r["times"]["notified_at"] == "2027-03-02T09:00+01:00" and not r["times"]["late"]
    assert r["notice"]["type"] == "followup" and r["notice"]["phases"] == 2
    assert r["what"]["nature_text"] == ["Konfidensialitet"]
    assert r["people"]["subject_categories"] == ["Foreldre og foresatte"]
    assert [c["key"] for c in r["people"]["data_categories"]] == [
        "user.contact.email", "user.name"]
    assert r["people"]["approx_subjects"] == 800
    assert r["consequences"] == "Spam and phishing"
    assert r["measures"] == "Asked recipients to delete it"
    assert r["cross_border"] == {"cross_border": True, "countries": ["SE"]}
    assert r["subjects_informed"]["informed"] is False
    assert r["authority"] == "Datatilsynet"


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_renders_markdown_html_and_json(db_session: Session, clock: Clock, breach_id: str,
                                        lang: str) -> None:
    r = build_report(db_session, breach_id, snapmentor(), clock(), lang)  # type: ignore[arg-type]
    md = render(r, "md")
    heading = ("Melding om brudd på personopplysningssikkerheten" if lang == "nb"
               else "Notification of a personal data breach")
    assert md.startswith(f"# {heading}: {breach_id}")
    assert "Spam and phishing" in md and "A customer told us" in md
    page = render(r, "html")
    parser = HTMLParser()
    parser.feed(page)
    assert f'<html lang="{lang}">' in page and "<caption>" in page
    assert json.loads(render(r, "json"))["breach"] == breach_id


def test_not_notifiable_breach_reports_its_reason(db_session: Session, clock: Clock) -> None:
    b = record_breach(db_session, clock, title="Misdirected mail", description="One letter",
                      risk="low", no_notice_reason="Sent to a colleague under confidentiality",
                      manifest=snapmentor())
    db_session.commit()
    r = build_report(db_session, b.id, snapmentor(), clock(), "en")
    assert r["notice"]["type"] == "not_required" and r["notice"]["required"] is False
    assert r["notice"]["reason_not_required"] == "Sent to a colleague under confidentiality"
    assert "Reason for not notifying | Sent to a colleague" in render(r, "md")


def test_a_notified_breach_assessed_lower_gives_no_reason_for_not_notifying(
        db_session: Session, clock: Clock, breach_id: str) -> None:
    """The authority was notified (GDPR Art. 33(1)); a later, lower assessment keeps its
    reason in the history, but the report must not say "Reason for not notifying" for a
    breach that was notified."""
    assess_risk(db_session, clock, breach_id, "low",
                no_notice_reason="Every recipient confirmed deletion")
    db_session.commit()
    r = build_report(db_session, breach_id, snapmentor(), clock(), "en")
    assert r["notice"]["required"] is True and r["notice"]["reason_not_required"] is None
    assert "Reason for not notifying" not in render(r, "md")
    assert any("Every recipient confirmed deletion" in h["text"] for h in r["history"])


def test_bad_report_requests(db_session: Session, clock: Clock, breach_id: str) -> None:
    with pytest.raises(NotFound, match="no breach 'B-2027-404'"):
        build_report(db_session, "B-2027-404", snapmentor(), clock())
    r = build_report(db_session, breach_id, snapmentor(), clock())
    with pytest.raises(InvalidInput, match="unknown report format 'pdf'"):
        render(r, "pdf")
    with pytest.raises(InvalidInput, match="unknown language"):
        build_report(db_session, breach_id, snapmentor(), clock(), "sv")  # type: ignore[arg-type]


def test_undeclared_data_is_marked_in_the_report(db_session: Session, clock: Clock) -> None:
    b = record_breach(db_session, clock, title="Sick-leave list e-mailed", risk="high",
                      description="A sick-leave list was e-mailed to a supplier",
                      data_categories=["user.name", "user.health.sick_leave"],
                      manifest=snapmentor())
    db_session.commit()
    r = build_report(db_session, b.id, snapmentor(), clock(), "en")
    assert [c["declared"] for c in r["people"]["data_categories"]] == [True, False]
    assert r["people"]["special_categories"] is True  # under user.health (Art. 9)
    assert "[not in the manifest]" in render(r, "md")


FORGERY = "Lost laptop\n# Forged heading\n| x | y |\n> quoted\n- item `code` *bold*"


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row, split on the pipes that are not escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_markdown_keeps_a_note_inside_its_cell(db_session: Session, clock: Clock) -> None:
    b = record_breach(db_session, clock, title="Laptop", risk="low", description=FORGERY,
                      no_notice_reason=FORGERY, measures="# Forged heading", manifest=snapmentor())
    add_update(db_session, clock, b.id, "note", FORGERY)
    db_session.commit()
    report = build_report(db_session, b.id, snapmentor(), clock(), "en")
    md = render(report, "md")
    lines = md.splitlines()
    headings = [line for line in lines if line.startswith("#")]
    assert headings and not [h for h in headings if "Forged" in h]
    rows = [line for line in lines if line.startswith("|")]
    # Every row of every table has the form's two cells; the note added no row of its own.
    assert rows and all(len(_cells(row)) == 2 for row in rows)
    assert not [row for row in rows if _cells(row)[0] in ("x", "> quoted")]
    described = [row for row in rows if _cells(row)[0] == "Description" and "Lost" in row]
    assert described == ["| Description | Lost laptop # Forged heading \\| x \\| y \\| "
                         "\\> quoted - item \\`code\\` \\*bold\\* |"]
    # At the start of a cell "#" is escaped too, though a cell cannot hold a heading.
    assert "| Measures taken or proposed | \\# Forged heading |" in rows
    # The note stays one history item on one line: mid-line, "#" is only text.
    items = [line for line in lines if line.startswith("- ")]
    assert len(items) == len(report["history"]) == 2
    assert items[1].endswith(": Lost laptop # Forged heading \\| x \\| y "
                             "\\| \\> quoted - item \\`code\\` \\*bold\\*")
    assert not [line for line in lines if line.startswith(("> ", "- item", "| x"))]




def test_html_shows_a_hostile_note_as_text(db_session: Session, clock: Clock) -> None:
    b = record_breach(db_session, clock, title="Laptop", risk="low", description=HOSTILE,
                      no_notice_reason=HOSTILE, manifest=snapmentor())
    add_update(db_session, clock, b.id, "note", HOSTILE)
    db_session.commit()
    page = render(build_report(db_session, b.id, snapmentor(), clock(), "en"), "html")
    parser = Markup()
    parser.feed(page)
    assert "script" not in parser.tags and "onmouseover" not in parser.attributes
    # The reader sees the text as written: the reason, the description and the note.
    assert parser.text.count(HOSTILE) == 2 and parser.text.count(f" note: {HOSTILE}") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;onmouseover=alert(2) x" in page


def test_the_people_count_as_told_once_their_email_is_sent(
        db_session: Session, clock: Clock, smtp_server: SmtpServer) -> None:  # noqa: F811
    """GDPR Art. 34(1): the people are told when the notice reaches them. An e-mail still
    in the outbox has told nobody: the report says "not yet" with the outbox's counts,
    and "yes" once a real SMTP server has taken every message."""
    from personvern.breach.register import notify_subjects
    from personvern.consent.subjects import create_subject
    from personvern.mail.smtp import send_pending

    for email in ("ola@example.no", "kari@example.no"):
        create_subject(db_session, clock, {"email": email})
    b = record_breach(
        db_session, clock, title="Stolen laptop", risk="high",
        description="A laptop with pupils' profiles was stolen",
        aware_at=datetime.fromisoformat("2027-03-01T08:00:00+01:00"),
        data_categories=["user.contact.email"], subject_categories=["parents"],
        consequences="Phishing", measures="Passwords reset", nature=["confidentiality"],
        manifest=snapmentor())
    add_update(db_session, clock, b.id, "authority_notice", "Sent via Altinn")
    notify_subjects(db_session, clock, b.id, snapmentor(), all_subjects=True)
    db_session.commit()
    queued = build_report(db_session, b.id, snapmentor(), clock(), "en")
    assert queued["subjects_informed"]["informed"] is False
    assert queued["subjects_informed"]["mail"] == {"sent": 0, "waiting": 2, "failed": 0}
    md = render(queued, "md")
    assert "Not yet: the e-mail to the people has not been delivered to all" in md
    assert "0 sent, 2 waiting to be sent, 0 failed" in md
    sent = send_pending(db_session, clock, smtp_server.host, smtp_server.port,
                        "personvern@snapmentor.no")
    assert sent.sent == 2 and len(smtp_server.handler.received) == 2
    told = build_report(db_session, b.id, snapmentor(), clock(), "en")
    assert told["subjects_informed"]["informed"] is True
    assert "2 sent, 0 waiting to be sent, 0 failed" in render(told, "md")
