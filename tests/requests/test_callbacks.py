"""HTTP callback datasets end to end: a real app on 127.0.0.1 answers signed access and erase
calls; an app that is down, refuses or answers nonsense leaves the request waiting, retried
with back-off by the jobs, never lost."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from mail.support import free_port
from personvern.consent.subjects import find_subject
from personvern.requests.engine import Requests, get_request, view
from personvern.requests.tasks import RequestTask
from personvern.runtime import Runtime

SECRET = "s3cret-for-tests-only"
SECRET_ENV = "PV_TEST_CHAT_SECRET"


class ChatApp:
    """The service's chat system: checks each call's signature as the protocol says and
    answers from its own rows; ``mode`` makes it refuse or answer nonsense."""

    def __init__(self, port: int = 0, secret: str = SECRET) -> None:
        self.calls: list[dict[str, Any]] = []
        self.rows = {"23": [{"id": 1, "text": "hei"}, {"id": 2, "text": "takk", "edited": True}]}
        self.mode = "ok"
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers.get("X-Personvern-Timestamp", "")
                mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256)
                signed = hmac.compare_digest(f"v1={mac.hexdigest()}",
                                             self.headers.get("X-Personvern-Signature", ""))
                body = json.loads(raw)
                app.calls.append({**body, "signed": signed, "timestamp": stamp})
                status, answer = app.answer(body) if signed else (401, {"error": "signature"})
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/privacy"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.mode == "busy":
            return 503, {"error": "busy"}
        if self.mode == "nonsense":
            return 200, {"erased": {"messages": -1}} if body["action"] == "erase" else b"<html>"
        user = (body["identities"].get("external_id") or [""])[0]
        if body["action"] == "access":
            return 200, {"tables": {"messages": self.rows.get(user, [])}}
        n = len(self.rows.pop(user, []))
        return 200, {"erased": {"messages": n}, "kept": [
            {"table": "reports", "rows": 1, "why": "abuse report under investigation",
             "until": "2027-07-01"}]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def chat() -> Iterator[ChatApp]:
    app = ChatApp()
    yield app
    app.close()


def dataset(url: str) -> dict[str, Any]:
    return {"id": "chat", "kind": "http", "callback": url, "secret_env": SECRET_ENV}


def task_of(rt: Runtime, rid: str) -> RequestTask:
    with rt.transaction() as s:
        task = s.scalars(select(RequestTask).where(RequestTask.request_id == rid)).one()
        s.expunge(task)
        return task


def shown(rt: Runtime, service: Requests, rid: str) -> dict[str, Any]:
    with rt.transaction() as s:
        return view(s, service.ctx, get_request(s, rid))


def test_access_and_erasure_are_signed_calls_and_their_answers_are_kept(
        with_datasets: Any, opener: Callable[..., str], chat: ChatApp, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    rt, service = with_datasets(dataset(chat.url))
    access = opener(rt, service, "access", "ext:23")
    result = service.run(access, reason="identity checked", out_dir=tmp_path)
    assert result.state == "completed", result.error
    with zipfile.ZipFile(result.outcome["package"]["path"]) as zf:
        data = json.loads(zf.read("data.json"))
        csv_text = zf.read("chat/messages.csv").decode()
    assert data["datasets"]["chat"]["messages"][0]["text"] == "hei"
    assert csv_text.splitlines()[0] == "id,text,edited"  # rows of different shapes
    assert result.outcome["rows"]["chat.messages"] == 2
    [call] = chat.calls
    assert call["signed"] and call["version"] == 1 and call["action"] == "access"
    assert call["request"] == access and call["dataset"] == "chat"
    assert call["identities"]["external_id"] == ["23"] and call["identities"]["email"]
    # Once packaged, the engine keeps how many rows the app gave, not the rows.
    assert task_of(rt, access).result == {"rows": {"messages": 2}}

    erasure = opener(rt, service, "erasure", "ext:23")
    result = service.run(erasure, reason="identity checked")
    assert result.state == "completed", result.error
    assert result.outcome["callbacks"]["chat"]["erased"] == {"messages": 2}
    kept = [k for k in result.outcome["kept"] if k["dataset"] == "chat"]
    assert kept == [{"dataset": "chat", "table": "reports", "rows": 1, "rule": None,
                     "why": "abuse report under investigation", "until": "2027-07-01",
                     "restricted": True, "keys": []}]
    assert [c["action"] for c in chat.calls] == ["access", "erase"]
    assert shown(rt, service, erasure)["tasks"][0]["state"] == "done"


def test_an_app_that_is_down_makes_the_request_wait_and_the_jobs_retry_with_backoff(
        with_datasets: Any, opener: Callable[..., str], clock: Any, service_db: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    port = free_port()  # nothing listens there yet: the chat system is down
    rt, service = with_datasets(dataset(f"http://127.0.0.1:{port}/privacy"))
    rid = opener(rt, service, "erasure", "ext:23")

    result = service.run(rid, reason="identity checked")
    assert result.state == "waiting"
    assert "chat" in (result.error or "") and "did not answer" in (result.error or "")
    state = shown(rt, service, rid)
    assert state["state"] == "waiting"
    [task] = state["tasks"]
    assert (task["dataset"], task["state"], task["attempts"]) == ("chat", "pending", 1)
    assert task["next_attempt_at"] == (clock.at + timedelta(minutes=1)).isoformat()
    assert "waiting for dataset chat" in state["events"][-1]["note"]
    # Nothing was done yet: the person's rows and the engine's identities are all there.
    with service_db.connect() as conn:
        assert conn.execute(text("SELECT email FROM users WHERE id = 23")).scalar().find(
            "slettet") == -1
    with rt.transaction() as s:
        assert find_subject(s, "external_id", "23") is not None

    assert service.run_due() == []  # the back-off has not run out
    clock.advance(minutes=1)
    [again] = service.run_due()
    assert again.state == "waiting"
    task = shown(rt, service, rid)["tasks"][0]
    assert task["attempts"] == 2
    assert task["next_attempt_at"] == (clock.at + timedelta(minutes=2)).isoformat()

    app = ChatApp(port)  # the chat system is back
    try:
        clock.advance(minutes=1)
        assert service.run_due() == []
        clock.advance(minutes=1)
        [done] = service.run_due()
        assert done.state == "completed", done.error
        assert done.outcome["callbacks"]["chat"]["erased"] == {"messages": 2}
        assert app.calls[0]["signed"]
    finally:
        app.close()
    state = shown(rt, service, rid)
    # The state changes; the proof and the notices after the answer are noted as well.
    assert [e["to"] for e in state["events"] if e["from"] != e["to"]] == [
        "received", "verified", "in_progress", "waiting", "in_progress", "waiting",
        "in_progress", "completed"]
    assert [e["note"].split(":")[0] for e in state["events"][-2:]] == [
        "proof of erasure", "Art. 19 notices queued for 2 recipients"]
    with service_db.connect() as conn:
        assert "slettet" in conn.execute(text("SELECT email FROM users WHERE id = 23")).scalar()
    with rt.transaction() as s:
        assert find_subject(s, "external_id", "23") is None


@pytest.mark.parametrize(("mode", "secret", "env", "says"), [
    ("busy", SECRET, SECRET, "answered HTTP 503"),
    ("nonsense", SECRET, SECRET, "answered the erase call wrongly"),
    ("ok", "another secret", SECRET, "answered HTTP 401"),
    ("ok", SECRET, None, f"{SECRET_ENV} (secret of dataset 'chat') is not set"),
])
def test_a_refusing_or_confused_app_keeps_the_request_waiting(
        with_datasets: Any, opener: Callable[..., str], service_db: Any, mode: str,
        secret: str, env: str | None, says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if env is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, env)
    app = ChatApp(secret=secret)
    app.mode = mode
    try:
        rt, service = with_datasets(dataset(app.url))
        rid = opener(rt, service, "erasure", "ext:23")
        with service_db.connect() as conn:
            before = conn.execute(text("SELECT email, phone FROM users WHERE id = 23")).one()
        result = service.run(rid, reason="identity checked")
        assert result.state == "waiting"
        assert says in (result.error or "")
        assert says in shown(rt, service, rid)["tasks"][0]["last_error"]
        with service_db.connect() as conn:
            assert conn.execute(text("SELECT email, phone FROM users WHERE id = 23")).one() \
                == before
        app.mode = "ok"
        monkeypatch.setenv(SECRET_ENV, secret)
        # The owner's run tries at once.
        assert service.run(rid, reason="identity checked").state == "completed"
    finally:
        app.close()


def test_the_timestamp_and_signature_are_fresh_per_call(
        with_datasets: Any, opener: Callable[..., str], chat: ChatApp, clock: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from personvern.requests.callbacks import MAX_AGE_S, sign, verify

    monkeypatch.setenv(SECRET_ENV, SECRET)
    rt, service = with_datasets(dataset(chat.url))
    service.run(opener(rt, service, "access", "ext:23"), reason="identity checked",
                out_dir=Path(rt.settings.manifest).parent)
    assert chat.calls[0]["timestamp"] == str(int(clock.at.timestamp()))
    body = b'{"action":"erase"}'
    now = int(time.time())
    good = sign(SECRET.encode(), now, body)
    assert verify(SECRET.encode(), str(now), body, good, now)
    assert not verify(SECRET.encode(), str(now), body + b" ", good, now)  # body changed
    assert not verify(b"other", str(now), body, good, now)
    assert not verify(SECRET.encode(), str(now), body, good, now + MAX_AGE_S + 1)  # replayed
