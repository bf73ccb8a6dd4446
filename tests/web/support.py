"""Support for the web and client tests: the app on a fresh database, keys, ledger counts.

Imported by tests/web/conftest.py and tests/client/conftest.py (fixtures) and by tests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories import small_manifest_dict, write_manifest
from personvern.clock import Clock
from personvern.runtime import Runtime
from personvern.settings import get_settings

# Hand-written, obviously fictitious people (example.no is reserved for examples).
KARI = "kari.nordmann@example.no"
OLA = "ola.nordmann@example.no"


def api_manifest_dict() -> dict[str, Any]:
    """The small manifest plus marketing, legitimate interest, sharing and three cookie kinds.

    Purposes: account (contract), newsletter (consent, e-mail marketing), analytics
    (legitimate interest), partners (consent, third-party sharing).
    """
    data = small_manifest_dict()
    data["purposes"][1]["marketing"] = {"channels": ["email"]}
    data["purposes"].append({
        "id": "analytics", "name": {"nb": "Analyse", "en": "Analytics"},
        "legal_basis": "legitimate_interests",
        "legitimate_interest": {"interest": {"nb": "Bedre tjeneste", "en": "Better service"}},
        "categories": ["user.behavior"], "subjects": ["customer"],
        "retention": "after_last_activity",
    })
    data["purposes"].append({
        "id": "partners", "name": {"nb": "Partnere", "en": "Partners"},
        "legal_basis": "consent", "third_party_sharing": True,
        "categories": ["user.contact.email"], "subjects": ["customer"],
        "retention": "after_last_activity",
    })
    data["cookies"] += [
        {"name": "_stats", "provider": "leksehjelp.example.no", "category": "statistics",
         "purpose": {"nb": "Statistikk", "en": "Statistics"}, "lifetime": "1 year"},
        {"name": "_px", "provider": "ads.example.com", "category": "marketing",
         "purpose": {"nb": "Annonser", "en": "Ads"}, "lifetime": "3 months",
         "third_party": True},
    ]
    return data


def complete_manifest_dict() -> dict[str, Any]:
    """The API manifest with every Art. 13/14 element, seven days' notice of changes, and
    no check errors, so that its policy may be published and shown (issue 12)."""
    data = api_manifest_dict()
    for purpose in data["purposes"]:
        purpose.pop("third_party_sharing", None)  # 'partners' named no recipient
    data["policy_changes"] = {"notice_days": 7}
    data.setdefault("rights", {})["channels"] = [
        {"type": "email", "address": "personvern@example.no"}]
    data["recipients"][0]["dpa_signed"] = "2026-01-15"
    data["cookie_consent"] = {"mechanism": "banner"}
    return data


def make_app(tmp_path: Path, db_url: str, clock: Clock, *,
             public_url: str | None = "http://127.0.0.1",
             forwarded_allow_ips: str | None = None, **kw: Any) -> FastAPI:
    """The app for a fresh manifest file and ``db_url``, reached at ``public_url``."""
    from personvern.web import create_app

    manifest = write_manifest(tmp_path, api_manifest_dict())
    # Through the factory, so PERSONVERN_* variables set by a test apply.
    return create_app(get_settings(manifest=manifest, database_url=db_url, public_url=public_url,
                                   forwarded_allow_ips=forwarded_allow_ips), clock, **kw)


def new_key(client: TestClient | FastAPI, name: str = "test app",
            scopes: tuple[str, ...] = ("admin",)) -> str:
    """A fresh API key holding ``scopes`` on the running app's database."""
    from personvern.apikeys import create_key

    rt = runtime_of(client)
    with rt.transaction() as session:
        token, _ = create_key(session, rt.clock, name, scopes)
    return token


def runtime_of(client: TestClient | FastAPI) -> Runtime:
    """The Runtime the app's lifespan opened."""
    app = client.app if isinstance(client, TestClient) else client
    rt: Runtime = app.state.runtime  # type: ignore[union-attr]
    return rt


def ledger_count(client: TestClient | FastAPI) -> int:
    """How many events the ledger holds."""
    from personvern.consent.tables import LedgerEvent

    with runtime_of(client).transaction() as session:
        return session.scalar(select(func.count()).select_from(LedgerEvent)) or 0


def ledger_rows(client: TestClient | FastAPI) -> list[tuple[Any, ...]]:
    """Every event's (seq, hash), to show nothing was changed."""
    from personvern.consent.tables import LedgerEvent

    with runtime_of(client).transaction() as session:
        return [tuple(r) for r in session.execute(
            select(LedgerEvent.seq, LedgerEvent.hash).order_by(LedgerEvent.seq))]


def open_client(app: FastAPI, token: str | None = None) -> TestClient:
    """A TestClient (lifespan not yet started) with the bearer token set."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(app, base_url="http://127.0.0.1", headers=headers)


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, clock: Clock) -> FastAPI:
    """The app on a fresh SQLite file."""
    return make_app(tmp_path, sqlite_url, clock)


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client without an API key, the app started."""
    with open_client(app) as client:
        yield client


@pytest.fixture
def api(anon: TestClient) -> TestClient:
    """A client with a valid API key."""
    anon.headers["Authorization"] = f"Bearer {new_key(anon)}"
    return anon


@pytest.fixture
def any_api(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[TestClient]:
    """A client with a valid API key, once on SQLite and once on PostgreSQL."""
    with open_client(make_app(tmp_path, db_url, clock)) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        yield client


def subject(api: TestClient, email: str = KARI, **kw: Any) -> str:
    """Create a subject and return its id."""
    r = api.post("/api/v1/subjects", json={"email": email, **kw})
    assert r.status_code in (200, 201), r.text
    sid: str = r.json()["id"]
    return sid


def give(api: TestClient, sid: str, purpose: str = "newsletter", *,
         headers: dict[str, str] | None = None, **kw: Any) -> Any:
    """POST a consent_given event (other body fields in ``kw``) and return the response."""
    body = {"subject": sid, "purpose": purpose, "type": "consent_given",
            "evidence": {"text_shown": "Vil du ha nyhetsbrev?"}, **kw}
    return api.post("/api/v1/consents", json=body, headers=headers)


def assert_problem(r: Any, status: int, contains: str = "") -> dict[str, Any]:
    """``r`` is a problem+json answer with ``status`` and a detail containing ``contains``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body), body
    assert body["status"] == status
    assert contains.lower() in body["detail"].lower(), body
    return body


class UvicornThread:
    """The app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so,
        # and without it every answer waits ~40 ms for a delayed ACK (Nagle).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@pytest.fixture
def served(app: FastAPI) -> Iterator[UvicornThread]:
    """The SQLite app served on a real socket."""
    with UvicornThread(app) as server:
        yield server




class MovableClock:
    """A clock a test can move forward (the app reads it on every request)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        """Move the clock forward by ``timedelta(**delta)``."""
        self.at += timedelta(**delta)


T0 = datetime.fromisoformat("2027-03-01T12:00:00+01:00")
