"""Art. 19 notices from a real ``personvern serve`` reach a recipient's webhook signed, as
the privacy owner's cron job sends them (``personvern request notices ID --deliver``)."""

# No ``from __future__ import annotations``: FastAPI must see the local Annotated alias.
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI

from client.serving_support import Served, carry_out, serve
from personvern.client import Callback, PersonvernClient
from personvern.integrations.fastapi import signed_callback
from web.support import UvicornThread, api_manifest_dict

SECRET = "crm-hemmelighet"
NOTICES: list[Callback] = []


def crm() -> FastAPI:
    """A recipient's webhook: acknowledges each notice it can verify."""
    app = FastAPI()
    from_personvern = Annotated[Callback, Depends(signed_callback(SECRET))]

    @app.post("/art19")
    def art19(call: from_personvern) -> dict[str, bool]:
        NOTICES.append(call)
        return {"acknowledged": True}

    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``serve`` whose recipient ``hosting`` has a webhook (the app above) and a secret."""
    with UvicornThread(crm()) as app:
        manifest = api_manifest_dict()
        manifest["recipients"][0].update(webhook=f"{app.url}/art19",
                                         secret_env="HOSTING_HOOK_SECRET")
        with serve(tmp_path_factory.mktemp("serve"), manifest, now=None,
                   env={"HOSTING_HOOK_SECRET": SECRET}) as running:
            yield running


def deliver(server: Served, rid: str, secret: str, later: timedelta = timedelta()) -> str:
    at = (datetime.now(UTC) + later).isoformat()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("personvern")), "request", "notices", rid,
         "--deliver", "--json", "--manifest", str(server.manifest), "--db", server.db_url,
         "--now", at],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "HOSTING_HOOK_SECRET": secret})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_restriction_is_told_to_the_recipient_signed_and_shows_in_decisions(
        server: Served) -> None:
    rid, _ = carry_out(server, "restriction", "ola@example.no")
    with PersonvernClient(server.url, server.key) as pv:
        decision = pv.decide("ola@example.no", "newsletter")
    assert not decision and decision.code == "restricted"

    told = json.loads(deliver(server, rid, "not the recipient's secret"))
    assert NOTICES == [] and "HTTP 401" in json.dumps(told)  # refused: nothing acted on
    # The retry is due a minute later; within the five minutes a signature is good for.
    told = json.loads(deliver(server, rid, SECRET, later=timedelta(minutes=2)))
    assert "acknowledged" in json.dumps(told)
    [notice] = NOTICES
    assert (notice.action, notice.request, notice.recipient) == ("restriction", rid, "hosting")
    assert notice.emails == ["ola@example.no"] and notice.notice is not None


def test_an_erasure_with_a_webhook_recipient_completes(server: Served) -> None:
    """The notice keeps whom it is about on itself, not in the request's details sealed with
    the key the erasure destroys; once delivered, that copy is gone too."""
    rid, shown = carry_out(server, "erasure", "kari@example.no")
    assert shown["state"] == "completed"
    before = len(NOTICES)
    told = json.loads(deliver(server, rid, SECRET))
    assert "acknowledged" in json.dumps(told)
    [notice] = NOTICES[before:]
    assert (notice.action, notice.request) == ("erasure", rid)
    assert "kari@example.no" in notice.emails  # the recipient learns whom to erase
    db = server.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT identities FROM recipient_notices WHERE request_id = ?",
                            (rid,)).fetchall()
    assert kept and all(row[0] is None for row in kept)  # delivered: no copy left


def test_deliver_notices_sends_every_due_notice_without_a_request_id(server: Served) -> None:
    """`request deliver-notices` is the cron line serve's start-up note names: it sends the
    due notices of every request, as the worker does each minute, and says what it did."""
    first, _ = carry_out(server, "restriction", "per@example.no")
    second, _ = carry_out(server, "restriction", "liv@example.no")
    before = len(NOTICES)

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("personvern")), "request", "deliver-notices",
             *extra, "--manifest", str(server.manifest), "--db", server.db_url,
             "--now", datetime.now(UTC).isoformat()],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "HOSTING_HOOK_SECRET": SECRET})

    done = run("--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["acknowledged"] == 2
    assert sorted(n.request for n in NOTICES[before:]) == sorted([first, second])
    again = run()
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "no notice was due: none sent"
    assert len(NOTICES) == before + 2  # nothing sent twice


def test_deliver_notices_refuses_a_bad_limit(server: Served) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("personvern")), "request", "deliver-notices",
         "--limit", "0", "--manifest", str(server.manifest), "--db", server.db_url],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--limit" in done.stderr
