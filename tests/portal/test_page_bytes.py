"""Every portal page has the same bytes through the pages' fast environment as through
Jinja's own: texts read from the per-language dict instead of ``t()``, a dict's keys read
without Jinja's AttributeError first (``web.page_env``), in both languages."""

from __future__ import annotations

import re
from datetime import date

import pytest
from jinja2 import UndefinedError

from personvern.web import render
from personvern.web.page_env import TEXTS, texts_for
from portal.support import KARI, Portal, csrf_of, new_subject, sign_in

PAGES = ("/portal", "/portal/consents", "/portal/requests", "/portal/details",
         "/portal/delete", "/portal/consents?saved=consent", "/portal/details?saved=1",
         "/portal/no-such-page", "/portal/requests/no-such-request")
# How a browser says which language it wants: the query, the cookie, Accept-Language.
ASKED = ({"query": "lang=en"}, {"query": "lang=nb"}, {"header": "en-GB,en;q=0.8"},
         {"header": "nb"}, {"header": ""})


def _pages(portal: Portal, paths: list[str]) -> list[tuple[str, int, bytes]]:
    """Each page in each language as the browser gets it."""
    out = []
    for asked in ASKED:
        for path in paths:
            query = asked.get("query")
            url = f"{path}{'&' if '?' in path else '?'}{query}" if query else path
            r = portal.client.get(url, headers={"Accept-Language": asked.get("header", "")},
                                  follow_redirects=False)
            out.append((url, r.status_code, r.content))
    return out


def test_every_portal_page_has_the_bytes_jinjas_own_environment_gives(
        lite: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    from personvern.consent.subjects import link_guardian, require_subject

    rt = lite.runtime
    child = new_subject(lite, "barn@example.no", birth_date=date(2015, 1, 1))
    with rt.transaction() as s:  # a person switcher, and a page about someone else
        link_guardian(s, rt.clock, require_subject(s, lite.kari), require_subject(s, child),
                      "test", rt.consent.jurisdiction)
    sign_in(lite.client, KARI)
    page = lite.client.get("/portal/consents")
    r = lite.client.post("/portal/export", data={"csrf_token": csrf_of(page.text)},
                         follow_redirects=False)
    assert r.status_code == 303
    paths = [*PAGES, r.headers["location"], f"/portal?for={child}",
             f"/portal/consents?for={child}"]
    lite.client.cookies.delete("pv_lang")

    fast = _pages(lite, paths)
    lite.client.cookies.delete("pv_lang")
    monkeypatch.setattr(render, "environment", render.reference_environment)
    plain = _pages(lite, paths)

    assert [(u, s) for u, s, _ in fast] == [(u, s) for u, s, _ in plain]
    statuses = {s for _, s, _ in fast}
    assert statuses == {200, 404}, statuses
    for (url, _, mine), (_, _, theirs) in zip(fast, plain, strict=True):
        assert mine == theirs, url
    english = [body for url, status, body in fast if "lang=en" in url and status == 200]
    assert english and all(b"Sign out" in body for body in english)
    assert all(b"Logg ut" in body for url, status, body in fast
               if "lang=nb" in url and status == 200)


def test_text_calls_are_folded_only_where_t_is_the_pages_own() -> None:
    env = render.environment()
    plain = render.reference_environment()
    source = ('{{ t("skip") }}|{{ x.t("skip") }}|{{ t("rate_text", seconds=3) }}|'
              '{{ t(key) }}|{{ t("skip") ~ "!" }}|{{ t("other_lang_code") | upper }}')

    def t(key: str, **values: object) -> str:
        return "T:" + render.translate("en", key, **values)

    class X:
        def t(self, key: str) -> str:
            return "X:" + key

    context = {"t": t, "x": X(), "key": "sign_out", TEXTS: texts_for("en")}
    # The folded text is translate()'s; a t() that is not the pages' own would show here.
    assert env.from_string(source).render(context) == (
        "Skip to content|X:skip|T:There have been too many attempts. Wait 3 seconds and "
        "try again.|T:Sign out|Skip to content!|NB")
    assert plain.from_string(source).render(context).startswith("T:Skip to content|X:skip")
    # A template that binds a t of its own is left alone entirely.
    bound = '{% for t in ["a"] %}{{ t }}{% endfor %}{{ t("skip") }}'
    assert env.from_string(bound).render(context) == "aT:Skip to content"
    # An unknown message is not folded: it fails as it did, in t().
    with pytest.raises(KeyError, match="no-such-message"):
        env.from_string('{{ t("no-such-message") }}').render(context)


def test_a_dicts_keys_and_attributes_read_as_in_jinja() -> None:
    env = render.environment()
    plain = render.reference_environment()
    source = ("{{ d.a }}|{{ d.items is callable }}|{{ d.get('a') }}|{{ o.real }}|"
              "{{ s.a is defined }}|{{ s.keys is callable }}")

    class Sub(dict[str, str]):
        @property
        def a(self) -> str:
            return "attribute"

    context = {"d": {"a": 1, "items": "key", "get": "key"}, "o": 3, "s": Sub(a="item")}
    assert env.from_string(source).render(context) == \
        plain.from_string(source).render(context) == "1|True|1|3|True|True"
    assert env.from_string("{{ s.a }}").render(context) == "attribute"
    for e in (env, plain):
        with pytest.raises(UndefinedError):
            e.from_string("{{ d.missing }}").render(context)


def test_the_sign_in_pages_have_the_same_bytes(lite: Portal,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    paths = ["/portal/sign-in", "/portal/sign-in/link?token=nonsense", "/portal"]
    fast = _pages(lite, paths)
    lite.client.cookies.delete("pv_lang")
    monkeypatch.setattr(render, "environment", render.reference_environment)
    plain = _pages(lite, paths)
    assert fast == plain
    assert any(re.search(rb"<form[^>]+sign-in", body) for _, _, body in fast)
