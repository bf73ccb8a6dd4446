"""The pages' Jinja2 environment, with two speed-ups that leave every page's bytes as they were.

- ``{{ t("key") }}`` with a literal key and no values is read from a per-language dict
  (``_pv_texts["key"]``): a dict lookup instead of ``Context.call`` → ``t`` → ``translate``,
  two to three dozen times a page. The text is the same string ``translate`` returns.
- ``a.b`` on a plain dict reads the key first: Jinja tries the attribute first and raises
  (and catches) an AttributeError for every key a template reads from a dict.

``tests/web/test_page_bytes.py`` renders every portal page through this environment and
through Jinja's own (neither speed-up) and compares the bytes, in both languages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

from personvern.web.i18n import MESSAGES, translate

# The context name the folded texts are read from (page() passes it with ``t``).
TEXTS = "_pv_texts"
# What a plain dict has as attributes: ``d.items`` stays the method, as in Jinja.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class Texts(dict[str, str]):
    """One language's texts, filled in on first use (a message added later is found too)."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def __missing__(self, key: str) -> str:
        """The text as ``t(key)`` gives it, kept for the next page."""
        text = translate(self.lang, key)
        self[key] = text
        return text


@cache
def texts_for(lang: str) -> Texts:
    """The folded texts of ``lang`` (one dict per language, shared by every page)."""
    return Texts(lang)


class FoldTexts(Extension):
    """Rewrite ``t("key")`` (a literal key that exists, no values) to ``_pv_texts["key"]``."""

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        """The template's tokens, with its text calls folded where that is certainly safe."""
        tokens = list(stream)
        return _folded(tokens) if _only_called(tokens) else iter(tokens)


def _only_called(tokens: list[Token]) -> bool:
    """Whether ``t`` is only ever called in this template: a template that binds or
    passes a ``t`` of its own (``{% for t in tables %}``) is left as it is."""
    for i, token in enumerate(tokens):
        if token.type == "name" and token.value == "t":
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if after is None or after.type != "lparen":
                return False
    return True


def _folded(tokens: list[Token]) -> Iterator[Token]:
    """``name:t ( string ) `` → ``name:_pv_texts [ string ]``, not after ``.``, ``|`` or ``is``."""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        window = tokens[i:i + 4]
        before = tokens[i - 1] if i else None
        if (token.type == "name" and token.value == "t" and len(window) == 4
                and [w.type for w in window[1:]] == ["lparen", "string", "rparen"]
                and window[2].value in MESSAGES
                and not (before is not None and (before.type in ("dot", "pipe")
                                                 or (before.type == "name"
                                                     and before.value == "is")))):
            line = token.lineno
            yield Token(line, "name", TEXTS)
            yield Token(line, "lbracket", "[")
            yield window[2]
            yield Token(window[3].lineno, "rbracket", "]")
            i += 4
            continue
        yield token
        i += 1


class PageEnvironment(Environment):
    """Jinja's environment, reading a plain dict's keys without raising AttributeError first."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` as Jinja gives it (the attribute, else the item)."""
        # Exactly dict (no subclass can add attributes), and a name dict does not have:
        # Jinja's getattr() would raise AttributeError and then read obj[attribute].
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)
