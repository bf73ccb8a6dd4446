"""The browser-test harness: the real app on a demo service, real SMTP, headless Chromium.

* ``demo`` — ``personvern demo init`` (the CLI, in a subprocess), run once per session into
  a template directory; each test gets its own copy of the files it wrote;
* ``site`` — the app from ``create_app`` on that demo, served by uvicorn on a free
  127.0.0.1 port in a thread, with ``PERSONVERN_*`` pointing at a real aiosmtpd server;
* ``browser`` / ``page`` — Debian's Chromium driven by Playwright (never a download);
* ``shot(page, name)`` — a screenshot kept in ``test-artifacts/screenshots/``.

Tests read the sign-in link from the SMTP server's inbox (``site.mail``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from demo_support import copy_demo
from mail.support import SmtpServer, smtp_server  # noqa: F401 (a fixture used below)
from web.support import UvicornThread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DEMO_SUBJECTS = 40
_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/portal/sign-in/link\?token=[A-Za-z0-9_-]+)")


@dataclass
class Demo:
    """What ``personvern demo init`` wrote."""

    directory: Path
    manifest: Path
    engine_url: str
    service_url: str


@dataclass
class Site:
    """The running app, its SMTP server and its runtime."""

    server: UvicornThread
    smtp: SmtpServer
    demo: Demo
    app: Any

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43123``."""
        return self.server.url

    @property
    def runtime(self) -> Any:
        """The Runtime the app's lifespan opened (to check what was stored)."""
        return self.app.state.runtime

    def mail_to(self, address: str) -> list[Any]:
        """Messages the SMTP server received for ``address`` (parsed), oldest first."""
        return [r.message for r in self.smtp.handler.received if address in r.rcpt_tos]

    def sign_in_link(self, address: str, *, wait: float = 10.0) -> str:
        """The link in the newest sign-in mail to ``address`` (sent after the page answers)."""
        deadline = time.monotonic() + wait
        messages = self.mail_to(address)
        while not messages and time.monotonic() < deadline:
            time.sleep(0.05)
            messages = self.mail_to(address)
        assert messages, f"no mail reached {address}"
        body = messages[-1].get_body(preferencelist=("plain",)).get_content()
        found = _LINK.search(body)
        assert found, body
        return found.group(1)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``personvern ARGS`` in a subprocess, as a person would run it."""
    exe = Path(sys.executable).with_name("personvern")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo service written by ``personvern demo init``, once per session."""
    directory = tmp_path_factory.mktemp("browser-demo") / "demo"
    done = run_cli("demo", "init", str(directory), "--subjects", str(DEMO_SUBJECTS), "--json")
    assert done.returncode == 0, done.stderr
    return directory


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Demo:
    """This test's copy of the demo service (its manifest pointing at its own service.db)."""
    directory = tmp_path / "demo"
    directory.mkdir()
    copy_demo(demo_template, directory)
    return Demo(directory, directory / "personvern.yaml",
                f"sqlite:///{directory / 'personvern.db'}",
                f"sqlite:///{directory / 'service.db'}")


def serve(monkeypatch: pytest.MonkeyPatch, smtp: SmtpServer, manifest: Path, db_url: str,
          **env: str) -> tuple[UvicornThread, Any]:
    """The app for ``manifest``/``db_url`` (not started), configured through PERSONVERN_*."""
    from personvern.settings import get_settings
    from personvern.web import create_app

    values = {"MANIFEST": str(manifest), "DATABASE_URL": db_url, "SMTP_HOST": smtp.host,
              "SMTP_PORT": str(smtp.port), "EVIDENCE_KEY": "browser-tests-only", **env}
    for name, value in values.items():
        monkeypatch.setenv(f"PERSONVERN_{name}", value)
    app = create_app(get_settings())
    server = UvicornThread(app)
    if "PUBLIC_URL" not in env:  # sign-in links point at the port the server was given
        app.state.settings = replace(app.state.settings, public_url=server.url)
    return server, app


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer,  # noqa: F811
         demo: Demo) -> Iterator[Site]:
    """The app on the demo service, served on 127.0.0.1, mail going to ``smtp_server``."""
    server, app = serve(monkeypatch, smtp_server, demo.manifest, demo.engine_url)
    with server:
        yield Site(server, smtp_server, demo, app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), shared by a module's tests.

    Per module, not per session: Playwright's sync API keeps an event loop running in the
    main thread while it is open, and tests elsewhere that start one of their own
    (``anyio.run``) must find none.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; downloads allowed."""
    context = browser.new_context(accept_downloads=True, locale="nb-NO")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
