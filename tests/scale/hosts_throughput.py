"""Consent writes per second through one ``serve`` host and through two, on one PostgreSQL
made durable (fsync and synchronous_commit on), for docs/scale.md. Not a test: run it as

    .venv/bin/python tests/scale/hosts_throughput.py [--clients 32] [--seconds 10]

Each host is a ``personvern serve`` process; the clients (asyncio, httpx) spread their
writes over the hosts in turn. Everything shares this machine's cores, clients included.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client.serving_support import create_key
from factories import write_manifest
from pgcluster import PgCluster
from scale.support import Cluster, answers, environment
from web.support import api_manifest_dict

SCOPES = ("subjects:write", "consent:write", "decisions:read")


async def write_for(urls: list[str], key: str, subjects: list[str], clients: int,
                    seconds: float) -> tuple[int, int]:
    """(consent writes answered 201, other answers) by ``clients`` for ``seconds``."""
    done = [0, 0]
    stop = time.monotonic() + seconds
    pools = [httpx.AsyncClient(base_url=u, headers={"Authorization": f"Bearer {key}"},
                               timeout=30) for u in urls]

    async def client(n: int) -> None:
        i = n
        types = ("consent_given", "consent_withdrawn")
        while time.monotonic() < stop:
            pool = pools[i % len(pools)]
            r = await pool.post("/api/v1/consents", json={
                "subject": subjects[i % len(subjects)], "purpose": "newsletter",
                "type": types[(i // len(subjects)) % 2]})
            done[0 if r.status_code == 201 else 1] += 1
            i += clients

    await asyncio.gather(*(client(n) for n in range(clients)))
    for p in pools:
        await p.aclose()
    return done[0], done[1]


def main() -> None:
    """Measure one host, then two, and print writes/s."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.setdefault("PERSONVERN_MASTER_KEY",
                          base64.b64encode(secrets.token_bytes(32)).decode())
    with PgCluster.start() as cluster, tempfile.TemporaryDirectory() as tmp:
        import psycopg

        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(f"ALTER SYSTEM SET {setting} = on")
            conn.execute("SELECT pg_reload_conf()")
        from personvern.storage.migrate import upgrade

        db_url = cluster.create_database()
        upgrade(db_url)
        directory = Path(tmp)
        manifest = write_manifest(directory, api_manifest_dict())
        key = create_key(manifest, db_url, "bench", SCOPES)
        hosts = Cluster(manifest, db_url, environment(), directory)
        first = hosts.serve("a")
        hosts.wait_up(first, lambda: answers(str(first.url)))
        with httpx.Client(base_url=str(first.url),
                          headers={"Authorization": f"Bearer {key}"}) as c:
            subjects = [c.post("/api/v1/subjects", json={"external_id": str(i)}).json()["id"]
                        for i in range(200)]
        for n in (1, 2):
            if n == 2:
                second = hosts.serve("b")
                hosts.wait_up(second, lambda s=second: answers(str(s.url)))  # type: ignore[misc]
            urls = [str(p.url) for p in hosts.procs]
            asyncio.run(write_for(urls, key, subjects, args.clients, 2.0))  # warm up
            ok, other = asyncio.run(write_for(urls, key, subjects, args.clients,
                                              args.seconds))
            print(f"{n} host{'s' if n > 1 else ''}, {args.clients} clients: "
                  f"{ok / args.seconds:.0f} consent writes/s ({other} other answers); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        hosts.stop_all()


if __name__ == "__main__":
    main()
