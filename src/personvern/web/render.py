"""HTML pages from Jinja2 templates (autoescaped), with a strict CSP and the page cookies.

``page(request, "portal/home.html", {...})`` renders a template that extends
``base.html``. Every template gets ``t`` (text in the page's language), ``lang``,
``csrf_input()`` (the hidden CSRF field for a form), ``static(path)`` and
``lang_url(code)`` (this page in another language).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from personvern.web import csrf
from personvern.web.i18n import LANG_COOKIE, lang_of, requested_lang, translate
from personvern.web.page_env import TEXTS, FoldTexts, PageEnvironment, texts_for
from personvern.wording import count

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Scripts and styles only from this origin, never inline; forms post only here.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _build(kind: type[Environment], extensions: list[type[FoldTexts]]) -> Environment:
    env = kind(loader=FileSystemLoader(TEMPLATES),
               autoescape=select_autoescape(default=True, default_for_string=True),
               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
               # Templates ship with the package: no stat() of the file per page.
               auto_reload=False, extensions=extensions)
    env.globals["static"] = lambda path: f"/static/{path}"
    env.filters["count"] = count  # {{ n | count("row") }}: "1 row", "2 rows"
    return env


@cache
def environment() -> Environment:
    """The one Jinja2 environment: autoescaping on for every template, undefined is an error
    (with the speed-ups of ``web.page_env``)."""
    return _build(PageEnvironment, [FoldTexts])


@cache
def reference_environment() -> Environment:
    """The same templates in Jinja's own environment, without the speed-ups: what the
    tests hold every page's bytes to."""
    return _build(Environment, [])


def compile_templates() -> None:
    """Compile every template now (at start-up), not in the first requests that need it."""
    env = environment()
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


def _lang_url(request: Request, code: str) -> str:
    params = dict(request.query_params)
    params["lang"] = code
    return f"{request.url.path}?{urlencode(params)}"


def page(request: Request, template: str, context: dict[str, Any] | None = None,
         status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render ``template`` for ``request`` as an HTML response with the page headers."""
    lang = lang_of(request)

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    field: list[Markup] = []  # the HMAC once a page, however many forms it has

    def csrf_input() -> Markup:
        if not field:
            field.append(Markup('<input type="hidden" name="{}" value="{}">').format(
                csrf.FIELD, escape(csrf.token_for(request))))
        return field[0]

    rt = getattr(request.app.state, "runtime", None)
    service_name = rt.loaded.manifest.service.name if rt is not None else "Personvern"
    html = environment().get_template(template).render(
        request=request, lang=lang, t=t, csrf_input=csrf_input, service_name=service_name,
        lang_url=lambda code: _lang_url(request, code), **{TEXTS: texts_for(lang)},
        **(context or {}),
    )
    response = HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store",
        "Content-Language": lang, **(headers or {}),
    })
    if requested_lang(request):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax",
                            httponly=True, path="/")
    csrf.apply_cookie(request, response)
    return response


def message_page(request: Request, status: int, title_key: str, text_key: str, *,
                 headers: dict[str, str] | None = None, **values: object) -> HTMLResponse:
    """A plain page with a heading and one paragraph (errors, refusals)."""
    return page(request, "message.html", {"title_key": title_key, "text_key": text_key,
                                          "values": values}, status=status, headers=headers)
