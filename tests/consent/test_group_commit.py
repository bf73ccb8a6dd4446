"""Group commit: concurrent consent writes share transactions, in order, and nobody is told
"written" before the commit that holds their write has returned. Each test runs on SQLite
and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from consent.support import newsletter_context
from personvern.consent.events import EventType
from personvern.consent.group import GroupCommit
from personvern.consent.ledger import verify_ledger
from personvern.consent.service import ConsentContext, record_event
from personvern.consent.subjects import create_subject
from personvern.consent.tables import LedgerEvent, LedgerEvidence
from personvern.errors import NotFound
from personvern.storage.session import make_sessionmaker

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WAIT = 30  # seconds: a bound on every wait, so a deadlock fails the test instead of hanging


@pytest.fixture
def ctx() -> ConsentContext:
    return newsletter_context()


def people(engine: Engine, n: int) -> list[str]:
    with Session(engine) as s, s.begin():
        return [create_subject(s, lambda: T0, {"email": f"p{i}@example.no"})[0].id
                for i in range(n)]


def consent(ctx: ConsentContext, sid: str, minute: int, purpose: str = "newsletter"
            ) -> object:
    """The unit of work an API call hands over: record one consent, return its seq."""
    def work(session: Session) -> tuple[int, str]:
        row, _ = record_event(session, ctx, T0 + timedelta(minutes=minute), sid,
                              EventType.CONSENT_GIVEN, purpose_id=purpose,
                              evidence={"text_shown": f"minute {minute}"})
        return row.seq, row.id
    return work


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(LedgerEvent)).scalar_one())


def test_concurrent_writers_share_transactions_and_the_chain_stays_exact(
        db_engine: Engine, ctx: ConsentContext) -> None:
    sids = people(db_engine, 16)
    group = GroupCommit(make_sessionmaker(db_engine))
    got: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def writer(i: int) -> None:
        start.wait(WAIT)
        for n in range(10):
            try:
                got.append(group.run(consent(ctx, sids[i], n)))  # type: ignore[arg-type]
            except BaseException as err:  # collected, asserted below
                errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not errors and len(got) == 160
    assert sorted(seq for seq, _ in got) == list(range(1, 161))  # one seq each, no gap
    assert group.writes == 160 and group.batches < 160  # writers really were grouped
    with Session(db_engine) as s:
        assert verify_ledger(s) is None  # chain and signed checkpoint agree
        stored = dict(s.execute(select(LedgerEvent.id, LedgerEvent.seq)).tuples().all())
    assert stored == {eid: seq for seq, eid in got}  # each writer was told its own event


def blocked_first(group: GroupCommit, release: threading.Event, entered: threading.Event
                  ) -> threading.Thread:
    """A writer whose work holds its batch open until ``release``: whoever queues meanwhile
    lands in the next batch, together."""
    def work(session: Session) -> None:
        entered.set()
        assert release.wait(WAIT)

    thread = threading.Thread(target=group.run, args=(work,))
    thread.start()
    assert entered.wait(WAIT)
    return thread


def queued(group: GroupCommit, works: list[object]) -> tuple[list[threading.Thread],
                                                              list[object]]:
    """Start a writer per work; their outcomes (value or exception) in order."""
    outcomes: list[object] = [None] * len(works)

    def run(i: int) -> None:
        try:
            outcomes[i] = group.run(works[i])  # type: ignore[arg-type]
        except Exception as err:  # the outcome under test
            outcomes[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for t in threads:
        t.start()
    return threads, outcomes


def wait_queued(group: GroupCommit, n: int) -> None:
    for _ in range(WAIT * 100):
        if len(group._queue) >= n:  # private: only to line the writers up
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{n} writers never queued")


def test_a_writer_that_fails_is_told_alone_and_the_others_are_written(
        db_engine: Engine, ctx: ConsentContext) -> None:
    sids = people(db_engine, 3)
    group = GroupCommit(make_sessionmaker(db_engine))
    release, entered = threading.Event(), threading.Event()
    first = blocked_first(group, release, entered)
    threads, outcomes = queued(group, [consent(ctx, sids[0], 1),
                                       consent(ctx, sids[1], 2, purpose="no_such_purpose"),
                                       consent(ctx, sids[2], 3)])
    wait_queued(group, 3)
    release.set()
    for t in [first, *threads]:
        t.join(WAIT)
    assert isinstance(outcomes[1], NotFound) and "no_such_purpose" in str(outcomes[1])
    assert sorted(o[0] for o in (outcomes[0], outcomes[2])) == [1, 2]  # type: ignore[index]
    assert group.batches == 2 and count(db_engine) == 2
    with Session(db_engine) as s:
        assert verify_ledger(s) is None


def test_a_failed_commit_fails_every_writer_of_its_batch_and_writes_nothing(
        db_engine: Engine, ctx: ConsentContext) -> None:
    sids = people(db_engine, 2)
    group = GroupCommit(make_sessionmaker(db_engine))

    def breaks_the_commit(session: Session) -> None:
        # A check that runs only at the commit, after both works have run, and fails it.
        conn = session.connection()
        if conn.dialect.name == "sqlite":  # evidence of an event that does not exist
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            conn.execute(insert(LedgerEvidence).values(event_seq=10_000, subject_id=sids[1],
                                                       data=None))
            return
        conn.execute(text("CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql "
                          "AS $$BEGIN RAISE EXCEPTION 'refused at commit'; END$$"))
        conn.execute(text("CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON ledger_events "
                          "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                          "EXECUTE FUNCTION pg_temp.refuse()"))
        consent(ctx, sids[1], 2)(session)  # type: ignore[operator]

    release, entered = threading.Event(), threading.Event()
    first = blocked_first(group, release, entered)
    threads, outcomes = queued(group, [consent(ctx, sids[0], 1), breaks_the_commit])
    wait_queued(group, 2)
    release.set()
    for t in [first, *threads]:
        t.join(WAIT)
    # Both told the commit's own error, neither a success.
    assert outcomes[0] is outcomes[1] and isinstance(outcomes[0], Exception), outcomes
    assert count(db_engine) == 0  # the first writer's consent was not written either
    # And the group goes on: the next writer leads a fresh batch.
    assert group.run(consent(ctx, sids[0], 5))[0] == 1  # type: ignore[index]


def test_a_writer_whose_write_is_done_returns_while_others_still_queue(
        db_engine: Engine, ctx: ConsentContext) -> None:
    """Under a steady load a leader must not serve the others for ever: once its own write
    has committed it hands the lead to the next in line and returns."""
    sids = people(db_engine, 2)
    group = GroupCommit(make_sessionmaker(db_engine), max_batch=1)
    release, entered = threading.Event(), threading.Event()
    a_returned = threading.Event()

    def slow_b(session: Session) -> None:
        # B runs only after A's caller got its answer: had A kept leading, it would be
        # the one stuck here, and A's caller would never return.
        assert a_returned.wait(WAIT)

    def lead_a() -> None:
        group.run(lambda s: entered.set() or release.wait(WAIT))
        a_returned.set()

    a = threading.Thread(target=lead_a)
    a.start()
    assert entered.wait(WAIT)
    threads, outcomes = queued(group, [slow_b, consent(ctx, sids[1], 1)])
    wait_queued(group, 2)
    release.set()
    for t in [a, *threads]:
        t.join(WAIT)
    assert a_returned.is_set() and outcomes[0] is None
    assert outcomes[1][0] == 1  # type: ignore[index]
    assert group.batches == 3


def test_a_lone_writer_that_fails_is_told_and_nothing_is_written(
        db_engine: Engine, ctx: ConsentContext) -> None:
    """A batch of one runs without a savepoint: its failure rolls the transaction back, and
    the writer is told its own error, not a success and not the next writer's fate."""
    [sid] = people(db_engine, 1)
    group = GroupCommit(make_sessionmaker(db_engine))
    with pytest.raises(NotFound, match="no_such_purpose"):
        group.run(consent(ctx, sid, 1, purpose="no_such_purpose"))  # type: ignore[arg-type]
    assert count(db_engine) == 0 and group.batches == 0
    assert group.run(consent(ctx, sid, 2))[0] == 1  # type: ignore[index]


