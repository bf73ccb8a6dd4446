"""``personvern mail``: a published material change reaches subjects over real SMTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mail.support import SmtpServer, free_port
from policy.support import lawful_data, run_cli, to_text

NOW = "2027-03-01T12:00:00+01:00"


def env_for(tmp_path: Path, data: dict[str, object]) -> dict[str, str]:
    path = tmp_path / "personvern.yaml"
    path.write_text(to_text(data), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
    env.update(PERSONVERN_MANIFEST=str(path),
               PERSONVERN_DATABASE_URL=f"sqlite:///{tmp_path / 'pv.db'}",
               PERSONVERN_MASTER_KEY=os.environ["PERSONVERN_MASTER_KEY"])
    return env


def ok(*args: str, env: dict[str, str]) -> str:
    out = run_cli(*args, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_policy_notice_is_sent_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    data = lawful_data()
    env = env_for(tmp_path, data)
    ok("policy", "publish", "--effective", "2027-03-08", "--now", NOW, env=env)
    ok("subject", "add", "--email", "Åse.Ødegård@example.no", "--now", NOW, env=env)
    data["recipients"].append({
        "id": "sentry", "name": "Sentry", "role": "processor", "country": "US",
        "service": {"nb": "Feilrapporter", "en": "Error reports"},
        "transfer": {"mechanism": "scc"}, "dpa_signed": True})
    data["purposes"][6]["recipients"].append("sentry")
    data.pop("no_third_country_transfers")   # no longer true (PV065)
    env = env_for(tmp_path, data)
    ok("policy", "publish", "--effective", "2027-03-09", "--now", NOW, env=env)

    sent = ok("mail", "send", "--smtp-host", smtp_server.host, "--smtp-port",
              str(smtp_server.port), "--json", env=env)
    assert json.loads(sent)["sent"] == 1
    (got,) = smtp_server.handler.received
    assert got.rcpt_tos == ["åse.ødegård@example.no"]
    assert got.mail_from == "support@teoritentamen.no"      # the controller's address
    msg = got.message
    assert msg["Subject"].startswith("Vi endrer personvernerklæringen til Teoritentamen.no fra "
                                     "9. mars 2027")
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "ny databehandler: Sentry (USA, standardkontraktsklausuler)" in text
    assert "new processor: Sentry (USA, standard contractual clauses)" in text
    assert "Vennlig hilsen Lime Green Digital AS" in text

    again = ok("mail", "send", "--smtp-host", smtp_server.host, "--smtp-port",
               str(smtp_server.port), env=env)
    assert again.startswith("sent 0, failed 0, to retry 0")
    assert len(smtp_server.handler.received) == 1
    listed = json.loads(ok("mail", "list", "--status", "sent", "--json", env=env))
    assert [(m["to"], m["attempts"], m["kind"]) for m in listed] == [
        ("åse.ødegård@example.no", 1, "policy_notice")]


def test_mail_commands_bad_input(tmp_path: Path) -> None:
    env = env_for(tmp_path, lawful_data())
    out = run_cli("mail", "list", "--status", "lost", env=env)
    assert out.returncode == 2 and "unknown status 'lost'" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("mail", "send", "--from", "nobody", env=env)
    assert out.returncode == 2 and "not a sender address" in out.stderr
    assert run_cli("mail", "list", env=env).stdout.strip() == "the outbox is empty"


def test_unreachable_server_exits_1(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    env = env_for(tmp_path, lawful_data())
    ok("db", "upgrade", env=env)
    engine = create_engine(f"sqlite:///{tmp_path / 'pv.db'}")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO outbox (created_at, kind, to_address, title, body_text, status, "
            "attempts) VALUES ('2027-03-01 11:00:00', 'test', 'kari@example.no', 'Hei', "
            "'Hei', 'queued', 0)"))
    engine.dispose()
    out = run_cli("mail", "send", "--smtp-port", str(free_port()), env=env)
    assert out.returncode == 1
    assert "sent 0, failed 0, to retry 1" in out.stdout and "cannot reach" in out.stdout
