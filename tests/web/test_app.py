"""The application shell: lifespan, problem+json for every error, headers, body limit, OpenAPI."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from personvern.clock import Clock
from personvern.errors import ManifestError
from personvern.settings import Settings
from web.support import assert_problem, make_app, open_client, runtime_of

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_nothing_is_opened_before_startup(tmp_path: Path, clock: Clock) -> None:
    from personvern.web import create_app

    db = tmp_path / "engine.db"
    app = create_app(Settings(manifest=tmp_path / "missing.yaml", database_url=f"sqlite:///{db}"),
                     clock)
    assert isinstance(app, FastAPI) and not db.exists()
    with pytest.raises(ManifestError), open_client(app):
        pass
    assert not db.exists()


def test_runtime_is_opened_by_lifespan_and_closed_after(app: FastAPI) -> None:
    with open_client(app) as client:
        rt = runtime_of(client)
        assert client.get("/.well-known/gpc.json").status_code == 200
    assert rt.engine.pool.checkedout() == 0


def test_security_headers_on_every_answer(api: TestClient) -> None:
    answers = [
        api.get("/.well-known/gpc.json"),
        api.get("/openapi.json"),
        api.get("/no/such/page"),
        api.get("/api/v1/subjects/nobody@example.no"),
        api.post("/api/v1/subjects", content=b"{", headers={"Content-Type": "application/json"}),
        api.post("/api/v1/subjects", content=b"x" * 70_000),
        api.get("/api/v1/subjects/x", headers={"Authorization": "Bearer nope"}),
    ]
    for r in answers:
        for name, value in SECURITY.items():
            assert r.headers.get(name) == value, (r.request.url, r.status_code, name)
        assert "content-security-policy" in r.headers
    assert answers[3].headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("method", "path", "status", "slug"), [
    ("GET", "/nowhere", 404, "route-not-found"),
    ("GET", "/api/v1/", 404, "route-not-found"),
    ("DELETE", "/api/v1/consents", 405, "method-not-allowed"),
    ("PUT", "/api/v1/subjects", 405, "method-not-allowed"),
])
def test_unknown_routes_are_problems(api: TestClient, method: str, path: str,
                                     status: int, slug: str) -> None:
    body = assert_problem(api.request(method, path), status)
    assert body["type"] == f"urn:personvern:problem:{slug}" and body["instance"] == path


def test_problem_fields(api: TestClient) -> None:
    body = assert_problem(api.get("/api/v1/subjects/nobody@example.no"), 404)
    assert body == {"type": "urn:personvern:problem:unknown-subject", "title": "Unknown subject",
                    "status": 404, "detail": "no subject (the value sent)",
                    "instance": "/api/v1/subjects/{ref}"}


def test_a_crash_is_a_problem_without_internals(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
    body = assert_problem(r, 500, "unexpected error")
    assert "secret" not in r.text and "passwd" not in r.text
    assert body["type"] == "urn:personvern:problem:server-error"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_limited_api_call_is_a_problem_with_retry_after(app: FastAPI) -> None:
    from personvern.sessions.limits import RateLimited

    @app.get("/api/v1/limited")
    def limited() -> None:
        raise RateLimited(42)

    with TestClient(app) as client:
        r = client.get("/api/v1/limited")
    body = assert_problem(r, 429, "42 seconds")
    assert r.headers["Retry-After"] == "42" and body["title"] == "Too many requests"


def test_body_limit_is_configurable(tmp_path: Path, sqlite_url: str, clock: Clock) -> None:
    app = make_app(tmp_path, sqlite_url, clock, max_body_bytes=1024)
    with open_client(app) as client:
        assert_problem(client.post("/api/v1/subjects", json={"email": "a" * 1100}), 413, "1024")
        # Under the limit, the request goes on (here to the API-key check).
        assert client.post("/api/v1/subjects", json={"email": "a@example.no"}).status_code == 401


def test_openapi_describes_everything(anon: TestClient) -> None:
    doc = anon.get("/openapi.json").json()
    paths = doc["paths"]
    for path, methods in {
        "/api/v1/subjects": {"post"}, "/api/v1/subjects/{ref}": {"get"},
        "/api/v1/subjects/{ref}/activity": {"post"}, "/api/v1/subjects/{ref}/guardians": {"post"},
        "/api/v1/subjects/{ref}/consents": {"get"}, "/api/v1/consents": {"post"},
        "/api/v1/decisions": {"get", "post"}, "/api/v1/cookie-choices": {"post"},
        "/api/v1/cookie-choices/{browser_id}": {"get"}, "/.well-known/gpc.json": {"get"},
    }.items():
        assert methods <= set(paths[path]), path
    assert doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert "Problem" in doc["components"]["schemas"]
    consents = paths["/api/v1/consents"]["post"]
    assert {"200", "201", "401", "403", "409", "413", "422"} <= set(consents["responses"])
    assert "application/problem+json" in consents["responses"]["422"]["content"]
    assert consents["security"] == [{"ApiKey": ["consent:write"]}]
    params = {p["name"] for p in consents["parameters"]}
    assert "Idempotency-Key" in params
    decision_params = {p["name"] for p in paths["/api/v1/decisions"]["get"]["parameters"]}
    assert {"subject", "purpose", "Sec-GPC"} <= decision_params
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_requests_through_a_real_socket(served: object, app: FastAPI) -> None:
    import httpx

    from web.support import UvicornThread, new_key

    assert isinstance(served, UvicornThread)
    token = new_key(app)
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}) as http:
        r = http.post("/api/v1/subjects", json={"email": "kari.nordmann@example.no"})
        assert r.status_code == 201
        big = http.post("/api/v1/subjects", content=b"{" + b" " * 100_000 + b"}",
                        headers={"Content-Type": "application/json"})
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"


def test_every_api_route_but_cookie_choices_needs_a_key(anon: TestClient) -> None:
    doc = anon.get("/openapi.json").json()
    checked = 0
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/cookie-choices"):
            continue
        for method in operations:
            url = path.replace("{ref}", "kari.nordmann@example.no")
            r = anon.request(method.upper(), url, json={}, params={"subject": "x", "purpose": "y"})
            assert_problem(r, 401)
            assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
            checked += 1
    assert checked == 38  # 20, the 12 operations of /api/v1/requests, 6 of organisations


def test_an_unknown_purpose_or_subject_has_its_own_type(api: TestClient) -> None:
    sid = api.post("/api/v1/subjects", json={"email": "kari@example.no"}).json()["id"]
    for _ in range(2):  # the second answer comes from the decision cache
        body = assert_problem(api.get("/api/v1/decisions",
                                      params={"subject": sid, "purpose": "lottery"}), 404)
        assert body["type"] == "urn:personvern:problem:unknown-purpose"
        assert api.get("/api/v1/decisions",
                       params={"subject": sid, "purpose": "newsletter"}).status_code == 200
    body = assert_problem(api.get("/api/v1/decisions",
                                  params={"subject": "ext:404", "purpose": "newsletter"}), 404)
    assert body["type"] == "urn:personvern:problem:unknown-subject"
