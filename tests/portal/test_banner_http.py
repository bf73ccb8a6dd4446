"""The banner's server side: its public configuration, CORS for allowed origins only, size."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from personvern.errors import ConfigurationError
from personvern.settings import get_settings
from web.support import T0, MovableClock, make_app

SHOP = "https://www.leksehjelp.example.no"
EVIL = "https://evil.example.com"


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("PERSONVERN_BANNER_ORIGINS", f"{SHOP}, http://127.0.0.1:9999/")
    with TestClient(make_app(tmp_path, sqlite_url, MovableClock(T0)),
                    base_url="http://127.0.0.1") as c:
        yield c


def test_config_lists_the_manifests_categories_and_cookies(client: TestClient) -> None:
    r = client.get("/banner/config", params={"lang": "en"})
    assert r.status_code == 200
    body = r.json()
    assert [c["id"] for c in body["categories"]] == ["necessary", "statistics", "marketing"]
    marketing = body["categories"][2]
    assert marketing["name"] == "Marketing" and not marketing["required"]
    assert marketing["cookies"] == [{"name": "_px", "provider": "ads.example.com",
                                     "purpose": "Ads", "lifetime": "3 months",
                                     "third_party": True}]
    assert body["categories"][0]["required"] is True
    assert len(body["policy_version"]) == 64
    nb = client.get("/banner/config", params={"lang": "<b>"}).json()
    assert nb["lang"] == "nb" and nb["categories"][2]["name"] == "Markedsføring"


def test_cors_only_for_allowed_origins(client: TestClient) -> None:
    ok = client.get("/banner/config", headers={"Origin": SHOP})
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "Origin" in ok.headers["vary"]
    trailing = client.get("/banner/config", headers={"Origin": "http://127.0.0.1:9999"})
    assert trailing.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
    bad = client.get("/banner/config", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in bad.headers
    pre = client.options("/api/v1/cookie-choices", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-methods"] == "GET, POST"
    denied = client.options("/api/v1/cookie-choices", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert denied.status_code == 403 and "access-control-allow-origin" not in denied.headers
    stored = client.post("/api/v1/cookie-choices", json={"choices": {"marketing": False}},
                         headers={"Origin": SHOP})
    assert stored.status_code == 201
    assert stored.headers["access-control-allow-origin"] == SHOP
    # The rest of the API is not opened to other sites.
    api = client.get("/api/v1/subjects/x", headers={"Origin": SHOP})
    assert "access-control-allow-origin" not in api.headers


def test_the_service_url_origin_is_allowed_without_configuration(
        tmp_path: Path, sqlite_url: str) -> None:
    from factories import write_manifest
    from web.support import api_manifest_dict

    data = api_manifest_dict()
    data["service"]["url"] = "https://leksehjelp.example.no/app"
    manifest = write_manifest(tmp_path, data)
    from personvern.web import create_app

    app = create_app(get_settings(manifest=manifest, database_url=sqlite_url), MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.get("/banner/config", headers={"Origin": "https://leksehjelp.example.no"})
        assert r.headers["access-control-allow-origin"] == "https://leksehjelp.example.no"


def test_the_banner_script_is_small_and_served_as_javascript(client: TestClient) -> None:
    r = client.get("/static/banner.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert len(gzip.compress(r.content, 9)) < 15 * 1024


def test_a_choice_asks_again_after_expiry(client: TestClient) -> None:
    """What the banner reads: needs_choice after the period (6 months by default)."""
    stored = client.post("/api/v1/cookie-choices", json={"choices": {"statistics": True}}).json()
    state = client.get(f"/api/v1/cookie-choices/{stored['browser_id']}").json()
    assert state["needs_choice"] is False
    clock = client.app.state.runtime.clock  # type: ignore[attr-defined]
    clock.advance(days=200)
    state = client.get(f"/api/v1/cookie-choices/{stored['browser_id']}").json()
    assert state["needs_choice"] is True and state["allowed"]["statistics"] is False
    clock.at -= timedelta(days=200)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BANNER_ORIGINS", "https://shop.example.no/path", "is not an origin"),
    ("BANNER_ORIGINS", "shop.example.no", "is not an origin"),
    ("SMTP_PORT", "0", "between 1 and 65535"),
    ("SMTP_PORT", "smtp", "is not a whole number"),
    ("PUBLIC_URL", "portal.example.no", "must start with http"),
])
def test_bad_web_settings_are_clear(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                    message: str) -> None:
    monkeypatch.setenv(f"PERSONVERN_{name}", value)
    with pytest.raises(ConfigurationError, match=message):
        get_settings()
