"""The Python client for the app beside Personvern; it needs httpx alone, not the engine.

    from personvern.client import PersonvernClient, UnknownPurposeError

    with PersonvernClient("http://127.0.0.1:8000", api_key) as pv:
        kari = pv.ensure_subject(email="kari@example.no")
        pv.record_consent(kari.id, "newsletter", text_shown="Vil du ha nyhetsbrev?")
        if pv.decide(kari.id, "newsletter"):
            ...

Every error answer raises the class of its problem ``type`` (errors.py), all under
``PersonvernAPIError``; a server that does not answer raises ``ServerUnavailable`` after
the bounded retries. ``verify_callback`` checks the engine's signed calls (callbacks.py).
docs/integrate.md walks through wiring an app.
"""

from personvern.client.api import (
    Consents,
    Decision,
    Event,
    PersonvernClient,
    PurposeConsent,
    Subject,
)
from personvern.client.callbacks import Callback, InvalidSignature, verify_callback
from personvern.client.errors import (
    ERRORS,
    BodyTooLargeError,
    CheckErrorsError,
    ConflictError,
    EngineError,
    ForbiddenError,
    HTTPProblemError,
    IncompletePolicyError,
    InvalidInputError,
    InvalidManifestError,
    InvalidRequestError,
    MalformedJSONError,
    MethodNotAllowedError,
    MissingScopeError,
    NotFoundError,
    PersonvernAPIError,
    RateLimitedError,
    RouteNotFoundError,
    ServerConfigurationError,
    ServerError,
    ServerUnavailable,
    StorageUnavailableError,
    UnauthorizedError,
    UnknownPurposeError,
    UnknownSubjectError,
)

__all__ = [
    "ERRORS", "BodyTooLargeError", "Callback", "CheckErrorsError", "ConflictError", "Consents",
    "Decision",
    "EngineError", "Event", "ForbiddenError", "HTTPProblemError", "IncompletePolicyError",
    "InvalidInputError", "InvalidManifestError", "InvalidRequestError", "InvalidSignature",
    "MalformedJSONError", "MethodNotAllowedError", "MissingScopeError", "NotFoundError",
    "PersonvernAPIError", "PersonvernClient", "PurposeConsent", "RateLimitedError",
    "RouteNotFoundError", "ServerConfigurationError", "ServerError", "ServerUnavailable",
    "StorageUnavailableError", "Subject", "UnauthorizedError", "UnknownPurposeError",
    "UnknownSubjectError", "verify_callback",
]
