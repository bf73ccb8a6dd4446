"""FastAPI dependencies: "only if this person allows ``newsletter``", and the engine's signed calls.

    pv = PersonvernClient(URL, KEY)
    allows_newsletter = requires_consent(pv, "newsletter", subject=lambda r: r.state.user_id)

    @app.post("/newsletter/preview")
    def preview(decision: Decision = Depends(allows_newsletter)) -> ...: ...

    @app.post("/privacy")
    def privacy(call: Callback = Depends(signed_callback(SECRET))) -> dict: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from personvern.client import (
    Callback,
    Decision,
    InvalidSignature,
    PersonvernClient,
    ServerUnavailable,
    UnknownSubjectError,
    verify_callback,
)

SubjectOf = Callable[[Request], "str | None"]


def requires_consent(pv: PersonvernClient, purpose: str, *,
                     subject: SubjectOf) -> Callable[[Request], Decision]:
    """A dependency answering 403 unless ``purpose`` is allowed for the request's person.

    ``subject(request)`` names the person (a subject id, e-mail or ``ext:ID``); None is a
    401. The browser's ``Sec-GPC: 1`` is passed on. Fails closed: a person Personvern does
    not know is refused (403), a server that does not answer is a 503. A purpose the
    manifest lacks raises ``UnknownPurposeError``: a bug in the app, not a refusal.
    """

    # A plain def: FastAPI runs it in its thread pool, so the blocking client is fine.
    def dependency(request: Request) -> Decision:
        ref = subject(request)
        if not ref:
            raise HTTPException(401, "sign in first")
        try:
            decision = pv.decide(ref, purpose, gpc=request.headers.get("sec-gpc") == "1")
        except UnknownSubjectError:
            raise HTTPException(403, f"no consent to {purpose} is recorded") from None
        except ServerUnavailable as err:
            raise HTTPException(503, f"consent to {purpose} could not be checked") from err
        if not decision:
            raise HTTPException(403, decision.reason)
        return decision

    return dependency


def signed_callback(secret: str | bytes) -> Callable[[Request], Awaitable[Callback]]:
    """A dependency giving the engine's verified call, or answering 401 (nothing done)."""

    async def dependency(request: Request) -> Callback:
        body = await request.body()  # the exact bytes: the signature covers them
        try:
            return verify_callback(secret, body, request.headers)
        except InvalidSignature as err:
            raise HTTPException(401, str(err)) from None

    return dependency
