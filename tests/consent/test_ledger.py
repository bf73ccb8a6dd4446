"""The consent ledger and the subject registry on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from personvern.consent.events import Actor, Channel, EventType
from personvern.consent.ledger import evidence_of, subject_events, verify_ledger
from personvern.consent.service import ConsentContext, decide_for, decisions_for, record_event
from personvern.consent.subjects import (
    add_member,
    create_organisation,
    create_subject,
    get_subject,
    link_guardian,
    record_activity,
)
from personvern.consent.tables import LedgerEvent, LedgerEvidence
from personvern.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.manifest.loader import parse_manifest
from personvern.runtime import EngineSources

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
MANIFEST = """
personvern: 1
service: {name: Test}
controller: {name: Test AS, orgnr: "923641645", email: a@b.no}
purposes:
  - {id: service, name: Tjeneste, legal_basis: contract, categories: [user.name]}
  - {id: newsletter, name: Nyhetsbrev, legal_basis: consent, categories: [user.contact.email],
     marketing: {channels: [email]}}
  - {id: analytics, name: Analyse, legal_basis: legitimate_interests,
     legitimate_interest: {interest: Forbedre}, categories: [user.behavior]}
"""


@pytest.fixture
def ctx() -> ConsentContext:
    return ConsentContext.of(parse_manifest(MANIFEST).manifest, "a" * 64, EngineSources())


def clock_at(days: int = 0):  # type: ignore[no-untyped-def]
    return lambda: T0 + timedelta(days=days)


def count_events(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEvent)) or 0


def give(session: Session, ctx: ConsentContext, sid: str, days: int = 0, **kw: object):  # type: ignore[no-untyped-def]
    return record_event(session, ctx, T0 + timedelta(days=days), sid, EventType.CONSENT_GIVEN,
                        purpose_id="newsletter", **kw)  # type: ignore[arg-type]


def test_identities_are_normalised_and_shared(db_session: Session) -> None:
    subject, created = create_subject(db_session, clock_at(), {"email": " Kari@Example.NO "})
    assert created
    again, created_again = create_subject(db_session, clock_at(),
                                          {"email": "kari@example.no", "phone": "912 34 567"})
    assert again.id == subject.id and not created_again
    assert get_subject(db_session, "+4791234567").id == subject.id
    assert get_subject(db_session, "KARI@example.no").id == subject.id
    assert create_subject(db_session, clock_at(), {"phone": "0047 912 34 567"})[0].id == subject.id
    with pytest.raises(InvalidInput, match="not a phone number"):
        create_subject(db_session, clock_at(), {"phone": "12"})
    with pytest.raises(InvalidInput, match="not an e-mail"):
        create_subject(db_session, clock_at(), {"email": "kari"})
    with pytest.raises(NotFound):
        get_subject(db_session, "nobody@example.no")


def test_identities_of_two_subjects_conflict(db_session: Session) -> None:
    create_subject(db_session, clock_at(), {"email": "a@example.no"})
    create_subject(db_session, clock_at(), {"email": "b@example.no", "external_id": "user-b"})
    with pytest.raises(Conflict, match="different subjects"):
        create_subject(db_session, clock_at(), {"email": "a@example.no", "external_id": "user-b"})


def test_activity_never_moves_backwards(db_session: Session) -> None:
    subject, _ = create_subject(db_session, clock_at(), {"external_id": "u1"})
    record_activity(db_session, subject, T0)
    assert record_activity(db_session, subject, T0 - timedelta(days=3)) == T0


def test_consent_lifecycle_and_decision(db_session: Session, ctx: ConsentContext) -> None:
    sid = create_subject(db_session, clock_at(), {"email": "ola@example.no"})[0].id
    assert not decide_for(db_session, ctx, sid, "newsletter", T0).allowed
    give(db_session, ctx, sid, evidence={"text_shown": "Vil du ha nyhetsbrev?"})
    assert decide_for(db_session, ctx, sid, "newsletter", T0 + timedelta(hours=1)).allowed
    record_event(db_session, ctx, T0 + timedelta(days=1), sid, EventType.CONSENT_WITHDRAWN,
                 purpose_id="newsletter", channel=Channel.PORTAL)
    d = decide_for(db_session, ctx, sid, "newsletter", T0 + timedelta(days=2))
    assert not d.allowed and d.reason == "consent withdrawn 2027-03-02 via portal"
    by_purpose = {x.purpose: x.allowed for x in decisions_for(db_session, ctx, sid, T0)}
    assert by_purpose == {"service": True, "newsletter": True, "analytics": True}


def test_bad_events_change_nothing(db_session: Session, ctx: ConsentContext) -> None:
    sid = create_subject(db_session, clock_at(), {"email": "ola@example.no"})[0].id
    before = count_events(db_session)
    with pytest.raises(NotFound, match="unknown purpose 'nope'"):
        record_event(db_session, ctx, T0, sid, EventType.CONSENT_GIVEN, purpose_id="nope")
    with pytest.raises(NotFound, match="no subject"):
        record_event(db_session, ctx, T0, "0" * 32, EventType.CONSENT_GIVEN,
                     purpose_id="newsletter")
    with pytest.raises(InvalidInput, match="no consent to withdraw"):
        record_event(db_session, ctx, T0, sid, EventType.CONSENT_WITHDRAWN,
                     purpose_id="newsletter")
    with pytest.raises(InvalidInput, match="rests on contract, not consent"):
        record_event(db_session, ctx, T0, sid, EventType.CONSENT_GIVEN, purpose_id="service")
    with pytest.raises(InvalidInput, match="right to object"):
        record_event(db_session, ctx, T0, sid, EventType.OBJECTION_RAISED, purpose_id="service")
    assert count_events(db_session) == before


def test_children_and_guardians(db_session: Session, ctx: ConsentContext) -> None:
    """GDPR Art. 8, personopplysningsloven § 5: under 13 a guardian consents."""
    child = create_subject(db_session, clock_at(), {"external_id": "pupil"},
                           birth_date=date(2016, 5, 1))[0]
    parent = create_subject(db_session, clock_at(), {"email": "mor@example.no"},
                            birth_date=date(1985, 1, 1))[0]
    stranger = create_subject(db_session, clock_at(), {"email": "x@example.no"})[0]
    with pytest.raises(InvalidInput, match="under 13: a guardian must give this consent"):
        give(db_session, ctx, child.id)
    with pytest.raises(Forbidden, match="is not a guardian"):
        give(db_session, ctx, child.id, actor=Actor.GUARDIAN, actor_subject_id=stranger.id)
    link_guardian(db_session, clock_at(), parent, child, "BankID", ctx.jurisdiction)
    event, _ = give(db_session, ctx, child.id, actor=Actor.GUARDIAN, actor_subject_id=parent.id)
    assert event.actor == "guardian"
    d = decide_for(db_session, ctx, child.id, "newsletter", T0 + timedelta(hours=1))
    assert d.allowed and "by a guardian" in d.reason
    link_guardian(db_session, clock_at(), child, parent, None, ctx.jurisdiction)
    with pytest.raises(InvalidInput, match="old enough to decide"):
        give(db_session, ctx, parent.id, actor=Actor.GUARDIAN, actor_subject_id=child.id)


def test_organisation_admin_acts_for_members(db_session: Session, ctx: ConsentContext) -> None:
    """Seed 003: the company admin manages employees' data."""
    org = create_organisation(db_session, clock_at(), "Bedrift AS", "923641645")
    admin = create_subject(db_session, clock_at(), {"email": "admin@bedrift.no"})[0]
    member = create_subject(db_session, clock_at(), {"email": "ansatt@bedrift.no"})[0]
    outsider = create_subject(db_session, clock_at(), {"email": "ute@annen.no"})[0]
    add_member(db_session, clock_at(), org, admin, "admin")
    add_member(db_session, clock_at(), org, member)
    record_event(db_session, ctx, T0, member.id, EventType.OBJECTION_RAISED,
                 purpose_id="analytics", actor=Actor.ADMIN, actor_subject_id=admin.id)
    with pytest.raises(Forbidden):
        record_event(db_session, ctx, T0, outsider.id, EventType.OBJECTION_RAISED,
                     purpose_id="analytics", actor=Actor.ADMIN, actor_subject_id=admin.id)
    with pytest.raises(InvalidInput, match="organisasjonsnummer"):
        create_organisation(db_session, clock_at(), "Feil AS", "923641646")


