"""Fault: `personvern serve` is SIGKILLed while eight clients write consents as fast as they
can. Every write the server acknowledged (a 201 with its sequence number) is in the ledger
afterwards, as acknowledged, and the ledger and its signed checkpoint verify: group commit
answers a writer only once the commit holding its write has returned. On SQLite and on
PostgreSQL, where a batch's rows are inserted together at its end (consent/group.py)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from faults.support import PV, env, make_demo, pv, rows
from mail.support import free_port

WRITERS = 8
ENOUGH = 150  # acknowledged writes before the kill: the load is well under way by then


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited before it answered"
        try:
            if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer within 60 s")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The engine's database: the demo's SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"PERSONVERN_DATABASE_URL": request.getfixturevalue("postgres_url")}


def test_no_acknowledged_consent_is_lost_when_the_server_is_killed(
        tmp_path: Path, database: dict[str, str]) -> None:
    demo = make_demo(tmp_path / "demo")
    key = pv(demo, "keys", "create", "load", "--scope", "consent:write",
             "--scope", "subjects:write", "--json", **database).json()["key"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([PV, "serve", "--port", str(port), "--public-url", url],
                              env=env(demo, **database), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    acknowledged: list[tuple[str, int]] = []
    stop = threading.Event()
    try:
        wait_until_up(url, server)
        headers = {"Authorization": f"Bearer {key}"}
        people = [httpx.post(f"{url}/api/v1/subjects", headers=headers, timeout=10,
                             json={"email": f"writer{i}@example.no"}).json()["id"]
                  for i in range(WRITERS)]

        def writer(subject: str) -> None:
            kinds = ("consent_given", "consent_withdrawn")
            with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
                n = 0
                while not stop.is_set():
                    try:
                        answer = http.post("/api/v1/consents", json={
                            "subject": subject, "purpose": "newsletter", "type": kinds[n % 2]})
                    except httpx.TransportError:
                        return  # the server is gone
                    if answer.status_code == 201:
                        body = answer.json()
                        acknowledged.append((body["id"], body["seq"]))
                    n += 1

        threads = [threading.Thread(target=writer, args=(p,)) for p in people]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < ENOUGH and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
    for t in threads:
        t.join(timeout=30)
    assert server.returncode == -signal.SIGKILL
    assert len(acknowledged) >= ENOUGH
    if database:
        with psycopg.connect(database["PERSONVERN_DATABASE_URL"]) as conn:
            stored = dict(conn.execute("SELECT id, seq FROM ledger_events").fetchall())
    else:
        stored = dict(rows(demo / "personvern.db", "SELECT id, seq FROM ledger_events"))
    lost = [(eid, seq) for eid, seq in acknowledged if stored.get(eid) != seq]
    assert not lost, f"{len(lost)} acknowledged writes are missing or moved: {lost[:5]}"
    verified = pv(demo, "ledger", "verify", **database)
    assert verified.code == 0, verified.out + verified.err
    assert "intact" in verified.out
