"""Retention sweep: N users of which 20% have been inactive past the two-year rule.

The sweep (``personvern.retention.run``, set-based batches, each recorded and audited)
against the equivalent hand-written SQL on a copy of the same database in the same run,
on a connection with the same settings (WAL, foreign keys, secure_delete):
``DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE last_login_at < ?)``
then ``DELETE FROM users WHERE last_login_at < ?``, one transaction (the target's limit).
That limit holds the service's write lock for the whole sweep and starts again from
nothing after a crash; a sweep must not (it locks one batch at a time and resumes). So the
same DELETEs cut into the sweep's batches (the next ``--batch`` expired users by key, both
tables, a commit each: what a hand-written sweep that is safe to run beside the service
does) are timed too, and ``sweep_vs_batched_sql`` says what the engine adds to that; the
target is still judged against the one transaction.

The sweep also rewrites the file so erased rows leave no byte (VACUUM and a checkpoint,
``storage.engine.sqlite_scrub``); the SQL side runs the same scrub after its clock stops,
and the sweep's own scrub is timed apart. Like for like, ``sweep_vs_sql`` compares the
sweep without its scrub with the SQL without it (target: at most 1.5); the sweep with its
scrub against the SQL with the same scrub, and against the bare DELETEs (how this
benchmark compared before), are printed too. Each round runs both sides back to back, the
order alternating, and a ratio is the median of the rounds' own ratios; each side's CPU
seconds (``time.process_time``) are compared the same way, the figure the machine's load
moves least. After each round both files are checked to hold the same rows and, file and
WAL, no erased user's address (an outcome check: once its process has closed it, a file
here holds none even unscrubbed, so it would not notice a missing VACUUM). Start-up is
outside both clocks: imports, the manifest, the connections, and SQLAlchemy's mapper
configuration (the last step of importing the engine's models, which SQLAlchemy defers
to the first query). Peak memory (RSS of a fresh process running the sweep) at each
size, and the largest size's against the smallest's: target flat within 25 %, at most
300 MB. The engine holds no subjects here: the service's own table is the data.

    python benchmarks/retention.py --quick          # 20k and 100k users
    python benchmarks/retention.py                  # 200k, 1M (and --sizes to choose)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log, ratio

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
EXPIRED_SHARE = 0.2
MANIFEST = """\
personvern: 1
service: {name: Benk}
controller: {name: Benk AS, orgnr: "923641645"}
subjects: [{id: users, name: Users}]
purposes:
  - id: account
    name: Account
    legal_basis: contract
    categories: [user.name, user.contact.email, user.content.private]
    subjects: [users]
    retention: [inactive]
retention:
  - id: inactive
    trigger: last_activity
    duration: 2 years
    description: Deleted two years after the last sign-in.
datasets:
  - id: app
    url: "sqlite:///{service}"
    tables:
      - name: users
        dates: {last_activity: last_login_at}
        columns:
          - {name: id, identity: user_id}
          - {name: email, identity: email, categories: [user.contact.email]}
          - {name: name, categories: [user.name]}
      - name: sessions
        columns:
          - {name: notes, categories: [user.content.private]}
        references:
          - {column: user_id, to: users.id}
