"""The FastAPI glue in an app of its own, against a real ``personvern serve``: "only if this
person allows newsletter", and the engine's signed calls received and checked."""

# No ``from __future__ import annotations``: FastAPI must see the local Annotated aliases.
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from client.serving_support import Served
from personvern.client import Callback, Decision, PersonvernClient, UnknownPurposeError
from personvern.integrations.fastapi import requires_consent, signed_callback
from personvern.manifest.model import Dataset
from personvern.requests.callbacks import CallbackFailed, call
from web.support import UvicornThread

SECRET = "chat-hemmelighet"


def shop(pv: PersonvernClient, erased: list[Callback]) -> FastAPI:
    """A small app as docs/integrate.md wires it: the person is named by a header here."""
    app = FastAPI()

    def user(request: Request) -> str | None:
        return request.headers.get("x-user")

    allows_newsletter = Annotated[Decision, Depends(requires_consent(pv, "newsletter",
                                                                     subject=user))]
    allows_lottery = Annotated[Decision, Depends(requires_consent(pv, "lottery", subject=user))]
    from_personvern = Annotated[Callback, Depends(signed_callback(SECRET))]

    @app.post("/newsletter/preview")
    def preview(decision: allows_newsletter) -> dict[str, str]:
        return {"basis": str(decision.basis)}

    @app.post("/lottery")
    def lottery(_: allows_lottery) -> None:
        return None

    @app.post("/privacy")
    def privacy(callback: from_personvern) -> dict[str, Any]:
        erased.append(callback)
        return {"erased": {"messages": len(callback.emails)}}

    return app


@pytest.fixture(scope="module")
def pv(server: Served) -> Iterator[PersonvernClient]:
    with PersonvernClient(server.url, server.key) as client:
        yield client


def test_only_if_this_person_allows_newsletter(pv: PersonvernClient) -> None:
    kari = pv.ensure_subject(email="kari@example.no").id
    with TestClient(shop(pv, [])) as app:
        refused = app.post("/newsletter/preview", headers={"x-user": kari})
        assert refused.status_code == 403 and "no consent" in refused.json()["detail"]
        pv.record_consent(kari, "newsletter", text_shown="Vil du ha nyhetsbrev?")
        allowed = app.post("/newsletter/preview", headers={"x-user": kari})
        assert allowed.status_code == 200 and allowed.json() == {"basis": "consent"}
        gpc = app.post("/newsletter/preview", headers={"x-user": kari, "Sec-GPC": "1"})
        assert gpc.status_code == 403 and "Global Privacy Control" in gpc.json()["detail"]
        assert app.post("/newsletter/preview").status_code == 401
        stranger = app.post("/newsletter/preview", headers={"x-user": "ext:nobody"})
        assert stranger.status_code == 403
        with pytest.raises(UnknownPurposeError):  # a typo in the app is a bug, not a "no"
            app.post("/lottery", headers={"x-user": kari})


def test_a_personvern_that_is_down_is_a_503_not_a_yes() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with PersonvernClient(f"http://127.0.0.1:{port}", "pv_x", retries=1, backoff=0.01) as down, \
            TestClient(shop(down, [])) as app:
        answer = app.post("/newsletter/preview", headers={"x-user": "ext:1"})
    assert answer.status_code == 503 and "could not be checked" in answer.json()["detail"]


def test_the_engines_signed_erase_call_is_received_and_a_forged_one_refused(
        pv: PersonvernClient, monkeypatch: pytest.MonkeyPatch) -> None:
    erased: list[Callback] = []
    with UvicornThread(shop(pv, erased)) as app:
        chat = Dataset.model_validate({"id": "chat", "kind": "http", "secret_env": "CHAT_SECRET",
                                       "callback": f"{app.url}/privacy"})
        who = {"email": ["kari@example.no"], "external_id": ["23"]}
        monkeypatch.setenv("CHAT_SECRET", SECRET)
        answer = call(chat, "erase", "req-1", who, datetime.now(UTC))
        assert answer == {"erased": {"messages": 1}}
        [got] = erased
        assert (got.action, got.request, got.dataset, got.identities) == (
            "erase", "req-1", "chat", who)

        monkeypatch.setenv("CHAT_SECRET", "not the app's secret")
        with pytest.raises(CallbackFailed, match="answered HTTP 401"):
            call(chat, "erase", "req-2", who, datetime.now(UTC))
        unsigned = httpx.post(f"{app.url}/privacy", json={"action": "erase", "request": "x"})
        assert unsigned.status_code == 401
        assert "no X-Personvern-Signature header" in unsigned.json()["detail"]
    assert len(erased) == 1  # neither the forged nor the unsigned call reached the handler
