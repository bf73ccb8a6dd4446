"""A real ``personvern serve`` process on a free loopback port, for the client tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from factories import write_manifest
from pgcluster import free_port
from web.support import api_manifest_dict

NOW = "2027-03-01T12:00:00+01:00"
# What a web app needs (docs/integrate.md): no admin.
APP_SCOPES = ("subjects:read", "subjects:write", "consent:write", "decisions:read")


@dataclass(frozen=True)
class Served:
    """Where the server answers and an API key holding the app's scopes."""

    url: str
    key: str
    manifest: Path
    db_url: str


def create_key(manifest: Path, db_url: str, name: str, scopes: tuple[str, ...]) -> str:
    """A new API key, made through the CLI as the privacy owner would."""
    from personvern.cli import keys_cmd

    args = ["create", name, *(a for s in scopes for a in ("--scope", s)),
            "--manifest", str(manifest), "--db", db_url, "--json"]
    result = CliRunner().invoke(keys_cmd.app, args)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["key"])


@contextmanager
def serve(directory: Path, manifest: dict[str, Any] | None = None,
          env: dict[str, str] | None = None, now: str | None = NOW) -> Iterator[Served]:
    """``personvern serve`` on a fresh SQLite database until the block ends; ``now`` None
    runs it on the real clock."""
    path = write_manifest(directory, manifest or api_manifest_dict())
    db_url = f"sqlite:///{directory / 'personvern.db'}"
    key = create_key(path, db_url, "the web app", APP_SCOPES)
    port = free_port()
    command = [str(Path(sys.executable).with_name("personvern")), "serve",
               "--manifest", str(path), "--db", db_url, "--port", str(port),
               "--log-level", "warning", *(["--now", now] if now else [])]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PERSONVERN_EVIDENCE_KEY": "test", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"personvern serve did not start: {proc.stderr.read()!r}"
                                   if proc.stderr else "personvern serve did not start")
            time.sleep(0.1)
        yield Served(url, key, path, db_url)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert b"Traceback" not in err, err.decode()


def carry_out(server: Served, type_: str, email: str) -> tuple[str, dict[str, Any]]:
    """Open a request for the person with ``email`` as the privacy owner and run it; the
    request id and what ``GET /api/v1/requests/{id}`` then shows."""
    owner = create_key(server.manifest, server.db_url, f"the owner's tools ({type_})",
                       ("subjects:write", "requests:open", "requests:run", "requests:read"))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {owner}"},
                      timeout=30) as api:
        subject = api.post("/api/v1/subjects", json={"email": email, "external_id": "23"})
        opened = api.post("/api/v1/requests", json={
            "type": type_, "subject": subject.json()["id"], "opened_by": "owner",
            "verified_by": "called back on the number on file"})
        assert opened.status_code == 201, opened.text
        rid = str(opened.json()["id"])
        ran = api.post(f"/api/v1/requests/{rid}/run", json={"reason": "the person asked"})
        assert ran.status_code == 200 and ran.json()["state"] == "completed", ran.text
        # The proof and the notices follow the answer (follow_ups): wait, as a client
        # would, until the request shows them done.
        deadline = time.monotonic() + 30
        while True:
            shown: dict[str, Any] = api.get(f"/api/v1/requests/{rid}").json()
            states = {f["kind"]: f["state"] for f in shown.get("follow_ups", [])}
            assert "failed" not in states.values(), shown["follow_ups"]
            if all(s == "done" for s in states.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    return rid, shown
