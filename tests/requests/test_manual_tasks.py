"""Manual datasets end to end: the processor is asked by e-mail (through the outbox, to a
real SMTP server), the task shows as open on the request, and the request completes only
when the privacy owner has marked every task done with a note."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from mail.support import SmtpServer, smtp_server  # noqa: F401
from personvern.consent.subjects import find_subject
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.mail.smtp import send_pending
from personvern.mail.tables import OutboxMessage
from personvern.requests.engine import Requests, get_request, view
from personvern.runtime import Runtime

CRM = {"id": "crm", "kind": "manual", "recipient": "vipps", "contact": "personvern@crm.example.no"}
SENDER = "Leksehjelp AS <personvern@leksehjelp.example.no>"


def shown(rt: Runtime, service: Requests, rid: str) -> dict[str, Any]:
    with rt.transaction() as s:
        return view(s, service.ctx, get_request(s, rid))


def deliver(rt: Runtime, server: SmtpServer) -> None:
    with rt.sessions() as s:
        report = send_pending(s, rt.clock, server.host, server.port, SENDER)
    assert report.failed == 0, report.errors


def engine_rows(rt: Runtime) -> tuple[Any, ...]:
    with rt.transaction() as s:
        return (s.scalar(select(func.count()).select_from(OutboxMessage)),
                s.scalar(text("SELECT count(*) FROM request_events")),
                s.scalar(text("SELECT count(*) FROM audit_events")),
                tuple(s.execute(text("SELECT dataset, state, note FROM request_tasks")).all()))


def test_an_erasure_asks_the_processor_and_completes_when_the_owner_marks_it_done(
        with_datasets: Any, opener: Callable[..., str], service_db: Any,
        smtp_server: SmtpServer) -> None:  # noqa: F811
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "erasure", "ext:8")

    first = service.run(rid, reason="identity checked")
    assert first.state == "waiting"
    assert "crm (asked personvern@crm.example.no)" in (first.error or "")
    deliver(rt, smtp_server)
    [asked] = smtp_server.handler.received
    assert asked.rcpt_tos == ["personvern@crm.example.no"]
    body = asked.message.get_content()
    assert rid in body and "external_id: 8" in body and "Art. 17" in body

    state = shown(rt, service, rid)
    assert state["state"] == "waiting"
    assert [(t["dataset"], t["kind"], t["state"], t["asked"]) for t in state["tasks"]] == [
        ("crm", "manual", "pending", "personvern@crm.example.no")]
    partial = state["outcome"]["partial"]
    assert sum(partial["deleted"].values()) > 0  # our own data is erased at once...
    with service_db.connect() as conn:
        assert "slettet" in conn.execute(text("SELECT email FROM users WHERE id = 8")).scalar()
    with rt.transaction() as s:  # ...but the engine remembers the person until the end
        assert find_subject(s, "external_id", "8") is not None

    # Running again neither asks twice nor loses what was done.
    assert service.run(rid, reason="identity checked").state == "waiting"
    assert shown(rt, service, rid)["outcome"]["partial"] == partial
    deliver(rt, smtp_server)
    assert len(smtp_server.handler.received) == 1

    before = engine_rows(rt)
    with pytest.raises(NotFound, match=r"no task for dataset 'nope'.*crm"):
        service.task_done(rid, "nope", "done")
    with pytest.raises(InvalidInput, match="--note"):
        service.task_done(rid, "crm", "   ")
    assert engine_rows(rt) == before

    done = service.task_done(rid, "crm", "CRM confirmed the deletion on 5 January")
    assert done is not None and done.state == "completed", done
    assert done.outcome["deleted"] == partial["deleted"]
    assert done.outcome["tasks"][0]["note"] == "CRM confirmed the deletion on 5 January"
    with rt.transaction() as s:
        assert find_subject(s, "external_id", "8") is None
    state = shown(rt, service, rid)
    assert state["state"] == "completed"
    assert state["tasks"][0]["state"] == "done" and state["tasks"][0]["done_by"] == "owner"
    deliver(rt, smtp_server)  # the person's answer and the Art. 19 notice to the processor
    kinds = {m.message["To"] for m in smtp_server.handler.received[1:]}
    assert "personvern@vipps.example.no" not in kinds  # vipps is reached through crm here
    assert "personvern@crm.example.no" in kinds and len(kinds) == 2
    with pytest.raises(Conflict, match="already completed"):
        service.task_done(rid, "crm", "again")


def test_an_access_request_waits_for_the_processor_then_completes(
        with_datasets: Any, opener: Callable[..., str], tmp_path: Path) -> None:
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "access", "ext:31")
    first = service.run(rid, reason="identity checked", out_dir=tmp_path)
    assert first.state == "waiting"
    package = Path(shown(rt, service, rid)["outcome"]["partial"]["package"]["path"])
    assert package.exists()
    done = service.task_done(rid, "crm", "CRM sent the person their data directly",
                             out_dir=tmp_path)
    assert done is not None and done.state == "completed"
    assert done.outcome["package"]["path"] == str(package)


def test_a_processor_without_an_address_is_asked_by_the_owner(
        with_datasets: Any, opener: Callable[..., str]) -> None:
    rt, service = with_datasets({"id": "paper", "kind": "manual", "recipient": "hosting"})
    rid = opener(rt, service, "erasure", "ext:12")
    result = service.run(rid, reason="identity checked")
    assert result.state == "waiting"
    assert "paper (no address: ask them yourself)" in (result.error or "")
    with rt.transaction() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "request_processor")) == 0
    done = service.task_done(rid, "paper", "Phoned the archive; they shredded the file")
    assert done is not None and done.state == "completed"


def test_a_recipient_contact_is_where_the_processor_is_asked(
        with_datasets: Any, opener: Callable[..., str]) -> None:
    rt, service = with_datasets({"id": "paper", "kind": "manual", "recipient": "hosting"},
                                recipients={"hosting": {"contact": "dpo@drift.example.no"}})
    rid = opener(rt, service, "erasure", "ext:12")
    assert service.run(rid, reason="identity checked").state == "waiting"
    assert shown(rt, service, rid)["tasks"][0]["asked"] == "dpo@drift.example.no"
    done = service.task_done(rid, "paper", "Confirmed by e-mail")
    assert done is not None
    # Art. 19: the recipient's own contact is told by e-mail now, not by hand.
    assert ("hosting", "email") in {(n["recipient"], n["channel"])
                                    for n in done.outcome["notices"]}
