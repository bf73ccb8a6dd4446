"""A group commit's batch reads the people and API keys of all its consent writers at once
(``WriteLookups``, as ``POST /api/v1/consents`` hints them), and each writer then finds
what it would have found reading alone: the same person, the same refusal, the same key
state. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, event, update

from consent.support import T0, lookup_people, outcome
from personvern.apikeys import create_key
from personvern.consent.service import (
    WriteLookups,
    key_revoked_at,
    preload_subjects,
    subject_of_ref,
)
from personvern.consent.subjects import create_subject, subject_row_of
from personvern.consent.tables import ApiKey
from personvern.storage.session import make_sessionmaker, transaction


def test_a_batch_finds_each_writers_person_as_a_lone_lookup_does(db_engine: Engine) -> None:
    sid, other, gone = lookup_people(db_engine)
    refs = (sid, f" {sid} ", "kari@example.no", " KARI@example.no", "+4791234567", "ext:u-1",
            "ola@example.no", other, gone, "borte@example.no", "nobody@example.no", "ext:u-2",
            "+4799999999", "0" * 32, "kari@@example", "ext:", "x" * 300)
    with transaction(make_sessionmaker(db_engine)) as s:
        alone = {ref: outcome(lambda ref=ref: subject_row_of(s, ref)) for ref in refs}
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with transaction(make_sessionmaker(db_engine)) as s:
        preload_subjects(s, [WriteLookups(refs[i:i + 3], None) for i in range(0, len(refs), 3)])
        event.listen(db_engine, "before_cursor_execute", count)
        try:
            batched = {ref: outcome(lambda ref=ref: subject_of_ref(s, ref)) for ref in refs}
        finally:
            event.remove(db_engine, "before_cursor_execute", count)
    assert batched == alone
    assert alone["kari@example.no"] == (sid, date(1990, 1, 2))
    assert alone[gone][0].__name__ == "UnknownSubject"  # type: ignore[index]
    # No writer sends a statement of its own: those the batch left out (not normalisable)
    # are refused by their own lookup before it reads anything.
    assert len(statements) == 0


def test_a_batch_reads_its_writers_keys_again(db_engine: Engine) -> None:
    with transaction(make_sessionmaker(db_engine)) as s:
        create_key(s, lambda: T0, "live", ["consent:write"])
        create_key(s, lambda: T0, "revoked", ["consent:write"])
    with transaction(make_sessionmaker(db_engine)) as s:
        ids = {k.name: k.id for k in s.query(ApiKey)}
        s.execute(update(ApiKey).where(ApiKey.id == ids["revoked"]).values(revoked_at=T0))
    with transaction(make_sessionmaker(db_engine)) as s:
        assert key_revoked_at(s, ids["live"]) is None  # nothing read for a batch yet
        preload_subjects(s, [WriteLookups(("ola@example.no",), ids["live"]),
                             WriteLookups(("ola@example.no",), ids["revoked"]),
                             WriteLookups(("ola@example.no",), 10_000)])
        assert key_revoked_at(s, ids["live"]) == (True, None)
        revoked = key_revoked_at(s, ids["revoked"])
        assert revoked is not None and revoked[0] and revoked[1] is not None
        assert key_revoked_at(s, 10_000) == (False, None)


@pytest.mark.parametrize("writers", [1, 8])
def test_a_batch_reads_its_people_and_keys_in_two_statements(db_engine: Engine,
                                                             writers: int) -> None:
    with transaction(make_sessionmaker(db_engine)) as s:
        for n in range(writers):
            create_subject(s, lambda: T0, {"email": f"p{n}@example.no"})
        create_key(s, lambda: T0, "app", ["consent:write"])
    with transaction(make_sessionmaker(db_engine)) as s:
        key_id = s.query(ApiKey).one().id
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with transaction(make_sessionmaker(db_engine)) as s:
        s.connection()  # the transaction begun first: only the batch's reads are counted
        subject_row_of(s, "p0@example.no")  # the lookup key read and cached
        event.listen(db_engine, "before_cursor_execute", count)
        try:
            preload_subjects(s, [WriteLookups((f"p{n}@example.no",), key_id)
                                 for n in range(writers)])
        finally:
            event.remove(db_engine, "before_cursor_execute", count)
    assert len(statements) == 2, statements


def test_a_batch_reads_the_keys_its_writers_seal_under_at_once(db_engine: Engine) -> None:
    """A person's first write since the process started found their key uncached: read
    for the whole batch in one statement, then sealing sends none of its own."""
    from personvern.consent.ledger import EVIDENCE_CONTEXT, seal_evidence
    from personvern.crypto.keyring import keyring_for

    with transaction(make_sessionmaker(db_engine)) as s:
        sids = [create_subject(s, lambda: T0, {"email": f"p{n}@example.no"})[0].id
                for n in range(6)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with transaction(make_sessionmaker(db_engine)) as s:
        subject_row_of(s, "p0@example.no")  # the lookup key read and cached
        keyring_for(s).clear_cache()
        subject_row_of(s, "p0@example.no")
        event.listen(db_engine, "before_cursor_execute", count)
        try:
            preload_subjects(s, [WriteLookups((f"p{n}@example.no",)) for n in range(6)])
            sealed = [seal_evidence(s, sid, {"text_shown": "Ja?"}) for sid in sids]
        finally:
            event.remove(db_engine, "before_cursor_execute", count)
        assert [keyring_for(s).open_json(s.connection(), sid, EVIDENCE_CONTEXT, text)
                for sid, text in zip(sids, sealed, strict=True)] == [{"text_shown": "Ja?"}] * 6
    assert len(statements) == 2, statements  # the people, their keys
