"""The audit trail: a hash chain that verifies, and that shows any edit, deletion or reorder."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from personvern.audit import (
    GENESIS_HASH,
    AuditCheck,
    append_audit,
    audit_head,
    audit_in_bulk,
    check_audit_chain,
    event_hash,
    verify_audit_chain,
)
from personvern.clock import Clock, fixed_clock
from personvern.storage.engine import create_engine_for
from personvern.storage.migrate import upgrade
from personvern.storage.models import AuditEvent
from personvern.storage.session import make_sessionmaker, transaction


def _ticking(start: str = "2027-03-01T12:00:00+01:00") -> Clock:
    """A clock that moves one second (and a few microseconds) per reading."""
    at = datetime.fromisoformat(start)
    ticks = iter(range(1_000_000))
    return lambda: at + timedelta(seconds=next(ticks), microseconds=7)


def _fill(engine: Engine, count: int = 5) -> None:
    clock = _ticking()
    with transaction(engine) as session:
        for n in range(count):
            append_audit(session, clock, "admin@example.no", "consent.given", f"subject:{n}",
                         {"purpose": "marketing", "n": n, "note": "Ærlig talt, ø og å"})


def _verify(engine: Engine) -> int | None:
    with make_sessionmaker(engine)() as session:
        return verify_audit_chain(session)


def test_an_empty_trail_verifies(db_engine: Engine) -> None:
    assert _verify(db_engine) is None


def test_appended_events_form_a_chain(db_engine: Engine, clock: Clock) -> None:
    _fill(db_engine, 3)
    with make_sessionmaker(db_engine)() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.id for e in events] == [1, 2, 3]
        assert events[0].prev_hash == GENESIS_HASH
        assert events[1].prev_hash == events[0].hash
        assert events[2].prev_hash == events[1].hash
        assert all(len(e.hash) == 64 and e.hash == event_hash(e) for e in events)
        assert events[0].at == datetime(2027, 3, 1, 11, 0, 0, 7, tzinfo=UTC)
        assert events[0].at.tzinfo is not None
        assert events[2].details == {"purpose": "marketing", "n": 2, "note": "Ærlig talt, ø og å"}
        head = audit_head(session)
        assert head is not None
        assert head.id == 3
        assert verify_audit_chain(session) is None


def test_events_keep_their_session_transaction(db_engine: Engine, clock: Clock) -> None:
    with make_sessionmaker(db_engine)() as session:
        append_audit(session, clock, "a", "x", "t", {})
        session.rollback()
    assert _verify(db_engine) is None
    with make_sessionmaker(db_engine)() as session:
        assert audit_head(session) is None


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "'mallory'"), ("action", "'consent.withdrawn'"), ("target", "'subject:99'"),
     ("details", "'{\"purpose\": \"analytics\"}'"), ("at", "'2020-01-01 00:00:00+00:00'")],
)
def test_an_edited_event_is_detected(db_engine: Engine, column: str, value: str) -> None:
    _fill(db_engine)
    with db_engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_events SET {column} = {value} WHERE id = 3"))
    assert _verify(db_engine) == 3


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(db_engine: Engine) -> None:
    _fill(db_engine)
    with transaction(db_engine) as session:
        event = session.get(AuditEvent, 3)
        assert event is not None
        event.actor = "mallory"
        event.hash = event_hash(event)
    assert _verify(db_engine) == 4


@pytest.mark.parametrize(("deleted", "first_broken"), [(1, 2), (3, 4)])
def test_a_deleted_event_is_detected(db_engine: Engine, deleted: int, first_broken: int) -> None:
    _fill(db_engine)
    with db_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": deleted})
    assert _verify(db_engine) == first_broken


def test_reordered_events_are_detected(db_engine: Engine) -> None:
    _fill(db_engine)
    columns = "at, actor, action, target, details, prev_hash, hash"
    with db_engine.begin() as conn:
        rows = {r.id: r for r in conn.execute(
            text(f"SELECT id, {columns} FROM audit_events WHERE id IN (2, 3)"))}
        # Free the unique hashes first, then write each row's content into the other.
        conn.execute(text("UPDATE audit_events SET prev_hash = 'x' || id, hash = 'y' || id "
                          "WHERE id IN (2, 3)"))
        for target, source in ((2, 3), (3, 2)):
            row = rows[source]
            conn.execute(text(
                "UPDATE audit_events SET at = :at, actor = :actor, action = :action, "
                "target = :target, prev_hash = :prev_hash, hash = :hash WHERE id = :id"
            ), {**row._asdict(), "id": target})
    assert _verify(db_engine) == 2


def test_the_chain_cannot_fork(db_engine: Engine, clock: Clock) -> None:
    _fill(db_engine, 2)
    with pytest.raises(IntegrityError), transaction(db_engine) as session:
        head = audit_head(session)
        assert head is not None
        fork = AuditEvent(id=head.id + 1, at=clock(), actor="a", action="x", target="t",
                          details={}, prev_hash=head.prev_hash)
        fork.hash = event_hash(fork)
        session.add(fork)
    assert _verify(db_engine) is None


def test_bad_input_is_refused_and_nothing_is_stored(db_engine: Engine) -> None:
    naive = fixed_clock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"), transaction(db_engine) as session:
        append_audit(session, lambda: datetime(2027, 3, 1), "a", "x", "t", {})
    with pytest.raises(ValueError, match="plain JSON"), transaction(db_engine) as session:
        append_audit(session, naive, "a", "x", "t", {"when": datetime(2027, 1, 1)})
    with pytest.raises(ValueError, match="plain JSON"), transaction(db_engine) as session:
        append_audit(session, naive, "a", "x", "t", {"n": float("nan")})
    with make_sessionmaker(db_engine)() as session:
        assert audit_head(session) is None


def test_concurrent_writers_keep_one_unbroken_chain(db_engine: Engine) -> None:
    writers, each = 4, 15
    errors: list[BaseException] = []
    clock = _ticking()
    lock = threading.Lock()

    def safe_clock() -> datetime:
        with lock:
            return clock()

    def write(n: int) -> None:
        try:
            for i in range(each):
                with transaction(db_engine) as session:
                    append_audit(session, safe_clock, f"worker-{n}", "tick", f"t:{i}", {"i": i})
        except BaseException as err:  # collected, asserted below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with make_sessionmaker(db_engine)() as session:
        head = audit_head(session)
        assert head is not None
        assert head.id == writers * each
        assert verify_audit_chain(session, batch=7) is None


@pytest.mark.postgres
def test_the_same_events_hash_the_same_on_sqlite_and_postgres(
    sqlite_url: str, postgres_url: str
) -> None:
    hashes = []
    for url in (sqlite_url, postgres_url):
        upgrade(url)
        engine = create_engine_for(url)
        try:
            _fill(engine, 4)
            with make_sessionmaker(engine)() as session:
                hashes.append(session.scalars(select(AuditEvent.hash)
                                              .order_by(AuditEvent.id)).all())
        finally:
            engine.dispose()
    assert hashes[0] == hashes[1]


# ---- the signed checkpoint: what an edit-free walk cannot see ---------------------------------

def _check(engine: Engine) -> AuditCheck:
    with make_sessionmaker(engine)() as session:
        return check_audit_chain(session)


def test_an_intact_trail_reaches_its_signed_checkpoint(db_engine: Engine) -> None:
    _fill(db_engine, 5)
    found = _check(db_engine)
    assert found.problem is None and found.events == 5
    assert found.checkpoint is not None and found.checkpoint.seq == 5
    assert found.verdict().startswith("audit trail intact: 5 events verified, up to the signed "
                                      "checkpoint at event 5")


@pytest.mark.parametrize(("sql", "says"), [
    ("DELETE FROM audit_events WHERE id > 3", "ends at event 3, but the stored checkpoint "
                                              "signed event 5"),
    ("DELETE FROM audit_events", "is empty, but the stored checkpoint signed event 5"),
])
def test_a_cut_off_or_emptied_trail_is_broken(db_engine: Engine, sql: str, says: str) -> None:
    """The per-event walk calls both intact; the checkpoint signed at commit does not."""
    _fill(db_engine, 5)
    with db_engine.begin() as conn:
        conn.execute(text(sql))
    assert _verify(db_engine) is None  # every remaining link still holds
    found = _check(db_engine)
    assert found.problem is not None and says in found.problem
    assert found.verdict().startswith("audit trail BROKEN:")


def test_a_trail_rewritten_with_fresh_hashes_is_broken(db_engine: Engine) -> None:
    _fill(db_engine, 3)
    with make_sessionmaker(db_engine)() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        prev = GENESIS_HASH
        for row in rows:  # an attacker recomputes every hash after changing the last event
            if row.id == 3:
                row.actor = "mallory"
            row.prev_hash = prev
            row.hash = prev = event_hash(row)
        session.commit()
    assert _verify(db_engine) is None
    found = _check(db_engine)
    assert found.problem is not None and "was rewritten" in found.problem


# ---- appended in bulk (a batch erasure) -------------------------------------------------------

def _bulk_fill(engine: Engine, first: int, then: int) -> None:
    """``first`` events one by one, then ``then`` more in one bulk block, one transaction."""
    clock = _ticking()
    with transaction(engine) as session:
        for n in range(first):
            append_audit(session, clock, "owner", "request.run", f"request:{n}", {"n": n})
    with transaction(engine) as session, audit_in_bulk(session):
        for n in range(first, first + then):
            append_audit(session, clock, "owner", "request.run", f"request:{n}", {"n": n})
        # Nothing is written before the block ends: one INSERT per chunk then.
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == first


def test_events_appended_in_bulk_chain_and_verify_as_one_by_one(
        db_engine: Engine, tmp_path: Path) -> None:
    """A batch chains its events in Python and writes them together: the same ids and
    hashes as appending them one at a time, the trail intact up to the checkpoint signed
    at the commit (what `personvern audit verify` checks)."""
    _bulk_fill(db_engine, 3, 1500)  # more than one chunk
    url = f"sqlite:///{tmp_path / 'one_by_one.db'}"
    upgrade(url)
    one_by_one = create_engine_for(url)
    try:
        clock = _ticking()
        with transaction(one_by_one) as session:
            for n in range(1503):
                append_audit(session, clock, "owner", "request.run", f"request:{n}",
                             {"n": n})
        rows = []
        for engine in (db_engine, one_by_one):
            with make_sessionmaker(engine)() as session:
                rows.append(session.execute(select(AuditEvent.id, AuditEvent.hash)
                                            .order_by(AuditEvent.id)).all())
    finally:
        one_by_one.dispose()
    assert rows[0] == rows[1] and len(rows[0]) == 1503
    found = _check(db_engine)
    assert found.problem is None and found.events == 1503
    assert found.checkpoint is not None and found.checkpoint.seq == 1503


def test_a_savepoint_inside_a_bulk_block_is_refused(db_engine: Engine) -> None:
    """Events held for the end of the block would outlive a savepoint rolled back under
    them: refused loudly, and the transaction leaves no event behind."""
    with (pytest.raises(RuntimeError, match="no savepoint"), transaction(db_engine) as session,
          audit_in_bulk(session)):
        append_audit(session, _ticking(), "owner", "note", "subject:1", {})
        session.begin_nested()
    assert _verify(db_engine) is None
    with make_sessionmaker(db_engine)() as session:
        assert session.scalars(select(AuditEvent)).all() == []


def test_a_commit_inside_a_bulk_block_writes_what_it_holds(db_engine: Engine) -> None:
    """The checkpoint signed at a commit names the events chained so far: a commit made
    inside the block writes them first, so the trail verifies and none is lost."""
    clock = _ticking()
    session = make_sessionmaker(db_engine)()
    try:
        with audit_in_bulk(session):
            for n in range(3):
                append_audit(session, clock, "owner", "request.run", f"request:{n}", {"n": n})
            session.commit()
            append_audit(session, clock, "owner", "request.run", "request:3", {"n": 3})
        session.commit()
    finally:
        session.close()
    found = _check(db_engine)
    assert found.problem is None and found.events == 4
    assert found.checkpoint is not None and found.checkpoint.seq == 4


# ---- a cut or rewrite stays seen after the next append -------------------------------------

def _rewrite_last(engine: Engine) -> None:
    """An attacker changes the newest event and recomputes every hash (no master key)."""
    with make_sessionmaker(engine)() as session:
        prev = GENESIS_HASH
        for row in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all():
            if row.target == "subject:4":
                row.actor = "mallory"
            row.prev_hash = prev
            row.hash = prev = event_hash(row)
        session.commit()


@pytest.mark.parametrize("tamper", [
    "DELETE FROM audit_events WHERE id > 3",  # the newest events cut off
    "DELETE FROM audit_events",  # the whole trail emptied
    "rewrite",  # the newest event changed, every hash recomputed
    # the newest events cut off and the checkpoint that would show it deleted with them
    "DELETE FROM audit_events WHERE id > 3; DELETE FROM chain_checkpoints",
])
def test_a_tampered_trail_stays_broken_after_the_next_append(db_engine: Engine,
                                                             tamper: str) -> None:
    """The next event appended (any audited action, the dashboard's own verification
    among them) must not sign the tampered head as the trail's checkpoint: the trail
    stays BROKEN, never "intact" again (GDPR Art. 5(2), 32(1)(b): the trail is the
    controller's evidence)."""
    _fill(db_engine, 5)
    if tamper == "rewrite":
        _rewrite_last(db_engine)
    else:
        with db_engine.begin() as conn:
            for statement in tamper.split("; "):
                conn.execute(text(statement))
    assert _check(db_engine).problem is not None
    with transaction(db_engine) as session:
        append_audit(session, _ticking("2027-03-02T12:00:00+01:00"), "owner",
                     "dashboard.chains_verified", "audit", {})
    found = _check(db_engine)
    assert found.problem is not None, found.verdict()
    assert found.verdict().startswith("audit trail BROKEN:")
    # Later appends do not wash it out either.
    with transaction(db_engine) as session:
        for n in range(8):
            append_audit(session, _ticking("2027-03-03T12:00:00+01:00"), "owner", "note",
                         f"x:{n}", {})
    assert _check(db_engine).verdict().startswith("audit trail BROKEN:")
