"""A person's cold load for decisions: one statement, the same facts as the four it replaced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from consent.support import newsletter_context
from personvern.consent.decide import SubjectFacts, SubjectState
from personvern.consent.events import EventType
from personvern.consent.ledger import consent_events
from personvern.consent.service import decisions_for, record_event
from personvern.consent.subjects import create_subject, facts_of, require_subject
from personvern.errors import UnknownSubject
from personvern.requests.restrict import is_lifted, restricted_since
from personvern.requests.tables import Request
from personvern.retention.tables import RetentionRestriction
from personvern.storage.session import make_sessionmaker, transaction

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on ``engine`` inside the block."""
    sent: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def restriction(subject_id: str, n: int, closed_at: datetime, state: str = "completed",
                outcome: dict[str, Any] | None = None) -> Request:
    """A restriction request (GDPR Art. 18) for ``subject_id`` as the engine leaves it."""
    return Request(id=f"r{n}", type="restriction", subject_id=subject_id, state=state,
                   received_at=closed_at - timedelta(days=1), due_on=date(2027, 4, 1),
                   legal_due_on=date(2027, 4, 1), opened_by="self", channel="portal",
                   details={}, outcome=outcome, closed_at=closed_at)


def old_facts(session: Any, subject_id: str) -> SubjectState:
    """The decision inputs as load_state read them before, in four statements: the subject,
    the restriction (decided in Python), the retention hold, the events."""
    subject = require_subject(session, subject_id)
    restricted: datetime | None = None
    for closed_at, outcome in session.execute(select(Request.closed_at, Request.outcome).where(
            Request.subject_id == subject_id, Request.type == "restriction",
            Request.state == "completed").order_by(Request.closed_at)).all():
        if not (outcome or {}).get("lifted_at"):
            restricted = closed_at
            break
    held = session.execute(select(RetentionRestriction.purposes).where(
        RetentionRestriction.subject_id == subject_id)).first()
    facts = facts_of(subject)
    facts = SubjectFacts(facts.birth_date, facts.existing_customer, facts.relationship_active,
                         restricted, None if held is None else frozenset(held[0]))
    return SubjectState.of(facts, consent_events(session, subject_id))


def test_cold_load_is_one_statement_with_the_same_facts(db_engine: Engine) -> None:
    ctx = newsletter_context()
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        subject = create_subject(s, lambda: T0, {"email": "kari@example.no"},
                                 birth_date=date(1990, 5, 17), existing_customer=True)[0]
        sid = subject.id
        subject.closed_at = T0  # the customer relationship has ended
        other = create_subject(s, lambda: T0, {"email": "ola@example.no"})[0].id
    with transaction(sessions) as s:
        for minutes, type_ in enumerate((EventType.CONSENT_GIVEN, EventType.CONSENT_WITHDRAWN,
                                         EventType.CONSENT_GIVEN)):
            record_event(s, ctx, T0 + timedelta(minutes=minutes), sid, type_,
                         purpose_id="newsletter")
        record_event(s, ctx, T0, other, EventType.CONSENT_GIVEN, purpose_id="newsletter")
        # Art. 18: one restriction lifted (Art. 18(3)), a later one in force, one not
        # yet completed, and another person's.
        s.add_all([
            restriction(sid, 1, T0 + timedelta(days=1),
                        outcome={"lifted_at": (T0 + timedelta(days=2)).isoformat()}),
            restriction(sid, 2, T0 + timedelta(days=3), outcome={"scope": "every purpose"}),
            restriction(sid, 3, T0 + timedelta(days=4), state="in_progress"),
            restriction(other, 4, T0 + timedelta(days=1)),
        ])
        # Retention: only these purposes may still use the person's data.
        s.add(RetentionRestriction(subject_id=sid, purposes=["bookkeeping", "newsletter"],
                                   rule="after-closing", since=T0, reason="ended"))

    with transaction(sessions) as s, statements(db_engine) as before:
        old = old_facts(s, sid)
    with transaction(sessions) as s, statements(db_engine) as after:
        new = ctx.load_state(s, sid)
    assert new == old
    assert new.facts == SubjectFacts(date(1990, 5, 17), True, False, T0 + timedelta(days=3),
                                     frozenset({"bookkeeping", "newsletter"}))
    assert [e.type for e in new.by_purpose["newsletter"]] == [
        EventType.CONSENT_GIVEN, EventType.CONSENT_WITHDRAWN, EventType.CONSENT_GIVEN]
    # The transaction's BEGIN is not a cursor statement on either database.
    assert (len(before), len(after)) == (4, 1), (before, after)

    with transaction(sessions) as s:
        lifted = s.get(Request, "r2")
        assert lifted is not None
        lifted.outcome = {**(lifted.outcome or {}), "lifted_at": T0.isoformat()}
        s.delete(s.get(RetentionRestriction, sid))
    with transaction(sessions) as s:
        assert ctx.load_state(s, sid) == old_facts(s, sid)
        assert ctx.load_state(s, sid).facts.restricted_since is None
        assert ctx.load_state(s, sid).facts.retained_for is None
        # Another person's restriction is theirs alone.
        assert ctx.load_state(s, other) == old_facts(s, other)
        assert ctx.load_state(s, other).facts.restricted_since == T0 + timedelta(days=1)


def test_cold_load_of_a_person_without_events_or_of_no_one(db_engine: Engine) -> None:
    ctx = newsletter_context()
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        sid = create_subject(s, lambda: T0, {"email": "kari@example.no"})[0].id
    with transaction(sessions) as s:
        state = ctx.load_state(s, sid)
        assert state == old_facts(s, sid)
        assert state.by_purpose == {} and state.facts == SubjectFacts()
        with pytest.raises(UnknownSubject):
            ctx.load_state(s, "no-such-person")
        require_subject(s, sid).erased_at = T0
        with pytest.raises(UnknownSubject):
            ctx.load_state(s, sid)  # erased: no one to decide for


@pytest.mark.parametrize("lifted_at", [False, 0, "", None, "soon"])
def test_a_restriction_is_lifted_only_by_a_time(db_engine: Engine, lifted_at: Any) -> None:
    """Art. 18(3): only a lift the engine recorded, with its time, ends a restriction.
    Anything else in ``lifted_at`` (written by hand or by a bug) leaves it in force: the
    rule fails closed, on both databases alike."""
    ctx = newsletter_context()
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        sid = create_subject(s, lambda: T0, {"email": "kari@example.no"})[0].id
        s.add(restriction(sid, 1, T0 + timedelta(days=1), outcome={"lifted_at": lifted_at}))
    with transaction(sessions) as s:
        assert ctx.load_state(s, sid).facts.restricted_since == T0 + timedelta(days=1)
        assert restricted_since(s, sid) == T0 + timedelta(days=1)
        decision = decisions_for(s, ctx, sid, T0 + timedelta(days=2))[0]
        assert not decision.allowed and decision.code == "restricted"
    # The same rule where the engine refuses to lift twice and the dashboard offers a lift.
    assert not is_lifted({"lifted_at": lifted_at})
    assert is_lifted({"lifted_at": T0.isoformat()})
