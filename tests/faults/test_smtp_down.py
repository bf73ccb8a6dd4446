"""Fault: the SMTP server is down when ``personvern mail send`` runs. Nothing lost means the
send fails clearly (exit 1, "cannot reach", no traceback) with every message still queued
in the outbox, and once a server listens on that address each message arrives exactly
once, to the right person, and is marked sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_inprocess import run_personvern
from faults.support import T, copy_demo, env, make_demo
from mail.support import Recorder, free_port


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo whose outbox holds the mail of a completed erasure."""
    demo = make_demo(tmp_path_factory.mktemp("smtp"))
    opened = run_personvern("request", "open", "erasure", "--subject", "ext:12",
                            "--verified-by", "known", "--now", T, "--json", env=env(demo))
    assert opened.returncode == 0, opened.stderr
    done = run_personvern("request", "run", json.loads(opened.stdout)["id"], "--reason",
                          "the person asked", "--now", T, env=env(demo))
    assert done.returncode == 0, done.stderr
    return demo


@pytest.fixture
def port() -> Iterator[int]:
    """A loopback port nobody listens on yet."""
    yield free_port()


def outbox(demo: Path, status: str) -> list[tuple[str, str]]:
    """(to, kind) of the messages in ``status``, as ``mail list`` shows them."""
    listed = run_personvern("mail", "list", "--status", status, "--json", env=env(demo))
    assert listed.returncode == 0, listed.stderr
    return sorted((m["to"], m["kind"]) for m in json.loads(listed.stdout))


def send(demo: Path, port: int, now: str) -> tuple[int, str]:
    """``personvern mail send`` to 127.0.0.1:``port``; exit code and output."""
    out = run_personvern("mail", "send", "--smtp-host", "127.0.0.1", "--smtp-port",
                         str(port), "--now", now, env=env(demo))
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, out.stdout + out.stderr


def test_mail_waits_in_the_outbox_while_smtp_is_down_and_is_sent_once_after(
        template: Path, tmp_path: Path, port: int) -> None:
    from aiosmtpd.controller import Controller

    demo = copy_demo(template, tmp_path / "demo")
    queued = outbox(demo, "queued")
    assert queued, "the erasure queued no mail"

    code, said = send(demo, port, T)
    assert code == 1 and "cannot reach" in said and f"to retry {len(queued)}" in said, said
    assert outbox(demo, "queued") == queued and outbox(demo, "sent") == []

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # A day later: past any back-off the failed attempt set.
        code, said = send(demo, port, "2027-01-05T13:00:00+01:00")
        assert code == 0, said
        code, said = send(demo, port, "2027-01-06T13:00:00+01:00")
        assert code == 0 and said.startswith("sent 0"), said
    finally:
        controller.stop()
    assert sorted(r.rcpt_tos[0] for r in handler.received) == [to for to, _ in queued]
    # Once sent, the erased person's address is wiped from the outbox: kinds are compared.
    assert [kind for _, kind in outbox(demo, "sent")] == [kind for _, kind in queued]
    assert outbox(demo, "queued") == []
