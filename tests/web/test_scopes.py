"""Scoped API keys over HTTP: every /api/v1 route names the one scope it needs, refuses a
key without it (403 naming the scope, nothing stored) and lets a key with it (or admin) in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from personvern.apikeys import ADMIN, SCOPES
from web.support import KARI, assert_problem, new_key, runtime_of

# Routes a browser calls without a key: a key, when sent, is held to the route's scope.
KEY_OPTIONAL = {("POST", "/api/v1/cookie-choices"), ("GET", "/api/v1/cookie-choices/{browser_id}")}
# A value for every path parameter that passes its own checks, so only the key decides.
PATH_VALUES = {"ref": "ext:1", "browser_id": "b" * 20, "number": "1", "breach_id": "B-2027-001",
               "request_id": "abcdef12", "dataset": "crm", "member": "ext:1"}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) under /api/v1, walked from app.routes (included routers too)."""
    return sorted((method, route.path) for route in iter_route_contexts(app.routes)
                  if route.path and route.path.startswith("/api/v1")
                  for method in route.methods or ())


def required_scope(app: FastAPI, method: str, path: str) -> str:
    """The one scope the OpenAPI document says the operation needs."""
    security = app.openapi()["paths"][path][method.lower()].get("security") or []
    scopes = [s for requirement in security for s in requirement.get("ApiKey", [])]
    assert len(scopes) == 1, f"{method} {path} declares scopes {scopes}"
    return scopes[0]


def call(client: TestClient, method: str, path: str, token: str) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
    return client.request(method, url, headers={"Authorization": f"Bearer {token}"})


def audit_and_ledger(client: TestClient) -> tuple[int, int]:
    from personvern.consent.tables import LedgerEvent
    from personvern.storage.models import AuditEvent

    with runtime_of(client).transaction() as s:
        return (s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                s.scalar(select(func.count()).select_from(LedgerEvent)) or 0)


def test_every_api_route_declares_one_known_scope(app: FastAPI) -> None:
    routes = api_routes(app)
    assert len(routes) >= 30
    declared = {required_scope(app, method, path) for method, path in routes}
    assert declared <= set(SCOPES) - {ADMIN}
    # Every scope but admin guards at least one route: none is a name without a meaning.
    assert declared == set(SCOPES) - {ADMIN}
    for method, path in routes:
        security = app.openapi()["paths"][path][method.lower()]["security"]
        assert ({} in security) == ((method, path) in KEY_OPTIONAL), (method, path)


@pytest.mark.parametrize("scope", sorted(set(SCOPES) - {ADMIN}))
def test_a_key_reaches_exactly_the_routes_of_its_scope(anon: TestClient, scope: str) -> None:
    token = new_key(anon, f"only {scope}", (scope,))
    before = audit_and_ledger(anon)
    allowed = []
    for method, path in api_routes(anon.app):  # type: ignore[arg-type]
        needed = required_scope(anon.app, method, path)  # type: ignore[arg-type]
        r = call(anon, method, path, token)
        if needed == scope:
            assert r.status_code != 403, (method, path, r.text)
            allowed.append(path)
        else:
            body = assert_problem(r, 403, f"lacks the scope '{needed}'")
            assert f"--scope {needed}" in body["detail"] and scope in body["detail"]
    assert allowed, f"no route allows {scope}"
    assert audit_and_ledger(anon) == before


def test_an_admin_key_is_refused_nowhere(anon: TestClient) -> None:
    token = new_key(anon, "owner", (ADMIN,))
    for method, path in api_routes(anon.app):  # type: ignore[arg-type]
        r = call(anon, method, path, token)
        assert r.status_code not in (401, 403), (method, path, r.text)


def test_the_openapi_document_says_what_a_key_needs(anon: TestClient) -> None:
    doc = anon.get("/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["ApiKey"]
    assert scheme["type"] == "http" and "--scope" in scheme["description"]
    publish = doc["paths"]["/api/v1/policy/versions"]["post"]
    assert publish["security"] == [{"ApiKey": ["policy:publish"]}]
    assert "403" in publish["responses"]


def test_an_app_key_does_its_work_and_nothing_else(anon: TestClient) -> None:
    token = new_key(anon, "web app", ("subjects:write", "consent:write", "decisions:read"))
    app = {"Authorization": f"Bearer {token}"}
    sid = anon.post("/api/v1/subjects", json={"email": KARI}, headers=app).json()["id"]
    r = anon.post("/api/v1/consents", headers=app, json={
        "subject": sid, "purpose": "newsletter", "type": "consent_given",
        "evidence": {"text_shown": "Nyhetsbrev?"}})
    assert r.status_code == 201, r.text
    r = anon.get("/api/v1/decisions", params={"subject": sid, "purpose": "newsletter"},
                 headers=app)
    assert r.status_code == 200 and r.json()["allowed"] is True
    assert_problem(anon.get(f"/api/v1/subjects/{sid}", headers=app), 403,
                   "lacks the scope 'subjects:read'")
    assert_problem(anon.post("/api/v1/requests", headers=app,
                             json={"type": "erasure", "subject": sid}),
                   403, "lacks the scope 'requests:open'")


def test_a_banner_key_records_cookie_choices_only(anon: TestClient) -> None:
    banner = {"Authorization": f"Bearer {new_key(anon, 'banner', ('cookies:write',))}"}
    r = anon.post("/api/v1/cookie-choices", json={"choices": {"statistics": True}},
                  headers=banner)
    assert r.status_code == 201, r.text
    bid = r.json()["browser_id"]
    assert anon.get(f"/api/v1/cookie-choices/{bid}", headers=banner).status_code == 200
    for method, path in [("POST", "/api/v1/policy/versions"),
                         ("POST", "/api/v1/requests/abcdef12/run"),
                         ("GET", "/api/v1/requests/abcdef12/package"),
                         ("GET", "/api/v1/subjects/ext:1")]:
        assert_problem(anon.request(method, path, headers=banner), 403, "lacks the scope")


def test_cookie_choices_and_subjects_need_more_than_cookies_write(anon: TestClient) -> None:
    admin = {"Authorization": f"Bearer {new_key(anon, 'owner')}"}
    sid = anon.post("/api/v1/subjects", json={"email": KARI}, headers=admin).json()["id"]
    banner = {"Authorization": f"Bearer {new_key(anon, 'banner', ('cookies:write',))}"}
    tied = {"subject_id": sid, "choices": {"marketing": True}}
    assert_problem(anon.post("/api/v1/cookie-choices", json=tied, headers=banner), 403,
                   "lacks the scope 'consent:write'")
    app = {"Authorization": "Bearer " + new_key(anon, "app", ("consent:write",))}
    assert_problem(anon.post("/api/v1/cookie-choices", json=tied, headers=app), 403,
                   "lacks the scope 'cookies:write'")
    site = {"Authorization": "Bearer " + new_key(anon, "site", ("cookies:write", "consent:write"))}
    r = anon.post("/api/v1/cookie-choices", json=tied, headers=site)
    assert r.status_code == 201 and r.json()["subject_id"] == sid
    bid = r.json()["browser_id"]
    # Whom a browser belongs to is for keys that may read subjects.
    assert anon.get(f"/api/v1/cookie-choices/{bid}", headers=site).json()["subject_id"] is None
    assert anon.get(f"/api/v1/cookie-choices/{bid}", headers=admin).json()["subject_id"] == sid
