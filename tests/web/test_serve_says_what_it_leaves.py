"""``personvern serve`` with its jobs in-process (the only choice on SQLite) sends no outbox
e-mail, delivers no webhook notice and retries no callback: it says so as it starts, with
what to run instead, rather than leave queued mail looking as if it were on its way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from factories import write_manifest
from pgcluster import free_port
from web.support import api_manifest_dict
from web.test_cli_keys_serve import _wait_for

SAYS = ("note: serve sends no outbox e-mail (verification codes, policy, breach and "
        "retention notices), delivers no webhook notice and retries no callback due again; "
        "run `personvern mail send`, `personvern request deliver-notices` and `personvern "
        "request run-due` from cron, or on PostgreSQL set PERSONVERN_JOBS=worker and run "
        "`personvern worker`")


def test_serve_on_sqlite_says_it_sends_no_mail(tmp_path: Path, sqlite_url: str) -> None:
    manifest = str(write_manifest(tmp_path, api_manifest_dict()))
    port = free_port()
    script = ("import typer; from personvern.cli.serve_cmd import serve; "
              "app = typer.Typer(); app.command()(serve); app()")
    env = {**os.environ, "PERSONVERN_EVIDENCE_KEY": "test-evidence-key",
           "PERSONVERN_RETENTION_SWEEP": "off"}
    env.pop("PERSONVERN_JOBS", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "--manifest", manifest, "--db", sqlite_url,
         "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        _wait_for(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        _, err_bytes = proc.communicate(timeout=20)
    err = err_bytes.decode()
    assert SAYS + "\n" in err, err
    assert err.count("note: serve") == 1


def test_the_docs_say_it_too() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text("utf-8")
    assert "sends no outbox e-mail" in docs and "personvern mail send" in docs