def test_idempotency_key_replays_and_conflicts(db_session: Session, ctx: ConsentContext) -> None:
    sid = create_subject(db_session, clock_at(), {"email": "ola@example.no"})[0].id
    first, replayed = give(db_session, ctx, sid, idempotency_key="k1")
    again, replayed_again = give(db_session, ctx, sid, 1, idempotency_key="k1")
    assert not replayed and replayed_again and again.seq == first.seq
    assert count_events(db_session) == 1
    with pytest.raises(Conflict, match="different event"):
        record_event(db_session, ctx, T0, sid, EventType.OBJECTION_RAISED,
                     purpose_id="newsletter", idempotency_key="k1")
    assert count_events(db_session) == 1


def test_verify_names_edited_deleted_and_reordered_events(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    with Session(db_engine) as s, s.begin():
        sid = create_subject(s, clock_at(), {"email": "ola@example.no"})[0].id
        for day in range(4):
            give(s, ctx, sid, day)
    with Session(db_engine) as s:
        assert verify_ledger(s) is None
        with s.begin_nested():
            s.execute(update(LedgerEvent).where(LedgerEvent.seq == 2).values(channel="portal"))
            broken = verify_ledger(s)
            assert broken is not None and broken.seq == 2 and "changed" in broken.problem
            s.rollback()
    with Session(db_engine) as s:
        s.execute(delete(LedgerEvidence).where(LedgerEvidence.event_seq == 3))
        s.execute(delete(LedgerEvent).where(LedgerEvent.seq == 3))
        broken = verify_ledger(s)
        assert broken is not None and broken.seq == 4 and "missing" in broken.problem
        s.rollback()
    with Session(db_engine) as s:
        # Reorder: events 2 and 3 swap places.
        s.execute(delete(LedgerEvidence).where(LedgerEvidence.event_seq.in_([2, 3])))
        for old_seq, new_seq in ((2, 1000), (3, 2), (1000, 3)):
            s.execute(update(LedgerEvent).where(LedgerEvent.seq == old_seq).values(seq=new_seq))
        broken = verify_ledger(s)
        assert broken is not None and broken.seq == 2 and "reordered" in broken.problem
        s.rollback()


def test_erasing_evidence_keeps_the_chain_valid(db_engine: Engine, ctx: ConsentContext) -> None:
    with Session(db_engine) as s, s.begin():
        sid = create_subject(s, clock_at(), {"email": "ola@example.no"})[0].id
        event, _ = give(s, ctx, sid, evidence={"ip_hash": "abc", "user_agent": "Firefox"})
        seq = event.seq
    with Session(db_engine) as s, s.begin():
        assert evidence_of(s, seq) == {"ip_hash": "abc", "user_agent": "Firefox"}
        s.execute(delete(LedgerEvidence).where(LedgerEvidence.subject_id == sid))
    with Session(db_engine) as s:
        assert evidence_of(s, seq) is None
        assert verify_ledger(s) is None
        assert len(subject_events(s, sid)) == 1
