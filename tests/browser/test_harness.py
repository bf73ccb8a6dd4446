"""The harness itself: the demo app answers on a real socket and Chromium renders it."""

from __future__ import annotations

from typing import Any

import pytest

from browser.support import Site, shot

pytestmark = pytest.mark.browser


def test_sign_in_page_renders_in_chromium_with_lang_and_skip_link(site: Site, page: Any) -> None:
    page.goto(f"{site.url}/portal/sign-in")
    assert page.locator("html").get_attribute("lang") == "nb"
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    page.click("text=English")
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "sign-in-en")
