"""``personvern mail send`` says what it left in the outbox: messages still queued (cut at
--limit, or after a broken connection) and messages a crashed sender left in ``sending``,
which no run sends again by itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from mail.support import SmtpServer
from mail.test_mail_cli import env_for, ok
from policy.support import lawful_data


def test_send_says_what_is_still_queued_and_what_a_crash_left_sending(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = env_for(tmp_path, lawful_data())
    ok("db", "upgrade", env=env)
    engine = create_engine(f"sqlite:///{tmp_path / 'pv.db'}")
    with engine.begin() as conn:
        for address, status in (("kari@example.no", "queued"), ("ola@example.no", "queued"),
                                ("per@example.no", "sending")):
            conn.execute(text(
                "INSERT INTO outbox (created_at, kind, to_address, title, body_text, status, "
                "attempts) VALUES ('2027-03-01 11:00:00', 'test', :to, 'Hei', 'Hei', "
                ":status, 0)"), {"to": address, "status": status})
    engine.dispose()
    args = ("mail", "send", "--smtp-host", smtp_server.host, "--smtp-port",
            str(smtp_server.port))
    out = ok(*args, "--limit", "1", env=env)
    assert out.startswith("sent 1, failed 0, to retry 0\n")
    assert "1 message still queued: run personvern mail send again" in out, out
    assert "1 message left in sending (by a sender that stopped, or one at work now): never " \
        "sent again by itself; see personvern mail list --status sending" in out, out
    out = ok(*args, env=env)
    assert "still queued" not in out and "1 message left in sending" in out, out
    assert len(smtp_server.handler.received) == 2
