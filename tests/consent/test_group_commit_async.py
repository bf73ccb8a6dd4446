"""Group commit for writers on an event loop (``GroupCommit.run_async``, as
``POST /api/v1/consents`` waits): they share transactions with each other and with writers
in threads, each learns its own result or error only once its batch has committed, and a
caller cancelled while it waits neither loses its write nor stalls the writers after it.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from consent.support import newsletter_context
from consent.test_group_commit import WAIT, consent, count, people
from personvern.consent.group import GroupCommit
from personvern.consent.ledger import verify_ledger
from personvern.errors import NotFound
from personvern.storage.session import make_sessionmaker


def test_writers_on_a_loop_and_in_threads_share_batches_in_one_exact_chain(
        db_engine: Engine) -> None:
    ctx = newsletter_context()
    sids = people(db_engine, 12)
    group = GroupCommit(make_sessionmaker(db_engine))
    in_threads: list[object] = []

    def threaded(i: int) -> None:
        for n in range(5):
            in_threads.append(group.run(consent(ctx, sids[i], n)))  # type: ignore[arg-type]

    async def on_loop(i: int) -> list[object]:
        return [await group.run_async(consent(ctx, sids[i], n))  # type: ignore[arg-type]
                for n in range(5)]

    async def main() -> list[list[object]]:
        return await asyncio.wait_for(asyncio.gather(*(on_loop(i) for i in range(8))), WAIT)

    threads = [threading.Thread(target=threaded, args=(i,)) for i in range(8, 12)]
    for t in threads:
        t.start()
    got = [r for rs in asyncio.run(main()) for r in rs]
    for t in threads:
        t.join(WAIT)
    seqs = sorted(seq for seq, _ in got + in_threads)  # type: ignore[misc]
    assert seqs == list(range(1, 61)) and count(db_engine) == 60
    assert group.writes == 60 and group.batches < 60  # loop writers really were grouped
    with Session(db_engine) as s:
        assert verify_ledger(s) is None


def test_a_loop_writers_error_is_its_own(db_engine: Engine) -> None:
    ctx = newsletter_context()
    sids = people(db_engine, 4)

    async def main() -> list[object]:
        group = GroupCommit(make_sessionmaker(db_engine))
        works = [consent(ctx, sid, 0) for sid in sids] + [consent(ctx, "0" * 32, 0)]
        return await asyncio.wait_for(asyncio.gather(
            *(group.run_async(w) for w in works), return_exceptions=True), WAIT)  # type: ignore[arg-type]

    got = asyncio.run(main())
    assert isinstance(got[-1], NotFound)
    assert sorted(seq for seq, _ in got[:-1]) == [1, 2, 3, 4]  # type: ignore[misc]
    assert count(db_engine) == 4


def test_a_cancelled_waiter_keeps_its_write_and_the_others_go_on(db_engine: Engine) -> None:
    ctx = newsletter_context()
    sids = people(db_engine, 6)

    async def main() -> list[object]:
        group = GroupCommit(make_sessionmaker(db_engine))
        first = asyncio.ensure_future(group.run_async(consent(ctx, sids[0], 0)))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # queued (and leading) before it is cancelled
        first.cancel()
        rest = [group.run_async(consent(ctx, sid, 1)) for sid in sids[1:]]  # type: ignore[arg-type]
        return await asyncio.wait_for(asyncio.gather(*rest), WAIT)

    later = asyncio.run(main())
    assert len(later) == 5
    assert count(db_engine) == 6  # the cancelled caller's write was made all the same
    with Session(db_engine) as s:
        assert verify_ledger(s) is None
