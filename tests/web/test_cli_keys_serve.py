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
    code, out = keys("create", "nettbutikk", "--scope", "decisions:read",
                     "--scope", "consent:write", *where, "--json")
    assert code == 0, out
    created = json.loads(out)
    token = created["key"]
    assert token.startswith("pv_") and created["prefix"] == token[:12]
    assert created["scopes"] == ["consent:write", "decisions:read"]
    code, out = keys("create", "banner", "--scope", "cookies:write", *where)
    assert code == 0 and out.splitlines()[0].startswith("pv_")
    assert "not shown again" in out and "with scopes cookies:write" in out

    code, out = keys("list", *where, "--json")
    listed = json.loads(out)
    assert [(k["name"], k["scopes"]) for k in listed] == [
        ("nettbutikk", ["consent:write", "decisions:read"]), ("banner", ["cookies:write"])]
    assert token not in out and all(k["revoked_at"] is None for k in listed)
    code, out = keys("list", *where)
    assert "nettbutikk  scopes consent:write decisions:read  created" in out
    assert "banner  scopes cookies:write  created" in out and "admin" not in out
    keys("create", "the owner's script", "--scope", "admin", *where)
    assert "keys made before scopes existed were given admin" in keys("list", *where)[1]

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
        keys("create", " ", "--scope", "admin", *where)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_on_loopback(tmp_path: Path, sqlite_url: str, workers: int) -> None:
    """With several workers too: each builds the app from what serve passed on (--now)."""
    manifest = str(write_manifest(tmp_path, api_manifest_dict()))
    where = ["--manifest", manifest, "--db", sqlite_url]
    _, out = keys("create", "serve test", "--scope", "subjects:write", "--scope",
                  "consent:write", "--scope", "decisions:read", *where, "--json")
    token = json.loads(out)["key"]
    port = free_port()
    script = ("import typer; from personvern.cli.serve_cmd import serve; "
              "app = typer.Typer(); app.command()(serve); app()")
    env = {**os.environ, "PERSONVERN_EVIDENCE_KEY": "test-evidence-key"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *where, "--port", str(port), "--now", NOW,
         "--log-level", "info", "--workers", str(workers)],
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
        # A path and a query that carry a person: the log says neither (nor the client).
        httpx.get(f"{url}/portal/sign-in/link?token=secret-token-123")
        httpx.get(f"{url}/api/v1/subjects/{KARI}", headers={"Authorization": f"Bearer {token}"})
    finally:
        proc.terminate()
        out_bytes, err_bytes = proc.communicate(timeout=20)
    out, err = out_bytes.decode(), err_bytes.decode()
    assert "Traceback" not in err, err
    # GDPR Art. 5(1)(c): one line per request on stdout (as uvicorn's access log), by route,
    # with nothing of a person in it, on either stream.
    assert "POST /api/v1/consents 201" in out and "GET /api/v1/subjects/{ref} " in out, out
    assert "GET /portal/sign-in/link " in out, out
    for text in (out, err):
        assert KARI not in text and "secret-token-123" not in text, text
        assert ' - "GET ' not in text and ' - "POST ' not in text, text  # uvicorn's format


@pytest.mark.parametrize(("scopes", "says"), [
    (["--scope", "policy:pubish"], "unknown scope 'policy:pubish'; valid scopes: admin, "),
    ([], "an API key needs at least one scope (admin for everything); valid scopes: admin, "),
])
def test_a_bad_scope_is_one_line_exit_2_and_no_key(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, scopes: list[str], says: str,
) -> None:
    from personvern.cli import main

    manifest = str(write_manifest(tmp_path, api_manifest_dict()))
    where = ["--manifest", manifest, "--db", sqlite_url]
    monkeypatch.setattr(sys, "argv", ["personvern", "keys", "create", "app", *scopes, *where])
    with pytest.raises(SystemExit) as exited:
        main.run()
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: {says}") and err.count("\n") == 1
    assert "policy:publish" in err and "cookies:write" in err
    assert json.loads(keys("list", *where, "--json")[1]) == []


def test_keys_scopes_lists_each_scope_and_what_it_allows() -> None:
    from personvern.apikeys import SCOPES

    code, out = keys("scopes")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(SCOPES)
    assert "publish a new version of the privacy policy" in out
    assert json.loads(keys("scopes", "--json")[1]) == SCOPES


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
    where = ["--manifest", str(write_manifest(tmp_path, api_manifest_dict())),
             "--db", f"sqlite:///{tmp_path / 'pv.db'}", "--public-url", "https://pv.example.no"]
    assert runner.invoke(app, where).exit_code == 0
    assert runner.invoke(app, [*where, "--forwarded-allow-ips", "10.0.0.5"]).exit_code == 0
    assert [(o["proxy_headers"], o["forwarded_allow_ips"]) for o in seen] == [
        (False, []), (True, ["10.0.0.5"])]
    help_text = runner.invoke(app, ["--help"], terminal_width=200).output
    assert "--public-url" in help_text and "--forwarded-allow-ips" in help_text


@pytest.mark.parametrize(("where", "says"), [
    (["--manifest", "MISSING"], "no such file"),
    (["--db", "sqlite:////nonexistent-dir/pv.db"], "directory /nonexistent-dir does not exist"),
    (["--db", "postgresql://nobody@127.0.0.1:1/pv"], "connection failed"),
])
def test_serve_with_a_bad_manifest_or_database_is_one_line(
        tmp_path: Path, sqlite_url: str, where: list[str], says: str) -> None:
    """Not the lifespan's 70-line traceback: the line every other command would print."""
    args = {"--manifest": str(write_manifest(tmp_path, api_manifest_dict())), "--db": sqlite_url}
    args.update(dict(zip(where[::2], [w.replace("MISSING", str(tmp_path / "nope.yaml"))
                                      for w in where[1::2]], strict=True)))
    done = subprocess.run(
        [sys.executable, "-c", "from personvern.cli.main import run; run()", "serve",
         *[x for kv in args.items() for x in kv], "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
    assert says in done.stderr


def test_serve_runs_on_the_c_http_parser_and_libuv() -> None:
    """uvicorn picks httptools and uvloop by itself when installed; without them every request
    went through h11 and asyncio's own loop at about half the rate (docs/performance.md)."""
    import asyncio

    import uvicorn

    async def app(scope: object, receive: object, send: object) -> None:
        """Nothing: only the server's own choices are looked at."""

    config = uvicorn.Config(app)  # the same defaults (loop and http "auto") serve passes
    config.load()
    assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop"), type(loop)
        assert not isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()