def test_a_consent_and_its_withdrawal_in_one_batch_are_both_written(
        db_engine: Engine, ctx: ConsentContext) -> None:
    """The withdrawal sees the consent queued before it in the same batch (GDPR Art. 7(3):
    withdrawing must be as easy as giving), though the batch inserts its rows at its end."""
    [sid] = people(db_engine, 1)
    group = GroupCommit(make_sessionmaker(db_engine))

    def withdraw(session: Session) -> tuple[int, str]:
        row, _ = record_event(session, ctx, T0 + timedelta(minutes=2), sid,
                              EventType.CONSENT_WITHDRAWN, purpose_id="newsletter")
        return row.seq, row.type

    release, entered = threading.Event(), threading.Event()
    first = blocked_first(group, release, entered)
    gave, gave_outcome = queued(group, [consent(ctx, sid, 1)])
    wait_queued(group, 1)
    withdrew, withdrew_outcome = queued(group, [withdraw])
    wait_queued(group, 2)
    release.set()
    for t in [first, *gave, *withdrew]:
        t.join(WAIT)
    assert gave_outcome[0][0] == 1  # type: ignore[index]
    assert withdrew_outcome[0] == (2, "consent_withdrawn")
    assert group.batches == 2 and count(db_engine) == 2
    with Session(db_engine) as s:
        assert verify_ledger(s) is None


