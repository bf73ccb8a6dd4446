"""A loop of one operation, to run under a sampling profiler (docs/performance.md).

    py-spy record --format raw -o /tmp/consent.txt -- \
        .venv/bin/python benchmarks/_profile_ops.py consent --db sqlite

``OP``: ``consent`` (a consent write with evidence, as ``POST /api/v1/consents`` does it:
the subject found by e-mail, the event appended, committed through the group commit),
``decision`` (in process, ``decide_for`` over 500 people in turn: the first round loads
each into the decision cache, the rest are hits), ``access`` and ``erasure`` (opened and
run, the proof pass apart, as peer.py times them) and ``proof`` (the proof pass alone) on
peer.py's shop tables (``--customers``, 10,000 by default: peer.py's ``--quick``).
PostgreSQL is a throwaway durable cluster (tests/pgcluster.py); the shop always lives
there. Prints the loop's wall and CPU time, statements and commits per operation; the
set-up before the loop is in the profile too, so read the frames under ``loop``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import log
from peer import (
    NOW,
    PURPOSE,
    Personvern,
    build_shop,
    cluster_urls,
    email_of,
    manifest_text,
    register,
)


def loop(what: str, n: int, op: Callable[[int], object]) -> None:
    """``op`` for 1..n, timed (the frame to read in the profile): wall and CPU time of
    this process, the SQL statements it sent to any database (the engine's and the
    shop's) and the commits, per operation."""
    from sqlalchemy import Engine, event

    sent = [0, 0]

    def count(*_: object) -> None:
        sent[0] += 1

    def committed(*_: object) -> None:
        sent[1] += 1

    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Engine, "commit", committed)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(1, n + 1):
        op(i)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    event.remove(Engine, "before_cursor_execute", count)
    event.remove(Engine, "commit", committed)
    log(f"{what}: {elapsed * 1000 / n:.2f} ms each over {n} ({cpu * 1000 / n:.2f} ms CPU), "
        f"{sent[0] / n:.1f} statements and {sent[1] / n:.1f} commits each")


def shown(op: Callable[[], object]) -> None:
    """``op`` once, each SQL statement it sends printed in order, first line only."""
    from sqlalchemy import Engine, event

    sent: list[str] = []

    def keep(_c: object, _cur: object, statement: str, *_: object) -> None:
        sent.append(" ".join(statement.split())[:150])

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        op()
    finally:
        event.remove(Engine, "before_cursor_execute", keep)
    for i, line in enumerate(sent, 1):
        log(f"{i:3} {line}")


@contextmanager
def databases(db: str, tmp: Path) -> Iterator[tuple[str, str]]:
    """(shop URL, engine URL): the shop on PostgreSQL, the engine where ``db`` says."""
    with cluster_urls() as (shop, engine):
        yield shop, engine if db == "postgresql" else f"sqlite:///{tmp / 'engine.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("op", choices=("consent", "decision", "access", "erasure", "proof"))
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("-n", type=int, default=300, help="operations in the loop")
    parser.add_argument("--show", action="store_true",
                        help="print the SQL statements of one operation after the warm-up")
    parser.add_argument("--cprofile", type=int, default=0, metavar="ROWS",
                        help="profile the loop alone with cProfile: Python calls per "
                             "operation and the top ROWS functions by tottime and ncalls")
    parser.add_argument("--round-trips", action="store_true",
                        help="count the loop's round trips (libpq's trace of every "
                             "PostgreSQL connection: each Sync and simple Query waited on)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pv-profile-") as tmp, \
            databases(args.db, Path(tmp)) as (shop, engine):
        manifest = Path(tmp) / "personvern.yaml"
        manifest.write_text(manifest_text(shop), encoding="utf-8")
        if args.op in ("access", "erasure", "proof"):
            build_shop(shop, args.customers)
        register(engine, args.customers)
        pv = Personvern(manifest, engine, Path(tmp))
        try:
            run(args.op, pv, args.n, show=args.show, cprofile=args.cprofile,
                round_trips=args.round_trips)
        finally:
            pv.close()


