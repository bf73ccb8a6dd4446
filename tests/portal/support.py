"""Support for the portal's HTTP tests: the app on SQLite and PostgreSQL, people, sign-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from web.support import T0, MovableClock, make_app, runtime_of

KARI = "kari.nordmann@example.no"
OLA = "ola.nordmann@example.no"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Portal:
    """A started app, its clock and two unrelated subjects."""

    client: TestClient
    clock: MovableClock
    kari: str
    ola: str

    @property
    def runtime(self) -> Any:
        """The app's Runtime."""
        return runtime_of(self.client)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


def new_subject(portal_or_client: Any, email: str, **kw: Any) -> str:
    """A subject with ``email`` in the app's database."""
    from personvern.consent.subjects import create_subject

    client = portal_or_client.client if isinstance(portal_or_client, Portal) else portal_or_client
    rt = runtime_of(client)
    with rt.transaction() as s:
        subject, _ = create_subject(s, rt.clock, {"email": email}, kind="customer", **kw)
        return subject.id


def link_token(client: TestClient, email: str) -> str:
    """A fresh sign-in link token for ``email`` (as if read from the mail)."""
    from personvern.web import signin

    rt = runtime_of(client)
    with rt.transaction() as s:
        issued = signin.issue(s, rt.clock, email)
    assert issued is not None
    return issued.token


def sign_in(client: TestClient, email: str) -> None:
    """Sign ``client`` in as the subject with ``email`` through the link pages."""
    token = link_token(client, email)
    r = client.get("/portal/sign-in/link", params={"token": token})
    assert r.status_code == 200, r.text
    r = client.post("/portal/sign-in/link", data={"token": token, "csrf_token": csrf_of(r.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal", r.text


def start_portal(tmp_path: Path, db_url: str, **env: Any) -> Iterator[Portal]:
    """The app on ``db_url`` with a movable clock and two subjects, started."""
    clock = MovableClock(T0)
    app = make_app(tmp_path, db_url, clock)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        kari = new_subject(client, KARI, birth_date=date(1980, 5, 1))
        ola = new_subject(client, OLA, birth_date=date(1982, 6, 2))
        yield Portal(client, clock, kari, ola)


@pytest.fixture
def portal(tmp_path: Path, db_url: str) -> Iterator[Portal]:
    """The portal on SQLite and on PostgreSQL."""
    yield from start_portal(tmp_path, db_url)


@pytest.fixture
def lite(tmp_path: Path, sqlite_url: str) -> Iterator[Portal]:
    """The portal on SQLite only (for checks that do not depend on the database)."""
    yield from start_portal(tmp_path, sqlite_url)
