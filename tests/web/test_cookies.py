"""Cookie choices (issue 3 item 6) and the GPC support resource."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories import manifest_yaml, write_manifest
from personvern.consent.cookies import (
    categories_of,
    choice_expiry,
)
from personvern.errors import ConfigurationError
from personvern.manifest.loader import parse_manifest
from personvern.settings import get_settings
from web.support import (
    KARI,
    T0,
    MovableClock,
    api_manifest_dict,
    assert_problem,
    make_app,
    new_key,
    open_client,
    runtime_of,
)

URL = "/api/v1/cookie-choices"
CHOICE_MONTHS_ENV = "PERSONVERN_COOKIE_CHOICE_MONTHS"


def choices_stored(client: TestClient) -> int:
    from personvern.consent.tables import CookieChoice

    with runtime_of(client).transaction() as s:
        return s.scalar(select(func.count()).select_from(CookieChoice)) or 0


@pytest.fixture
def moving(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[TestClient, MovableClock]]:
    """An anonymous client of an app whose clock the test moves."""
    clock = MovableClock(T0)
    with open_client(make_app(tmp_path, sqlite_url, clock)) as client:
        yield client, clock


def test_anonymous_browser_chooses_and_reads_back(anon: TestClient) -> None:
    r = anon.post(URL, json={"choices": {"statistics": True}})
    assert r.status_code == 201, r.text
    state = r.json()
    assert len(state["browser_id"]) == 32 and state["subject_id"] is None
    assert state["allowed"] == {"necessary": True, "statistics": True, "marketing": False}
    assert state["gpc"] is False and state["needs_choice"] is False
    assert state["expires_at"] == "2027-09-01T11:00:00Z"  # six months by default
    again = anon.get(f"{URL}/{state['browser_id']}").json()
    assert again["allowed"] == state["allowed"] and again["chosen_at"] == "2027-03-01T11:00:00Z"
    # A later choice by the same browser replaces it; necessary cannot be refused.
    later = anon.post(URL, json={"browser_id": state["browser_id"],
                                 "choices": {"necessary": False, "statistics": False}})
    assert later.json()["allowed"] == {"necessary": True, "statistics": False,
                                       "marketing": False}
    assert anon.get(f"{URL}/{state['browser_id']}").json()["allowed"]["statistics"] is False


def test_unknown_browser_has_only_necessary(anon: TestClient) -> None:
    state = anon.get(f"{URL}/{'b' * 32}").json()
    assert state["allowed"] == {"necessary": True, "statistics": False, "marketing": False}
    assert state["needs_choice"] is True and state["chosen_at"] is None


@pytest.mark.parametrize(("value", "honoured"), [("1", True), ("0", False), ("true", False),
                                                 ("", False)])
def test_sec_gpc_refuses_non_necessary_whatever_the_body(anon: TestClient, value: str,
                                                          honoured: bool) -> None:
    everything = {"statistics": True, "marketing": True}
    r = anon.post(URL, json={"choices": everything}, headers={"Sec-GPC": value})
    assert r.status_code == 201
    state = r.json()
    assert state["gpc"] is honoured
    assert state["allowed"] == {"necessary": True, "statistics": not honoured,
                                "marketing": not honoured}


def test_gpc_on_a_later_request_refuses_now(anon: TestClient) -> None:
    bid = anon.post(URL, json={"choices": {"statistics": True, "marketing": True}}).json()[
        "browser_id"]
    now = anon.get(f"{URL}/{bid}", headers={"Sec-GPC": "1"}).json()
    assert now["gpc"] and now["allowed"] == {"necessary": True, "statistics": False,
                                             "marketing": False}
    assert anon.get(f"{URL}/{bid}").json()["allowed"]["marketing"] is True


def test_choices_expire(moving: tuple[TestClient, MovableClock]) -> None:
    banner, clock = moving
    bid = banner.post(URL, json={"choices": {"statistics": True}}).json()["browser_id"]
    clock.advance(days=183)  # 2027-08-31: still valid
    assert banner.get(f"{URL}/{bid}").json()["allowed"]["statistics"] is True
    clock.advance(days=1)  # 2027-09-01, six months on
    state = banner.get(f"{URL}/{bid}").json()
    assert state["expired"] and state["needs_choice"]
    assert state["allowed"] == {"necessary": True, "statistics": False, "marketing": False}


def test_expiry_period_is_configurable(tmp_path: Path, sqlite_url: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHOICE_MONTHS_ENV, "2")
    assert get_settings().cookie_choice_months == 2
    with open_client(make_app(tmp_path, sqlite_url, lambda: T0)) as client:
        state = client.post(URL, json={"choices": {}}).json()
    assert state["expires_at"] == "2027-05-01T11:00:00Z"
    for bad in ("two", "0", "99"):
        monkeypatch.setenv(CHOICE_MONTHS_ENV, bad)
        with pytest.raises(ConfigurationError, match=CHOICE_MONTHS_ENV):
            get_settings()
    monkeypatch.delenv(CHOICE_MONTHS_ENV)
    assert get_settings().cookie_choice_months == 6


def test_the_manifest_period_wins_when_declared() -> None:
    data = api_manifest_dict()
    data["cookie_consent"] = {"mechanism": "banner", "expires_after": "12 months"}
    manifest = parse_manifest(manifest_yaml(data)).manifest
    at = datetime(2027, 1, 31, tzinfo=UTC)
    assert choice_expiry(manifest, at, 6) == datetime(2028, 1, 31, tzinfo=UTC)
    del data["cookie_consent"]
    plain = parse_manifest(manifest_yaml(data)).manifest
    assert choice_expiry(plain, at, 1) == datetime(2027, 2, 28, tzinfo=UTC)
    assert categories_of(plain) == ["necessary", "statistics", "marketing"]


@pytest.mark.parametrize(("body", "detail"), [
    ({"choices": {"tracking": True}}, "unknown cookie category tracking"),
    ({"choices": {"preferences": True}}, "unknown cookie category preferences"),
    ({"choices": {"statistics": "maybe"}}, "statistics"),
    ({"browser_id": "short", "choices": {}}, "browser_id"),
    ({"browser_id": "../../etc/passwd/aaaaaaaa", "choices": {}}, "browser_id"),
    ({"choices": {}, "colour": "blue"}, "colour"),
])
def test_bad_cookie_choices_store_nothing(anon: TestClient, body: dict[str, object],
                                          detail: str) -> None:
    assert_problem(anon.post(URL, json=body), 422, detail)
    assert choices_stored(anon) == 0


def test_malformed_browser_id_on_read(anon: TestClient) -> None:
    assert_problem(anon.get(f"{URL}/not-long"), 422, "browser_id")
    assert_problem(anon.get(f"{URL}/{'a' * 15}%2B"), 422, "browser_id")


def test_subject_choices_need_an_api_key(anon: TestClient) -> None:
    token = new_key(anon)
    authed = {"Authorization": f"Bearer {token}"}
    sid = anon.post("/api/v1/subjects", json={"email": KARI}, headers=authed).json()["id"]
    assert_problem(anon.post(URL, json={"subject_id": sid, "choices": {}}), 401, "API key")
    assert_problem(anon.post(URL, json={"choices": {}},
                             headers={"Authorization": "Bearer pv_wrong"}), 401)
    assert_problem(anon.post(URL, json={"subject_id": "nobody@example.no", "choices": {}},
                             headers=authed), 404, "no subject")
    assert choices_stored(anon) == 0
    r = anon.post(URL, json={"subject_id": KARI, "choices": {"marketing": True}}, headers=authed)
    assert r.status_code == 201 and r.json()["subject_id"] == sid
    bid = r.json()["browser_id"]
    assert anon.get(f"{URL}/{bid}", headers=authed).json()["subject_id"] == sid
    # The browser itself (no key) learns its choices, not which subject it belongs to.
    anonymous = anon.get(f"{URL}/{bid}").json()
    assert anonymous["subject_id"] is None and anonymous["allowed"]["marketing"] is True


def test_gpc_support_resource(anon: TestClient) -> None:
    r = anon.get("/.well-known/gpc.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"gpc": True, "lastUpdate": "2027-03-01"}


def test_cookie_choices_use_the_manifest_categories(tmp_path: Path, sqlite_url: str) -> None:
    data = api_manifest_dict()
    data["cookies"] = data["cookies"][:1]  # only the necessary session cookie
    from personvern.settings import Settings
    from personvern.web import create_app

    app = create_app(Settings(manifest=write_manifest(tmp_path, data), database_url=sqlite_url),
                     lambda: T0)
    with open_client(app) as client:
        assert client.post(URL, json={}).json()["allowed"] == {"necessary": True}
        assert_problem(client.post(URL, json={"choices": {"marketing": True}}), 422,
                       "declares: necessary")
