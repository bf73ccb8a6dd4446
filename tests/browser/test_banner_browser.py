"""The cookie banner in Chromium, embedded in a page of another origin (the service's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser.support import Site, serve, shot
from factories import write_manifest
from mail.support import SmtpServer
from web.support import api_manifest_dict

pytestmark = pytest.mark.browser

PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Leksehjelp</title>
<script src="{engine}/static/banner.js" defer></script>
<script type="text/plain" data-personvern-category="marketing">
  window.marketingLoaded = true;
</script>
<script type="text/plain" data-personvern-category="marketing" src="/marketing.js"></script>
<script type="text/plain" data-personvern-category="statistics">
  window.statisticsLoaded = true;
</script>
</head><body><h1>Leksehjelp</h1>
<p><a href="#" data-personvern-open>Cookie settings</a></p></body></html>
"""


class ServicePage:
    """The embedding service: a page with inert scripts, and a count of /marketing.js loads."""

    def __init__(self) -> None:
        self.engine = ""
        self.marketing_requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/marketing.js":
                    outer.marketing_requests += 1
                    body, kind = b"window.marketingFileLoaded = true;", "text/javascript"
                else:
                    lang = "en" if "lang=en" in self.path else "nb"
                    body = PAGE.format(engine=outer.engine, lang=lang).encode()
                    kind = "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def service_page() -> Iterator[ServicePage]:
    sp = ServicePage()
    sp.thread.start()
    try:
        yield sp
    finally:
        sp.server.shutdown()
        sp.server.server_close()


@pytest.fixture
def banner_site(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer, tmp_path: Path,
                service_page: ServicePage) -> Iterator[Site]:
    """The engine with a manifest of four cookie categories; the service page may embed."""
    manifest = write_manifest(tmp_path, api_manifest_dict())
    server, app = serve(monkeypatch, smtp_server, manifest, f"sqlite:///{tmp_path / 'pv.db'}",
                        BANNER_ORIGINS=service_page.url)
    with server:
        service_page.engine = server.url
        yield Site(server, smtp_server, None, app)  # type: ignore[arg-type]


def browser_choice(site: Site, page: Any) -> dict[str, Any]:
    """The stored choice of this browser, read back through the API."""
    browser_id = page.evaluate("localStorage.getItem('personvern.browser')")
    assert browser_id
    r = httpx.get(f"{site.url}/api/v1/cookie-choices/{browser_id}")
    assert r.status_code == 200, r.text
    state: dict[str, Any] = r.json()
    return state


def test_reject_means_no_marketing_script_runs(banner_site: Site, service_page: ServicePage,
                                               page: Any) -> None:
    page.goto(service_page.url)
    banner = page.locator("#personvern-banner")
    banner.wait_for()
    assert page.evaluate("window.marketingLoaded") is None  # nothing before a choice
    accept, reject = page.locator("#personvern-accept"), page.locator("#personvern-reject")
    # Equally prominent: same size, same colours, side by side.
    a, r = accept.bounding_box(), reject.bounding_box()
    assert abs(a["height"] - r["height"]) < 1 and abs(a["y"] - r["y"]) < 1
    style = "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).fontSize]"
    assert accept.evaluate(style) == reject.evaluate(style)
    assert "statistikk, markedsføring" in banner.inner_text()
    shot(page, "banner-nb")
    reject.click()
    banner.wait_for(state="detached")
    assert page.evaluate("window.marketingLoaded") is None
    assert page.evaluate("window.statisticsLoaded") is None
    assert browser_choice(banner_site, page)["allowed"] == {
        "necessary": True, "statistics": False, "marketing": False}
    # The choice is remembered: no banner on the next visit, and still nothing loads.
    page.reload()
    page.wait_for_timeout(500)
    assert page.locator("#personvern-banner").count() == 0
    assert page.evaluate("window.marketingLoaded") is None
    assert service_page.marketing_requests == 0


def test_accept_runs_the_marked_scripts_and_settings_reopen(
        banner_site: Site, service_page: ServicePage, page: Any) -> None:
    page.goto(service_page.url + "/?lang=en")
    page.locator("#personvern-accept").click()
    page.wait_for_function("window.marketingLoaded === true && window.marketingFileLoaded")
    assert service_page.marketing_requests == 1
    assert browser_choice(banner_site, page)["allowed"]["marketing"] is True
    # Change of mind through the settings link: choose statistics only.
    page.get_by_text("Cookie settings").click()
    page.locator("#pv-cat-marketing").uncheck()
    shot(page, "banner-en-choices")
    page.locator("#personvern-save").click()
    assert browser_choice(banner_site, page)["allowed"]["marketing"] is False
    page.reload()
    page.wait_for_function("window.statisticsLoaded === true")
    assert page.evaluate("window.marketingLoaded") is None


def test_gpc_refuses_without_asking(banner_site: Site, service_page: ServicePage,
                                    browser: Any) -> None:
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', "
                            "{get: () => true})")
    page = context.new_page()
    try:
        page.goto(service_page.url)
        page.wait_for_function("localStorage.getItem('personvern.browser') !== null")
        assert page.locator("#personvern-banner").count() == 0
        state = browser_choice(banner_site, page)
        assert state["allowed"]["marketing"] is False and state["gpc"] is True
        assert page.evaluate("window.marketingLoaded") is None
    finally:
        context.close()
