"""Bokmål and English for the pages: which language a request wants, and the texts.

The language comes from ``?lang=nb|en`` (remembered in the ``pv_lang`` cookie), else the
cookie, else the browser's Accept-Language, else bokmål. Texts live in catalogues keyed
by message id; each feature adds its own with ``add_messages`` (the portal's are in
``personvern.web.portal_text``), and templates call ``t("id", name=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request

LANGS = ("nb", "en")
DEFAULT_LANG = "nb"
LANG_COOKIE = "pv_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "skip": {"nb": "Hopp til innholdet", "en": "Skip to content"},
    "language": {"nb": "Språk", "en": "Language"},
    "other_lang": {"nb": "English", "en": "Norsk (bokmål)"},
    "other_lang_code": {"nb": "en", "en": "nb"},
    "main_nav": {"nb": "Hovedmeny", "en": "Main menu"},
    "sign_out": {"nb": "Logg ut", "en": "Sign out"},
    "privacy_policy": {"nb": "Personvernerklæring", "en": "Privacy policy"},
    "error": {"nb": "Noe gikk galt", "en": "Something went wrong"},
    "csrf_title": {"nb": "Skjemaet kunne ikke sendes", "en": "The form could not be sent"},
    "csrf_text": {
        "nb": "Skjemaet manglet en gyldig sikkerhetskode, så ingenting ble endret. Det skjer "
              "når siden har vært åpen lenge, eller når du har logget inn eller ut i en annen "
              "fane. Gå tilbake, last inn siden på nytt og prøv igjen.",
        "en": "The form lacked a valid security token, so nothing was changed. This happens "
              "when the page has been open a long time, or when you signed in or out in "
              "another tab. Go back, reload the page and try again.",
    },
    "too_large_title": {"nb": "For mye data", "en": "Too much data"},
    "too_large_text": {
        "nb": "Det du sendte var større enn vi tar imot, så ingenting ble lagret.",
        "en": "What you sent was larger than we accept, so nothing was stored.",
    },
    "invalid_title": {"nb": "Skjemaet kunne ikke leses", "en": "The form could not be read"},
    "invalid_text": {
        "nb": "Noe av det du sendte var for langt eller hadde feil form ({fields}), så "
              "ingenting ble endret. Gå tilbake og prøv igjen.",
        "en": "Part of what you sent was too long or in the wrong form ({fields}), so "
              "nothing was changed. Go back and try again.",
    },
    "rate_title": {"nb": "For mange forsøk", "en": "Too many attempts"},
    "rate_text": {
        "nb": "Det har vært for mange forsøk. Vent {seconds} sekunder og prøv igjen.",
        "en": "There have been too many attempts. Wait {seconds} seconds and try again.",
    },
    "not_found_title": {"nb": "Fant ikke siden", "en": "Page not found"},
    "not_found_text": {
        "nb": "Vi fant ikke det du lette etter, eller du har ikke tilgang til det.",
        "en": "We could not find what you were looking for, or you may not see it.",
    },
    "forbidden_title": {"nb": "Ingen tilgang", "en": "Not allowed"},
    "back_home": {"nb": "Til forsiden", "en": "Back to the start page"},
}


def add_messages(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add a feature's catalogue; every message needs both languages and a new id."""
    for key, texts in messages.items():
        missing = [lang for lang in LANGS if lang not in texts]
        if missing:
            raise ValueError(f"message {key!r} lacks {', '.join(missing)}")
        if key in MESSAGES and MESSAGES[key] != texts:
            raise ValueError(f"message {key!r} is defined twice")
        MESSAGES[key] = dict(texts)


def translate(lang: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``lang``, with ``{name}`` placeholders filled in."""
    texts = MESSAGES.get(key)
    if texts is None:
        raise KeyError(f"no message {key!r}")
    text = texts.get(lang) or texts[DEFAULT_LANG]
    return text.format(**values) if values else text


def requested_lang(request: Request) -> str | None:
    """The language asked for in ``?lang=``, if it is one we have."""
    asked = request.query_params.get("lang")
    return asked if asked in LANGS else None


def lang_of(request: Request) -> str:
    """The request's language: ``?lang=``, the cookie, Accept-Language, then bokmål."""
    asked = requested_lang(request)
    if asked:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGS:
        return cookie
    return _accept_language(request.headers.get("accept-language", ""))


def _accept_language(header: str) -> str:
    """The first of nb/en in the header by preference; no, nn and nb count as bokmål."""
    best: tuple[float, str] | None = None
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        lang = "nb" if primary in {"nb", "no", "nn"} else primary
        if lang in LANGS and quality > 0 and (best is None or quality > best[0]):
            best = (quality, lang)
    return best[1] if best else DEFAULT_LANG
