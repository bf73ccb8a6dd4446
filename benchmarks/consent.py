"""Consent benchmark: decisions in process and over HTTP, and durable ledger appends.

Full size: 1,000,000 subjects and 5,000,000 ledger events on SQLite (``--quick``:
10,000 and 50,000). Each figure is printed next to its limit measured in the same
run: a dict lookup and one indexed SQL select for in-process decisions, a bare
FastAPI endpoint returning a constant for HTTP, hand-written INSERT+COMMIT for appends,
and appends without the signed checkpoint each commit writes. A decision through each
client (Python, TypeScript), one at a time as an app asks, is timed against a bare
request for the same URL from the same HTTP library (httpx, fetch).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _common import ROOT, console_script, emit, log, parse_args, percentile, ratio

MANIFEST = ROOT / "examples" / "teoritentamen.yaml"
TS_BENCH = ROOT / "clients" / "typescript" / "dist" / "bench" / "decide.js"
CONSENT_PURPOSES = ("marketing_cookies", "ad_pixels")
T0 = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
HTTP_SECONDS = 10


def _sqlite_stamp(at: datetime) -> str:
    """How SQLAlchemy stores a UTC timestamp in SQLite (so the engine reads it back)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def populate(url: str, subjects: int, events: int, batch: int = 50_000) -> list[str]:
    """Fill a migrated SQLite database with subjects and a valid hash-chained ledger.

    Written with sqlite3's executemany: building 5,000,000 events through the ORM
    would take longer than everything measured after it.
    """
    from personvern.consent.ledger import GENESIS_HASH, event_hash, evidence_digest

    rng = random.Random(7)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(subjects)]
    empty = evidence_digest({})
    created = _sqlite_stamp(T0)
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # building the fixture, not measuring
    with conn:
        for start in range(0, subjects, batch):
            chunk = ids[start:start + batch]
            conn.executemany(
                "INSERT INTO subjects (id, created_at, existing_customer) VALUES (?, ?, 0)",
                [(sid, created) for sid in chunk])
            conn.executemany(
                "INSERT INTO subject_identities (subject_id, kind, value, created_at) "
                "VALUES (?, 'external_id', ?, ?)",
                [(sid, f"u{start + i}", created) for i, sid in enumerate(chunk)])
    columns = ("seq", "id", "subject_id", "purpose", "type", "actor", "actor_subject_id",
               "channel", "policy_version", "at", "recorded_at", "idempotency_key",
               "evidence_digest", "prev_hash", "hash")
    insert = (f"INSERT INTO ledger_events ({', '.join(columns)}) "
              f"VALUES ({', '.join('?' * len(columns))})")
    prev = GENESIS_HASH
    rows: list[tuple[object, ...]] = []
    for seq in range(1, events + 1):
        # Subjects get events in rounds, alternating give/withdraw per purpose.
        sid = ids[(seq - 1) % subjects]
        round_no = (seq - 1) // subjects
        at = T0 + timedelta(seconds=seq)
        row = SimpleNamespace(
            seq=seq, id=f"{seq:032x}", subject_id=sid,
            purpose=CONSENT_PURPOSES[(round_no // 2) % 2],
            type="consent_given" if round_no % 2 == 0 else "consent_withdrawn", actor="self",
            actor_subject_id=None, channel="api", policy_version=None, at=at, recorded_at=at,
            idempotency_key=None, evidence_digest=empty, prev_hash=prev,
        )
        row.hash = prev = event_hash(row)  # type: ignore[arg-type]
        stamp = _sqlite_stamp(at)
        rows.append((seq, row.id, sid, row.purpose, row.type, "self", None, "api", None,
                     stamp, stamp, None, empty, row.prev_hash, row.hash))
        if len(rows) == batch:
            with conn:
                conn.executemany(insert, rows)
            rows = []
            log(f"  {seq:,} events")
    if rows:
        with conn:
            conn.executemany(insert, rows)
    conn.close()
    return ids


def in_process(url: str, ids: list[str], decisions: int) -> dict[str, float]:
    """Warm decisions per second, against a dict lookup and an indexed select."""
    from personvern.consent.service import ConsentContext, decide_for
    from personvern.manifest.loader import load_manifest
    from personvern.runtime import EngineSources
    from personvern.storage.engine import create_engine_for
    from personvern.storage.session import make_sessionmaker

    ctx = ConsentContext.of(load_manifest(MANIFEST).manifest, "b" * 64, EngineSources())
    engine = create_engine_for(url)
    rng = random.Random(1)
    # Warm-up must finish well inside the cache's 30 s facts TTL, or entries age out.
    sample = rng.sample(ids, min(len(ids), 5_000))
    order = [rng.choice(sample) for _ in range(decisions)]
    at = T0 + timedelta(days=3650)
    with make_sessionmaker(engine)() as session:
        for sid in sample:  # warm the cache
            decide_for(session, ctx, sid, "marketing_cookies", at)
        started = time.perf_counter()
        allowed = 0
        for sid in order:
            allowed += decide_for(session, ctx, sid, "marketing_cookies", at).allowed
        decide_s = (time.perf_counter() - started) / decisions
    engine.dispose()
    table = dict.fromkeys(sample, True)
    started = time.perf_counter()
    hits = 0
    for sid in order:
        hits += table.get(sid, False)
    dict_s = (time.perf_counter() - started) / decisions
    path = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    selects = order[: min(decisions, 20_000)]
    started = time.perf_counter()
    for sid in selects:
        conn.execute("SELECT seq, purpose, type, at FROM ledger_events WHERE subject_id = ? "
                     "ORDER BY seq", (sid,)).fetchall()
    select_s = (time.perf_counter() - started) / len(selects)
    conn.close()
    return {"decide_s": decide_s, "dict_s": dict_s, "select_s": select_s,
            "allowed_share": allowed / decisions}


@contextmanager
def checkpoints_off() -> Iterator[None]:
    """Appends without their signed checkpoint: the commit hook removed, then put back."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from personvern.crypto import checkpoints

    hook = checkpoints.sign_heads  # switched off here only to measure its cost
    event.remove(Session, "before_commit", hook)
    try:
        yield
    finally:
        event.listen(Session, "before_commit", hook)


def appends(url: str, ids: list[str], count: int, rounds: int = 10) -> dict[str, float]:
    """Durable appends per second (one transaction each) with the signed checkpoint written
    at each commit and without it, and hand-written INSERT+COMMIT.

    With and without alternate in ``rounds`` blocks, so drift of the shared machine falls
    on both alike.
    """
    from personvern.consent.events import EventType
    from personvern.consent.service import ConsentContext, record_event
    from personvern.manifest.loader import load_manifest
    from personvern.runtime import EngineSources
    from personvern.storage.engine import create_engine_for
    from personvern.storage.session import make_sessionmaker, transaction

    ctx = ConsentContext.of(load_manifest(MANIFEST).manifest, "b" * 64, EngineSources())
    engine = create_engine_for(url)
    sessions = make_sessionmaker(engine)
    # Adults only: ids were created without birth dates, so no guardian is needed.
    targets = random.Random(3).sample(ids, 2 * count)
    at = T0 + timedelta(days=3650)
    block = max(1, count // rounds)
    spent = {"on": 0.0, "off": 0.0}
    done = {"on": 0, "off": 0}
    for start in range(0, 2 * count, 2 * block):
        for mode, chunk in (("on", targets[start:start + block]),
                            ("off", targets[start + block:start + 2 * block])):
            with checkpoints_off() if mode == "off" else nullcontext():
                started = time.perf_counter()
                for sid in chunk:
                    with transaction(sessions) as s:
                        record_event(s, ctx, at, sid, EventType.OBJECTION_RAISED,
                                     purpose_id="ad_pixels")
                spent[mode] += time.perf_counter() - started
            done[mode] += len(chunk)
    engine.dispose()
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE bare (seq INTEGER PRIMARY KEY, subject TEXT, type TEXT, at TEXT)")
    started = time.perf_counter()
    for i, sid in enumerate(targets[:count]):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO bare VALUES (?, ?, 'x', ?)", (i, sid, at.isoformat()))
        conn.execute("COMMIT")
    bare = time.perf_counter() - started
    conn.close()
    return {"ours_per_s": done["on"] / spent["on"], "off_per_s": done["off"] / spent["off"],
            "bare_per_s": count / bare}


def concurrent_appends(url: str, ids: list[str], per_client: int,
                       clients: tuple[int, ...] = (1, 8, 32)) -> dict[str, float]:
    """Durable appends per second from 1, 8 and 32 threads: each write in its own
    transaction (every writer waits for the one before it to commit) against group commit
    (consent/group.py: the writers of a moment share one commit)."""
    import threading

    from personvern.consent.events import EventType
    from personvern.consent.group import GroupCommit
    from personvern.consent.service import ConsentContext, preload_subjects, record_event
    from personvern.manifest.loader import load_manifest
    from personvern.runtime import EngineSources
    from personvern.storage.engine import create_engine_for
    from personvern.storage.session import make_sessionmaker, transaction

    ctx = ConsentContext.of(load_manifest(MANIFEST).manifest, "b" * 64, EngineSources())
    engine = create_engine_for(url)
    sessions = make_sessionmaker(engine)
    # As the runtime builds it: a batch's people read in one statement under the lock.
    group = GroupCommit(sessions, preload=preload_subjects)
    at = T0 + timedelta(days=3650)
    pool = iter(random.Random(5).sample(ids, min(len(ids), 2 * sum(clients) * per_client)))
    figures: dict[str, float] = {}
    for n in clients:
        for mode in ("alone", "grouped"):
            people = [[next(pool) for _ in range(per_client)] for _ in range(n)]
            start = threading.Barrier(n + 1)

            def write(sid: str, session: object) -> None:
                record_event(session, ctx, at, sid,  # type: ignore[arg-type]
                             EventType.OBJECTION_RAISED, purpose_id="ad_pixels")

            def client(mine: list[str], mode: str = mode,
                       start: threading.Barrier = start) -> None:
                start.wait()
                for sid in mine:
                    if mode == "grouped":
                        group.run(lambda s, sid=sid: write(sid, s), hint=sid)
                    else:
                        with transaction(sessions) as s:
                            write(sid, s)

            threads = [threading.Thread(target=client, args=(p,)) for p in people]
            for t in threads:
                t.start()
            start.wait()
            started = time.perf_counter()
            for t in threads:
                t.join()
            figures[f"{mode}_{n}_clients_per_s"] = n * per_client / (
                time.perf_counter() - started)
    figures["grouped_writes_per_commit"] = group.writes / max(group.batches, 1)
    figures["grouped_batches_run_again"] = getattr(group, "reruns", 0)
    engine.dispose()
    return figures


@contextmanager
def postgres_people(count: int) -> Iterator[tuple[str, list[str]]]:
    """A migrated database with ``count`` subjects on a throwaway PostgreSQL cluster that
    flushes every commit (fsync and synchronous_commit on, as in production)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from personvern.consent.subjects import create_subject
    from personvern.storage.engine import create_engine_for
    from personvern.storage.migrate import upgrade
    from personvern.storage.session import make_sessionmaker, transaction
    from pgcluster import PgCluster

    cluster = PgCluster.start(durable=True)
    try:
        url = cluster.create_database()
        upgrade(url)
        engine = create_engine_for(url)
        with transaction(make_sessionmaker(engine)) as s:
            ids = [create_subject(s, lambda: T0, {"external_id": f"pg-{i}"})[0].id
                   for i in range(count)]
        engine.dispose()
        yield url, ids
    finally:
        cluster.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run a server process until it answers on ``port``; stop it afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}"
                                 if proc.stderr else "server exited")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()