"""


def build(path: Path, users: int, seed: int = 7) -> int:
    """The service's database; returns how many users are past the rule."""
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE,
                            name VARCHAR(200) NOT NULL, last_login_at DATETIME);
        CREATE INDEX ix_users_last_login_at ON users (last_login_at);
        CREATE TABLE sessions (id INTEGER PRIMARY KEY,
                               user_id INTEGER NOT NULL REFERENCES users (id),
                               notes TEXT);
        CREATE INDEX ix_sessions_user_id ON sessions (user_id);
    """)
    expired = 0
    chunk = 50_000
    for start in range(1, users + 1, chunk):
        rows, sessions = [], []
        for uid in range(start, min(start + chunk, users + 1)):
            old = rng.random() < EXPIRED_SHARE
            expired += old
            days = rng.randint(731, 2000) if old else rng.randint(0, 729)
            at = (NOW - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S.000000")
            rows.append((uid, f"bruker{uid}@example.no", f"Bruker {uid}", at))
            sessions.append((uid, uid, "Gikk gjennom brøk og prosent."))
        db.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO sessions VALUES (?, ?, ?)", sessions)
        db.commit()
    db.close()
    return expired


def child_sql(service: Path, batch: int = 0) -> dict[str, Any]:
    """The hand-written baseline, in this (fresh) process: one transaction, or with
    ``batch`` the same DELETEs a window of ``batch`` expired users at a time."""
    from personvern.storage.engine import SQLITE_PRAGMAS

    db = sqlite3.connect(service, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:  # the connection settings the sweep's engine uses
        db.execute(pragma)
    cutoff = (NOW - timedelta(days=730)).strftime("%Y-%m-%d %H:%M:%S.000000")
    start, cpu = time.perf_counter(), time.process_time()
    if batch:
        deleted = _batched_sql(db, cutoff, batch)
    else:
        db.execute("BEGIN")
        db.execute("DELETE FROM sessions WHERE user_id IN "
                   "(SELECT id FROM users WHERE last_login_at < ?)", (cutoff,))
        deleted = db.execute("DELETE FROM users WHERE last_login_at < ?", (cutoff,)).rowcount
        db.commit()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    # What the sweep adds so erased rows leave no byte (storage.engine.sqlite_scrub).
    start, scrub_cpu = time.perf_counter(), time.process_time()
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    scrub, scrub_cpu = time.perf_counter() - start, time.process_time() - scrub_cpu
    db.close()
    return {"seconds": seconds, "scrub_s": scrub, "cpu_s": cpu, "scrub_cpu_s": scrub_cpu,
            "users_deleted": deleted, "rss_mb": _rss_mb()}


def _batched_sql(db: sqlite3.Connection, cutoff: str, batch: int) -> int:
    """The DELETEs by windows of ``batch`` expired users in key order, a commit each; the
    users deleted."""
    deleted, last = 0, 0
    while True:
        upper = db.execute("SELECT max(id) FROM (SELECT id FROM users WHERE last_login_at < ? "
                           "AND id > ? ORDER BY id LIMIT ?)", (cutoff, last, batch)).fetchone()[0]
        if upper is None:
            return deleted
        db.execute("BEGIN")
        db.execute("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE "
                   "last_login_at < ? AND id > ? AND id <= ?)", (cutoff, last, upper))
        deleted += db.execute("DELETE FROM users WHERE last_login_at < ? AND id > ? AND "
                              "id <= ?", (cutoff, last, upper)).rowcount
        db.commit()
        last = upper


def child_sweep(manifest: Path, engine_url: str, batch: int) -> dict[str, Any]:
    """The sweep through the library, in this (fresh) process."""
    from sqlalchemy.orm import configure_mappers

    import personvern.retention.execute  # imported before the clock starts
    from personvern import retention
    from personvern.manifest.loader import load_manifest
    from personvern.storage.engine import create_engine_for
    from personvern.storage.session import make_sessionmaker

    # Start-up, as the imports above: SQLAlchemy configures the models' mappers at the
    # first query of the process (some 11 ms of CPU), whatever the size of the sweep.
    configure_mappers()
    loaded = load_manifest(manifest)
    engine = create_engine_for(engine_url)
    sessions = make_sessionmaker(engine)
    scrubs: list[float] = []
    scrub_cpus: list[float] = []
    before_scrub: list[float] = []
    scrub = personvern.retention.execute.scrub_erased

    def timed_scrub(*args: Any, **kwargs: Any) -> list[str]:
        # Times the sweep's own scrub (it still runs, as always): only a measurement.
        before_scrub.append(_rss_mb())
        began, began_cpu = time.perf_counter(), time.process_time()
        try:
            return scrub(*args, **kwargs)
        finally:
            scrubs.append(time.perf_counter() - began)
            scrub_cpus.append(time.process_time() - began_cpu)

    personvern.retention.execute.scrub_erased = timed_scrub  # type: ignore[assignment]
    start, cpu = time.perf_counter(), time.process_time()
    _, data = retention.run(loaded, sessions, NOW, reason="benchmark", batch=batch)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    rows = {t["table"]: t["rows"] for r in data["rules"] for t in r["tables"]}
    assert len(scrubs) == 1, scrubs  # the service's one dataset, rewritten once
    return {"seconds": seconds, "scrub_s": scrubs[0], "cpu_s": cpu, "scrub_cpu_s": scrub_cpus[0],
            "users_deleted": rows.get("users", 0), "rss_mb": _rss_mb(),
            "rss_before_scrub_mb": before_scrub[0]}


def _rss_mb() -> float:
    """This process's peak RSS. On Linux ``ru_maxrss`` keeps, across the ``exec`` of a
    child, the peak of the parent it was forked from (this benchmark, holding the data it
    built and checked), so the figure is the process's own high-water mark (VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(users: int, batch: int, workdir: Path, repeat: int = 1) -> dict[str, Any]:
    """Build once, then ``repeat`` rounds: the SQL and the sweep each on a fresh copy, in
    fresh processes, back to back, the order alternating (the machine is shared); each
    ratio is the median of the rounds' own ratios."""
    from personvern.storage.migrate import upgrade

    template = workdir / f"template-{users}.db"
    log(f"building {users:,} users")
    expired = build(template, users)
    sql_db, sweep_db = workdir / f"sql-{users}.db", workdir / f"sweep-{users}.db"
    batched_db = workdir / f"batched-{users}.db"
    manifest = workdir / f"personvern-{users}.yaml"
    manifest.write_text(MANIFEST.replace("{service}", str(sweep_db)), encoding="utf-8")
    sqls, sweeps, batched = [], [], []
    for n in range(repeat):
        engine_db = workdir / f"engine-{users}-{n}.db"
        for copy in (sql_db, sweep_db, batched_db):
            shutil.copy(template, copy)
        upgrade(f"sqlite:///{engine_db}")
        for side in (("sql", "batched", "sweep") if n % 2 == 0
                     else ("sweep", "batched", "sql")):
            if side == "sql":
                log(f"  hand-written SQL on {users:,}")
                sqls.append(_child("--child-sql", str(sql_db)))
            elif side == "batched":
                log(f"  hand-written SQL in batches of {batch:,} on {users:,}")
                batched.append(_child("--child-sql", str(batched_db), str(batch)))
            else:
                log(f"  sweep on {users:,} (batch {batch:,})")
                sweeps.append(_child("--child-sweep", str(manifest), f"sqlite:///{engine_db}",
                                     str(batch)))
        # The same work: the same rows left, and no erased address in either.
        assert _left(sql_db) == _left(sweep_db) == _left(batched_db), \
            (_left(sql_db), _left(sweep_db), _left(batched_db))
        for db in (sql_db, sweep_db, batched_db):
            assert not (left := _erased_addresses(db)), f"{db.name} holds {len(left)}"
        for name in (sql_db, sweep_db, batched_db, engine_db):
            for path in name.parent.glob(f"{name.name}*"):  # with its -wal and -shm
                path.unlink()
    template.unlink()
    for sql, sweep, cut in zip(sqls, sweeps, batched, strict=True):
        assert sql["users_deleted"] == sweep["users_deleted"] == cut["users_deleted"] \
            == expired, (sql, sweep, cut, expired)
    pairs = list(zip(sqls, sweeps, strict=True))
    # The sweep against the batched SQL, round by round (each round ran both).
    cut_pairs = list(zip(batched, sweeps, strict=True))

    def med(f: Any) -> float:
        return float(statistics.median(f(q, w) for q, w in pairs))

    work = [w["seconds"] - w["scrub_s"] for w in sweeps]
    work_cpu = [w["cpu_s"] - w["scrub_cpu_s"] for w in sweeps]
    return {"users": users, "expired": expired,
            "sql_s": round(statistics.median(q["seconds"] for q in sqls), 3),
            "sweep_s": round(statistics.median(w["seconds"] for w in sweeps), 3),
            "sweep_without_scrub_s": round(statistics.median(work), 3),
            # Like for like: the DELETEs and what the sweep does around them, no scrub on
            # either side (the target's ratio); the median of the rounds' ratios.
            "sweep_vs_sql": round(med(lambda q, w: (w["seconds"] - w["scrub_s"])
                                      / q["seconds"]), 2),
            "sweep_vs_sql_rounds": [round((w["seconds"] - w["scrub_s"]) / q["seconds"], 2)
                                    for q, w in pairs],
            # What the engine adds to a hand-written sweep in the same batches (not the
            # target's limit: see the module's docstring).
            "batched_sql_s": round(statistics.median(b["seconds"] for b in batched), 3),
            "batched_sql_vs_sql": round(statistics.median(
                b["seconds"] / q["seconds"] for q, b in zip(sqls, batched, strict=True)), 2),
            "sweep_vs_batched_sql": round(statistics.median(
                (w["seconds"] - w["scrub_s"]) / b["seconds"] for b, w in cut_pairs), 2),
            "sweep_cpu_vs_batched_sql_cpu": round(statistics.median(
                (w["cpu_s"] - w["scrub_cpu_s"]) / b["cpu_s"] for b, w in cut_pairs), 2),
            # Like for like with the scrub on both sides.
            "sweep_vs_sql_both_scrubbed": round(med(
                lambda q, w: w["seconds"] / (q["seconds"] + q["scrub_s"])), 2),
            # As this benchmark compared before: the sweep with its scrub, the SQL without.
            "sweep_with_scrub_vs_bare_sql": round(med(lambda q, w: w["seconds"]
                                                      / q["seconds"]), 2),
            # CPU seconds of each side (the load moves them least), without and with scrub.
            "sql_cpu_s": round(statistics.median(q["cpu_s"] for q in sqls), 3),
            "sweep_without_scrub_cpu_s": round(statistics.median(work_cpu), 3),
            "sweep_cpu_vs_sql_cpu": round(med(lambda q, w: (w["cpu_s"] - w["scrub_cpu_s"])
                                              / q["cpu_s"]), 2),
            "sweep_cpu_vs_sql_cpu_both_scrubbed": round(med(
                lambda q, w: w["cpu_s"] / (q["cpu_s"] + q["scrub_cpu_s"])), 2),
            # The scrub: the SQL side's after its DELETEs, the sweep's own, and per 1,000.
            "no_byte_s": round(statistics.median(q["scrub_s"] for q in sqls), 3),
            "sweep_scrub_s": round(statistics.median(w["scrub_s"] for w in sweeps), 3),
            "no_byte_vs_sql": round(med(lambda q, w: q["scrub_s"] / q["seconds"]), 2),
            "no_byte_s_per_1000_erased": round(
                statistics.median(q["scrub_s"] for q in sqls) * 1000 / max(expired, 1), 4),
            "sweep_peak_rss_mb": statistics.median(w["rss_mb"] for w in sweeps),
            "sweep_peak_rss_before_scrub_mb": statistics.median(
                w["rss_before_scrub_mb"] for w in sweeps),
            "sql_peak_rss_mb": statistics.median(q["rss_mb"] for q in sqls)}


