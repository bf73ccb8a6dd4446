"""Errors as RFC 9457 problem details: one renderer for every error the app answers with.

Every PersonvernError carries its HTTP status; this module only gives each kind a
stable ``type`` and ``title`` and turns framework errors (bad JSON, invalid fields,
unknown routes) into the same shape.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from personvern.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    ManifestError,
    NotFound,
    PersonvernError,
    StorageError,
    Unauthorized,
)
from personvern.sessions.limits import RateLimited

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:personvern:problem:"
log = logging.getLogger("personvern.web")

# Kind of error -> (slug of its type URI, title). Looked up along the class's MRO.
_KINDS: dict[type[PersonvernError], tuple[str, str]] = {
    NotFound: ("not-found", "Not found"),
    InvalidInput: ("invalid-input", "Invalid input"),
    Conflict: ("conflict", "Conflict"),
    Unauthorized: ("unauthorized", "Unauthorized"),
    Forbidden: ("forbidden", "Forbidden"),
    ManifestError: ("invalid-manifest", "Invalid manifest"),
    StorageError: ("storage-unavailable", "Storage unavailable"),
    ConfigurationError: ("configuration", "Configuration error"),
    RateLimited: ("rate-limited", "Too many requests"),
    PersonvernError: ("error", "Error"),
}

# Also set on responses the middleware never sees (a crash's 500).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Set only when the response chose none (the portal's pages bring their own).
DEFAULT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    # Answers carry personal data: no shared or browser cache keeps them.
    "Cache-Control": "no-store",
}
BEARER_CHALLENGE = 'Bearer realm="personvern"'


def problem(
    request: Request | None,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response; ``slug`` None means the plain HTTP meaning (about:blank)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": "about:blank" if slug is None else TYPE_PREFIX + slug,
        "title": title or phrase,
        "status": status,
        "detail": detail,
        "instance": _instance(request) if request is not None else "",
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers={**SECURITY_HEADERS, **DEFAULT_HEADERS, **(headers or {})})


def kind_of(exc: PersonvernError) -> tuple[str, str]:
    """The (slug, title) of the nearest registered class of ``exc``."""
    for cls in type(exc).__mro__:
        if cls in _KINDS:
            return _KINDS[cls]
    return _KINDS[PersonvernError]


async def personvern_error(request: Request, exc: Exception) -> JSONResponse:
    """Any PersonvernError, with the status it carries."""
    assert isinstance(exc, PersonvernError)
    slug, title = kind_of(exc)
    headers = {"WWW-Authenticate": BEARER_CHALLENGE} if isinstance(exc, Unauthorized) else None
    if isinstance(exc, RateLimited):  # RFC 9110 10.2.3: how long to wait, in seconds
        headers = {"Retry-After": str(exc.retry_after)}
    if exc.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    detail = str(exc)
    if request.url.path.startswith("/api/"):
        detail = without_inputs(detail, sent_values(request))
    return problem(request, exc.status, detail, title=title, slug=slug, headers=headers)


SENT = "(the value sent)"
# Where the body-limit middleware leaves the request body it buffered (request state).
BODY_STATE = "personvern_request_body"
# Shorter values are left alone: "nb", "id" and the like occur in our own words.
_MIN_ECHO = 3


def _instance(request: Request) -> str:
    """The path, or for an API path holding values (a subject's e-mail) its template."""
    route = request.scope.get("route")
    if request.url.path.startswith("/api/") and request.path_params and route is not None:
        return str(getattr(route, "path", request.url.path))
    return request.url.path


def sent_values(request: Request) -> set[str]:
    """Every string the caller sent: path and query parameters, and the JSON body's."""
    values = {str(v) for v in request.path_params.values()}
    values |= {v for _, v in request.query_params.multi_items()}
    raw = request.scope.get("state", {}).get(BODY_STATE, b"")
    if raw:
        with contextlib.suppress(ValueError):
            values |= set(_strings(json.loads(raw)))
    return {v.strip() for v in values if len(v.strip()) >= _MIN_ECHO}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def without_inputs(detail: str, sent: set[str]) -> str:
    """``detail`` with every value the caller sent (as written or in its normal form,
    quoted or not) replaced: an error never repeats input, which may be personal data."""
    for value in sorted(sent, key=len, reverse=True):
        for form in dict.fromkeys((value, value.casefold(), value.lower())):
            detail = detail.replace(repr(form), SENT).replace(f'"{form}"', SENT)
            # Unquoted, only what looks like an address or a number: a plain word such as
            # "access" is one of ours (a request type), and replacing it would garble.
            if any(ch.isdigit() or ch == "@" for ch in form):
                detail = detail.replace(form, SENT)
    return detail


def _where(loc: tuple[int | str, ...] | list[int | str]) -> str:
    return ".".join(str(part) for part in loc)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON as 400; fields that break the schema as 422, each listed."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        reason = (bad_json.get("ctx") or {}).get("error", "not JSON")
        position = bad_json["loc"][-1] if bad_json.get("loc") else "?"
        return problem(request, 400, f"the body is not valid JSON: {reason} at character "
                       f"{position}", title="Malformed JSON", slug="malformed-json")
    # The input itself is not echoed: it may be personal data.
    listed = [{"field": _where(e.get("loc", ())), "message": e.get("msg", ""),
               "type": e.get("type", "")} for e in errors]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in listed)
    return problem(request, 422, detail, title="Invalid request", slug="invalid-request",
                   extra={"errors": listed})


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown route, wrong method, ...) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = str(exc.detail)
    if status == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"there is nothing at {request.url.path}"
    headers = dict(exc.headers or {})
    if status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        # Starlette names only the first route's methods; a path served by several
        # routes (GET and POST /decisions) allows them all.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem(request, status, detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged with its traceback, answered without internals."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    """Route every error of ``app`` through the problem renderers."""
    app.add_exception_handler(PersonvernError, personvern_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses, as problem+json."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {s: {"description": HTTPStatus(s).phrase,
                "content": {PROBLEM_JSON: {"schema": schema}}} for s in statuses}
