"""GDPR Art. 15(1), (3): an access request with a manual dataset (a processor asked by
e-mail) completes when the owner records the processor's answer; the person's request page
then says that dataset was handled by hand, gives the answer, and the export it offers gives
the same answer (the package is amended when the last task closes)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import write_manifest
from personvern.settings import get_settings
from personvern.web import exports
from portal.support import KARI, new_subject, sign_in
from web.support import T0, MovableClock, api_manifest_dict, runtime_of

NOTE = "The CRM vendor sent the person their data by e-mail on 2 March"


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    """The portal on a manifest with one manual dataset, its processor reached by e-mail."""
    from personvern.web import create_app

    data = api_manifest_dict()
    data.setdefault("datasets", []).append(
        {"id": "crm", "kind": "manual", "recipient": "hosting",
         "contact": "personvern@crm.example.no"})
    manifest = write_manifest(tmp_path, data)
    app = create_app(get_settings(manifest=manifest, database_url=sqlite_url,
                                  public_url="http://127.0.0.1"), MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize(("lang", "title"), [("en", "Data handed over separately"),
                                             ("nb", "Opplysninger som utleveres separat")])
def test_art15_3_the_request_page_says_what_was_handled_by_hand(
        client: TestClient, lang: str, title: str) -> None:
    from personvern.requests.engine import Context, Requester, Requests, open_request

    rt = runtime_of(client)
    kari = new_subject(client, KARI)
    service = Requests(rt.sessions, Context(rt.consent, rt.clock))
    out = client.app.state.export_dir  # type: ignore[attr-defined]
    try:
        with rt.transaction() as s:
            rid = open_request(s, service.ctx, "access", subject=kari, by=Requester(
                "owner", verified_by="called back on the number we hold"),
                channel="phone").request.id
        assert service.run(rid, reason="identity checked", out_dir=out).state == "waiting"
        # The sweep keeps the package of a request still waiting: the answer amends it.
        assert exports.remove_expired(rt, out, timedelta(minutes=1)) == 0
        done = service.task_done(rid, "crm", NOTE, out_dir=out)
    finally:
        service.close()
    assert done is not None and done.state == "completed"
    sign_in(client, KARI)
    page = client.get(f"/portal/requests/{rid}?lang={lang}")
    assert page.status_code == 200, page.text
    section = re.search(r'<section id="handled-by-hand".*?</section>', page.text, re.S)
    assert section, page.text
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section.group(0)))
    assert title in words and f"crm: {NOTE}" in words
    download = client.get(f"/portal/requests/{rid}/export.zip")
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        manual = json.loads(zf.read("data.json"))["manual"]
    assert [(m["dataset"], m["state"], m["note"]) for m in manual] == [("crm", "done", NOTE)]


@pytest.mark.parametrize(("lang", "never", "says"), [
    ("en", "everything we hold", "handed over separately"),
    ("nb", "alt vi har om deg", "utleveres separat")])
def test_art15_3_the_export_offer_does_not_promise_everything(
        client: TestClient, lang: str, never: str, says: str) -> None:
    """The package holds what the data map finds; a processor's system the engine cannot
    reach is handed over separately, so the offer must not say "everything we hold"."""
    new_subject(client, KARI)
    sign_in(client, KARI)
    page = client.get(f"/portal?lang={lang}")
    assert page.status_code == 200, page.text
    offer = re.sub(r"\s+", " ", page.text.split('id="export-title"', 1)[1].split("</p>", 1)[0])
    assert never not in offer and says in offer
