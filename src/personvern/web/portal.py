"""The subject portal: sign in with an e-mail link, see and manage one's own data.

Every page works without JavaScript: plain links and form POSTs (each with a CSRF token),
answered with a redirect (303) to a page that shows the outcome. The work is done by the
feature cores (``personvern.requests``, ``personvern.consent``); this module only reads
forms, checks who may act for whom, and renders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from personvern.contact import normalise_email
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.requests import packages
from personvern.requests.engine import is_overdue
from personvern.rights.basis import objectable
from personvern.web import portal_core, portal_text, sessions, signin
from personvern.web.csrf import bind_session, require_csrf
from personvern.web.deps import hashed_evidence, runtime, unit
from personvern.web.i18n import lang_of, translate
from personvern.web.render import message_page, page

log = logging.getLogger("personvern.web.portal")
router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)
portal_text.install()

Csrf = Annotated[None, Depends(require_csrf)]
Subject = Annotated[sessions.Current, Depends(sessions.subject_session)]
# Whom a page or form is about. Not checked by FastAPI: a value it refused (too long) was
# a 422 in JSON, answered before the page looked for the session. Any value that is not
# someone the signed-in subject may act for, however long, is NotFound (acting_for).
ForQuery = Annotated[str | None, Query(alias="for")]


def _query(request: Request, name: str) -> str | None:
    """A query parameter of a read page, as FastAPI gave a ``str | None`` one (the last
    value when repeated), read here: FastAPI's validation of parameters that accept any
    string was a tenth of a page's CPU outside the page."""
    return request.query_params.get(name)

# Signed-in pages run in worker threads, at most this many at once (the API keeps anyio's
# 40). A page is CPU work in the one process's GIL: 32 at once only take turns at it, and
# the event loop, which must also take the GIL to send every answer, waits behind them.
PAGE_THREADS = 4
_PAGE_LIMITER: RunVar[CapacityLimiter] = RunVar("personvern_portal_pages")


async def _in_page_thread(work: Callable[[], Response]) -> Response:
    """``work()`` in a worker thread, queued behind at most PAGE_THREADS others."""
    try:
        limiter = _PAGE_LIMITER.get()
    except LookupError:  # one per event loop, as anyio's own default limiter
        limiter = CapacityLimiter(PAGE_THREADS)
        _PAGE_LIMITER.set(limiter)
    return await anyio.to_thread.run_sync(work, limiter=limiter)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _public_url(request: Request) -> str | None:
    """The configured base of every link we mail; never the request's own (forgeable) Host."""
    configured: str | None = request.app.state.settings.public_url
    return configured


# ---- sign-in -----------------------------------------------------------------

@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    """The e-mail form (or straight to the start page when already signed in)."""
    if sessions.optional_session(request, "subject") is not None:
        return _see("/portal")
    if _public_url(request) is None:
        return _no_sign_in(request, 200)
    return page(request, "portal/sign_in.html", {"email": "", "error": None})


def _no_sign_in(request: Request, status: int) -> Response:
    """Sign-in by e-mail is off: no public URL to build the link from (see serve.md)."""
    return page(request, "portal/sign_in.html", {"email": "", "error": None,
                                                  "not_configured": True}, status=status)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_send(request: Request, _: Csrf,
                 email: Annotated[str, Form(max_length=320)] = "") -> Response:
    """Send a one-time link if the address is known; the answer is the same either way."""
    base = _public_url(request)
    if base is None:  # nothing is counted or sent: there is no safe link to send
        return _no_sign_in(request, 503)
    email = email.strip()
    try:
        normalise_email(email)
    except InvalidInput:
        return page(request, "portal/sign_in.html",
                    {"email": email, "error": "sign_in_bad_email"}, status=422)
    request.app.state.sign_in_limits.portal(request, email)
    rt = runtime(request)
    lang = lang_of(request)
    message_id: int | None = None
    with unit(rt) as session:
        issued = signin.issue(session, rt.clock, email)
        if issued is not None:
            link = f"{base}/portal/sign-in/link?token={issued.token}"
            # To the address the person is known by, not the look-alike someone typed.
            message_id = signin.queue_link_mail(session, rt.clock, issued.address,
                                                issued.subject_id, link, lang,
                                                rt.loaded.manifest.service.name).id
    response = page(request, "portal/sign_in_sent.html", {"email": email})
    if message_id is not None:
        # Sent after the answer, so a known address answers no slower than an unknown one.
        response.background = BackgroundTask(_send_link, rt, message_id)
    return response


