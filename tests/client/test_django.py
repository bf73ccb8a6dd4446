"""The Django decorators in a Django app served on loopback, against a real ``personvern
serve``: "only if this person allows newsletter", and the engine's signed calls."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from client.serving_support import Served
from personvern.client import Callback, PersonvernClient, UnknownPurposeError
from personvern.manifest.model import Dataset
from personvern.requests.callbacks import CallbackFailed, call

SECRET = "chat-hemmelighet"


class Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def django_app(pv: PersonvernClient, erased: list[Callback]) -> object:
    """A Django project of two views, as docs/integrate.md wires it."""
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import path

    from personvern.integrations.django import requires_consent, signed_callback

    def user(request: HttpRequest) -> str | None:
        return request.headers.get("X-User")

    @requires_consent(pv, "newsletter", subject=user)
    def preview(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"basis": request.personvern_decision.basis})  # type: ignore[attr-defined]

    @requires_consent(pv, "lottery", subject=user)
    def lottery(request: HttpRequest) -> HttpResponse:
        return HttpResponse("never")

    @signed_callback(SECRET)
    def privacy(request: HttpRequest, callback: Callback) -> HttpResponse:
        erased.append(callback)
        return JsonResponse({"erased": {"messages": len(callback.emails)}})

    # The URLconf as a module Django can import by name, as a project's urls.py would be.
    urls = ModuleType("personvern_test_urls")
    urls.urlpatterns = [path("newsletter/preview", preview),  # type: ignore[attr-defined]
                        path("lottery", lottery), path("privacy", privacy)]
    sys.modules[urls.__name__] = urls
    if not settings.configured:
        settings.configure(DEBUG=False, SECRET_KEY="test", ALLOWED_HOSTS=["127.0.0.1"],
                           MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
                           INSTALLED_APPS=[], DATABASES={}, USE_TZ=True)
        django.setup()
    settings.ROOT_URLCONF = urls.__name__
    return WSGIHandler()


@pytest.fixture(scope="module")
def site(server: Served) -> Iterator[tuple[str, PersonvernClient, list[Callback]]]:
    erased: list[Callback] = []
    with PersonvernClient(server.url, server.key) as pv:
        httpd: WSGIServer = make_server("127.0.0.1", 0, django_app(pv, erased),  # type: ignore[arg-type]
                                        handler_class=Quiet)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_port}", pv, erased
        finally:
            httpd.shutdown()
            httpd.server_close()


def test_only_if_this_person_allows_newsletter(
        site: tuple[str, PersonvernClient, list[Callback]]) -> None:
    url, pv, _ = site
    kari = pv.ensure_subject(email="kari.django@example.no").id
    refused = httpx.get(f"{url}/newsletter/preview", headers={"X-User": kari})
    assert refused.status_code == 403 and "no consent" in refused.text
    pv.record_consent(kari, "newsletter", text_shown="Vil du ha nyhetsbrev?")
    allowed = httpx.get(f"{url}/newsletter/preview", headers={"X-User": kari})
    assert allowed.status_code == 200 and allowed.json() == {"basis": "consent"}
    gpc = httpx.get(f"{url}/newsletter/preview", headers={"X-User": kari, "Sec-GPC": "1"})
    assert gpc.status_code == 403 and "Global Privacy Control" in gpc.text
    assert httpx.get(f"{url}/newsletter/preview").status_code == 401
    assert httpx.get(f"{url}/newsletter/preview",
                      headers={"X-User": "ext:nobody"}).status_code == 403


def test_an_unknown_purpose_raises_and_a_server_that_is_down_is_a_503(
        site: tuple[str, PersonvernClient, list[Callback]]) -> None:
    from django.test import RequestFactory

    from personvern.integrations.django import requires_consent

    _, pv, _ = site
    kari = pv.ensure_subject(email="kari.django@example.no").id
    request = RequestFactory().post("/lottery", headers={"X-User": kari})

    @requires_consent(pv, "lottery", subject=lambda r: r.headers.get("X-User"))
    def lottery(_request: object) -> object:
        raise AssertionError("must not run")

    with pytest.raises(UnknownPurposeError):
        lottery(request)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with PersonvernClient(f"http://127.0.0.1:{port}", "pv_x", retries=1, backoff=0.01) as down:
        guarded = requires_consent(down, "newsletter", subject=lambda r: "ext:1")(lottery)
        answer = guarded(request)
    assert answer.status_code == 503 and b"could not be checked" in answer.content


def test_the_engines_signed_erase_call_is_received_and_a_forged_one_refused(
        site: tuple[str, PersonvernClient, list[Callback]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, _, erased = site
    chat = Dataset.model_validate({"id": "chat", "kind": "http", "secret_env": "CHAT_SECRET",
                                   "callback": f"{url}/privacy"})
    who = {"email": ["kari@example.no"], "external_id": ["23"]}
    monkeypatch.setenv("CHAT_SECRET", SECRET)
    # Django's CSRF middleware is on (it refuses a plain POST); the decorator exempts the
    # callback view, whose signature is the check.
    assert "CSRF" in httpx.post(f"{url}/newsletter/preview").text
    assert call(chat, "erase", "req-1", who, datetime.now(UTC)) == {"erased": {"messages": 1}}
    assert [(c.action, c.request, c.identities) for c in erased] == [("erase", "req-1", who)]
    monkeypatch.setenv("CHAT_SECRET", "not the app's secret")
    with pytest.raises(CallbackFailed, match="answered HTTP 401"):
        call(chat, "erase", "req-2", who, datetime.now(UTC))
    unsigned = httpx.post(f"{url}/privacy", json={"action": "erase", "request": "x"})
    assert unsigned.status_code == 401 and "no X-Personvern-Signature header" in unsigned.text
    assert len(erased) == 1