def wrk(url: str, lua: Path | None, seconds: int, connections: int = 32) -> dict[str, float]:
    """Requests per second and p50/p99 latency (ms) from wrk, 2 threads (one for a single
    connection), 32 connections unless told."""
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if lua is not None:
        argv[1:1] = ["-s", str(lua)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60)
    text = out.stdout

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not found:
            raise SystemExit(f"wrk printed no {label}% latency:\n{text}")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if rps is None:
        raise SystemExit(f"wrk printed no rate:\n{text}")
    return {"rps": float(rps.group(1)), "p50_ms": latency("50"), "p99_ms": latency("99"),
            "non_2xx": float(errors.group(1)) if errors else 0.0}


def python_client(url: str, token: str, ids: list[str], calls: int) -> dict[str, list[float]]:
    """ms per decision through PersonvernClient and as a bare httpx GET of the same URL,
    alternating call by call so that drift of the machine falls on both alike."""
    import httpx

    from personvern.client import PersonvernClient

    purpose = CONSENT_PURPOSES[0]
    samples: dict[str, list[float]] = {"client": [], "bare": []}
    with PersonvernClient(url, token) as pv, httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}",
                                   "Accept": "application/json"}) as bare:
        def through_client(sid: str) -> None:
            pv.decide(sid, purpose)

        def bare_request(sid: str) -> None:
            answer = bare.get("/api/v1/decisions", params={"subject": sid, "purpose": purpose})
            answer.raise_for_status()
            answer.json()

        for i in range(calls + 50):
            sid = ids[(i * 7919) % len(ids)]
            # Who goes first alternates: the first to ask for a subject may warm the
            # server's cache for the second.
            pair = [("client", through_client), ("bare", bare_request)]
            for kind, ask in pair if i % 2 else pair[::-1]:
                started = time.perf_counter()
                ask(sid)
                if i >= 50:  # the first 50 warm the connection and the server's cache
                    samples[kind].append((time.perf_counter() - started) * 1000)
    return samples


