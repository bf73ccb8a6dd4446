"""The client's exceptions: one class per problem ``type`` the server documents (docs/api.md).

    PersonvernError                       (personvern.errors: the one root)
    ├── PersonvernAPIError                an error answer, or none at all
    │   ├── ServerUnavailable             no answer after the bounded retries
    │   ├── NotFoundError                 ...one class per ``type``, below
    │   │   ├── UnknownSubjectError
    │   │   ├── UnknownPurposeError
    │   │   └── RouteNotFoundError
    │   └── ...
    └── InvalidSignature                  a callback that is not the engine's (callbacks.py)

Branch on the class (``except UnknownPurposeError``), never on ``title`` or ``detail``:
those are for people and may be reworded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from personvern.errors import PersonvernError

TYPE_PREFIX = "urn:personvern:problem:"


class PersonvernAPIError(PersonvernError):
    """An error answer (problem+json) from the server, or no answer at all (status 0)."""

    slug: ClassVar[str] = ""

    def __init__(self, status: int, title: str, detail: str,
                 problem: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.status = status  # the answer's, not the class default
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.title = title
        self.detail = detail
        self.problem: dict[str, Any] = dict(problem or {})
        # No answer (ServerUnavailable) has no type: nothing was said.
        self.type: str = str(self.problem.get("type", TYPE_PREFIX + self.slug
                                              if self.slug else ""))
        super().__init__(f"{status} {title}: {detail}" if status else f"{title}: {detail}")

    @classmethod
    def from_response(cls, response: httpx.Response) -> PersonvernAPIError:
        """The error for a non-2xx response: the class of its ``type``, else by status."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "title" in body:
            slug = str(body.get("type", "")).removeprefix(TYPE_PREFIX)
            kind = ERRORS.get(slug, _BY_STATUS.get(response.status_code, HTTPProblemError))
            return kind(int(body.get("status", response.status_code)), str(body["title"]),
                        str(body.get("detail", "")), body, response.headers)
        # Not ours (a proxy's HTML page, say): typed by its status alone.
        kind = _BY_STATUS.get(response.status_code, HTTPProblemError)
        return kind(response.status_code, response.reason_phrase or "Error", response.text[:500],
                    None, response.headers)


class ServerUnavailable(PersonvernAPIError):
    """No answer from the server after the bounded retries (down, wrong URL, timed out)."""


class NotFoundError(PersonvernAPIError):
    """A named thing (request, policy version, breach, package) does not exist."""

    slug = "not-found"


class UnknownSubjectError(NotFoundError):
    """No subject has this id or identity: register the person first."""

    slug = "unknown-subject"


class UnknownPurposeError(NotFoundError):
    """The manifest declares no such purpose: a typo in the app, or the manifest lacks it."""

    slug = "unknown-purpose"


class RouteNotFoundError(NotFoundError):
    """No route has this path: the base URL is wrong."""

    slug = "route-not-found"


class MethodNotAllowedError(PersonvernAPIError):
    """The path exists, but not for this method."""

    slug = "method-not-allowed"


class MalformedJSONError(PersonvernAPIError):
    """The body sent was not JSON."""

    slug = "malformed-json"


class InvalidRequestError(PersonvernAPIError):
    """Fields break the schema; ``errors`` lists them."""

    slug = "invalid-request"

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Each invalid field: ``field``, ``message``, ``type``."""
        return list(self.problem.get("errors") or [])


class InvalidInputError(PersonvernAPIError):
    """A value breaks a rule (a child consenting alone); nothing was stored."""

    slug = "invalid-input"


class IncompletePolicyError(PersonvernAPIError):
    """The manifest lacks what GDPR Art. 13/14 requires; ``missing`` lists it."""

    slug = "incomplete-policy"


class CheckErrorsError(PersonvernAPIError):
    """``personvern check`` finds errors in the manifest, so no policy is written from it;
    ``errors`` lists them."""

    slug = "check-errors"


class UnauthorizedError(PersonvernAPIError):
    """No valid API key (missing, unknown or revoked)."""

    slug = "unauthorized"


class ForbiddenError(PersonvernAPIError):
    """The caller may not act for this person."""

    slug = "forbidden"


class MissingScopeError(ForbiddenError):
    """The API key lacks the scope the route needs (``detail`` names it)."""

    slug = "missing-scope"


class ConflictError(PersonvernAPIError):
    """The call contradicts what is stored (a reused idempotency key, say)."""

    slug = "conflict"


class BodyTooLargeError(PersonvernAPIError):
    """The body is over the server's limit."""

    slug = "body-too-large"


class RateLimitedError(PersonvernAPIError):
    """Too many attempts under one key; wait ``retry_after`` seconds."""

    slug = "rate-limited"

    @property
    def retry_after(self) -> int | None:
        """The seconds the server's ``Retry-After`` asks to wait."""
        value = self.headers.get("retry-after", "")
        return int(value) if value.isdigit() else None


class InvalidManifestError(PersonvernAPIError):
    """The server's manifest is invalid."""

    slug = "invalid-manifest"


class ServerConfigurationError(PersonvernAPIError):
    """The server's settings are unusable."""

    slug = "configuration"


class StorageUnavailableError(PersonvernAPIError):
    """The engine's database cannot be reached (retried, then raised)."""

    slug = "storage-unavailable"


class ServerError(PersonvernAPIError):
    """A bug in the server, logged there."""

    slug = "server-error"


class EngineError(PersonvernAPIError):
    """Another error the engine raised on purpose; ``detail`` says what."""

    slug = "error"


class HTTPProblemError(PersonvernAPIError):
    """Another HTTP-level refusal."""

    slug = "http-error"


# slug -> class; a test checks it against the server's list of types.
ERRORS: dict[str, type[PersonvernAPIError]] = {
    kind.slug: kind for kind in (
        NotFoundError, UnknownSubjectError, UnknownPurposeError, RouteNotFoundError,
        MethodNotAllowedError, MalformedJSONError, InvalidRequestError, InvalidInputError,
        IncompletePolicyError, CheckErrorsError, UnauthorizedError, ForbiddenError,
        MissingScopeError,
        ConflictError, BodyTooLargeError, RateLimitedError, InvalidManifestError,
        ServerConfigurationError, StorageUnavailableError, ServerError, EngineError,
        HTTPProblemError,
    )
}
_BY_STATUS: dict[int, type[PersonvernAPIError]] = {
    401: UnauthorizedError, 403: ForbiddenError, 404: NotFoundError, 405: MethodNotAllowedError,
    409: ConflictError, 413: BodyTooLargeError, 422: InvalidInputError, 429: RateLimitedError,
    500: ServerError, 503: StorageUnavailableError,
}
