"""Several hosts on one PostgreSQL, on loopback: ``personvern serve`` and ``personvern worker``
as real processes (started, waited for, SIGKILLed), a service database and an app whose
privacy endpoint the test holds up while a worker is killed mid-job."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, Request

from pgcluster import free_port
from web.support import api_manifest_dict

PV = str(Path(sys.executable).with_name("personvern"))
SECRET_ENV = "CHAT_PRIVACY_SECRET"
# Worker timings shortened for the test: a worker silent for 3 beats (3 s) is dead.
HEARTBEAT = "1"
WORKER_FLAGS = ("--heartbeat", HEARTBEAT, "--poll", "0.5", "--retries", "2",
                "--retry-base", "2", "--concurrency", "2")


class ChatApp:
    """The app's privacy endpoint: the first call about a request is held until released
    (its worker is killed meanwhile), the others are answered at once."""

    def __init__(self) -> None:
        self.url = ""  # set once served
        self.calls: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.app = FastAPI()

        @self.app.post("/privacy")
        async def privacy(request: Request) -> dict[str, Any]:
            call = await request.json()
            self.calls.append(call)
            first = sum(c.get("request") == call.get("request") for c in self.calls) == 1
            if first and call.get("request") in self.hold:
                while not self.release.is_set():  # an async wait: the server keeps serving
                    import anyio

                    await anyio.sleep(0.05)
            if call.get("action") == "access":
                return {"tables": {"messages": [{"text": "hei"}]}}
            return {"erased": {"messages": 1}}

        self.hold: set[str] = set()

    def calls_about(self, rid: str) -> list[dict[str, Any]]:
        """The calls made about request ``rid``."""
        return [c for c in self.calls if c.get("request") == rid]


def shop_dataset(path: Path) -> dict[str, Any]:
    """The service's own customer table (SQLite), with two customers."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
        db.executemany("INSERT INTO customers VALUES (?, ?)",
                       [(1, "kari.nordmann@example.no"), (2, "ola.hansen@example.no")])
    return {"id": "shop", "url": f"sqlite:///{path}", "tables": [{
        "name": "customers", "columns": [{"name": "email", "identity": "email"}]}]}


def manifest_dict(shop: Path, callback: str) -> dict[str, Any]:
    """The API test manifest with the shop's table and the chat app's privacy endpoint."""
    data = api_manifest_dict()
    data["datasets"] = [shop_dataset(shop), {
        "id": "chat", "kind": "http", "callback": callback, "secret_env": SECRET_ENV}]
    return data


@dataclass
class Proc:
    """A running ``personvern`` process."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str | None = None
    log: Path | None = None

    def output(self) -> str:
        """What the process wrote so far."""
        return self.log.read_text() if self.log else ""

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye to the queue."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """The hosts of one test module: serves and workers sharing the database."""

    manifest: Path
    db_url: str
    env: dict[str, str]
    directory: Path
    procs: list[Proc] = field(default_factory=list)

    def _start(self, name: str, *args: str) -> Proc:
        log = self.directory / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([PV, *args, "--manifest", str(self.manifest),
                                     "--db", self.db_url], stdout=out, stderr=subprocess.STDOUT,
                                    env=self.env)
        p = Proc(name, proc, log=log)
        self.procs.append(p)
        return p

    def serve(self, name: str) -> Proc:
        """A ``serve`` on a free port, once it answers."""
        port = free_port()
        p = self._start(name, "serve", "--port", str(port), "--log-level", "warning")
        p.url = f"http://127.0.0.1:{port}"
        return p

    def worker(self, name: str) -> Proc:
        """A ``worker`` named ``name`` (its name in procrastinate_workers)."""
        return self._start(name, "worker", "--name", name, *WORKER_FLAGS)

    def wait_up(self, p: Proc, ready: Callable[[], bool], timeout: float = 120) -> None:
        """Until ``ready()``; the process's log if it died or took too long."""
        deadline = time.monotonic() + timeout
        while not ready():
            if p.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{p.name} did not start:\n"
                                   + (p.log.read_text() if p.log else ""))
            time.sleep(0.1)

    def stop_all(self) -> None:
        """Every process, stopped."""
        for p in self.procs:
            p.stop()


def answers(url: str) -> bool:
    """Whether a serve answers at ``url``."""
    try:
        return httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """``check()``'s first truthy value, polled; fails saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def sql(db_url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``query`` on the engine's database."""
    with psycopg.connect(db_url) as conn:
        return conn.execute(query, args).fetchall()  # type: ignore[arg-type]


def api(cluster: Cluster, host: str, scopes: tuple[str, ...]) -> httpx.Client:
    """An API client on serve ``host`` with a new key holding ``scopes``."""
    from client.serving_support import create_key

    key = create_key(cluster.manifest, cluster.db_url, f"key on {host}", scopes)
    return client_on(cluster, host, key)


def client_on(cluster: Cluster, host: str, key: str) -> httpx.Client:
    """An API client on serve ``host`` with ``key``."""
    [p] = [p for p in cluster.procs if p.name == host]
    return httpx.Client(base_url=str(p.url), headers={"Authorization": f"Bearer {key}"},
                        timeout=30)


def environment(**extra: str) -> dict[str, str]:
    """The hosts' environment: the test's (master key) and what every host shares."""
    return {**os.environ, "PERSONVERN_EVIDENCE_KEY": "test", **extra}
