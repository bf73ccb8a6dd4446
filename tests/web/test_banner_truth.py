"""The cookie banner describes a category with what the manifest says of its cookies.

"Used to show you ads, also on other sites" is a fact about third parties' cookies: it
is said only when the manifest names a third-party marketing cookie (ekomloven § 3-15,
GDPR Art. 13(1)(e)).
"""

from __future__ import annotations

from typing import Any

from personvern.web.banner import config
from policy.support import example_data, manifest_from


def _marketing(data: dict[str, Any], lang: str) -> str:
    body = config(manifest_from(data), "v1", lang)
    return next(c["description"] for c in body["categories"] if c["id"] == "marketing")


def test_third_party_marketing_cookies_are_said_to_follow_you_to_other_sites() -> None:
    # Seed 004 (Teoritentamen): the Meta, Snap and Google pixels are third-party cookies.
    data = example_data("teoritentamen")
    assert "also on other sites" in _marketing(data, "en")
    assert "også på andre nettsteder" in _marketing(data, "nb")


def test_first_party_marketing_cookies_are_not_said_to_follow_you_elsewhere() -> None:
    data = example_data("teoritentamen")
    data["cookies"] = [c for c in data["cookies"]
                       if c.get("category") != "marketing" or not c.get("third_party")]
    assert any(c.get("category") == "marketing" for c in data["cookies"])
    assert "other sites" not in _marketing(data, "en")
    assert "andre nettsteder" not in _marketing(data, "nb")
