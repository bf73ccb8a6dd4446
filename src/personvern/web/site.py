"""The human side of the app: static files, HTML error pages, sign-in limits, the portal.

``install(app, clock)`` is called once by ``create_app``. Under the HTML prefixes
(``/portal``, ``/dashboard``) errors are pages in the visitor's language; elsewhere they
stay problem+json (``personvern.web.problems``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from personvern.clock import Clock
from personvern.errors import Forbidden, NotFound, PersonvernError
from personvern.web import problems
from personvern.web.csrf import CsrfFailed
from personvern.web.middleware import HTML_PREFIXES
from personvern.web.ratelimit import RateLimited, SignInLimits
from personvern.web.render import STATIC, message_page, page
from personvern.web.sessions import SignInRequired

# Where SignInRequired sends a browser, by session kind (the dashboard serves its own).
SIGN_IN_URLS = {"subject": "/portal/sign-in", "staff": "/dashboard/sign-in"}


def is_html(request: Request) -> bool:
    """Whether errors on this path are shown as pages rather than problem+json."""
    path = request.url.path
    return any(path == p or path.startswith(p + "/") for p in HTML_PREFIXES)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(SIGN_IN_URLS[exc.kind], status_code=303)


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    return message_page(request, 403, "csrf_title", "csrf_text")


async def _personvern_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PersonvernError)
    if not is_html(request):
        return await problems.personvern_error(request, exc)
    if isinstance(exc, RateLimited):
        return message_page(request, 429, "rate_title", "rate_text", seconds=exc.retry_after,
                            headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, NotFound):
        return message_page(request, 404, "not_found_title", "not_found_text")
    if isinstance(exc, Forbidden):
        return message_page(request, 403, "forbidden_title", "not_found_text")
    # Other refusals: the message is ours (never the input echoed), shown escaped; the
    # portal words the core's refusals in the reader's language.
    detail = str(exc)
    if request.url.path.startswith("/portal"):
        from personvern.web.i18n import lang_of
        from personvern.web.portal_text import refusal

        detail = refusal(lang_of(request), exc)
    return page(request, "error.html", {"detail": detail}, status=exc.status)


async def _validation_error(request: Request, exc: Exception) -> Response:
    """A form or query field FastAPI refuses (too long, wrong form): under the HTML
    prefixes a page naming the fields (ours; never the input), elsewhere problem+json."""
    assert isinstance(exc, RequestValidationError)
    if not is_html(request):
        return await problems.validation_error(request, exc)
    fields = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
    return message_page(request, 422, "invalid_title", "invalid_text",
                        fields=", ".join(fields) or "?")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if is_html(request) and exc.status_code == 404:
        return message_page(request, 404, "not_found_title", "not_found_text")
    return await problems.http_error(request, exc)


def install(app: FastAPI, clock: Clock, export_dir: Path | None = None) -> None:
    """Serve /static, show errors under the HTML prefixes as pages, add the portal and banner."""
    from personvern.web.banner import BannerCors
    from personvern.web.banner import router as banner_router
    from personvern.web.portal import router as portal_router

    app.state.sign_in_limits = SignInLimits(clock)  # counted in the database, shared
    # Access packages made in the portal: private to this process's user (mode 0700).
    app.state.export_dir = export_dir or Path(tempfile.mkdtemp(prefix="personvern-exports-"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(PersonvernError, _personvern_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(portal_router)
    app.include_router(banner_router)
    # Outermost: a preflight is answered before any other layer looks at it.
    app.add_middleware(BannerCors)
