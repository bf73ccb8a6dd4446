"""Writing a :class:`~personvern.policy.document.Document` as HTML or Markdown.

One Jinja2 template per format (``templates/policy.html.j2``, ``templates/policy.md.j2``)
walks the same document model. HTML is autoescaped; Markdown is not, so every text passes
the ``md`` filter instead. The notices of a policy change use the same environments.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal, cast

from personvern.policy.document import Document

Fmt = Literal["html", "md"]
FORMATS: tuple[Fmt, ...] = ("html", "md")
TEMPLATES = Path(__file__).parent / "templates"

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
# An underscore inside a word (user_id) is not emphasis in CommonMark; escaping it would
# only clutter the source, so only underscores at a word's edge are escaped.
_MD_UNDERSCORE = re.compile(r"(?<![\w])_|_(?![\w])")
# A run can start a line (a table cell, a list item), where these would open a heading,
# a list or a numbered list.
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])(\s)")


def md_escape(text: str) -> str:
    """Escape what Markdown would read as markup; intra-word underscores stay as they are."""
    text = _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return _MD_LINE_START.sub(r"\1\\\2\3", text)


def md_href(href: str) -> str:
    """A link target, in angle brackets when it holds spaces or parentheses."""
    return f"<{href}>" if any(ch in href for ch in " ()<>") else href


@functools.cache
def environment(fmt: str) -> Any:
    """The Jinja2 environment for ``fmt``: HTML is autoescaped, Markdown uses ``md``."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=fmt == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["md_href"] = md_href
    return env


def write(doc: Document, fmt: str) -> str:
    """``doc`` written as ``fmt`` ("html" or "md")."""
    return cast(str, environment(fmt).get_template(f"policy.{fmt}.j2").render(doc=doc))
