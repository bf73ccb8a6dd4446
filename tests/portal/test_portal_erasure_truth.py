"""The portal says an account was deleted only when the erasure was carried out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from personvern.requests.tables import Request
from portal.support import KARI, Portal, csrf_of, new_subject, sign_in
from web.support import (
    T0,
    MovableClock,
    api_manifest_dict,
    get_settings,
    runtime_of,
    write_manifest,
)


@pytest.fixture
def with_processor(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    """The portal of a service whose processor (crm) erases by hand when asked by e-mail."""
    from personvern.web import create_app

    data = api_manifest_dict()
    data["datasets"] = [{"id": "crm", "kind": "manual", "recipient": "hosting",
                          "contact": "personvern@crm.example.no"}]
    manifest = write_manifest(tmp_path, data)
    app = create_app(get_settings(manifest=manifest, database_url=sqlite_url,
                                  public_url="http://127.0.0.1"), MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def test_an_erasure_still_waiting_is_not_called_done(with_processor: TestClient) -> None:
    """GDPR Art. 17(1), 12(3): while a processor has still to erase (the request waits on
    its task), the page says the request was received and is not finished; it does not
    say the account and the data have been erased, nor that nothing is kept."""
    client = with_processor
    new_subject(client, KARI)
    sign_in(client, KARI)
    form = client.get("/portal/delete")
    r = client.post("/portal/delete", data={"confirm": "yes", "csrf_token": csrf_of(form.text)})
    assert r.status_code == 200, r.text
    with runtime_of(client).transaction() as s:
        states = [q.state for q in s.query(Request).filter(Request.type == "erasure")]
    assert states == ["waiting"]
    page = r.text
    assert "The account has been deleted" not in page and "Kontoen er slettet" not in page
    assert "We have erased the data" not in page and "Vi har slettet opplysningene" not in page
    assert "We keep nothing" not in page and "Vi tar ikke vare på noe" not in page
    assert "<h1>Slettingen er ikke ferdig</h1>" in page
    assert "opplysningene er ikke slettet ennå" in page and ">Venter<" in page


def test_an_erasure_carried_out_is_called_done(lite: Portal) -> None:
    """The erasure carried out at once: the page says the account is deleted."""
    client = lite.client
    sign_in(client, KARI)
    form = client.get("/portal/delete")
    r = client.post("/portal/delete", data={"confirm": "yes", "csrf_token": csrf_of(form.text)})
    assert r.status_code == 200, r.text
    assert "<h1>Kontoen er slettet</h1>" in r.text and "Vi har slettet opplysningene." in r.text
    assert "ikke ferdig" not in r.text