def _send_link(rt: Any, message_id: int) -> None:
    settings = rt.settings
    sender = settings.mail_from or rt.loaded.manifest.controller.email or ""
    with rt.sessions() as session:
        error = signin.send_now(session, rt.clock, message_id, settings.smtp_host,
                                settings.smtp_port, sender)
    if error:  # logged for the operator; the visitor saw the same page either way
        log.warning("sign-in mail %s not sent: %s", message_id, error)


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
        # A session this browser had before (perhaps someone else's) ends here.
        sessions.end(session, rt.clock, sessions.token_of(request, "subject"))
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


# ---- signed-in pages -----------------------------------------------------------------

For = Annotated[str | None, Form(alias="for")]


def _ctx(request: Request, session: Any, me: str, target: str | None) -> dict[str, Any]:
    """What every signed-in page needs: who is acting for whom, and the people list."""
    rt = runtime(request)
    everyone = portal_core.people(session, rt, me)
    person = portal_core.acting_for(session, rt, me, target, everyone)
    return {"signed_in": True, "person": person, "people": everyone,
            "for_q": "" if person.role == "self" else f"?for={person.id}",
            "for_id": "" if person.role == "self" else person.id}


def _back(path: str, person: portal_core.Person, **query: str) -> RedirectResponse:
    params = {} if person.role == "self" else {"for": person.id}
    params.update(query)
    return _see(f"{path}?{urlencode(params)}" if params else path)


def _exports(request: Request) -> Path:
    out: Path = request.app.state.export_dir
    return out


def _lifetime(request: Request) -> timedelta:
    return timedelta(minutes=request.app.state.settings.export_lifetime_minutes)


