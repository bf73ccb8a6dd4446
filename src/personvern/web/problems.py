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
from dataclasses import dataclass
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
    MissingScope,
    NotFound,
    PersonvernError,
    StorageError,
    Unauthorized,
    UnknownPurpose,
    UnknownSubject,
)
from personvern.sessions.limits import RateLimited

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:personvern:problem:"
log = logging.getLogger("personvern.web")


@dataclass(frozen=True)
class ProblemType:
    """One stable ``type`` of error answer: its title, usual status and what to do."""

    slug: str
    title: str
    status: int
    what_to_do: str

    @property
    def uri(self) -> str:
        """The ``type`` member of the answer."""
        return TYPE_PREFIX + self.slug


# Every type an answer may carry; docs/api.md's table and the clients' exception classes are
# checked against this list, so a new type is documented and typed before it ships.
TYPES: dict[str, ProblemType] = {t.slug: t for t in (
    ProblemType("unknown-subject", "Unknown subject", 404,
                "No subject has this id or identity (or it was erased): create it with "
                "`POST /api/v1/subjects` first, or look it up by another identity."),
    ProblemType("unknown-purpose", "Unknown purpose", 404,
                "The manifest declares no such purpose: fix the purpose id in your code, or "
                "add the purpose to the manifest and restart `personvern serve`."),
    ProblemType("not-found", "Not found", 404,
                "Another named thing (request, policy version, breach, package) does not "
                "exist; check the id."),
    ProblemType("route-not-found", "Not Found", 404,
                "No route has this path: check the base URL and the path against "
                "`/openapi.json`."),
    ProblemType("method-not-allowed", "Method Not Allowed", 405,
                "The path exists but not for this method; the `Allow` header lists those "
                "that are."),
    ProblemType("malformed-json", "Malformed JSON", 400,
                "The body is not JSON; send `Content-Type: application/json` with a valid "
                "document."),
    ProblemType("invalid-request", "Invalid request", 422,
                "Fields break the schema; `errors` lists each field and why. Fix the call."),
    ProblemType("invalid-input", "Invalid input", 422,
                "A value breaks a rule (a child consenting alone, no consent to withdraw); "
                "`detail` says which. Show it to the person or fix the value; nothing was "
                "stored."),
    ProblemType("incomplete-policy", "Incomplete privacy policy", 422,
                "The manifest lacks elements GDPR Art. 13/14 requires; `missing` lists them. "
                "Complete the manifest."),
    ProblemType("check-errors", "The manifest has check errors", 422,
                "`personvern check` finds errors in the server's manifest, so no privacy "
                "policy is written or published from it; `errors` lists them with "
                "file:line:column. Fix the manifest and restart the server."),
    ProblemType("unauthorized", "Unauthorized", 401,
                "No valid API key: send `Authorization: Bearer pv_...` with a key from "
                "`personvern keys create NAME --scope SCOPE`; a revoked key stays refused."),
    ProblemType("missing-scope", "Missing scope", 403,
                "The key lacks the scope this route needs (`detail` names it): create a key "
                "holding it and revoke the old one."),
    ProblemType("forbidden", "Forbidden", 403,
                "The caller may not act for this person (not the child's guardian, say); do "
                "not retry."),
    ProblemType("conflict", "Conflict", 409,
                "The call contradicts what is stored (an idempotency key reused for another "
                "event, identities of two subjects, a request in the wrong state). A "
                "concurrent change may be retried as is."),
    ProblemType("body-too-large", "Content Too Large", 413,
                "The body is over the server's limit (64 KiB unless configured); send less."),
    ProblemType("rate-limited", "Too many requests", 429,
                "Too many attempts under one key; wait the seconds `Retry-After` gives."),
    ProblemType("invalid-manifest", "Invalid manifest", 422,
                "The server's manifest is invalid; run `personvern check` on it."),
    ProblemType("configuration", "Configuration error", 500,
                "The server's settings are unusable; its log says which. Tell its operator."),
    ProblemType("storage-unavailable", "Storage unavailable", 503,
                "The engine's database cannot be reached; retry later (the clients retry "
                "reads and idempotent writes)."),
    ProblemType("server-error", "Internal Server Error", 500,
                "A bug in Personvern, logged on the server without your data; report it."),
    ProblemType("error", "Error", 500,
                "Any other error Personvern raised on purpose; `detail` says what."),
    ProblemType("http-error", "HTTP error", 400,
                "Another HTTP-level refusal; `status` and `detail` say which."),
)}

# Kind of error -> slug of its type. Looked up along the class's MRO.
_KINDS: dict[type[PersonvernError], str] = {
    UnknownSubject: "unknown-subject",
    UnknownPurpose: "unknown-purpose",
    NotFound: "not-found",
    InvalidInput: "invalid-input",
    Conflict: "conflict",
    Unauthorized: "unauthorized",
    MissingScope: "missing-scope",
    Forbidden: "forbidden",
    ManifestError: "invalid-manifest",
    StorageError: "storage-unavailable",
    ConfigurationError: "configuration",
    RateLimited: "rate-limited",
    PersonvernError: "error",
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
    slug: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response of the registered type ``slug`` (a KeyError if unregistered)."""
    kind = TYPES[slug]
    body: dict[str, Any] = {
        "type": kind.uri,
        "title": title or kind.title,
        "status": status,
        "detail": detail,
        "instance": _instance(request) if request is not None else "",
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers={**SECURITY_HEADERS, **DEFAULT_HEADERS, **(headers or {})})


def kind_of(exc: PersonvernError) -> ProblemType:
    """The type of the nearest registered class of ``exc``."""
    for cls in type(exc).__mro__:
        if cls in _KINDS:
            return TYPES[_KINDS[cls]]
    return TYPES[_KINDS[PersonvernError]]


async def personvern_error(request: Request, exc: Exception) -> JSONResponse:
    """Any PersonvernError, with the status it carries."""
    assert isinstance(exc, PersonvernError)
    kind = kind_of(exc)
    headers = {"WWW-Authenticate": BEARER_CHALLENGE} if isinstance(exc, Unauthorized) else None
    if isinstance(exc, RateLimited):  # RFC 9110 10.2.3: how long to wait, in seconds
        headers = {"Retry-After": str(exc.retry_after)}
    if exc.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    detail = str(exc)
    if request.url.path.startswith("/api/"):
        detail = without_inputs(detail, sent_values(request))
    return problem(request, exc.status, detail, slug=kind.slug, headers=headers)


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
                       f"{position}", slug="malformed-json")
    # The input itself is not echoed: it may be personal data.
    listed = [{"field": _where(e.get("loc", ())), "message": e.get("msg", ""),
               "type": e.get("type", "")} for e in errors]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in listed)
    return problem(request, 422, detail, slug="invalid-request", extra={"errors": listed})


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
    slug = {404: "route-not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
        status, "http-error")
    return problem(request, status, detail, slug=slug, headers=headers)


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
    return problem(request, 500, "an unexpected error occurred; it has been logged",
                   slug="server-error")


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
