"""A person found by e-mail (or phone, or ``ext:``) and read for decisions in one statement:
the same person, the same inputs and the same errors as the lookup then the load."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from consent.support import newsletter_context
from consent.test_cold_load import T0, restriction, statements
from personvern.consent.events import EventType
from personvern.consent.service import record_event
from personvern.consent.subjects import create_subject, require_subject, subject_row_of
from personvern.errors import InvalidInput, UnknownSubject
from personvern.retention.tables import RetentionRestriction
from personvern.storage.session import make_sessionmaker, transaction


def test_found_and_read_in_one_statement_as_the_lookup_then_the_load(db_engine: Engine
                                                                     ) -> None:
    ctx = newsletter_context()
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        sid = create_subject(s, lambda: T0, {"email": "kari@example.no", "phone": "+4791234567",
                                             "external_id": "u-1"},
                             birth_date=date(1990, 5, 17), existing_customer=True)[0].id
        other = create_subject(s, lambda: T0, {"email": "ola@example.no"})[0].id
        bare = create_subject(s, lambda: T0, {"email": "per@example.no"})[0].id
    with transaction(sessions) as s:
        for minutes, type_ in enumerate((EventType.CONSENT_GIVEN, EventType.CONSENT_WITHDRAWN,
                                         EventType.CONSENT_GIVEN)):
            record_event(s, ctx, T0 + timedelta(minutes=minutes), sid, type_,
                         purpose_id="newsletter")
        record_event(s, ctx, T0, other, EventType.CONSENT_GIVEN, purpose_id="newsletter")
        # A restriction of each (Kari's lifted, then one in force), and a retention hold.
        s.add_all([
            restriction(sid, 1, T0 + timedelta(days=1),
                        outcome={"lifted_at": (T0 + timedelta(days=2)).isoformat()}),
            restriction(sid, 2, T0 + timedelta(days=3)),
            restriction(other, 3, T0 + timedelta(days=5)),
        ])
        s.add(RetentionRestriction(subject_id=sid, purposes=["newsletter"],
                                   rule="after-closing", since=T0, reason="ended"))
    for ref, who in [("kari@example.no", sid), ("  kari@example.no ", sid),
                     ("+4791234567", sid), ("ext:u-1", sid), ("ola@example.no", other),
                     ("per@example.no", bare)]:
        with transaction(sessions) as s:
            expected = (subject_row_of(s, ref).id, ctx.load_state(s, who))
        with transaction(sessions) as s, statements(db_engine) as sent:
            assert ctx.load_state_by_ref(s, ref) == expected
        assert expected[0] == who and len(sent) == 1, (ref, sent)
    with transaction(sessions) as s:
        kari = ctx.load_state_by_ref(s, "kari@example.no")[1].facts
        assert (kari.restricted_since, kari.retained_for) == (
            T0 + timedelta(days=3), frozenset({"newsletter"}))
        assert ctx.load_state_by_ref(s, "ola@example.no")[1].facts.restricted_since == (
            T0 + timedelta(days=5))
        assert ctx.load_state_by_ref(s, "per@example.no")[1].by_purpose == {}
        # A subject id is read by it, as before.
        assert ctx.load_state_by_ref(s, sid) == (sid, ctx.load_state(s, sid))


def test_the_same_errors_as_the_lookup(db_engine: Engine) -> None:
    ctx = newsletter_context()
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        sid = create_subject(s, lambda: T0, {"email": "kari@example.no"})[0].id
    for ref in ["ingen@example.no", "+4799999999", "ext:nobody", "not-an-id"]:
        with transaction(sessions) as s:
            with pytest.raises(UnknownSubject) as old:
                subject_row_of(s, ref)
            with pytest.raises(UnknownSubject) as new:
                ctx.load_state_by_ref(s, ref)
        assert str(new.value) == str(old.value)
    for ref in ["kari@", "@example.no", "+47", "ext:"]:
        with transaction(sessions) as s:
            with pytest.raises(InvalidInput) as old_bad:
                subject_row_of(s, ref)
            with pytest.raises(InvalidInput) as new_bad:
                ctx.load_state_by_ref(s, ref)
        assert str(new_bad.value) == str(old_bad.value)
    with transaction(sessions) as s:
        require_subject(s, sid).erased_at = T0
    with transaction(sessions) as s:
        with pytest.raises(UnknownSubject) as erased:
            ctx.load_state_by_ref(s, "kari@example.no")
        # An erased person answers as one never known.
        assert str(erased.value) == "no subject 'kari@example.no'"
