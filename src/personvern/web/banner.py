"""The cookie banner's server side: its public configuration, and CORS for embedding sites.

``/static/banner.js`` runs on the service's own pages (another origin). It reads
``GET /banner/config`` (the manifest's cookie categories and cookies, in bokmål and
English) and stores the choice through ``/api/v1/cookie-choices``. Browsers let it do
so only from allowed origins: ``PERSONVERN_BANNER_ORIGINS`` plus the origin of the
manifest's ``service.url``; other origins get no CORS headers, so their pages cannot
read the answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personvern.consent.cookies import categories_of
from personvern.manifest.model import Manifest
from personvern.web.deps import runtime

router = APIRouter(tags=["cookies"], include_in_schema=False)
CORS_PATHS = ("/banner/", "/api/v1/cookie-choices")

# What each category means, for people; the manifest lists the cookies in each.
CATEGORY_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "necessary": {"nb": ("Nødvendige", "Trengs for at nettstedet skal virke. Kan ikke slås av."),
                  "en": ("Necessary", "Needed for the site to work. Cannot be switched off.")},
    "preferences": {"nb": ("Innstillinger", "Husker valg du gjør, som språk."),
                    "en": ("Preferences", "Remember choices you make, such as language.")},
    "statistics": {"nb": ("Statistikk", "Viser oss hvordan nettstedet brukes, så vi kan "
                                         "gjøre det bedre."),
                   "en": ("Statistics", "Show us how the site is used, so we can improve it.")},
    "marketing": {"nb": ("Markedsføring", "Brukes til å vise deg annonser."),
                  "en": ("Marketing", "Used to show you ads.")},
}
# Said of marketing only when the manifest names a third party's cookie there: a site's
# own cookies do not follow the visitor to other sites.
ELSEWHERE = {"nb": "Brukes til å vise deg annonser, også på andre nettsteder.",
             "en": "Used to show you ads, also on other sites."}


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of ``url``; None when it has none."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def allowed_origins(configured: list[str], manifest: Manifest) -> frozenset[str]:
    """The configured origins and the service's own."""
    own = origin_of(str(manifest.service.url) if manifest.service.url else None)
    return frozenset([*configured, *([own] if own else [])])


def config(manifest: Manifest, policy_version: str, lang: str) -> dict[str, Any]:
    """What the banner shows: categories with their cookies, in ``lang``."""
    categories = []
    for cat in categories_of(manifest):
        name, text = CATEGORY_TEXT[cat][lang]
        cookies = [{"name": c.name.get(lang), "provider": c.provider,
                    "purpose": c.purpose.get(lang),
                    "lifetime": str(c.lifetime) if c.lifetime else None,
                    "third_party": c.third_party}
                   for c in manifest.cookies if c.category == cat]
        if cat == "marketing" and any(c["third_party"] for c in cookies):
            text = ELSEWHERE[lang]
        categories.append({"id": cat, "name": name, "description": text, "cookies": cookies,
                           "required": cat == "necessary"})
    return {"service": manifest.service.name, "lang": lang, "policy_version": policy_version,
            "categories": categories,
            "policy_url": "/privacy" if lang == "nb" else "/privacy/en"}


@router.get("/banner/config")
def banner_config(request: Request, lang: str = "nb") -> JSONResponse:
    """The banner's categories and cookies (public; the same for everyone)."""
    rt = runtime(request)
    body = config(rt.loaded.manifest, rt.consent.policy_version, "en" if lang == "en" else "nb")
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


class BannerCors:
    """CORS for the banner's paths, for allowed origins only; preflights answered here.

    Every other path passes straight through: no header is read and ``send`` is not
    wrapped (this runs on every request, in front of everything).
    """

    def __init__(self, app: ASGIApp, origins: frozenset[str] | None = None) -> None:
        self.app = app
        self.origins = origins
        # The origins from the running app, kept with the manifest they were made from
        # (a publish replaces it): worked out again only when that changes.
        self._from: tuple[object, frozenset[str]] | None = None

    def _allowed(self, scope: Scope, origin: bytes | None) -> bool:
        if origin is None:
            return False
        origins = self.origins
        if origins is None:  # from the running app: settings and the manifest in force
            app = scope["app"]
            rt = getattr(app.state, "runtime", None)
            if rt is None:
                return False
            manifest = rt.loaded.manifest
            known = self._from
            if known is None or known[0] is not manifest:
                known = (manifest, allowed_origins(app.state.settings.origins(), manifest))
                self._from = known
            origins = known[1]
        return origin.decode("latin-1") in origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer preflights; add Access-Control-Allow-Origin for allowed origins."""
        if scope["type"] != "http" or not scope["path"].startswith(CORS_PATHS):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        allowed = self._allowed(scope, origin)
        if scope["method"] == "OPTIONS":
            status = 204 if allowed else 403
            headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
            if allowed and origin:
                headers += [(b"access-control-allow-origin", origin),
                            (b"access-control-allow-methods", b"GET, POST"),
                            (b"access-control-allow-headers", b"content-type"),
                            (b"access-control-max-age", b"600")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        added = [(b"vary", b"Origin")]
        if allowed and origin:
            added.append((b"access-control-allow-origin", origin))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*(k_v for k_v in message.get("headers", ())
                                        if not (allowed and origin and k_v[0].lower()
                                                == b"access-control-allow-origin")),
                                      *added]
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of request header ``name`` (lower case), as sent."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
