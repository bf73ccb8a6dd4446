"""The TypeScript client (clients/typescript): generated from the OpenAPI document the server
answers, built with tsc and tested by Node's own test runner against a real ``serve``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx

from client.serving_support import Served, create_key
from personvern.manifest.model import Dataset
from personvern.requests.callbacks import body_for, sign
from personvern.web.problems import TYPES
from personvern.web.reference import openapi_text

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "typescript"


def npm(*args: str, env: dict[str, str] | None = None) -> str:
    """Run npm in the package; its whole output in the assertion when it fails."""
    found = shutil.which("npm")
    assert found, "npm is missing: `make system-deps` installs Node.js and npm"
    done = subprocess.run([found, *args], cwd=PACKAGE, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})}, check=False)
    assert done.returncode == 0, f"npm {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_committed_openapi_document_is_the_one_serve_answers(server: Served) -> None:
    live = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    committed = (PACKAGE / "openapi.json").read_text(encoding="utf-8")
    assert json.loads(committed) == live, (
        "clients/typescript/openapi.json is out of date with the API; run `make docs`")
    assert committed == openapi_text()


def test_the_typescript_client_against_a_real_serve(server: Served) -> None:
    if not (PACKAGE / "node_modules" / ".package-lock.json").exists():
        npm("ci", "--no-audit", "--no-fund")  # exactly package-lock.json (`make test` does it)
    npm("run", "build")  # generates src/schema.ts from openapi.json, then tsc
    reader = create_key(server.manifest, server.db_url, "reads only", ("decisions:read",))
    chat = Dataset.model_validate({"id": "chat", "kind": "http", "secret_env": "CHAT_SECRET",
                                   "callback": "http://127.0.0.1:9/privacy"})
    body = body_for(chat, "erase", "req-1", {"email": ["kari@example.no"],
                                             "external_id": ["23"]})
    stamp = int(datetime.now(UTC).timestamp())
    signed = {"secret": "chat-hemmelighet", "body": body.decode(), "timestamp": stamp,
              "signature": sign(b"chat-hemmelighet", stamp, body)}
    out = npm("test", env={
        "PERSONVERN_URL": server.url, "PERSONVERN_KEY": server.key,
        "PERSONVERN_READER_KEY": reader, "PERSONVERN_PROBLEM_TYPES": json.dumps(list(TYPES)),
        "PERSONVERN_SIGNED_CALL": json.dumps(signed),
    })
    # Every test ran and passed: a test file that failed to load would report none.
    assert "# tests 7" in out and "# pass 7" in out and "# fail 0" in out, out
