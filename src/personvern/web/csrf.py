"""CSRF protection for every form POST: a token tied to the browser and its sessions.

The browser holds a random secret in an HttpOnly cookie (``pv_csrf``); a form carries
``HMAC(secret, session tokens)`` in the hidden field ``csrf_token``. Another site can
neither read the cookie nor compute the token, and a token stops working when the
browser signs in or out (the session tokens change). Templates call ``csrf_input()``;
POST routes depend on ``require_csrf``. A missing or wrong token is ``CsrfFailed``,
which the site shows as a 403 page saying what happened.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from personvern.errors import Forbidden
from personvern.web.sessions import KINDS, cookie_name, is_secure, token_of

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_COOKIE = "pv_csrf"


class CsrfFailed(Forbidden):
    """A form POST without the right CSRF token; nothing was done."""


def _secret(request: Request) -> str | None:
    fresh: str | None = getattr(request.state, "csrf_secret", None)
    if fresh is not None:
        return fresh
    value = request.cookies.get(cookie_name(request, _COOKIE))
    return value if value and 20 <= len(value) <= 128 else None


def _mac(secret: str, request: Request) -> str:
    bound = "|".join(token_of(request, kind) or "" for kind in KINDS)
    return hmac.new(secret.encode(), b"personvern csrf\0" + bound.encode(),
                    hashlib.sha256).hexdigest()


def token_for(request: Request) -> str:
    """The token forms on this page carry (a fresh secret is made if the browser has none)."""
    secret = _secret(request)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        request.state.csrf_secret = secret
        request.state.csrf_new = True
    return _mac(secret, request)


def bind_session(request: Request, kind: str, token: str) -> None:
    """After sign-in in this request: later tokens are computed with the new session."""
    # Cookies of the request are read-only; keep the new token where _mac looks first.
    request.cookies[cookie_name(request, f"pv_{kind}")] = token


def apply_cookie(request: Request, response: Response) -> None:
    """Send the secret cookie if this request made one (called by the page renderer)."""
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(cookie_name(request, _COOKIE), request.state.csrf_secret,
                            httponly=True, samesite="lax", secure=is_secure(request), path="/")


def check(request: Request, given: str | None) -> None:
    """Raise CsrfFailed unless ``given`` is this browser's token."""
    secret = _secret(request)
    if secret is None or not given or not hmac.compare_digest(given, _mac(secret, request)):
        raise CsrfFailed("the form's security token is missing or wrong")


async def require_csrf(request: Request) -> None:
    """FastAPI dependency for POST routes: the form field (or header) must hold the token."""
    given = request.headers.get(HEADER)
    if given is None:
        form = await request.form()
        value = form.get(FIELD)
        given = value if isinstance(value, str) else None
    check(request, given)
