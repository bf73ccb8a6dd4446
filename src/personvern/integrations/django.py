"""Django view decorators: "only if this person allows ``newsletter``", and the engine's calls.

    pv = PersonvernClient(URL, KEY)

    @requires_consent(pv, "newsletter", subject=lambda request: f"ext:{request.user.pk}")
    def preview(request): ...                       # request.personvern_decision is set

    @signed_callback(SECRET)                        # CSRF-exempt: the signature is the check
    def privacy(request, callback): ...             # a verified personvern.client.Callback
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from personvern.client import (
    Callback,
    InvalidSignature,
    PersonvernClient,
    ServerUnavailable,
    UnknownSubjectError,
    verify_callback,
)

View = Callable[..., HttpResponse]


def _refuse(status: int, why: str) -> HttpResponse:
    return HttpResponse(why, status=status, content_type="text/plain; charset=utf-8")


def requires_consent(pv: PersonvernClient, purpose: str, *,
                     subject: Callable[[HttpRequest], str | None]) -> Callable[[View], View]:
    """Run the view only when ``purpose`` is allowed for the request's person, else 403.

    ``subject(request)`` names the person (a subject id, e-mail or ``ext:ID``); None is a
    401. The browser's ``Sec-GPC: 1`` is passed on. Fails closed: a person Personvern does
    not know is refused (403), a server that does not answer is a 503. A purpose the
    manifest lacks raises ``UnknownPurposeError``: a bug in the app, not a refusal.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            ref = subject(request)
            if not ref:
                return _refuse(401, "sign in first")
            try:
                decision = pv.decide(ref, purpose, gpc=request.headers.get("Sec-GPC") == "1")
            except UnknownSubjectError:
                return _refuse(403, f"no consent to {purpose} is recorded")
            except ServerUnavailable:
                return _refuse(503, f"consent to {purpose} could not be checked")
            if not decision:
                return _refuse(403, decision.reason)
            request.personvern_decision = decision
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def signed_callback(secret: str | bytes) -> Callable[[Callable[..., HttpResponse]], View]:
    """Pass the view the engine's verified call; answer 401 (view not run) to any other."""

    def decorate(view: Callable[..., HttpResponse]) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                # request.body: the exact bytes, which the signature covers.
                callback: Callback = verify_callback(secret, request.body, request.headers)
            except InvalidSignature as err:
                return _refuse(401, str(err))
            return view(request, callback, *args, **kwargs)

        result: View = csrf_exempt(wrapped)
        return result

    return decorate
