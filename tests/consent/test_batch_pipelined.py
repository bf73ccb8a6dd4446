"""On PostgreSQL a group commit's batch sends its writers' lookups (their API keys, the
people they name) with the ledger's lock and head, in one round trip: each writer still
finds what it would have found reading alone, after the lock is held."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, update

from consent.support import T0, lookup_people, outcome
from personvern.apikeys import create_key
from personvern.consent.group import GroupCommit
from personvern.consent.ledger import leave_lock_to_preload, lock_left_to_preload
from personvern.consent.service import (
    WriteLookups,
    key_revoked_at,
    preload_subjects,
    subject_of_ref,
)
from personvern.consent.subjects import create_subject, subject_row_of
from personvern.consent.tables import ApiKey
from personvern.storage.session import make_sessionmaker, transaction


def _postgres(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the pipeline is PostgreSQL's; SQLite takes its lock before the reads")


def test_lookups_sent_with_the_lock_find_what_a_lone_lookup_finds(db_engine: Engine) -> None:
    _postgres(db_engine)
    sid, other, gone = lookup_people(db_engine)
    with transaction(make_sessionmaker(db_engine)) as s:
        create_key(s, lambda: T0, "live", ["consent:write"])
        create_key(s, lambda: T0, "revoked", ["consent:write"])
    with transaction(make_sessionmaker(db_engine)) as s:
        keys = {k.name: k.id for k in s.query(ApiKey)}
        s.execute(update(ApiKey).where(ApiKey.id == keys["revoked"]).values(revoked_at=T0))
    refs = (sid, f" {sid} ", "kari@example.no", " KARI@example.no", "+4791234567", "ext:u-1",
            "ola@example.no", other, gone, "borte@example.no", "nobody@example.no", "ext:u-2",
            "0" * 32, "kari@@example", "ext:", "x" * 300)
    with transaction(make_sessionmaker(db_engine)) as s:
        alone = {ref: outcome(lambda ref=ref: subject_row_of(s, ref)) for ref in refs}
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with transaction(make_sessionmaker(db_engine)) as s:
        subject_row_of(s, "ola@example.no")  # the lookup key read and cached
        leave_lock_to_preload(s)
        event.listen(db_engine, "before_cursor_execute", count)
        try:
            preload_subjects(s, [WriteLookups(refs[i:i + 3], key_id) for i, key_id in zip(
                range(0, len(refs), 3), [keys["live"], keys["revoked"], 10_000, None, None,
                                         None], strict=False)])
        finally:
            event.remove(db_engine, "before_cursor_execute", count)
        assert not lock_left_to_preload(s)
        batched = {ref: outcome(lambda ref=ref: subject_of_ref(s, ref)) for ref in refs}
        assert key_revoked_at(s, keys["live"]) == (True, None)
        assert key_revoked_at(s, keys["revoked"]) == (True, T0)
        assert key_revoked_at(s, 10_000) == (False, None)
    assert batched == alone
    assert alone["kari@example.no"] == (sid, date(1990, 1, 2))
    # The lock, the head, then the keys, the people by identity and the people by id,
    # in the order sent: the reads only once the lock is held.
    assert len(statements) == 5, statements
    assert "pg_advisory_xact_lock" in statements[0] and "ledger_events" in statements[1]
    assert [sql.split(" FROM ")[1].split()[0] for sql in statements[2:]] == [
        ApiKey.__tablename__, "subject_identities", "subjects"]


@contextmanager
def _traced(engine: Engine, log: Path) -> Iterator[None]:
    """libpq's trace of every connection the engine hands out, into ``log``."""
    out = log.open("w")

    def checkout(dbapi: Any, record: Any, proxy: Any) -> None:
        dbapi.pgconn.trace(out.fileno())

    def checkin(dbapi: Any, record: Any) -> None:
        dbapi.pgconn.untrace()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
        out.close()


def test_a_batch_of_writers_is_four_round_trips(db_engine: Engine, tmp_path: Path) -> None:
    """BEGIN; the lock, the head and the writers' lookups; the rows, signed head and
    notice; COMMIT: the client waits four times for the batch (it waited six times, the
    keys and the people each a round trip of their own under the lock)."""
    _postgres(db_engine)
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        people = [create_subject(s, lambda: T0, {"email": f"p{n}@example.no"})[0].id
                  for n in range(3)]
        create_key(s, lambda: T0, "app", ["consent:write"])
    with transaction(sessions) as s:
        key_id = s.query(ApiKey).one().id
    group = GroupCommit(sessions, preload=preload_subjects)

    def write(n: int) -> Any:
        def work(session: Any) -> Any:
            return subject_of_ref(session, f"p{n}@example.no").id, key_revoked_at(session,
                                                                                   key_id)
        return work

    group.run(write(0), hint=WriteLookups(("p0@example.no",), key_id))  # keys cached
    log = tmp_path / "trace.txt"
    with _traced(db_engine, log):
        got = group.run(write(1), hint=WriteLookups(("p1@example.no",), key_id))
    assert got == (people[1], (True, None))
    sent = [line.split("\t")[3] for line in log.read_text().splitlines()
            if line.split("\t")[1:2] == ["F"]]
    waits = [m for m in sent if m in ("Sync", "Query")]
    assert len(waits) == 4, sent
