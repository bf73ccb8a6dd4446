"""The subject portal: sign in with an e-mail link, see and manage one's own data.

Every page works without JavaScript: plain links and form POSTs (each with a CSRF token),
answered with a redirect (303) to a page that shows the outcome. The work is done by the
feature cores (``personvern.requests``, ``personvern.consent``); this module only reads
forms, checks who may act for whom, and renders.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from personvern.web import portal_text, sessions, signin
from personvern.web.csrf import bind_session, require_csrf
from personvern.web.deps import runtime, unit
from personvern.web.i18n import lang_of
from personvern.web.render import page

log = logging.getLogger("personvern.web.portal")
router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)
portal_text.install()

Csrf = Annotated[None, Depends(require_csrf)]
Subject = Annotated[sessions.Current, Depends(sessions.subject_session)]


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _base_url(request: Request) -> str:
    configured = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


# ---- sign-in -----------------------------------------------------------------

@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    """The e-mail form (or straight to the start page when already signed in)."""
    if sessions.optional_session(request, "subject") is not None:
        return _see("/portal")
    return page(request, "portal/sign_in.html", {"email": "", "error": None})


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_send(request: Request, _: Csrf,
                 email: Annotated[str, Form(max_length=320)] = "") -> Response:
    """Send a one-time link if the address is known; the answer is the same either way."""
    email = email.strip()
    if "@" not in email or len(email) < 3:
        return page(request, "portal/sign_in.html",
                    {"email": email, "error": "sign_in_bad_email"}, status=422)
    request.app.state.sign_in_limits.check(
        request.client.host if request.client else None, email)
    rt = runtime(request)
    settings = rt.settings
    lang = lang_of(request)
    with rt.sessions() as session:
        issued = signin.issue(session, rt.clock, email)
        if issued is not None:
            token, subject_id = issued
            link = f"{_base_url(request)}/portal/sign-in/link?token={token}"
            message = signin.queue_link_mail(session, rt.clock, email, subject_id, link, lang,
                                             rt.loaded.manifest.service.name)
            session.commit()
            sender = settings.mail_from or rt.loaded.manifest.controller.email or ""
            error = signin.send_now(session, rt.clock, message.id, settings.smtp_host,
                                    settings.smtp_port, sender)
            if error:  # logged for the operator; the visitor sees the same page
                log.warning("sign-in mail %s not sent: %s", message.id, error)
    return page(request, "portal/sign_in_sent.html", {"email": email})


@router.get("/sign-in/link", response_class=HTMLResponse)
def sign_in_link(request: Request, token: str = "") -> Response:
    """The link from the e-mail: a button that signs in (so mail scanners use nothing up)."""
    rt = runtime(request)
    with unit(rt) as session:
        seen = signin.peek(session, rt.clock, token)
    if seen.outcome is not signin.Outcome.OK:
        return _bad_link(request, seen.outcome)
    return page(request, "portal/sign_in_confirm.html", {"token": token})


def _bad_link(request: Request, outcome: signin.Outcome) -> Response:
    status = 410 if outcome in (signin.Outcome.USED, signin.Outcome.EXPIRED) else 400
    return page(request, "portal/bad_link.html", {"outcome": outcome.value}, status=status)


@router.post("/sign-in/link", response_class=HTMLResponse)
def sign_in_redeem(request: Request, _: Csrf,
                   token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Use the link up and start a session."""
    rt = runtime(request)
    with unit(rt) as session:
        done = signin.redeem(session, rt.clock, token)
        if done.outcome is not signin.Outcome.OK or done.subject_id is None:
            return _bad_link(request, done.outcome)
        cookie, _row = sessions.start(session, rt.clock, "subject", done.subject_id)
    response = _see("/portal")
    sessions.set_cookie(response, request, "subject", cookie)
    bind_session(request, "subject", cookie)
    return response


@router.post("/sign-out")
def sign_out(request: Request, _: Csrf) -> Response:
    """End the session here and in the database."""
    rt = runtime(request)
    with unit(rt) as session:
        sessions.end(session, rt.clock, sessions.token_of(request, "subject"))
    response = _see("/portal/sign-in")
    sessions.clear_cookie(response, request, "subject")
    return response
