"""A high-risk breach whose e-mails to the people failed for good is not closed as if they
were told (GDPR Art. 34(1)): the outbox will not send them again, so someone must tell
those people another way (recorded as a subject_notice) or give the Art. 34(3) reason."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from mail.support import SmtpServer, smtp_server  # noqa: F401
from personvern.breach.register import (
    add_update,
    close_breach,
    get_breach,
    notify_subjects,
    record_breach,
    status,
)
from personvern.clock import Clock
from personvern.consent.subjects import create_subject
from personvern.errors import InvalidInput
from personvern.mail.smtp import send_pending
from personvern.manifest.loader import load_manifest
from personvern.manifest.model import Manifest

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples"


def snapmentor() -> Manifest:
    return load_manifest(EXAMPLES / "snapmentor.yaml").manifest


def _high_risk_breach_with_a_failed_letter(session: Session, clock: Clock,
                                           server: SmtpServer) -> str:
    server.handler.refuse["ola@example.no"] = "550 5.1.1 no such user"
    for email in ("ola@example.no", "kari@example.no"):
        create_subject(session, clock, {"email": email})
    b = record_breach(session, clock, title="Stolen laptop", risk="high",
                      description="A laptop with pupils' profiles was stolen",
                      aware_at=datetime.fromisoformat("2027-03-01T08:00:00+01:00"),
                      consequences="Phishing", measures="Passwords reset")
    add_update(session, clock, b.id, "authority_notice", "Sent via Altinn")
    notify_subjects(session, clock, b.id, snapmentor(), all_subjects=True)
    session.commit()
    report = send_pending(session, clock, server.host, server.port, "dpo@snapmentor.no")
    assert (report.sent, report.failed) == (1, 1)
    return b.id


def test_art34_1_close_is_refused_while_a_letter_failed_for_good(
        db_session: Session, clock: Clock, smtp_server: SmtpServer) -> None:  # noqa: F811
    bid = _high_risk_breach_with_a_failed_letter(db_session, clock, smtp_server)
    with pytest.raises(InvalidInput, match=r"1 e-mail to the people failed for good.*"
                                           r"not told \(GDPR Art\. 34\(1\)\)"):
        close_breach(db_session, clock, bid)
    db_session.rollback()
    assert status(get_breach(db_session, bid), clock()) == "notified"


def test_art34_1_told_another_way_then_closed(
        db_session: Session, clock: Clock, smtp_server: SmtpServer) -> None:  # noqa: F811
    bid = _high_risk_breach_with_a_failed_letter(db_session, clock, smtp_server)
    add_update(db_session, clock, bid, "subject_notice", "Told Ola by phone")
    close_breach(db_session, clock, bid)
    assert status(get_breach(db_session, bid), clock()) == "closed"


def test_art34_3_an_exemption_closes_it_too(
        db_session: Session, clock: Clock, smtp_server: SmtpServer) -> None:  # noqa: F811
    bid = _high_risk_breach_with_a_failed_letter(db_session, clock, smtp_server)
    close_breach(db_session, clock, bid,
                 subjects_exemption="A public notice on the website (Art. 34(3)(c))")
    assert status(get_breach(db_session, bid), clock()) == "closed"


def test_art34_1_the_report_says_told_once_the_failed_letters_are_answered(
        db_session: Session, clock: Clock, smtp_server: SmtpServer) -> None:  # noqa: F811
    from personvern.breach.report import build_report, render

    bid = _high_risk_breach_with_a_failed_letter(db_session, clock, smtp_server)
    before = build_report(db_session, bid, snapmentor(), clock(), "en")
    assert before["subjects_informed"]["informed"] is False
    assert "Not yet: the e-mail to the people has not been delivered to all" in render(before, "md")
    add_update(db_session, clock, bid, "subject_notice", "Told Ola by phone")
    after = build_report(db_session, bid, snapmentor(), clock(), "en")
    assert after["subjects_informed"]["informed"] is True
    assert after["subjects_informed"]["mail"] == {"sent": 1, "waiting": 0, "failed": 1}
    assert "Told Ola by phone" in after["subjects_informed"]["how"]
