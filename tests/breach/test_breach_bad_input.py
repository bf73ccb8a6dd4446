"""Bad input to the breach register: a clear message, and nothing stored or changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personvern.breach.register import (
    add_update,
    assess_risk,
    close_breach,
    get_breach,
    notify_subjects,
    record_breach,
)
from personvern.breach.tables import Breach, BreachUpdate
from personvern.clock import Clock, fixed_clock
from personvern.consent.subjects import create_subject
from personvern.errors import Conflict, InvalidInput, NotFound, PersonvernError
from personvern.mail.tables import OutboxMessage
from personvern.manifest.loader import load_manifest
from personvern.manifest.model import Manifest
from personvern.storage.models import AuditEvent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AWARE = datetime.fromisoformat("2027-03-01T09:00:00+01:00")
LATE = fixed_clock(datetime.fromisoformat("2027-03-04T09:00:01+01:00"))


@cache
def minmentor() -> Manifest:
    return load_manifest(EXAMPLES / "minmentor.yaml").manifest


def new(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"title": "Lost laptop", "description": "Stolen from a car",
                            "risk": "high", "aware_at": AWARE, "manifest": minmentor()}
    args.update(kw)
    return args


def snapshot(session: Session) -> tuple[Any, ...]:
    """Row counts and every breach's state: what a refused call must leave as it was."""
    counts = tuple(session.scalar(select(func.count()).select_from(t))
                   for t in (Breach, BreachUpdate, AuditEvent, OutboxMessage))
    session.expire_all()
    states = tuple(
        (b.id, b.risk, b.notify_authority, b.no_notice_reason, b.authority_notified_at,
         b.subjects_notified_at, b.late_reason, b.closed_at)
        for b in session.scalars(select(Breach).order_by(Breach.id)))
    return counts, states


@pytest.fixture
def seeded(db_session: Session, clock: Clock) -> str:
    """One open high-risk breach and one subject with an e-mail address."""
    create_subject(db_session, clock, {"email": "ola@example.no"})
    breach = record_breach(db_session, clock, **new())
    db_session.commit()
    return breach.id


