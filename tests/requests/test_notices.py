"""Art. 19 notices: a notice per recipient, e-mail through the outbox, webhooks retried with
back-off and acknowledged, and the person can see who was told."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from demo_support import DEMO_NOW, MovingClock
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.mail.tables import OutboxMessage
from personvern.manifest.model import Manifest, Recipient
from personvern.requests import notices
from personvern.requests.engine import Context, Requester, Requests, open_request
from personvern.requests.tables import RecipientNotice, Request
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings

NOW = DEMO_NOW
OWNER = Requester("owner", verified_by="test")
IDS = {"email": ["ola@example.no"], "external_id": ["8"]}


@pytest.fixture
def rt(demo: Path, clock: MovingClock) -> Iterator[Runtime]:
    # A processor that is asked by e-mail: its notices go through the outbox.
    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"].append({"id": "vipps-copy", "kind": "manual", "recipient": "vipps",
                             "contact": "personvern@vipps.example.no"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    runtime = open_runtime(Settings(manifest=path,
                                    database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    yield runtime
    runtime.close()


@pytest.fixture
def manifest(rt: Runtime) -> Manifest:
    return rt.loaded.manifest


def a_request(rt: Runtime, clock: MovingClock, ref: str = "ext:8") -> str:
    with rt.transaction() as s:
        return open_request(s, Context(rt.consent, clock), "erasure", subject=ref,
                            by=OWNER).request.id


class Hook:
    """A local webhook receiver answering from a script of (status, body)."""

    def __init__(self, script: list[tuple[int, Any]]) -> None:
        self.script = script
        self.received: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                raw = self.rfile.read(length)
                hook.raw.append((raw, dict(self.headers.items())))
                hook.received.append(json.loads(raw))
                status, body = hook.script.pop(0) if hook.script else (200, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/art19"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook([(500, {"error": "busy"}), (200, {"acknowledged": True})])
    yield h
    h.close()


def test_channels_per_recipient_and_email_through_the_outbox(
        rt: Runtime, manifest: Manifest, clock: MovingClock) -> None:
    rid = a_request(rt, clock)
    with rt.transaction() as s:
        made = notices.queue_notices(s, clock, manifest, rid, "erasure",
                                     [manifest.purpose("payment")], IDS)
        assert {(n.recipient, n.channel) for n in made} == {("vipps", "email"),
                                                            ("hosting", "manual")}
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "art19_notice")).one()
        assert mail.to_address == "personvern@vipps.example.no"
        assert "ola@example.no" in mail.body_text and "erased" in mail.body_text
        # Idempotent: a retried completion queues nothing twice.
        assert notices.queue_notices(s, clock, manifest, rid, "erasure",
                                     [manifest.purpose("payment")], IDS) == []
    with rt.transaction() as s:  # the outbox sent it: the notice follows
        mail.status, mail.sent_at = "sent", NOW
        s.add(mail)
    with rt.transaction() as s:
        assert notices.deliver_due(s, clock, manifest)["sent"] == 1
        told = {t["recipient"]: t for t in notices.told(s, rid, manifest)}
        assert told["vipps"]["status"] == "sent" and told["vipps"]["name"] == "Vipps MobilePay AS"
        assert told["hosting"]["status"] == "queued"
        manual = told["hosting"]["id"]
        notices.record(s, clock, manual, "acknowledged", note="phoned, confirmed")
        assert notices.told(s, rid)[0]["status"] == "acknowledged" or \
            notices.told(s, rid)[1]["status"] == "acknowledged"
        with pytest.raises(Conflict):
            notices.record(s, clock, manual, "sent")
        with pytest.raises(NotFound):
            notices.record(s, clock, 9999, "sent")
        with pytest.raises(InvalidInput):
            notices.record(s, clock, manual, "lost")


def test_webhook_is_retried_with_backoff_and_acknowledged(
        rt: Runtime, manifest: Manifest, clock: MovingClock, hook: Hook) -> None:
    rid = a_request(rt, clock)

    def webhook(_m: Manifest, r: Recipient) -> tuple[str, str]:
        return ("webhook", hook.url) if r.id == "hosting" else ("manual", r.name)

    with rt.transaction() as s:
        notices.queue_notices(s, clock, manifest, rid, "erasure",
                              [manifest.purpose("account")], IDS, resolve=webhook)
        # Kept on the notice itself, not in the request's details sealed with the key an
        # erasure destroys.
        kept = s.scalars(select(RecipientNotice).where(RecipientNotice.channel == "webhook"))
        assert [n.identities for n in kept] == [IDS]
        assert notices.PENDING_KEY not in s.get(Request, rid).details  # type: ignore[union-attr]
    with rt.transaction() as s:
        assert notices.deliver_due(s, clock, manifest)["retrying"] == 1
        n = s.scalars(select(RecipientNotice).where(RecipientNotice.channel == "webhook")).one()
        assert n.attempts == 1 and n.last_error == "HTTP 500"
        assert n.next_attempt_at == NOW + timedelta(minutes=1)
        # Not due yet: nothing is sent.
        assert notices.deliver_due(s, clock, manifest)["retrying"] == 0
    clock.at = NOW + timedelta(minutes=1)
    with rt.transaction() as s:
        assert notices.deliver_due(s, clock, manifest)["acknowledged"] == 1
        n = s.scalars(select(RecipientNotice).where(RecipientNotice.channel == "webhook")).one()
        assert n.status == "acknowledged" and n.acknowledged_at is not None
        # Delivered: the identities kept for the webhook are gone.
        assert n.identities is None
    assert [r["identities"] for r in hook.received] == [IDS, IDS]
    assert hook.received[0]["action"] == "erasure"


def test_a_webhook_that_never_answers_fails_after_the_last_attempt(
        rt: Runtime, manifest: Manifest, clock: MovingClock) -> None:
    rid = a_request(rt, clock)
    closed = "http://127.0.0.1:9/nobody-listens"
    with rt.transaction() as s:
        notices.queue_notices(s, clock, manifest, rid, "restriction",
                              [manifest.purpose("account")], IDS,
                              resolve=lambda _m, r: ("webhook", closed) if r.id == "hosting"
                              else ("manual", r.name))
    waits = []
    for _ in range(notices.MAX_ATTEMPTS):
        with rt.transaction() as s:
            notices.deliver_due(s, clock, manifest)
            n = s.scalars(select(RecipientNotice).where(
                RecipientNotice.channel == "webhook")).one()
            if n.next_attempt_at is not None:
                waits.append(n.next_attempt_at - clock.at)
                clock.at = n.next_attempt_at
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    with rt.transaction() as s:
        n = s.scalars(select(RecipientNotice).where(RecipientNotice.channel == "webhook")).one()
        assert n.status == "failed" and n.attempts == notices.MAX_ATTEMPTS
        assert n.identities is None  # given up: no copy of whom it was about either
        assert n.last_error and "Connect" in n.last_error


def test_backoff_is_capped() -> None:
    assert notices.backoff(1) == timedelta(minutes=1)
    assert notices.backoff(3) == timedelta(minutes=4)
    assert notices.backoff(30) == notices.MAX_DELAY


def test_unknown_action_is_refused(rt: Runtime, manifest: Manifest, clock: MovingClock) -> None:
    rid = a_request(rt, clock)
    with rt.transaction() as s, pytest.raises(InvalidInput, match="not 'access'"):
        notices.queue_notices(s, clock, manifest, rid, "access", manifest.purposes, IDS)


def test_an_erasure_tells_every_recipient_and_the_person_can_see_who(
        rt: Runtime, clock: MovingClock) -> None:
    svc = Requests(rt.sessions, Context(rt.consent, clock))
    try:
        rid = a_request(rt, clock, "ext:10")
        # Waiting for the processor asked by e-mail.
        assert svc.run(rid, reason="identity checked").state == "waiting"
        result = svc.task_done(rid, "vipps-copy", "Vipps confirmed the erasure by e-mail")
    finally:
        svc.close()
    assert result is not None and result.state == "completed"
    assert {(n["recipient"], n["channel"]) for n in result.outcome["notices"]} == {
        ("hosting", "manual"), ("vipps", "email")}
    with rt.transaction() as s:
        shown = notices.told(s, result.request_id, rt.loaded.manifest)
        assert {t["name"] for t in shown} == {"Driftsleverandør Norge AS", "Vipps MobilePay AS"}
        processor = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "request_processor")).one()
        assert processor.to_address == "personvern@vipps.example.no"


def test_a_webhook_with_a_secret_is_signed_as_the_client_checks_it(
        demo: Path, clock: MovingClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from personvern.client import InvalidSignature, verify_callback

    hook = Hook([(200, {"acknowledged": True})])
    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    hosting = next(r for r in data["recipients"] if r["id"] == "hosting")
    hosting.update(webhook=hook.url, secret_env="HOSTING_HOOK_SECRET")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    runtime = open_runtime(Settings(manifest=path,
                                    database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    manifest = runtime.loaded.manifest
    try:
        rid = a_request(runtime, clock)
        with runtime.transaction() as s:
            notices.queue_notices(s, clock, manifest, rid, "rectification",
                                  [manifest.purpose("account")], IDS)
        # The secret named but not set: nothing is sent unsigned, and the notice says why.
        monkeypatch.delenv("HOSTING_HOOK_SECRET", raising=False)
        with runtime.transaction() as s:
            assert notices.deliver_due(s, clock, manifest)["retrying"] == 1
            n = s.scalars(select(RecipientNotice).where(
                RecipientNotice.channel == "webhook")).one()
            assert "HOSTING_HOOK_SECRET" in (n.last_error or "") and hook.raw == []
        monkeypatch.setenv("HOSTING_HOOK_SECRET", "delt hemmelighet")
        clock.at = NOW + timedelta(minutes=1)
        with runtime.transaction() as s:
            assert notices.deliver_due(s, clock, manifest)["acknowledged"] == 1
    finally:
        runtime.close()
        hook.close()
    [(raw, headers)] = hook.raw
    now = clock.at.timestamp()
    call = verify_callback("delt hemmelighet", raw, headers, now=now)
    assert (call.action, call.request, call.recipient) == ("rectification", rid, "hosting")
    assert call.identities == IDS and call.notice == n.id
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_callback("another secret", raw, headers, now=now)