def ts_client(url: str, token: str, ids: list[str], calls: int) -> dict[str, list[float]]:
    """The same through the TypeScript client and a bare fetch (clients/typescript/bench)."""
    if not TS_BENCH.exists() or shutil.which("node") is None:
        raise SystemExit(f"{TS_BENCH.relative_to(ROOT)} is not built; `make bench-quick` "
                         "builds it (Node.js, npm ci, tsc)")
    env = {**os.environ, "PERSONVERN_URL": url, "PERSONVERN_KEY": token,
           "PERSONVERN_PURPOSE": CONSENT_PURPOSES[0], "PERSONVERN_IDS": json.dumps(ids),
           "PERSONVERN_CALLS": str(calls)}
    done = subprocess.run(["node", str(TS_BENCH)], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"node {TS_BENCH.name} exited {done.returncode}:\n{done.stderr[-2000:]}")
    samples: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return samples


def http(workdir: Path, url: str, ids: list[str], seconds: int, calls: int
         ) -> dict[str, Any]:
    """Decisions over HTTP against one server process, and a bare FastAPI endpoint."""
    from personvern.apikeys import create_key
    from personvern.storage.engine import create_engine_for
    from personvern.storage.session import make_sessionmaker, transaction

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed; `make bench` installs it (apt-get install wrk)")
    engine = create_engine_for(url)
    with transaction(make_sessionmaker(engine)) as s:
        token, _ = create_key(s, lambda: T0, "benchmark", ["decisions:read"])
    engine.dispose()
    sample = random.Random(5).sample(ids, min(len(ids), 1000))
    lua = workdir / "decide.lua"
    lua.write_text(
        'local ids = {' + ",".join(f'"{sid}"' for sid in sample) + '}\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        'request = function()\n'
        '  local sid = ids[math.random(#ids)]\n'
        '  return wrk.format("GET", "/api/v1/decisions?subject=" .. sid ..'
        ' "&purpose=marketing_cookies")\n'
        'end\n'
    )
    port = free_port()
    serve = [console_script("personvern"), "serve", "--manifest", str(MANIFEST), "--db", url,
             "--port", str(port)]
    with server(serve, port):
        import httpx

        # Every sampled person asked about once, so the decisions timed are warm ones:
        # wrk's random warm-up alone left about one in seven cold (1 - e^-2 of them
        # warm), and a cold decision loads the person in several statements in a thread.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                          headers={"Authorization": f"Bearer {token}"}) as warm:
            for sid in sample:
                warm.get("/api/v1/decisions", params={
                    "subject": sid, "purpose": "marketing_cookies"}).raise_for_status()
        wrk(f"http://127.0.0.1:{port}/", lua, 2)  # and the server's connections
        ours = wrk(f"http://127.0.0.1:{port}/", lua, seconds)
        log("decisions through the Python and TypeScript clients")
        python = python_client(f"http://127.0.0.1:{port}", token, sample, calls)
        typescript = ts_client(f"http://127.0.0.1:{port}", token, sample, calls)
    port = free_port()
    bare = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "benchmarks"),
            "_bare_app:app", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    with server(bare, port):
        wrk(f"http://127.0.0.1:{port}/constant", None, 2)
        limit = wrk(f"http://127.0.0.1:{port}/constant", None, seconds)
    return {"ours": ours, "bare": limit, "python": python, "typescript": typescript}


