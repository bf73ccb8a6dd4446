"""The breach register on a real database: record, the 72-hour clock, phases, people, close."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personvern.audit import verify_audit_chain
from personvern.breach.register import (
    MAIL_KIND,
    add_update,
    assess_risk,
    breach_view,
    close_breach,
    deadline,
    format_delta,
    get_breach,
    list_breaches,
    notify_subjects,
    record_breach,
    recorded_details,
    status,
    time_left,
    updates_of,
)
from personvern.clock import Clock, fixed_clock
from personvern.consent.subjects import create_subject
from personvern.errors import InvalidInput
from personvern.mail.tables import OutboxMessage
from personvern.manifest.loader import load_manifest
from personvern.manifest.model import Manifest
from personvern.storage.models import AuditEvent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AWARE = datetime.fromisoformat("2027-03-01T09:00:00+01:00")


@cache
def minmentor() -> Manifest:
    return load_manifest(EXAMPLES / "minmentor.yaml").manifest


def at(text: str) -> Clock:
    return fixed_clock(datetime.fromisoformat(text))


def _record(session: Session, clock: Clock, **kw: object) -> str:
    args: dict[str, object] = {
        "title": "Lost laptop", "description": "A laptop with an export of profiles was stolen",
        "risk": "high", "aware_at": AWARE, "data_categories": ["user.name", "user.contact.email"],
        "subject_categories": ["employees"], "approx_subjects": 120, "approx_records": 300,
        "consequences": "Phishing", "measures": "Remote wipe", "nature": ["confidentiality"],
        "manifest": minmentor(),
    }
    args.update(kw)
    breach = record_breach(session, clock, **args)  # type: ignore[arg-type]
    session.commit()
    return breach.id


def _audit(session: Session, breach_id: str) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.target == f"breach:{breach_id}").order_by(AuditEvent.id)))


def test_record_starts_the_72_hour_clock(db_session: Session, clock: Clock) -> None:
    bid = _record(db_session, clock)
    assert bid == "B-2027-001"
    b = get_breach(db_session, bid)
    assert deadline(b) == AWARE + timedelta(hours=72)
    # The clock fixture says 2027-03-01 12:00 +01:00: three hours after awareness.
    assert time_left(b, clock()) == timedelta(hours=69)
    assert status(b, clock()) == "awaiting_notice"
    late = datetime.fromisoformat("2027-03-04T10:30:00+01:00")
    assert time_left(b, late) == -timedelta(hours=1, minutes=30)
    assert status(b, late) == "overdue"
    assert format_delta(time_left(b, late)) == "1 h 30 min overdue"
    assert b.notify_authority is True and b.no_notice_reason is None
    assert recorded_details(db_session, bid)["nature"] == ["confidentiality"]
    assert [u.kind for u in updates_of(db_session, bid)] == ["recorded"]
    assert _audit(db_session, bid) == ["breach.recorded"]
    assert _record(db_session, clock, title="Second") == "B-2027-002"


def test_aware_at_defaults_to_now_and_may_lie_in_the_past(db_session: Session,
                                                          clock: Clock) -> None:
    bid = _record(db_session, clock, aware_at=None)
    assert get_breach(db_session, bid).aware_at == clock()
    old = _record(db_session, clock, aware_at=AWARE - timedelta(days=30))
    assert status(get_breach(db_session, old), clock()) == "overdue"


def test_no_risk_is_documented_with_its_reason_and_listed(db_session: Session,
                                                          clock: Clock) -> None:
    """Art. 33(5): every breach is documented, notified or not."""
    quiet = _record(db_session, clock, risk="none", title="Mail to wrong colleague",
                    no_notice_reason="Encrypted attachment, deleted unread")
    b = get_breach(db_session, quiet)
    assert b.notify_authority is False
    assert b.no_notice_reason == "Encrypted attachment, deleted unread"
    assert status(b, clock()) == "no_notice_required"
    loud = _record(db_session, clock, risk="risk")
    assert {x.id for x in list_breaches(db_session)} == {quiet, loud}
    voluntary = _record(db_session, clock, risk="low", notify_authority=True)
    assert get_breach(db_session, voluntary).notify_authority is True


def test_notice_in_time_then_phases(db_session: Session, clock: Clock) -> None:
    bid = _record(db_session, clock)
    add_update(db_session, at("2027-03-02T10:00:00+01:00"), bid, "authority_notice",
               "Notice sent through Altinn, reference 123")
    add_update(db_session, at("2027-03-05T10:00:00+01:00"), bid, "phase",
               "Forensics report: 300 profiles")
    db_session.commit()
    b = get_breach(db_session, bid)
    assert b.authority_notified_at == datetime.fromisoformat("2027-03-02T10:00:00+01:00")
    assert b.late_reason is None and status(b, clock()) == "notified"
    assert [u.kind for u in updates_of(db_session, bid)] == [
        "recorded", "authority_notice", "phase"]
    assert _audit(db_session, bid) == [
        "breach.recorded", "breach.authority_notice", "breach.phase"]
    assert verify_audit_chain(db_session) is None


def test_late_notice_keeps_its_reason(db_session: Session, clock: Clock) -> None:
    bid = _record(db_session, clock)
    add_update(db_session, at("2027-03-05T09:00:00+01:00"), bid, "authority_notice",
               "Notice sent", late_reason="The laptop was reported stolen only on day 4")
    db_session.commit()
    view = breach_view(get_breach(db_session, bid), clock())
    assert view["late"] is True
    assert view["late_reason"] == "The laptop was reported stolen only on day 4"


def test_subjects_are_told_by_queued_email_once(db_session: Session, clock: Clock) -> None:
    """Art. 34: high risk, so the people are told; a rerun queues nobody twice."""
    ola, _ = create_subject(db_session, clock, {"email": "ola@example.no"})
    kari, _ = create_subject(db_session, clock,
                             {"email": "kari@example.no", "phone": "+4791234567"})
    phone_only, _ = create_subject(db_session, clock, {"phone": "+4798765432"})
    db_session.commit()
    bid = _record(db_session, clock)
    done = notify_subjects(db_session, clock, bid, minmentor(),
                           subject_ids=[ola.id, kari.id, phone_only.id])
    db_session.commit()
    assert (done.queued, done.already_queued, done.without_email) == (2, 0, 1)
    mails = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == MAIL_KIND)))
    assert {m.to_address for m in mails} == {"ola@example.no", "kari@example.no"}
    body = mails[0].body_text
    assert "Hva som skjedde: A laptop with an export" in body and "What happened:" in body
    assert "Phishing" in body and "Remote wipe" in body and "post@minmentor.no" in body
    # The phone-only person was not told: the people are not yet marked told (Art. 34(1)).
    assert get_breach(db_session, bid).subjects_notified_at is None
    again = notify_subjects(db_session, clock, bid, minmentor(), all_subjects=True)
    db_session.commit()
    assert (again.queued, again.already_queued, again.without_email) == (0, 2, 1)
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    assert _audit(db_session, bid).count("breach.subject_notice") == 2


def test_people_without_an_email_are_counted_and_not_called_told(
        db_session: Session, clock: Clock) -> None:
    """GDPR Art. 34(1): a high risk is communicated to each person affected. E-mail queued
    to every live person with an address leaves those without one untold: they are
    counted (for --all as for named people), and the breach does not say the people were
    told, nor close, until they are told another way or an Art. 34(3) reason is given."""
    create_subject(db_session, clock, {"email": "ola@example.no"})
    create_subject(db_session, clock, {"phone": "+4798765432"})
    db_session.commit()
    bid = _record(db_session, clock)
    add_update(db_session, clock, bid, "authority_notice", "sent")
    done = notify_subjects(db_session, clock, bid, minmentor(), all_subjects=True)
    db_session.commit()
    assert (done.queued, done.already_queued, done.without_email) == (1, 0, 1)
    breach = get_breach(db_session, bid)
    assert breach.subjects_notified_at is None
    assert breach_view(breach, clock())["subjects_must_be_told"] is True
    assert "1 person without an e-mail address not told" in updates_of(db_session, bid)[-1].text
    with pytest.raises(InvalidInput, match=r"Art\. 34\(3\)"):
        close_breach(db_session, clock, bid)
    add_update(db_session, clock, bid, "subject_notice", "Told the last one by phone")
    assert get_breach(db_session, bid).subjects_notified_at == clock()
    close_breach(db_session, clock, bid)


def test_people_are_told_only_once_consequences_and_measures_are_known(
        db_session: Session, clock: Clock) -> None:
    """GDPR Art. 34(2): the notice to the people describes the likely consequences and the
    measures taken or proposed (Art. 33(3)(c), (d)). A breach recorded before they are
    known queues no letter; once the assessment records them, the letter carries them."""
    create_subject(db_session, clock, {"email": "ola@example.no"})
    db_session.commit()
    bid = _record(db_session, clock, consequences="", measures="")
    with pytest.raises(InvalidInput, match=r"no consequences and no measures.*Art\. 34\(2\)"):
        notify_subjects(db_session, clock, bid, minmentor(), all_subjects=True)
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assess_risk(db_session, clock, bid, None, consequences="Targeted phishing")
    db_session.commit()
    with pytest.raises(InvalidInput, match=r"has no measures recorded"):
        notify_subjects(db_session, clock, bid, minmentor(), all_subjects=True)
    db_session.rollback()
    assess_risk(db_session, clock, bid, None, measures="Passwords reset; laptop wiped")
    done = notify_subjects(db_session, clock, bid, minmentor(), all_subjects=True)
    db_session.commit()
    assert done.queued == 1
    body = db_session.scalars(select(OutboxMessage.body_text)).one()
    assert "Mulige konsekvenser for deg: Targeted phishing" in body
    assert "What we have done and will do: Passwords reset; laptop wiped" in body
    assert get_breach(db_session, bid).risk == "high"  # the facts alone leave the risk
    history = [u.text for u in updates_of(db_session, bid)]
    assert "consequences: Targeted phishing" in history
    assert "measures: Passwords reset; laptop wiped" in history


@pytest.mark.parametrize(("kw", "message"), [
    ({}, "say what changed"),
    ({"consequences": "  "}, "consequences must not be empty"),
    ({"measures": ""}, "measures must not be empty"),
])
def test_an_assessment_that_says_nothing_is_refused(
        db_session: Session, clock: Clock, kw: dict[str, str], message: str) -> None:
    bid = _record(db_session, clock)
    with pytest.raises(InvalidInput, match=message):
        assess_risk(db_session, clock, bid, None, **kw)
    db_session.rollback()
    breach = get_breach(db_session, bid)
    assert (breach.consequences, breach.measures) == ("Phishing", "Remote wipe")


def test_close_needs_the_required_notices(db_session: Session, clock: Clock) -> None:
    bid = _record(db_session, clock)
    with pytest.raises(InvalidInput, match="must be notified to the supervisory authority"):
        close_breach(db_session, clock, bid)
    add_update(db_session, clock, bid, "authority_notice", "sent")
    with pytest.raises(InvalidInput, match=r"Art\. 34\(3\)"):
        close_breach(db_session, clock, bid)
    close_breach(db_session, clock, bid,
                 subjects_exemption="The disk was encrypted (Art. 34(3)(a))")
    db_session.commit()
    b = get_breach(db_session, bid)
    assert status(b, clock()) == "closed"
    assert list_breaches(db_session, open_only=True) == []
    assert [x.id for x in list_breaches(db_session)] == [bid]
    add_update(db_session, clock, bid, "note", "Lessons learned")  # notes still allowed
    assert _audit(db_session, bid)[-2:] == ["breach.closed", "breach.note"]


def test_assessment_changes_the_notice_decision(db_session: Session, clock: Clock) -> None:
    bid = _record(db_session, clock, risk="risk")
    assess_risk(db_session, clock, bid, "low", no_notice_reason="The files were all public")
    db_session.commit()
    b = get_breach(db_session, bid)
    assert (b.risk, b.notify_authority, b.no_notice_reason) == (
        "low", False, "The files were all public")
    assess_risk(db_session, clock, bid, "high")
    assert get_breach(db_session, bid).notify_authority is True
    assert updates_of(db_session, bid)[-1].text == "risk low -> high"


def test_data_the_manifest_never_declared_is_documented_and_flagged(
        db_session: Session, clock: Clock) -> None:
    """A breach of undeclared data is still recorded (Art. 33(5)); the gap is flagged."""
    bid = _record(db_session, clock, data_categories=["user.name", "user.health.sick_leave"],
                  subject_categories=["employees", "job_applicants"])
    details = recorded_details(db_session, bid)
    assert details["undeclared"] == {"data_categories": ["user.health.sick_leave"],
                                     "subject_categories": ["job_applicants"]}
    view = breach_view(get_breach(db_session, bid), clock(), details=details)
    assert view["undeclared"]["data_categories"] == ["user.health.sick_leave"]