def profiled(n: int, rows: int, body: Callable[[], None]) -> None:
    """``body`` under cProfile: Python function calls per operation (a count load does
    not move), then the ``rows`` costliest functions by own CPU time and by calls; the whole
    profile is kept in the temporary directory's ``pv-profile-ops.prof`` for pstats."""
    import cProfile
    import io
    import pstats

    # CPU time, not wall: on a loaded machine the wall is mostly waiting on the server
    profile = cProfile.Profile(time.process_time)
    profile.runcall(body)
    profile.dump_stats(Path(tempfile.gettempdir()) / "pv-profile-ops.prof")
    stats = pstats.Stats(profile, stream=io.StringIO())
    calls = sum(nc for (_cc, nc, _tt, _ct, _callers) in stats.stats.values())  # type: ignore[attr-defined]
    log(f"Python calls per operation (cProfile): {calls / n:,.0f}")
    for key in ("tottime", "ncalls"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(rows)
        log(out.getvalue())


def traced(n: int, body: Callable[[], None]) -> None:
    """``body`` with every psycopg connection traced (those open now and those checked out
    during it): round trips per operation, each Sync or simple Query libpq sent."""
    import gc

    import psycopg
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    path = Path(tempfile.gettempdir()) / "pv-profile-ops.trace"
    seen: list[Any] = []
    with path.open("w") as out:
        def trace(dbapi: Any, *_: object) -> None:
            pgconn = getattr(dbapi, "pgconn", None)
            if pgconn is not None and not any(p is pgconn for p in seen):
                pgconn.trace(out.fileno())
                seen.append(pgconn)

        for obj in gc.get_objects():  # the pools' idle connections, held since the warm-up
            if isinstance(obj, psycopg.Connection) and not obj.closed:
                trace(obj)
        event.listen(Pool, "checkout", trace)
        try:
            body()
        finally:
            event.remove(Pool, "checkout", trace)
            for pgconn in seen:
                pgconn.untrace()
    sent = [f[3] for f in (line.rstrip("\n").split("\t") for line in path.open())
            if f[1:2] == ["F"] and len(f) > 3]
    syncs, queries = sent.count("Sync"), sent.count("Query")
    log(f"round trips per operation: {(syncs + queries) / n:.2f} ({syncs / n:.2f} Syncs, "
        f"{queries / n:.2f} simple Queries; {len(seen)} connections)")


def run(op: str, pv: Personvern, n: int, *, show: bool = False, cprofile: int = 0,
        round_trips: bool = False) -> None:
    """Warm once, then the loop (``show``: one more, its statements printed, instead;
    ``cprofile``: the loop under cProfile; ``round_trips``: its round trips counted)."""
    from personvern.consent.events import EventType
    from personvern.consent.service import decide_for, record_event
    from personvern.consent.subjects import get_subject
    from personvern.requests.proof import prove_erased

    rt = pv.rt
    evidence: dict[str, Any] = {"form": "signup", "text_version": "v3",
                                "ip_hash": "h1:" + "0" * 64}

    def consent(i: int) -> None:
        def write(session: Any) -> object:
            subject = get_subject(session, email_of(i))
            return record_event(session, rt.consent, NOW, subject.id, EventType.CONSENT_GIVEN,
                                purpose_id=PURPOSE, evidence=evidence)
        rt.ledger_writes.run(write)

    def decision(i: int) -> None:
        with rt.transaction() as s:
            decide_for(s, rt.consent, f"{i % 500 + 1:032x}", PURPOSE, NOW)

    ops: dict[str, Callable[[int], object]] = {
        "consent": consent, "decision": decision,
        "access": lambda i: pv.run("access", i),
        "erasure": lambda i: pv.run("erasure", i, prove=False),
        "proof": lambda i: prove_erased(pv.requests.datasets(), {
            "email": [email_of(i)], "external_id": [str(i)]})}
    if op == "decision":  # some people with a consent to decide on
        for i in range(1, 501, 3):
            consent(i)
    ops[op](n + 1)
    if show:
        shown(lambda: ops[op](n + 2))
        return
    before = getattr(rt.keyring, "hits", 0), getattr(rt.keyring, "misses", 0)
    if round_trips:
        traced(n, lambda: loop(op, n, lambda i: ops[op](
            i if op != "consent" else n + 1 + i)))
    elif cprofile:
        profiled(n, cprofile, lambda: loop(op, n, lambda i: ops[op](
            i if op != "consent" else n + 1 + i)))
    else:
        loop(op, n, lambda i: ops[op](i if op != "consent" else n + 1 + i))
    if hasattr(rt.keyring, "hits"):
        hits, misses = rt.keyring.hits - before[0], rt.keyring.misses - before[1]
        log(f"subject keys in the loop: {hits} from the cache, {misses} read and unwrapped "
            f"or created ({hits / max(1, hits + misses):.1%} hits)")


if __name__ == "__main__":
    main()
