"""The public policy pages /privacy and /privacy/en: no key, plain valid HTML, honest refusal."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import write_manifest
from personvern.policy.render import render_policy
from personvern.settings import get_settings
from web.support import (
    T0,
    MovableClock,
    complete_manifest_dict,
    new_key,
    open_client,
    runtime_of,
)

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}


class Structure(HTMLParser):
    """Checks that every element is closed in order, and collects what a page must have."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.seen: dict[str, list[dict[str, str | None]]] = {}
        self.headings: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.setdefault(tag, []).append(dict(attrs))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()


def check_page(html: str, lang: str) -> Structure:
    """A valid-enough, accessible HTML page in ``lang``."""
    assert html.lstrip().lower().startswith("<!doctype html>")
    page = Structure()
    page.feed(html)
    page.close()
    assert page.errors == [] and page.stack == [], (page.errors, page.stack)
    assert page.seen["html"][0].get("lang") == lang
    assert page.seen.get("title"), "a page needs a title"
    assert page.seen["meta"][0].get("charset") == "utf-8"
    assert page.headings and page.headings[0] == 1, "the first heading is an h1"
    # Heading levels never skip one going down.
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, page.headings
    return page


def assert_csp_allows_only_own_styles(response: Any) -> None:
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    for style in re.findall(r"<style>(.*?)</style>", response.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


@pytest.fixture
def moving() -> MovableClock:
    return MovableClock(T0)


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str, moving: MovableClock) -> Iterator[TestClient]:
    """A client without a key, on an app whose manifest is complete."""
    from personvern.web import create_app

    manifest = write_manifest(tmp_path, complete_manifest_dict())
    app = create_app(get_settings(manifest=manifest, database_url=sqlite_url), moving)
    with open_client(app) as client:
        yield client


@pytest.mark.parametrize(("path", "lang"), [("/privacy", "nb"), ("/privacy/en", "en")])
def test_policy_page_needs_no_key(site: TestClient, path: str, lang: str) -> None:
    r = site.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    check_page(r.text, lang)
    assert_csp_allows_only_own_styles(r)
    manifest = runtime_of(site).loaded.manifest
    assert r.text == render_policy(manifest, lang, "html")


def test_page_shows_the_version_in_force(site: TestClient, moving: MovableClock) -> None:
    site.headers["Authorization"] = f"Bearer {new_key(site)}"
    r = site.post("/api/v1/policy/versions", json={"effective": "2027-03-08"})
    assert r.status_code == 201, r.text
    del site.headers["Authorization"]
    manifest = runtime_of(site).loaded.manifest
    # Published but not yet in force: the manifest's policy still shows, and from the day
    # it is published, the announced version's date and changes (the notice period).
    page = site.get("/privacy").text
    announced = re.search(r'\n<aside class="announced" role="note">.*?</aside>', page)
    assert announced is not None
    assert "Ny versjon av personvernerklæringen gjelder fra 8. mars 2027" in announced[0]
    assert "<li>" in announced[0]
    check_page(page, "nb")
    assert page.replace(announced[0], "", 1) == render_policy(manifest, "nb", "html")
    moving.advance(days=8)
    from personvern.policy.versions import get_version

    with runtime_of(site).transaction() as session:
        frozen = get_version(session, 1).documents
    for path, lang in (("/privacy", "nb"), ("/privacy/en", "en")):
        page = site.get(path)
        assert page.status_code == 200
        assert page.text == frozen[lang]["html"]
        check_page(page.text, lang)


@pytest.mark.parametrize(("path", "lang", "words"), [
    ("/privacy", "nb", "ikke tilgjengelig"), ("/privacy/en", "en", "not available"),
])
def test_incomplete_policy_gives_a_plain_503_page(anon: TestClient, path: str, lang: str,
                                                  words: str) -> None:
    r = anon.get(path)
    assert r.status_code == 503
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["retry-after"] == "3600"
    check_page(r.text, lang)
    assert_csp_allows_only_own_styles(r)
    assert words in r.text
    # The public is not shown the manifest's gaps.
    assert "third_party_sharing" not in r.text


def test_pages_are_not_in_the_api_description(anon: TestClient) -> None:
    paths = anon.get("/openapi.json").json()["paths"]
    assert "/privacy" not in paths and "/privacy/en" not in paths
    assert "/api/v1/policy" in paths and "/api/v1/breaches/{breach_id}/report" in paths


def test_a_manifest_with_check_errors_is_not_published_and_the_old_version_stays(
        tmp_path: Path, sqlite_url: str, moving: MovableClock) -> None:
    """Issue 12: POST /policy/versions refuses a manifest `check` finds errors in (422,
    naming each by file:line:column), stores nothing, and /privacy keeps serving the
    version in force; before any version, /privacy shows no policy written from it."""
    from personvern.web import create_app

    good = write_manifest(tmp_path, complete_manifest_dict(), "good.yaml")
    app = create_app(get_settings(manifest=good, database_url=sqlite_url), moving)
    with open_client(app) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        assert client.post("/api/v1/policy/versions",
                           json={"effective": "2027-03-08"}).status_code == 201
    bad_data = complete_manifest_dict()
    bad_data["recipients"][0].pop("dpa_signed")      # PV019, GDPR Art. 28(3)
    bad = write_manifest(tmp_path, bad_data, "bad.yaml")
    moving.advance(days=8)
    app = create_app(get_settings(manifest=bad, database_url=sqlite_url), moving)
    with open_client(app) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        refused = client.post("/api/v1/policy/versions", json={"effective": "2027-03-20"})
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert re.search(r"bad\.yaml:\d+:\d+: PV019 Example Cloud AB is a processor but no "
                         r"data processing agreement", detail), detail
        listed = client.get("/api/v1/policy/versions").json()
        assert [v["number"] for v in listed] == [1]
        current = client.get("/api/v1/policy")
        assert current.status_code == 422 and "PV019" in current.text
        del client.headers["Authorization"]
        with runtime_of(client).transaction() as session:
            from personvern.policy.versions import get_version

            frozen = get_version(session, 1).documents
        page = client.get("/privacy")
        assert page.status_code == 200 and page.text == frozen["nb"]["html"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    app = create_app(get_settings(manifest=bad, database_url=f"sqlite:///{fresh / 'pv.db'}"),
                     moving)
    with open_client(app) as client:
        page = client.get("/privacy/en")
        assert page.status_code == 503 and "not available" in page.text
        assert "Example Cloud" not in page.text
