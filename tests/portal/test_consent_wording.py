"""What the portal says withdrawing a consent does: the manifest's own words when it has
them (consent.on_withdrawal), else only what the engine itself does — it stops."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import write_manifest
from personvern.settings import get_settings
from personvern.web import create_app
from portal.support import KARI, csrf_of, new_subject, sign_in
from web.support import T0, MovableClock, api_manifest_dict

ENDS = {"nb": "Du slutter å være registrert kunde, og opplysningene om deg slettes.",
        "en": "Your registration as a customer ends, and your data is deleted."}


def _client(tmp_path: Path, sqlite_url: str, *, wording: bool) -> Iterator[TestClient]:
    data = api_manifest_dict()
    newsletter = next(p for p in data["purposes"] if p["id"] == "newsletter")
    if wording:
        newsletter.setdefault("consent", {})["on_withdrawal"] = ENDS
    manifest = write_manifest(tmp_path, data)
    app = create_app(get_settings(manifest=manifest, database_url=sqlite_url,
                                  public_url="http://127.0.0.1"), MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        new_subject(client, KARI)
        sign_in(client, KARI)
        token = csrf_of(client.get("/portal/consents").text)
        r = client.post("/portal/consents", data={"purpose": "newsletter", "action": "give",
                                                  "csrf_token": token})
        assert r.status_code in (200, 303)
        yield client


def _consequence(client: TestClient, lang: str) -> str:
    page = client.get("/portal/consents", params={"lang": lang}).text
    found = re.search(r'<p id="c-newsletter-consequence">(.*?)</p>', page, re.S)
    assert found, page
    return " ".join(found.group(1).split())


@pytest.fixture
def with_wording(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    yield from _client(tmp_path, sqlite_url, wording=True)


@pytest.fixture
def without_wording(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    yield from _client(tmp_path, sqlite_url, wording=False)


def test_the_manifest_s_words_are_what_withdrawing_is_said_to_do(
        with_wording: TestClient) -> None:
    assert _consequence(with_wording, "nb") == f"Trekker du samtykket: {ENDS['nb']}"
    assert _consequence(with_wording, "en") == f"If you withdraw your consent: {ENDS['en']}"


def test_without_them_the_portal_claims_only_that_it_stops(
        without_wording: TestClient) -> None:
    assert _consequence(without_wording, "nb") == \
        "Trekker du samtykket, slutter vi med dette fra nå av."
    assert _consequence(without_wording, "en") == "If you withdraw, we stop doing this from now on."


def test_the_policy_says_it_too() -> None:
    from cli_inprocess import run_personvern

    root = Path(__file__).resolve().parents[2]
    # A draft: SnapMentor's manifest has check errors, so it may not be published as is.
    out = run_personvern("policy", "render", "-m", str(root / "examples" / "snapmentor.yaml"),
                         "--lang", "en", "--format", "md", "--draft")
    assert out.returncode == 0, out.stderr
    # Each said once (issue 12, item 7): the consequence for the purposes that share it,
    # the way to withdraw for every purpose resting on consent.
    assert out.stdout.count(f"If you withdraw your consent: {ENDS['en']}") == 1
    assert out.stdout.count("To withdraw your consent: In the SnapMentor app under "
                            "Settings.") == 1