CASES: dict[str, tuple[Callable[[Session, Clock, str], object], type[PersonvernError], str]] = {
    "awareness in the future": (
        lambda s, c, b: record_breach(s, c, **new(
            aware_at=datetime.fromisoformat("2027-03-01T12:00:01+01:00"))),
        InvalidInput, "awareness time 2027-03-01T12:00:01+01:00 is in the future"),
    "naive awareness time": (
        lambda s, c, b: record_breach(s, c, **new(aware_at=datetime(2027, 3, 1, 9))),
        InvalidInput, "needs a UTC offset"),
    "risk none without a reason": (
        lambda s, c, b: record_breach(s, c, **new(risk="none")),
        InvalidInput, "risk 'none': give the reason the breach is unlikely to result in a risk"),
    "risk low with a blank reason": (
        lambda s, c, b: record_breach(s, c, **new(risk="low", no_notice_reason="   ")),
        InvalidInput, "risk 'low': give the reason"),
    "unknown risk": (
        lambda s, c, b: record_breach(s, c, **new(risk="medium")),
        InvalidInput, "unknown risk 'medium'; use one of none, low, risk, high"),
    "high risk declared not notifiable": (
        lambda s, c, b: record_breach(s, c, **new(notify_authority=False)),
        InvalidInput, "must be notified to the supervisory authority (GDPR Art. 33(1))"),
    "reason for not notifying a risk": (
        lambda s, c, b: record_breach(s, c, **new(risk="risk", no_notice_reason="small")),
        InvalidInput, "contradicts risk 'risk'"),
    "occurred after awareness": (
        lambda s, c, b: record_breach(s, c, **new(
            occurred_at=datetime.fromisoformat("2027-03-01T10:00:00+01:00"))),
        InvalidInput, "cannot have occurred"),
    "empty title": (
        lambda s, c, b: record_breach(s, c, **new(title="  ")),
        InvalidInput, "title must not be empty"),
    "negative count": (
        lambda s, c, b: record_breach(s, c, **new(approx_subjects=-1)),
        InvalidInput, "cannot be negative"),
    "malformed data category": (
        lambda s, c, b: record_breach(s, c, **new(data_categories=["User Contact!"])),
        InvalidInput, "data category 'User Contact!' is not valid; use a dotted category key"),
    "malformed subject category": (
        lambda s, c, b: record_breach(s, c, **new(subject_categories=["All staff"])),
        InvalidInput, "subject category 'All staff' is not valid; use a subject id"),
    "unknown nature": (
        lambda s, c, b: record_breach(s, c, **new(nature=["secrecy"])),
        InvalidInput, "nature 'secrecy' is not valid; use confidentiality, integrity"),
    "late notice without a reason": (
        lambda s, c, b: add_update(s, LATE, b, "authority_notice", "Sent"),
        InvalidInput, "is 0 h 1 min late (deadline 2027-03-04T09:00+01:00); give the reasons"),
    "phase before the first notice": (
        lambda s, c, b: add_update(s, c, b, "phase", "More"),
        InvalidInput, "send the first notice to the authority"),
    "unknown update kind": (
        lambda s, c, b: add_update(s, c, b, "gossip", "x"),
        InvalidInput, "unknown update kind 'gossip'"),
    "empty update": (
        lambda s, c, b: add_update(s, c, b, "note", " "),
        InvalidInput, "must not be empty"),
    "unknown breach id (update)": (
        lambda s, c, b: add_update(s, c, "B-2027-999", "note", "x"),
        NotFound, "no breach 'B-2027-999'"),
    "unknown breach id (assess)": (
        lambda s, c, b: assess_risk(s, c, "nope", "low", no_notice_reason="x"),
        NotFound, "no breach 'nope'"),
    "unknown breach id (close)": (
        lambda s, c, b: close_breach(s, c, ""),
        NotFound, "no breach ''"),
    "unknown breach id (notify)": (
        lambda s, c, b: notify_subjects(s, c, "B-1999-001", minmentor(), all_subjects=True),
        NotFound, "no breach 'B-1999-001'"),
    "unknown subject ids": (
        lambda s, c, b: notify_subjects(s, c, b, minmentor(), subject_ids=["ghost"]),
        NotFound, "no subject 'ghost'; nothing was queued"),
    "neither ids nor all": (
        lambda s, c, b: notify_subjects(s, c, b, minmentor()),
        InvalidInput, "name the subjects to tell"),
    "close with notices missing": (
        close_breach,
        InvalidInput, "must be notified to the supervisory authority before it is closed"),
    "assess to an unknown risk": (
        lambda s, c, b: assess_risk(s, c, b, "severe"),
        InvalidInput, "unknown risk 'severe'"),
    "assess to none without reason": (
        lambda s, c, b: assess_risk(s, c, b, "none"),
        InvalidInput, "give the reason"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_and_nothing_changed(case: str, db_session: Session, clock: Clock,
                                     seeded: str) -> None:
    call, error, message = CASES[case]
    before = snapshot(db_session)
    with pytest.raises(error) as caught:
        call(db_session, clock, seeded)
    assert message in str(caught.value)
    # Commit whatever the call might have left in the session: there must be nothing.
    db_session.commit()
    assert snapshot(db_session) == before


def test_second_authority_notice_is_a_conflict(db_session: Session, clock: Clock,
                                               seeded: str) -> None:
    add_update(db_session, clock, seeded, "authority_notice", "Sent")
    db_session.commit()
    before = snapshot(db_session)
    with pytest.raises(Conflict, match="send further information as --kind phase"):
        add_update(db_session, clock, seeded, "authority_notice", "Sent again")
    db_session.commit()
    assert snapshot(db_session) == before


def test_closed_breach_refuses_changes(db_session: Session, clock: Clock, seeded: str) -> None:
    add_update(db_session, clock, seeded, "authority_notice", "Sent")
    close_breach(db_session, clock, seeded, subjects_exemption="Public notice on the website")
    db_session.commit()
    before = snapshot(db_session)
    for call in (lambda: add_update(db_session, clock, seeded, "phase", "x"),
                 lambda: close_breach(db_session, clock, seeded),
                 lambda: assess_risk(db_session, clock, seeded, "low", no_notice_reason="x"),
                 lambda: notify_subjects(db_session, clock, seeded, minmentor(),
                                         all_subjects=True)):
        with pytest.raises(Conflict, match="closed"):
            call()
    db_session.commit()
    assert snapshot(db_session) == before
    assert get_breach(db_session, seeded).closed_at is not None