def steady_load(group: GroupCommit, work_for: list[object], writes: int) -> list[object]:
    """Every writer in ``work_for`` (a function of the write's number) writes ``writes``
    times, all started at once; every outcome."""
    got: list[object] = []
    start = threading.Barrier(len(work_for))

    def writer(make: object) -> None:
        start.wait(WAIT)
        for n in range(writes):
            try:
                got.append(group.run(make(n)))  # type: ignore[operator]
            except BaseException as err:  # collected, asserted by the caller
                got.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in work_for]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    return got


def test_a_steady_load_is_committed_about_all_writers_at_a_time(
        db_engine: Engine, ctx: ConsentContext) -> None:
    """16 writers writing in a loop: the writer who queues while a batch commits waits a
    moment for the others instead of committing alone (a whole flush for one write), so a
    commit carries about 16 writes, not 15 and 1 in turn (8 on average)."""
    sids = people(db_engine, 16)
    group = GroupCommit(make_sessionmaker(db_engine))
    got = steady_load(group, [lambda n, sid=sid: consent(ctx, sid, n) for sid in sids], 12)
    assert len(got) == 192 and not [g for g in got if isinstance(g, BaseException)]
    assert sorted(seq for seq, _ in got) == list(range(1, 193))  # type: ignore[misc]
    assert group.writes / group.batches >= 10, (group.writes, group.batches)
    with Session(db_engine) as s:
        assert verify_ledger(s) is None


def test_batches_and_writers_outside_the_group_keep_one_exact_chain(
        db_engine: Engine, ctx: ConsentContext) -> None:
    """Writers that each commit alone (another process, the CLI) alongside the group's
    batches: every batch reads the head after the chain's lock is held (on PostgreSQL the
    lock and the read go in one round trip), so no batch builds on a stale head; one that
    did would collide on its sequence numbers and be run again one by one."""
    sids = people(db_engine, 8)
    sessions = make_sessionmaker(db_engine)
    group = GroupCommit(sessions)

    def alone(sid: str) -> object:
        def make(n: int) -> object:
            def write() -> tuple[int, str]:
                with Session(db_engine) as s, s.begin():
                    return consent(ctx, sid, 100 + n)(s)  # type: ignore[operator,no-any-return]
            return write
        return make

    grouped = [lambda n, sid=sid: consent(ctx, sid, n) for sid in sids[:6]]
    # A writer outside the group is a callable of no arguments run in place of group.run.
    solo_done: list[object] = []

    def solo(make: object) -> None:
        for n in range(10):
            solo_done.append(make(n)())  # type: ignore[operator]

    solos = [threading.Thread(target=solo, args=(alone(sid),)) for sid in sids[6:]]
    for t in solos:
        t.start()
    got = steady_load(group, grouped, 10)
    for t in solos:
        t.join(WAIT * 2)
    assert not [g for g in got if isinstance(g, BaseException)] and len(got) == 60
    assert len(solo_done) == 20
    seqs = sorted([seq for seq, _ in got] + [seq for seq, _ in solo_done])  # type: ignore[misc]
    assert seqs == list(range(1, 81))
    assert group.reruns == 0  # no batch collided with an append it had not seen
    with Session(db_engine) as s:
        assert verify_ledger(s) is None
