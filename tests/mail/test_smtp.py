"""Sending the outbox to a real SMTP server: headers, both bodies and Norwegian letters
arrive intact; each message is sent once; refusals and outages are recorded."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mail.support import SmtpServer, free_port
from personvern.clock import fixed_clock
from personvern.errors import InvalidInput
from personvern.mail.outbox import Mail, queue
from personvern.mail.smtp import list_messages, send_pending
from personvern.mail.tables import OutboxMessage

NOW = datetime.fromisoformat("2027-03-01T12:00:00+01:00")
CLOCK = fixed_clock(NOW)
SENDER = "Lime Green Digital AS <personvern@teoritentamen.example.no>"
TITLE = "Endringer i personvernerklæringen – æøå ÆØÅ"
TEXT = "Hei Åse!\n\nVi har endret personvernerklæringen. Blåbærsyltetøy på grøt.\n"
HTML = "<p>Hei Åse!</p><p>Vi har endret <strong>personvernerklæringen</strong>. Blåbær.</p>"


def enqueue(session: Session, *addresses: str) -> list[int]:
    ids = []
    for n, address in enumerate(addresses):
        msg, _ = queue(session, CLOCK, Mail("test", address, TITLE, TEXT, HTML,
                                            dedupe_key=f"test:{n}:{address}"))
        ids.append(msg.id)
    session.commit()
    return ids


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_messages_arrive_intact(db_session: Session, smtp_server: SmtpServer) -> None:
    enqueue(db_session, "kari@example.no", "Ola.Nordmann@Example.no")
    report = send_pending(db_session, CLOCK, smtp_server.host, smtp_server.port, SENDER)
    assert (report.sent, report.failed, report.retry) == (2, 0, 0)
    got = smtp_server.handler.received
    assert [r.rcpt_tos for r in got] == [["kari@example.no"], ["ola.nordmann@example.no"]]
    assert got[0].mail_from == "personvern@teoritentamen.example.no"
    msg = got[0].message
    assert msg["Subject"] == TITLE
    assert msg["From"] == SENDER and msg["To"] == "kari@example.no"
    assert msg["Message-ID"].endswith("@teoritentamen.example.no>")
    assert msg["Date"] is not None and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert "Blåbær" in html.get_content() and "<strong>" in html.get_content()
    for row in rows(db_session):
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
        assert row.sent_at is not None


def test_never_sent_twice(db_session: Session, smtp_server: SmtpServer) -> None:
    first, second = enqueue(db_session, "a@example.no", "b@example.no")
    # A crash left the second message claimed but unsent: it is not sent again.
    db_session.execute(update(OutboxMessage).where(OutboxMessage.id == second)
                       .values(status="sending", attempts=1))
    db_session.commit()
    assert send_pending(db_session, CLOCK, smtp_server.host, smtp_server.port, SENDER).sent == 1
    again = send_pending(db_session, CLOCK, smtp_server.host, smtp_server.port, SENDER)
    assert (again.sent, again.failed, again.retry) == (0, 0, 0)
    assert [r.rcpt_tos for r in smtp_server.handler.received] == [["a@example.no"]]
    assert [r.status for r in rows(db_session)] == ["sent", "sending"]
    assert first < second


def test_refusals_are_recorded(db_session: Session, smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse = {
        "gone@example.no": "550 5.1.1 No such user",
        "busy@example.no": "451 4.3.0 Try again later",
    }
    enqueue(db_session, "gone@example.no", "busy@example.no", "ok@example.no")
    report = send_pending(db_session, CLOCK, smtp_server.host, smtp_server.port, SENDER,
                          max_attempts=2)
    assert (report.sent, report.failed, report.retry) == (1, 1, 1)
    gone, busy, ok = rows(db_session)
    assert gone.status == "failed" and "550" in (gone.last_error or "")
    assert busy.status == "queued" and busy.attempts == 1 and "451" in (busy.last_error or "")
    assert ok.status == "sent"
    # The temporary refusal is retried until the attempts run out.
    report = send_pending(db_session, CLOCK, smtp_server.host, smtp_server.port, SENDER,
                          max_attempts=2)
    assert (report.sent, report.failed, report.retry) == (0, 1, 0)
    assert rows(db_session)[1].status == "failed" and rows(db_session)[1].attempts == 2
    assert [r.rcpt_tos for r in smtp_server.handler.received] == [["ok@example.no"]]


def test_unreachable_server_keeps_messages_queued(db_session: Session) -> None:
    enqueue(db_session, "kari@example.no")
    report = send_pending(db_session, CLOCK, "127.0.0.1", free_port(), SENDER, timeout=5)
    assert (report.sent, report.failed, report.retry) == (0, 0, 1)
    row = rows(db_session)[0]
    assert row.status == "queued" and row.attempts == 1
    assert "cannot reach 127.0.0.1" in (row.last_error or "")


def test_limit_and_bad_sender(db_session: Session, smtp_server: SmtpServer) -> None:
    enqueue(db_session, "a@example.no", "b@example.no", "c@example.no")
    with pytest.raises(InvalidInput, match="not a sender address"):
        send_pending(db_session, CLOCK, smtp_server.host, smtp_server.port, "no address")
    report = send_pending(db_session, CLOCK, smtp_server.host, smtp_server.port, SENDER,
                          limit=2)
    assert report.sent == 2
    assert [m.status for m in list_messages(db_session)] == ["queued", "sent", "sent"]
    assert len(list_messages(db_session, "sent")) == 2
    with pytest.raises(InvalidInput, match="unknown status"):
        list_messages(db_session, "lost")
