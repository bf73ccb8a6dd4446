"""``personvern keys create|list|revoke`` and ``personvern serve`` (until main.py registers them,
through their own Typer apps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from factories import write_manifest
from personvern.cli import keys_cmd
from personvern.client import PersonvernAPIError, PersonvernClient
from pgcluster import free_port
from web.support import KARI, api_manifest_dict

runner = CliRunner()
NOW = "2027-03-01T12:00:00+01:00"


def keys(*args: str) -> tuple[int, str]:
    result = runner.invoke(keys_cmd.app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_keys_create_list_revoke(tmp_path: Path, db_url: str) -> None:
    from personvern.apikeys import authenticate
    from personvern.errors import NotFound, Unauthorized
    from personvern.runtime import open_runtime
    from personvern.settings import Settings

    manifest = str(write_manifest(tmp_path, api_manifest_dict()))
    where = ["--manifest", manifest, "--db", db_url, "--now", NOW]
    code, out = keys("create", "nettbutikk", *where, "--json")
    assert code == 0, out
    created = json.loads(out)
    token = created["key"]
    assert token.startswith("pv_") and created["prefix"] == token[:12]
    code, out = keys("create", "portal", *where)
    assert code == 0 and out.splitlines()[0].startswith("pv_")
    assert "not shown again" in out

    code, out = keys("list", *where, "--json")
    listed = json.loads(out)
    assert [k["name"] for k in listed] == ["nettbutikk", "portal"]
    assert token not in out and all(k["revoked_at"] is None for k in listed)

    rt = open_runtime(Settings(manifest=Path(manifest), database_url=db_url))
    try:
        with rt.transaction() as s:
            assert authenticate(s, token).name == "nettbutikk"
        code, out = keys("revoke", created["prefix"], *where)
        assert code == 0 and f"revoked {created['prefix']}" in out
        with rt.transaction() as s, pytest.raises(Unauthorized, match="revoked"):
            authenticate(s, token)
    finally:
        rt.close()
    code, out = keys("list", *where)
    assert "REVOKED 2027-03-01" in out
    with pytest.raises(NotFound):
        keys("revoke", "pv_nonexistent", *where)
    with pytest.raises(Exception, match="needs a name"):
        keys("create", " ", *where)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_on_loopback(tmp_path: Path, sqlite_url: str, workers: int) -> None:
    """With several workers too: each builds the app from what serve passed on (--now)."""
    manifest = str(write_manifest(tmp_path, api_manifest_dict()))
    where = ["--manifest", manifest, "--db", sqlite_url]
    _, out = keys("create", "serve test", *where, "--json")
    token = json.loads(out)["key"]
    port = free_port()
    script = ("import typer; from personvern.cli.serve_cmd import serve; "
              "app = typer.Typer(); app.command()(serve); app()")
    env = {**os.environ, "PERSONVERN_EVIDENCE_KEY": "test-evidence-key"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *where, "--port", str(port), "--now", NOW,
         "--log-level", "warning", "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url, proc)
        with PersonvernClient(url, token) as pv:
            sid = pv.ensure_subject(email=KARI).id
            pv.record_consent(sid, "newsletter", text_shown="Nyhetsbrev?")
            for _ in range(4):  # new connections: likely more than one worker answers
                with PersonvernClient(url, token) as again:
                    decision = again.decide(sid, "newsletter")
                assert decision.allowed
                assert decision.at.isoformat() == "2027-03-01T11:00:00+00:00"
        with PersonvernClient(url, "pv_nope") as bad, pytest.raises(PersonvernAPIError):
            bad.decide(sid, "newsletter")
    finally:
        proc.terminate()
        _, err_bytes = proc.communicate(timeout=20)
    assert b"Traceback" not in err_bytes, err_bytes.decode()


def _wait_for(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.communicate()[1].decode()}")
        try:
            if httpx.get(f"{url}/.well-known/gpc.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer within 30 s")


def test_serve_refuses_no_workers() -> None:
    from personvern.cli.serve_cmd import serve

    app = typer.Typer()
    app.command()(serve)
    result = runner.invoke(app, ["--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_serve_help_names_what_it_serves() -> None:
    from personvern.cli.serve_cmd import serve

    app = typer.Typer()
    app.command()(serve)
    result = runner.invoke(app, ["--help"], terminal_width=200)
    for served in ("/api/v1/", "/portal", "/dashboard", "banner", "--workers"):
        assert served in result.output


def test_serve_refuses_a_bad_now() -> None:
    from personvern.cli.serve_cmd import serve
    from personvern.errors import InvalidInput

    app = typer.Typer()
    app.command()(serve)
    result = runner.invoke(app, ["--now", "yesterday"])
    assert isinstance(result.exception, InvalidInput)


def test_serve_refuses_a_bad_public_url_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from personvern.cli.main import run; run()", "serve",
         "--public-url", "https://personvern.example.no/?x=1",
         "--db", f"sqlite:///{tmp_path / 'pv.db'}"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "must not have a query" in done.stderr


def test_serve_passes_only_the_configured_proxies_to_uvicorn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from personvern.cli.serve_cmd import serve

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.append(options))
    monkeypatch.delenv("PERSONVERN_FORWARDED_ALLOW_IPS", raising=False)
    app = typer.Typer()
    app.command()(serve)
    where = ["--db", f"sqlite:///{tmp_path / 'pv.db'}", "--public-url", "https://pv.example.no"]
    assert runner.invoke(app, where).exit_code == 0
    assert runner.invoke(app, [*where, "--forwarded-allow-ips", "10.0.0.5"]).exit_code == 0
    assert [(o["proxy_headers"], o["forwarded_allow_ips"]) for o in seen] == [
        (False, []), (True, ["10.0.0.5"])]
    help_text = runner.invoke(app, ["--help"], terminal_width=200).output
    assert "--public-url" in help_text and "--forwarded-allow-ips" in help_text