@router.get("", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    """The person's data by purpose: why, on what basis, who receives it, how long
    (``?for=``: whom it is about)."""
    return await _in_page_thread(partial(_overview, request, _query(request, "for")))


def _overview(request: Request, for_: str | None) -> Response:
    """The overview, in a page thread."""
    rt = runtime(request)
    lang = lang_of(request)
    with sessions.signed_in(request, "subject") as (session, me):
        ctx = _ctx(request, session, me.principal, for_)
        info = portal_core.information(session, rt, ctx["person"], lang)
    stored = portal_core.stored_where(rt.loaded.manifest)
    names = {cat: _category_name(rt, cat, cat, lang)
             for p in info["purposes"] for cat in p["categories"]}
    return page(request, "portal/overview.html", {**ctx, "info": info, "stored": stored,
                                                  "names": names})


@router.post("/export")
def export(request: Request, me: Subject, _: Csrf, for_: For = None) -> Response:
    """Make the access package now (an access request, carried out at once)."""
    rt = runtime(request)
    with unit(rt) as session:
        person = portal_core.acting_for(session, rt, me.principal, for_)
    req = portal_core.run_request(rt, me.principal, person, "access", {}, _exports(request),
                                  lang_of(request))
    return _back(f"/portal/requests/{req.id}", person)


@router.get("/requests/{request_id}/export.zip")
def download(request: Request, me: Subject, request_id: str) -> Response:
    """The access package of a completed access request about someone I act for."""
    rt = runtime(request)
    with unit(rt) as session:
        req = portal_core.own_request(session, rt, me.principal, request_id)
        package = (req.outcome or {}).get("package") if req.type == "access" else None
    path = Path(package["path"]) if package else None
    if path is None or path.parent != _exports(request):
        raise NotFound("no export for this request")
    if not path.is_file() or packages.expired(req.closed_at, rt.clock(), _lifetime(request)):
        path.unlink(missing_ok=True)
        return message_page(request, 410, "export_gone_title", "export_gone_text",
                            minutes=request.app.state.settings.export_lifetime_minutes)
    # Removed once sent: the package holds everything about the person, and a copy left
    # on the server is one more copy to protect.
    return FileResponse(path, media_type="application/zip",
                        filename=f"personvern-{req.id[:8]}.zip",
                        headers={"Cache-Control": "no-store"},
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.get("/consents", response_class=HTMLResponse)
async def consents(request: Request) -> Response:
    """Consents per purpose with what follows, and objections (``?for=``, ``?saved=``)."""
    return await _in_page_thread(partial(_consents, request, _query(request, "for"),
                                         _query(request, "saved")))


def _consents(request: Request, for_: str | None, saved: str | None) -> Response:
    """The consents page, in a page thread."""
    rt = runtime(request)
    with sessions.signed_in(request, "subject") as (session, me):
        ctx = _ctx(request, session, me.principal, for_)
        purposes = portal_core.purposes_of(rt.loaded.manifest, ctx["person"])
        decisions = portal_core.decisions(session, rt, ctx["person"].id)
    consent_purposes = [p for p in purposes if p.legal_basis == "consent"]
    return page(request, "portal/consents.html", {
        **ctx, "consent_purposes": consent_purposes, "objectable": objectable(purposes),
        "decisions": decisions, "saved": saved})


@router.post("/consents")
def consents_change(request: Request, me: Subject, _: Csrf, for_: For = None,
                    purpose: Annotated[str, Form(max_length=100)] = "",
                    action: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Give or withdraw one consent through the consent service."""
    if action not in ("give", "withdraw"):
        raise InvalidInput("choose give or withdraw")
    rt = runtime(request)
    lang = lang_of(request)
    with unit(rt) as session:
        person = portal_core.acting_for(session, rt, me.principal, for_)
        p = rt.consent.purpose(purpose)
        shown = translate(lang, "give" if action == "give" else "withdraw",
                          name=p.name.get(lang))
        evidence = hashed_evidence(request, {"text_shown": shown, "page": "/portal/consents"},
                                   None, None)
        portal_core.set_consent(session, rt, me.principal, person, p.id, action == "give",
                                evidence)
    return _back("/portal/consents", person, saved="consent")


@router.post("/object")
def object_to(request: Request, me: Subject, _: Csrf, for_: For = None,
              purpose: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Object to a purpose (marketing always stops): an objection request, done at once."""
    rt = runtime(request)
    with unit(rt) as session:
        person = portal_core.acting_for(session, rt, me.principal, for_)
    portal_core.run_request(rt, me.principal, person, "objection", {"purpose": purpose},
                            _exports(request), lang_of(request))
    return _back("/portal/consents", person, saved="objection")


def _details_page(request: Request, ctx: dict[str, Any], values: dict[str, str],
                  error: str | None, status: int = 200, saved: bool = False) -> Response:
    rt = runtime(request)
    lang = lang_of(request)
    fields = [{"ref": ref, "kind": kind, "label": _category_name(rt, cat, ref, lang),
               "id": "f-" + ref.replace(".", "-")}
              for ref, kind, cat in portal_core.rectifiable(rt.loaded.manifest)]
    return page(request, "portal/details.html", {**ctx, "fields": fields, "values": values,
                                                 "error": error, "saved": saved},
                status=status)


def _category_of(rt: Any, ref: str) -> str:
    """The category of a rectifiable column (its label's source), or '' if not one."""
    return next((cat for r, _k, cat in portal_core.rectifiable(rt.loaded.manifest)
                 if r == ref), "")


def _category_name(rt: Any, category: str, ref: str, lang: str) -> str:
    """The column's label: its category's name (the manifest's, else built in), else the column."""
    return portal_core.category_name(rt.loaded.manifest, category, ref, lang)


@router.get("/details", response_class=HTMLResponse)
async def details(request: Request) -> Response:
    """The correction form (``?for=``, ``?saved=``)."""
    return await _in_page_thread(partial(_details, request, _query(request, "for"),
                                         _query(request, "saved")))


def _details(request: Request, for_: str | None, saved: str | None) -> Response:
    """The correction form, in a page thread."""
    with sessions.signed_in(request, "subject") as (session, me):
        ctx = _ctx(request, session, me.principal, for_)
    return _details_page(request, ctx, {}, None, saved=bool(saved))


@router.post("/details", response_class=HTMLResponse)
async def details_save(request: Request, me: Subject, _: Csrf) -> Response:
    """Correct the filled-in fields; a bad value is shown on the page and nothing changes."""
    form = await request.form()
    rt = runtime(request)
    valid = {ref for ref, _k, _c in portal_core.rectifiable(rt.loaded.manifest)}
    values = {ref: str(form.get(ref) or "") for ref in valid}
    target = str(form.get("for") or "") or None
    return await anyio.to_thread.run_sync(_details_work, request, me, target, values)


def _details_work(request: Request, me: sessions.Current, target: str | None,
                  values: dict[str, str]) -> Response:
    rt = runtime(request)
    with unit(rt) as session:
        ctx = _ctx(request, session, me.principal, target)
    try:
        portal_core.rectify(rt, me.principal, ctx["person"], values, _exports(request),
                            lang_of(request))
    except (InvalidInput, Conflict) as exc:
        lang = lang_of(request)
        message = portal_text.refusal(
            lang, exc, lambda ref: _category_name(rt, _category_of(rt, ref), ref, lang))
        return _details_page(request, ctx, values, message, status=422)
    return _back("/portal/details", ctx["person"], saved="1")


@router.get("/requests", response_class=HTMLResponse)
async def requests_list(request: Request) -> Response:
    """Requests about the person, with their deadlines (``?for=``)."""
    return await _in_page_thread(partial(_requests_list, request, _query(request, "for")))


def _requests_list(request: Request, for_: str | None) -> Response:
    """The requests list, in a page thread."""
    rt = runtime(request)
    with sessions.signed_in(request, "subject") as (session, me):
        ctx = _ctx(request, session, me.principal, for_)
        found = portal_core.requests_of(session, [ctx["person"].id])
        rows = [_request_row(r, rt) for r in found]
    return page(request, "portal/requests.html", {**ctx, "requests": rows})


def _request_row(req: Any, rt: Any) -> dict[str, Any]:
    today = rt.clock().date()
    return {"id": req.id, "type": req.type, "state": req.state,
            "received": req.received_at.date().isoformat(), "due": req.due_on.isoformat(),
            "overdue": is_overdue(req.state, req.due_on, today),
            "download": req.type == "access" and req.state == "completed",
            # Only a completed access request has a package that can have been removed.
            "removed": False, "outcome": req.outcome or {}, "reason": req.reason}


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_detail(request: Request, request_id: str) -> Response:
    """One request: state, deadline, and the export when it is an access request."""
    return await _in_page_thread(partial(_request_detail, request, request_id))


def _request_detail(request: Request, request_id: str) -> Response:
    """One request's page, in a page thread."""
    rt = runtime(request)
    with sessions.signed_in(request, "subject") as (session, me):
        req = portal_core.own_request(session, rt, me.principal, request_id)
        ctx = _ctx(request, session, me.principal, req.subject_id) \
            if not portal_core.is_erased(session, req.subject_id) else {"signed_in": True,
                                                                       "for_q": ""}
        row = _request_row(req, rt)
    if row["download"]:  # a package is removed once downloaded or when its time is up
        package = row["outcome"].get("package") or {}
        path = Path(package.get("path") or "")
        row["download"] = path.parent == _exports(request) and path.is_file() \
            and not packages.expired(req.closed_at, rt.clock(), _lifetime(request))
        row["removed"] = not row["download"]
    return page(request, "portal/request.html",
                {**ctx, "r": row,
                 "minutes": request.app.state.settings.export_lifetime_minutes})


@router.get("/delete", response_class=HTMLResponse)
async def delete_form(request: Request, for_: ForQuery = None) -> Response:
    """What will be erased and what must be kept, why and how long; then a confirmation."""
    return await _in_page_thread(partial(_delete_form, request, for_))


def _delete_form(request: Request, for_: str | None) -> Response:
    """The erasure form, in a page thread."""
    rt = runtime(request)
    with sessions.signed_in(request, "subject") as (session, me):
        ctx = _ctx(request, session, me.principal, for_)
    kept = portal_core.kept_on_erasure(rt.loaded.manifest, lang_of(request))
    return page(request, "portal/delete.html", {
        **ctx, "kept": kept, "by_law": portal_core.kept_by_law_alone(kept), "error": None})


@router.post("/delete", response_class=HTMLResponse)
def delete(request: Request, me: Subject, _: Csrf, for_: For = None,
           confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Erase the person (an erasure request, carried out at once); sign out if it was me."""
    rt = runtime(request)
    lang = lang_of(request)
    with unit(rt) as session:
        ctx = _ctx(request, session, me.principal, for_)
    person = ctx["person"]
    if confirm != "yes":
        kept = portal_core.kept_on_erasure(rt.loaded.manifest, lang)
        return page(request, "portal/delete.html", {
            **ctx, "kept": kept, "by_law": portal_core.kept_by_law_alone(kept),
            "error": "delete_must_confirm"}, status=422)
    req = portal_core.run_request(rt, me.principal, person, "erasure", {}, _exports(request),
                                  lang)
    # The page says what the request's state is: "deleted" only once it is carried out.
    response = page(request, "portal/deleted.html", {"signed_in": person.role != "self",
                                                     "for_q": "", "r": _request_row(req, rt),
                                                     "outcome": req.outcome or {}})
    # The erasure itself ended the person's sessions everywhere (sessions.erased); only
    # this browser's cookie is left to clear.
    if person.role == "self":
        sessions.clear_cookie(response, request, "subject")
    return response


# FastAPI tries a router's routes in the order they were declared, twice a request (once
# to pick the router, once the route): the pages people read are tried first, not after
# the sign-in routes. No two of the portal's paths match the same request path, and a
# path's GET and POST keep their order (the sort is stable), so every answer is as before.
_READ_FIRST = ("/portal", "/portal/consents", "/portal/requests", "/portal/details",
               "/portal/requests/{request_id}", "/portal/delete")
router.routes.sort(key=lambda r: (_READ_FIRST.index(p) if (p := getattr(r, "path", None))
                                  in _READ_FIRST else len(_READ_FIRST)))
