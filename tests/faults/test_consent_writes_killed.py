"""Fault: `personvern serve` is SIGKILLed while eight clients write consents as fast as they
can. Every write the server acknowledged (a 201 with its sequence number) is in the ledger
afterwards, as acknowledged, and the ledger and its signed checkpoint verify: group commit
answers a writer only once the commit holding its write has returned."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

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


def test_no_acknowledged_consent_is_lost_when_the_server_is_killed(tmp_path: Path) -> None:
    demo = make_demo(tmp_path / "demo")
    key = pv(demo, "keys", "create", "load", "--scope", "consent:write",
             "--scope", "subjects:write", "--json").json()["key"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([PV, "serve", "--port", str(port), "--public-url", url],
                              env=env(demo), stdout=subprocess.DEVNULL,
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
    stored = dict(rows(demo / "personvern.db", "SELECT id, seq FROM ledger_events"))
    lost = [(eid, seq) for eid, seq in acknowledged if stored.get(eid) != seq]
    assert not lost, f"{len(lost)} acknowledged writes are missing or moved: {lost[:5]}"
    verified = pv(demo, "ledger", "verify")
    assert verified.code == 0, verified.out + verified.err
    assert "intact" in verified.out
