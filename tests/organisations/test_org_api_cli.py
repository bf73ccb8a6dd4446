"""Organisations over ``/api/v1/organisations`` and ``personvern org`` on the Min Mentor demo:
created, listed, shown, members added and removed, an organisation leaving; an admin acts
for the members of their own organisation only (seed 003); bad input is problem+json (API)
or a clear error (CLI), and nothing is stored."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cli_inprocess import run_personvern
from demo_support import DEMO_NOW, MovingClock
from personvern.consent.tables import Membership, Organisation
from personvern.requests.tables import Request
from personvern.settings import get_settings
from personvern.storage.models import AuditEvent
from web.support import assert_problem, new_key, open_client, runtime_of

REASON = "the customer contract ended on 31 December"


@pytest.fixture
def api(demo: Path, clock: MovingClock) -> Iterator[TestClient]:
    from personvern.web import create_app

    app = create_app(get_settings(manifest=demo / "personvern.yaml",
                                  database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    with open_client(app) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        yield client


def stored(api: TestClient) -> tuple[Any, ...]:
    with runtime_of(api).transaction() as s:
        return (s.scalar(select(func.count()).select_from(Organisation)),
                s.scalar(select(func.count()).select_from(Membership)),
                s.scalar(select(func.count()).select_from(Request)),
                s.scalar(select(func.count()).select_from(AuditEvent)))


def orgs_with_admins(api: TestClient) -> list[dict[str, Any]]:
    listed = api.get("/api/v1/organisations")
    assert listed.status_code == 200, listed.text
    return [api.get(f"/api/v1/organisations/{o['id']}").json() for o in listed.json()]


def test_an_admin_acts_for_their_own_members_only(api: TestClient) -> None:
    a, b = [o for o in orgs_with_admins(api) if any(m["role"] == "admin"
                                                     for m in o["members"])][:2]
    admin = next(m["reference"] for m in a["members"] if m["role"] == "admin")
    own = next(m["reference"] for m in a["members"] if m["role"] == "member")
    stranger = next(m["reference"] for m in b["members"] if m["role"] == "member")
    r = api.post("/api/v1/requests", json={"type": "access", "subject": own,
                                           "opened_by": "admin", "acting_subject": admin})
    assert r.status_code == 201, r.text
    assert r.json()["opened_by"] == "admin"
    before = stored(api)
    r = api.post("/api/v1/requests", json={"type": "access", "subject": stranger,
                                           "opened_by": "admin", "acting_subject": admin})
    assert_problem(r, 403, "not an admin")
    assert stored(api) == before


def test_create_add_members_and_leave_over_the_api(api: TestClient, demo: Path) -> None:
    r = api.post("/api/v1/organisations", json={"name": "Nordlys Regnskap AS",
                                                "orgnr": "900001010"})
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["orgnr"] == "900001010" and org["left_at"] is None
    r = api.post(f"/api/v1/organisations/{org['id']}/members",
                 json={"subject": "ext:4", "role": "admin"})
    assert r.status_code == 201 and r.json()["role"] == "admin"
    assert api.post("/api/v1/organisations/900001010/members",
                    json={"subject": "ext:7"}).status_code == 201
    assert api.delete(f"/api/v1/organisations/{org['id']}/members/ext:7").status_code == 204
    shown = api.get("/api/v1/organisations/Nordlys Regnskap AS").json()
    assert [(m["reference"], m["role"]) for m in shown["members"]] == [("ext:4", "admin")]

    leaving = next(o for o in orgs_with_admins(api) if o["orgnr"] != "900001010")
    r = api.post(f"/api/v1/organisations/{leaving['orgnr']}/leave", json={"reason": REASON})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["complete"] and len(report["erased"]) == 10
    assert report["deleted"]["minmentor.companies"] == 1
    assert report["organisation"]["left_at"] == DEMO_NOW.isoformat().replace("+00:00", "Z")
    before = stored(api)
    r = api.post(f"/api/v1/organisations/{leaving['id']}/leave", json={"reason": REASON})
    assert_problem(r, 409, "already left")
    assert stored(api) == before


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("post", "/api/v1/organisations", {"name": "Feil AS", "orgnr": "123456789"}, 422,
     "not a valid organisasjonsnummer"),
    ("post", "/api/v1/organisations", {"name": "Feil AS", "orgnr": "100000075"}, 409,
     "already"),
    ("post", "/api/v1/organisations", {"name": ""}, 422, ""),
    ("post", "/api/v1/organisations/100000075/members", {"subject": "ext:1"}, 409,
     "already"),
    ("post", "/api/v1/organisations/100000075/members", {"subject": "ext:99999"}, 404,
     "no subject"),
    ("post", "/api/v1/organisations/100000075/members", {"subject": "ext:4",
                                                         "role": "owner"}, 422, ""),
    ("post", "/api/v1/organisations/Ingen Slik AS/members", {"subject": "ext:4"}, 404,
     "no organisation"),
    ("delete", "/api/v1/organisations/100000075/members/ext:2", None, 404, "not a member"),
    ("post", "/api/v1/organisations/100000075/leave", {}, 422, ""),
    ("post", "/api/v1/organisations/100000075/leave", {"reason": " "}, 422, "reason"),
])
def test_bad_calls_are_problems_and_store_nothing(
        api: TestClient, method: str, path: str, body: Any, status: int, says: str) -> None:
    before = stored(api)
    r = api.request(method.upper(), path, **({"json": body} if body is not None else {}))
    assert_problem(r, status, says)
    assert stored(api) == before


def cli(demo: Path, *args: str) -> Any:
    env = {**os.environ, "PERSONVERN_MANIFEST": str(demo / "personvern.yaml"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{demo / 'personvern.db'}"}
    return run_personvern(*args, "--now", DEMO_NOW.isoformat(), env=env)


def test_the_cli_adds_shows_and_leaves(demo: Path) -> None:
    out = cli(demo, "org", "add", "Nordlys Regnskap AS", "--orgnr", "900 001 010", "--json")
    assert out.returncode == 0, out.stderr
    org = json.loads(out.stdout)
    assert cli(demo, "org", "member", "add", org["id"], "ext:4", "--admin").returncode == 0
    shown = cli(demo, "org", "show", "900001010")
    assert "admin: ext:4" in shown.stdout
    listed = cli(demo, "org", "list")
    assert "Nordlys Regnskap AS (900001010): 1 member, 1 admin" in listed.stdout
    left = cli(demo, "org", "leave", "100000075", "--reason", REASON)
    assert left.returncode == 0, left.stderr
    # ext:4 is a member of Nordlys too: it stays a person of Nordlys, not erased.
    assert "left on 2027-01-04" in left.stdout and "members erased: 9" in left.stdout
    assert "still a member of Nordlys Regnskap AS (membership here ended)" in left.stdout
    assert "deleted 1 row of minmentor.companies" in left.stdout


@pytest.mark.parametrize(("args", "says"), [
    (("org", "add", "Feil AS", "--orgnr", "123456789"), "not a valid organisasjonsnummer"),
    (("org", "member", "add", "100000075", "ext:1"), "already"),
    (("org", "member", "add", "100000075", "ext:99999"), "no subject"),
    (("org", "leave", "100000075"), "Missing option '--reason'"),
    (("org", "leave", "100000075", "--reason", ""), "reason"),
])
def test_cli_errors_are_clear_and_store_nothing(demo: Path, args: tuple[str, ...],
                                               says: str) -> None:
    before = cli(demo, "org", "list", "--json").stdout
    out = cli(demo, *args)
    assert out.returncode != 0
    assert says.lower() in out.stderr.lower(), out.stderr
    assert cli(demo, "org", "list", "--json").stdout == before
    assert cli(demo, "request", "list").stdout == cli(demo, "request", "list").stdout


def test_leaving_twice_is_refused_by_the_cli(demo: Path) -> None:
    assert cli(demo, "org", "leave", "100000075", "--reason", REASON).returncode == 0
    again = cli(demo, "org", "leave", "100000075", "--reason", REASON)
    assert again.returncode == 1 and "already left on 2027-01-04" in again.stderr
