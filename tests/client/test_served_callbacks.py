"""An erasure run by a real ``personvern serve`` reaches the app's ``kind: http`` endpoint
signed, and the app's answer completes it: the path docs/integrate.md sets up."""

# No ``from __future__ import annotations``: FastAPI must see the local Annotated alias.
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI

from client.serving_support import Served, carry_out, serve
from personvern.client import Callback
from personvern.integrations.fastapi import signed_callback
from web.support import UvicornThread, api_manifest_dict

SECRET = "chat-hemmelighet"
CALLS: list[Callback] = []


def chat_app() -> FastAPI:
    """The app's privacy endpoint: hands out or erases the person's chat messages."""
    app = FastAPI()
    from_personvern = Annotated[Callback, Depends(signed_callback(SECRET))]

    @app.post("/privacy")
    def privacy(call: from_personvern) -> dict[str, Any]:
        CALLS.append(call)
        if call.action == "access":
            return {"tables": {"messages": [{"text": "hei"}]}}
        return {"erased": {"messages": 2}}

    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``serve`` with a ``kind: http`` dataset whose callback is the app above."""
    with UvicornThread(chat_app()) as app:
        manifest = api_manifest_dict()
        manifest["datasets"] = [{"id": "chat", "kind": "http", "callback": f"{app.url}/privacy",
                                 "secret_env": "CHAT_PRIVACY_SECRET"}]
        # The real clock: the engine signs with its time, and the app refuses a call
        # signed more than five minutes from its own (a server on --now would be refused).
        with serve(tmp_path_factory.mktemp("serve"), manifest, now=None,
                   env={"CHAT_PRIVACY_SECRET": SECRET}) as running:
            yield running


def test_an_erasure_calls_the_app_signed_and_its_answer_completes_it(server: Served) -> None:
    rid, shown = carry_out(server, "erasure", "kari@example.no")
    [call] = [c for c in CALLS if c.request == rid]
    assert (call.action, call.dataset) == ("erase", "chat")
    assert call.identities["email"] == ["kari@example.no"]
    assert call.identities["external_id"] == ["23"]
    assert shown["outcome"]["callbacks"] == {"chat": {"erased": {"messages": 2}}}
    assert [(t["dataset"], t["state"]) for t in shown["tasks"]] == [("chat", "done")]