def _left(path: Path) -> tuple[int, int, int]:
    """Users and sessions left in a service file, and a checksum of the users' keys."""
    db = sqlite3.connect(path)
    try:
        got = db.execute("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM sessions),"
                         " (SELECT total(id) FROM users)").fetchone()
        return int(got[0]), int(got[1]), int(got[2])
    finally:
        db.close()


def _erased_addresses(path: Path) -> set[bytes]:
    """The addresses of users no longer in the file that the file or its WAL still holds."""
    db = sqlite3.connect(path)
    try:
        alive = {str(r[0]).encode() for r in db.execute("SELECT id FROM users")}
    finally:
        db.close()
    found: set[bytes] = set()
    for p in (path, path.with_name(path.name + "-wal")):
        if p.exists():
            found.update(re.findall(rb"bruker(\d+)@example\.no", p.read_bytes()))
    return found - alive


def main() -> None:
    """Measure at each size, print the JSON line."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child-sql":
        print(json.dumps(child_sql(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3
                                   else 0)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-sweep":
        print(json.dumps(child_sweep(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k and 100k users")
    parser.add_argument("--sizes", type=str, default=None,
                        help="comma-separated user counts (default 200000,1000000)")
    parser.add_argument("--batch", type=int, default=10_000, help="rows per sweep batch")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds per size, the order alternating (default 3 with "
                             "--quick, else 1); medians reported")
    args = parser.parse_args()
    args.repeat = args.repeat or (3 if args.quick else 1)
    sizes = [int(s) for s in (args.sizes or ("20000,100000" if args.quick
                                             else "200000,1000000")).split(",")]
    runs = []
    with tempfile.TemporaryDirectory(prefix="pv-bench-retention-") as tmp:
        for users in sizes:
            got = measure(users, args.batch, Path(tmp), args.repeat)
            log(f"  {got}")
            runs.append(got)
    largest, smallest = runs[-1], runs[0]
    rss = [r["sweep_peak_rss_mb"] for r in runs]
    # Flat: the largest size's peak against the smallest's (and the spread over all).
    rss_growth = ratio(largest["sweep_peak_rss_mb"], smallest["sweep_peak_rss_mb"])
    rss_spread = ratio(max(rss), min(rss))
    for r in runs:
        log(f"{r['users']:>9,} users: sweep {r['sweep_s']:.3f} s (scrub "
            f"{r['sweep_scrub_s']:.3f}), SQL {r['sql_s']:.3f} s (scrub {r['no_byte_s']:.3f}); "
            f"sweep_vs_sql {r['sweep_vs_sql']} (limit 1.5), both scrubbed "
            f"{r['sweep_vs_sql_both_scrubbed']}, with scrub vs bare SQL "
            f"{r['sweep_with_scrub_vs_bare_sql']}; CPU {r['sweep_without_scrub_cpu_s']:.3f} "
            f"s against {r['sql_cpu_s']:.3f} s ({r['sweep_cpu_vs_sql_cpu']}); "
            f"peak RSS {r['sweep_peak_rss_mb']} MB; the same SQL in batches "
            f"{r['batched_sql_s']:.3f} s ({r['batched_sql_vs_sql']}x the one transaction), "
            f"sweep_vs_batched_sql {r['sweep_vs_batched_sql']} (CPU "
            f"{r['sweep_cpu_vs_batched_sql_cpu']})")
    log(f"peak RSS {largest['users']:,} vs {smallest['users']:,} users: "
        f"{largest['sweep_peak_rss_mb']} / {smallest['sweep_peak_rss_mb']} MB = {rss_growth} "
        f"(limit 1.25); spread over all sizes {rss_spread}")
    figures: dict[str, Any] = {"runs": runs, "peak_rss_largest_vs_smallest": rss_growth,
                               "peak_rss_max_vs_min": rss_spread, "targets_met": {
        "sweep_at_most_1_5x_sql": all(r["sweep_vs_sql"] <= 1.5 for r in runs),
        "sweep_at_most_1_5x_sql_largest": largest["sweep_vs_sql"] <= 1.5,
        "peak_rss_at_most_300mb": max(rss) <= 300,
        "peak_rss_flat_within_25pct": rss_spread <= 1.25}}
    # ---- per-field encryption (crypto-shredding), measured by benchmarks/crypto.py ------
    from crypto import measure_fields

    log("per-field encryption")
    _, crypto_figures, crypto_ratios = measure_fields(args.quick)
    figures["crypto_per_field"] = crypto_figures | {"ratios": crypto_ratios}
    emit("retention", {"users": sizes, "expired_share": EXPIRED_SHARE, "batch": args.batch,
                       "repeat": args.repeat},
         figures, {f"sweep_vs_sql_{r['users']}": r["sweep_vs_sql"] for r in runs}
         | {"sweep_vs_sql": largest["sweep_vs_sql"],
            "sweep_with_scrub_vs_bare_sql": largest["sweep_with_scrub_vs_bare_sql"],
            "sweep_vs_sql_both_scrubbed": largest["sweep_vs_sql_both_scrubbed"],
            "sweep_cpu_vs_sql_cpu": largest["sweep_cpu_vs_sql_cpu"],
            "sweep_vs_batched_sql": largest["sweep_vs_batched_sql"],
            "sweep_peak_rss_largest_vs_smallest": rss_growth})


if __name__ == "__main__":
    main()
