"""Mail to a person at their erasure (GDPR Art. 17): what no longer serves them is cancelled
and blanked at once; the answer to their own request (Art. 12(3)) still goes to them, and
only then is its copy blanked."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from mail.support import SmtpServer
from personvern.demo.init import init_demo
from personvern.mail.outbox import Mail, queue
from personvern.mail.scrub import ERASED_TEXT, MOOT_AFTER_ERASURE
from personvern.mail.smtp import send_pending
from personvern.mail.tables import OutboxMessage
from personvern.requests import verification
from personvern.requests.engine import Context, Requester, Requests, open_request
from personvern.retention import notices
from personvern.runtime import open_runtime
from personvern.settings import Settings
from personvern.web import signin

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)


def test_the_moot_kinds_are_the_ones_their_senders_use() -> None:
    assert set(MOOT_AFTER_ERASURE) == {notices.KIND, signin.KIND, verification.KIND}


def test_erasure_cancels_moot_mail_and_the_answer_is_delivered_then_blanked(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    init_demo(tmp_path, 20, now=NOW)
    rt = open_runtime(Settings(manifest=tmp_path / "personvern.yaml",
                               database_url=f"sqlite:///{tmp_path / 'personvern.db'}"),
                      lambda: NOW)
    service = sqlite3.connect(tmp_path / "service.db")
    uid, email = service.execute(
        "SELECT id, email FROM users WHERE role = 'mentor' AND id NOT IN "
        "(SELECT payer_id FROM purchases) ORDER BY id LIMIT 1").fetchone()
    service.close()
    requests = Requests(rt.sessions, Context(rt.consent, lambda: NOW))
    with rt.transaction() as s:
        issued = signin.issue(s, lambda: NOW, email)
        assert issued is not None
        signin.queue_link_mail(s, lambda: NOW, email, issued.subject_id,
                               "http://127.0.0.1:8000/portal/sign-in/link?token=x", "nb", "Demo")
        for kind in (notices.KIND, verification.KIND):
            queue(s, lambda: NOW, Mail(kind=kind, to_address=email, title=kind,
                                       body_text=f"to {email}", subject_id=issued.subject_id))
        rid = open_request(s, requests.ctx, "erasure", subject=f"ext:{uid}",
                           by=Requester("owner", verified_by="video call")).request.id
    result = requests.run(rid, reason="identity checked")
    requests.close()
    assert result.state == "completed"

    with rt.transaction() as s:
        mail = {m.kind: m for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.subject_id == issued.subject_id))}
        moot = {k: (m.status, m.to_address, m.body_text) for k, m in mail.items()
                if k in MOOT_AFTER_ERASURE}
        answers = [m for k, m in mail.items() if k.startswith("request_")
                   and k != verification.KIND]
    assert moot == dict.fromkeys(MOOT_AFTER_ERASURE, ("cancelled", ERASED_TEXT, ERASED_TEXT))
    assert answers and all(m.status == "queued" and m.to_address == email for m in answers)

    with rt.sessions() as s:
        report = send_pending(s, lambda: NOW, smtp_server.host, smtp_server.port,
                              "personvern@example.no")
    assert report.sent == len(answers)  # the cancelled ones are never sent
    assert [m.rcpt_tos for m in smtp_server.handler.received] == [[email]] * len(answers)
    with rt.transaction() as s:
        left = s.execute(text("SELECT count(*) FROM outbox WHERE to_address = :a OR "
                              "body_text LIKE :b"), {"a": email, "b": f"%{email}%"}).scalar()
    rt.close()
    assert left == 0
