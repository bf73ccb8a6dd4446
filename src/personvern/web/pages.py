"""Public pages, no API key: the privacy policy at ``/privacy`` (bokmål) and ``/privacy/en``.

The page is the published version in force now, exactly as it was frozen; before any
version takes effect, it is written from the manifest. When the manifest lacks a
mandatory element, or ``personvern check`` reports an error in it, no policy is written
from it: a plain 503 page says so (the errors are listed for the operator by
``personvern check`` and the API, not to the public). A published version in force is
still served: a later manifest with errors cannot have been published over it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from personvern.check.gate import blocking_findings
from personvern.policy.completeness import missing_elements
from personvern.policy.tables import PolicyVersion
from personvern.storage.models import as_utc
from personvern.web.deps import runtime, unit

router = APIRouter(tags=["pages"], include_in_schema=False)

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_PAGE_STYLE = ("body{font-family:system-ui,sans-serif;line-height:1.55;max-width:40rem;"
               "margin:0 auto;padding:1rem 1.25rem;color:#1a1a1a}")
_UNAVAILABLE = {
    "nb": ("Personvernerklæringen er ikke tilgjengelig",
           "Personvernerklæringen kan ikke vises akkurat nå, fordi den mangler opplysninger "
           "som loven krever eller ikke er i samsvar med loven. Vi arbeider med saken. "
           "Spørsmål om personvern kan du rette til "
           "{contact}."),
    "en": ("The privacy policy is not available",
           "The privacy policy cannot be shown right now, because it lacks information the "
           "law requires or is not in line with the law. We are working on it. You may send "
           "questions about privacy to "
           "{contact}."),
}


def _csp(html: str) -> str:
    """A policy allowing only the page's own inline styles (by hash), nothing else."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _STYLE.findall(html)
    )
    style = f"; style-src {hashes}" if hashes else ""
    return f"default-src 'none'{style}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": _csp(html),
        # Public and the same for everyone, but it changes when a version takes effect.
        "Cache-Control": "no-cache" if status == 200 else "no-store",
    })


def _unavailable(request: Request, lang: str) -> HTMLResponse:
    m = runtime(request).loaded.manifest
    c = m.controller
    contact = " ".join(x for x in (c.name, c.email and f"({c.email})") if x)
    title, text = _UNAVAILABLE[lang]
    html = (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)} – {escape(m.service.name)}</title>\n"
            f"<style>{_PAGE_STYLE}</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{escape(title)}</h1>\n<p>{escape(text.format(contact=contact))}</p>\n"
            "</main>\n</body>\n</html>\n")
    response = _page(html, 503)
    response.headers["Retry-After"] = "3600"
    return response


_ANNOUNCED = {
    "nb": "Ny versjon av personvernerklæringen gjelder fra {date}. Dette endres:",
    "en": "A new version of this privacy policy takes effect on {date}. What changes:",
}


def _with_announcement(html: str, upcoming: PolicyVersion, lang: str, zone: str) -> str:
    """``html`` with the announced version's date and changes at the top of its main part.

    The policy promises notice before a change takes effect (policy_changes.notice_days);
    from the day a version is published until it takes effect, the page says so.
    """
    from zoneinfo import ZoneInfo

    from personvern.policy.wording.phrases import Phrases

    starts = upcoming.effective_from.astimezone(ZoneInfo(zone)).date()
    lead = _ANNOUNCED[lang].format(date=Phrases(lang).date(starts))
    items = "".join(f"<li>{escape(str(c.get(lang, '')))}</li>" for c in upcoming.changes)
    notice = (f'<aside class="announced" role="note"><p><strong>{escape(lead)}</strong></p>'
              f"<ul>{items}</ul></aside>")
    return html.replace("<main>", f"<main>\n{notice}", 1)


def _policy_page(request: Request, lang: str) -> HTMLResponse:
    from personvern.law import get_jurisdiction
    from personvern.policy.render import render_policy
    from personvern.policy.versions import in_force, latest_version

    rt = runtime(request)
    now = rt.clock()
    manifest = rt.loaded.manifest
    zone = get_jurisdiction(manifest.jurisdiction.country).timezone
    with unit(rt) as session:
        version = in_force(session, now)
        latest = latest_version(session)
        upcoming = latest if latest is not None and as_utc(latest.effective_from) > as_utc(now) \
            else None
        html: str | None = version.documents[lang]["html"] if version is not None else None
        if html is None and not (missing_elements(manifest) or blocking_findings(rt.loaded)):
            html = render_policy(manifest, lang, "html")
        if html is None:
            return _unavailable(request, lang)
        if upcoming is not None:
            html = _with_announcement(html, upcoming, lang, zone)
    return _page(html)


@router.get("/privacy", response_class=HTMLResponse)
def privacy_nb(request: Request) -> HTMLResponse:
    """Personvernerklæringen (bokmål): the version in force, or the manifest's."""
    return _policy_page(request, "nb")


@router.get("/privacy/en", response_class=HTMLResponse)
def privacy_en(request: Request) -> HTMLResponse:
    """The privacy policy in English: the version in force, or the manifest's."""
    return _policy_page(request, "en")
