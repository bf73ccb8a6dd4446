"""``POST /api/v1/organisations/{ref}/leave`` says what ``personvern org leave`` says: when the
data map marks no table with an organisation's rows (``organisation:``), its own rows were
not looked for (``own_rows_not_mapped``), and the answer does not pass the members' erasure
off as the whole leaving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from demo_support import MovingClock
from organisations.test_org_api_cli import REASON, stored
from personvern.settings import get_settings
from web.support import assert_problem, new_key, open_client


def client_on(demo: Path, clock: MovingClock) -> TestClient:
    """A client with an admin key, on the demo as its manifest now reads."""
    from personvern.web import create_app

    app = create_app(get_settings(manifest=demo / "personvern.yaml",
                                  database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    return open_client(app)


@pytest.fixture
def unmarked(demo: Path, clock: MovingClock) -> Iterator[TestClient]:
    """The demo with no table marked organisation:, served."""
    path = demo / "personvern.yaml"
    text = path.read_text(encoding="utf-8")
    changed = re.sub(r"\n\s*organisation: orgnr[^\n]*", "", text)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    with client_on(demo, clock) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        yield client


def organisations(api: TestClient) -> list[str]:
    listed = api.get("/api/v1/organisations")
    assert listed.status_code == 200, listed.text
    return [o["id"] for o in listed.json() if o["left_at"] is None]


def test_the_api_says_the_organisations_own_rows_were_not_looked_for(
        unmarked: TestClient) -> None:
    r = unmarked.post(f"/api/v1/organisations/{organisations(unmarked)[0]}/leave",
                      json={"reason": REASON})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["complete"] is True and body["erased"] and body["deleted"] == {}
    assert body["own_rows_not_mapped"] is True
    # The schema says what the field means, where a client's author reads it.
    schema = unmarked.get("/openapi.json").json()["components"]["schemas"]["LeaveOut"]
    assert "not enforced" in schema["properties"]["own_rows_not_mapped"]["description"]


def test_a_mapped_leaving_says_its_rows_were_looked_for(demo: Path, clock: MovingClock) -> None:
    with client_on(demo, clock) as api:
        api.headers["Authorization"] = f"Bearer {new_key(api)}"
        r = api.post(f"/api/v1/organisations/{organisations(api)[0]}/leave",
                     json={"reason": REASON})
        assert r.status_code == 200, r.text
        assert r.json()["own_rows_not_mapped"] is False and r.json()["deleted"]


def test_an_unknown_or_left_organisation_is_refused_and_nothing_changes(
        unmarked: TestClient) -> None:
    before = stored(unmarked)
    assert_problem(unmarked.post("/api/v1/organisations/999999999/leave",
                                 json={"reason": REASON}), 404)
    assert_problem(unmarked.post("/api/v1/organisations/nobody/leave", json={}), 422)
    assert stored(unmarked) == before
    first = organisations(unmarked)[0]
    assert unmarked.post(f"/api/v1/organisations/{first}/leave",
                         json={"reason": REASON}).status_code == 200
    after = stored(unmarked)
    assert_problem(unmarked.post(f"/api/v1/organisations/{first}/leave",
                                 json={"reason": REASON}), 409, "already left")
    assert stored(unmarked) == after
