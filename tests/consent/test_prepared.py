"""A consent write checked before the ledger's lock (as ``POST /api/v1/consents`` does it, so
concurrent writers do that part at once) is checked again under the lock for what may have
changed meanwhile: nothing the lock used to guard slips through. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from consent.support import newsletter_context
from personvern.consent.events import EventType
from personvern.consent.ledger import evidence_of, verify_ledger
from personvern.consent.service import (
    ConsentContext,
    PreparedEvent,
    append_prepared,
    prepare_event,
    record_event,
)
from personvern.consent.subjects import create_subject
from personvern.consent.tables import LedgerEvent, Subject
from personvern.errors import InvalidInput, NotFound
from personvern.requests.erase import forget_subjects
from personvern.storage.session import make_sessionmaker, transaction

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx() -> ConsentContext:
    return newsletter_context()


def person(engine: Engine, birth: date | None = None) -> str:
    with transaction(make_sessionmaker(engine)) as s:
        return create_subject(s, lambda: T0, {"email": "ola@example.no"}, birth_date=birth
                              )[0].id


def events(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(LedgerEvent)) or 0)


def prepared_consent(engine: Engine, ctx: ConsentContext, sid: str,
                     type: EventType = EventType.CONSENT_GIVEN) -> PreparedEvent:
    with transaction(make_sessionmaker(engine)) as s:
        return prepare_event(s, ctx, T0, sid, type, purpose_id="newsletter",
                             evidence={"text_shown": "Vil du ha nyhetsbrev?"})


def test_a_prepared_consent_is_appended_with_its_evidence(db_engine: Engine,
                                                          ctx: ConsentContext) -> None:
    sid = person(db_engine)
    prepared = prepared_consent(db_engine, ctx, sid)
    with transaction(make_sessionmaker(db_engine)) as s:
        row, replayed = append_prepared(s, ctx, prepared, T0 + timedelta(seconds=1))
    assert not replayed and row.seq == 1 and row.at == T0 + timedelta(seconds=1)
    with Session(db_engine) as s:
        assert evidence_of(s, 1) == {"text_shown": "Vil du ha nyhetsbrev?"}
        assert verify_ledger(s) is None


def test_a_person_erased_after_the_checks_gets_no_event(db_engine: Engine,
                                                        ctx: ConsentContext) -> None:
    """GDPR Art. 17: once erased, nothing more is recorded about the person."""
    sid = person(db_engine)
    prepared = prepared_consent(db_engine, ctx, sid)
    with transaction(make_sessionmaker(db_engine)) as s:
        forget_subjects(s, [sid], T0)
    with pytest.raises(NotFound), transaction(make_sessionmaker(db_engine)) as s:
        append_prepared(s, ctx, prepared, T0)
    assert events(db_engine) == 0


def test_a_person_found_to_be_a_child_after_the_checks_is_judged_again(
        db_engine: Engine, ctx: ConsentContext) -> None:
    """GDPR Art. 8(1), personopplysningsloven § 5: under 13 a guardian must consent; a
    birth date learnt between the checks and the append still counts."""
    sid = person(db_engine)
    prepared = prepared_consent(db_engine, ctx, sid)
    with transaction(make_sessionmaker(db_engine)) as s:
        s.execute(update(Subject).where(Subject.id == sid).values(birth_date=date(2019, 5, 1)))
    with pytest.raises(InvalidInput, match="guardian"), \
            transaction(make_sessionmaker(db_engine)) as s:
        append_prepared(s, ctx, prepared, T0)
    assert events(db_engine) == 0


def test_a_withdrawal_is_checked_against_the_ledger_as_it_is_at_the_append(
        db_engine: Engine, ctx: ConsentContext) -> None:
    sid = person(db_engine)
    with transaction(make_sessionmaker(db_engine)) as s:
        record_event(s, ctx, T0, sid, EventType.CONSENT_GIVEN, purpose_id="newsletter")
    first = prepared_consent(db_engine, ctx, sid, EventType.CONSENT_WITHDRAWN)
    second = prepared_consent(db_engine, ctx, sid, EventType.CONSENT_WITHDRAWN)
    with transaction(make_sessionmaker(db_engine)) as s:
        append_prepared(s, ctx, first, T0 + timedelta(minutes=1))
    # Both were prepared while the consent stood; only one withdrawal can follow it.
    with pytest.raises(InvalidInput, match="no consent to withdraw"), \
            transaction(make_sessionmaker(db_engine)) as s:
        append_prepared(s, ctx, second, T0 + timedelta(minutes=2))
    assert events(db_engine) == 2


def test_the_write_finds_its_person_as_get_subject_does(db_engine: Engine) -> None:
    """``subject_row_of`` (the consent write's lookup, rows not ORM instances) finds the
    same person by every kind of reference, and refuses the same ones, as ``get_subject``."""
    from personvern.consent.subjects import get_subject, subject_row_of
    from personvern.errors import UnknownSubject

    with transaction(make_sessionmaker(db_engine)) as s:
        sid = create_subject(s, lambda: T0, {"email": "Kari@Example.no", "phone": "+4791234567",
                                             "external_id": "u-1"},
                             birth_date=date(1990, 1, 2))[0].id
        gone = create_subject(s, lambda: T0, {"email": "borte@example.no"})[0].id
    with transaction(make_sessionmaker(db_engine)) as s:
        forget_subjects(s, [gone], T0)
    with transaction(make_sessionmaker(db_engine)) as s:
        for ref in (sid, f" {sid} ", "kari@example.no", " KARI@example.no", "+4791234567",
                    "ext:u-1"):
            found = get_subject(s, ref)
            assert subject_row_of(s, ref) == (found.id, found.birth_date) == (
                sid, date(1990, 1, 2))
        for ref in (gone, "borte@example.no", "nobody@example.no", "ext:u-2", "+4799999999",
                    "0" * 32):
            with pytest.raises(UnknownSubject) as by_orm:
                get_subject(s, ref)
            with pytest.raises(UnknownSubject) as by_row:
                subject_row_of(s, ref)
            assert str(by_row.value) == str(by_orm.value)
        for bad in ("kari@@example", "ext:"):
            with pytest.raises(InvalidInput):
                subject_row_of(s, bad)