def main() -> None:
    """Build the store, measure, print the JSON line."""
    args = parse_args(__doc__ or "")
    subjects, events = (10_000, 50_000) if args.quick else (1_000_000, 5_000_000)
    decisions = 50_000 if args.quick else 300_000
    append_count = 500 if args.quick else 3000
    seconds = 3 if args.quick else HTTP_SECONDS
    client_calls = 300 if args.quick else 3000
    from personvern.storage.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="pv-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'consent.db'}"
        upgrade(url)
        log(f"populating {subjects:,} subjects and {events:,} events")
        started = time.perf_counter()
        ids = populate(url, subjects, events)
        build_s = time.perf_counter() - started
        log("in-process decisions")
        proc = in_process(url, ids, decisions)
        log("HTTP decisions")
        net = http(workdir, url, ids, seconds, client_calls)
        log("durable appends")
        app = appends(url, ids, append_count)
        log("concurrent appends, alone and grouped")
        per_client = max(10, append_count // 20)
        together = concurrent_appends(url, ids, per_client)
    log("concurrent appends on PostgreSQL, alone and grouped")
    with postgres_people(2 * 41 * per_client) as (pg_url, pg_ids):
        on_pg = concurrent_appends(pg_url, pg_ids, per_client)
    ours, bare = net["ours"], net["bare"]
    clients = {name: {kind: (percentile(ms, 50), percentile(ms, 95))
                      for kind, ms in net[name].items()}
               for name in ("python", "typescript")}
    figures = {
        "in_process_decisions_per_s": round(1 / proc["decide_s"]),
        "dict_lookups_per_s": round(1 / proc["dict_s"]),
        "indexed_selects_per_s": round(1 / proc["select_s"]),
        "http_decisions_per_s": round(ours["rps"]),
        "http_p50_ms": ours["p50_ms"], "http_p99_ms": ours["p99_ms"],
        "http_non_2xx": ours["non_2xx"],
        "bare_fastapi_per_s": round(bare["rps"]),
        "bare_p50_ms": bare["p50_ms"], "bare_p99_ms": bare["p99_ms"],
        "durable_appends_per_s": round(app["ours_per_s"]),
        "durable_appends_without_checkpoints_per_s": round(app["off_per_s"]),
        "handwritten_insert_commit_per_s": round(app["bare_per_s"]),
        **{f"appends_{k}": round(v, 1) for k, v in together.items()},
        **{f"postgres_appends_{k}": round(v, 1) for k, v in on_pg.items()},
        "store_build_s": round(build_s, 1),
        **{f"{name}_{kind}_{q}_ms": round(value, 3)
           for name, kinds in clients.items() for kind, pair in kinds.items()
           for q, value in zip(("p50", "p95"), pair, strict=True)},
        "targets": {"in_process_decisions_per_s": 100_000, "http_vs_bare_min": 0.5,
                    "durable_appends_per_s": 2000, "checkpoints_vs_without_min": 0.9},
    }
    ratios = {
        "decision_vs_dict_lookup_time": ratio(proc["decide_s"], proc["dict_s"]),
        "decision_vs_indexed_select_time": ratio(proc["decide_s"], proc["select_s"]),
        "http_throughput_vs_bare_fastapi": ratio(ours["rps"], bare["rps"]),
        "append_throughput_vs_handwritten_sql": ratio(app["ours_per_s"], app["bare_per_s"]),
        "append_throughput_checkpoints_vs_without": ratio(app["ours_per_s"], app["off_per_s"]),
        "grouped_vs_alone_at_32_clients": ratio(together["grouped_32_clients_per_s"],
                                                together["alone_32_clients_per_s"]),
        "grouped_32_clients_vs_handwritten_sql": ratio(together["grouped_32_clients_per_s"],
                                                       app["bare_per_s"]),
        "postgres_grouped_vs_alone_at_32_clients": ratio(on_pg["grouped_32_clients_per_s"],
                                                         on_pg["alone_32_clients_per_s"]),
        **{f"{name}_client_vs_bare_request_{q}_time": ratio(kinds["client"][i], kinds["bare"][i])
           for name, kinds in clients.items() for i, q in enumerate(("p50", "p95"))},
    }
    size = {"subjects": subjects, "events": events, "decisions_timed": decisions,
            "appends_timed": append_count,
            "appends_timed_without_checkpoints": append_count, "http_seconds": seconds,
            "connections": 32, "client_decisions_timed": client_calls,
            "database": "sqlite"}
    emit("consent", size, figures, ratios)


if __name__ == "__main__":
    main()
