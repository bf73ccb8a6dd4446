"""Writing a :class:`~personvern.policy.document.Document` as HTML or Markdown.

One Jinja2 template per format (``templates/policy.html.j2``, ``templates/policy.md.j2``)
walks the same document model. HTML is autoescaped; Markdown is not, so every text passes
the ``md`` filter instead. The notices of a policy change use the same environments.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal, cast

from personvern.escaping import md_escape
from personvern.policy.document import Document

Fmt = Literal["html", "md"]
FORMATS: tuple[Fmt, ...] = ("html", "md")
TEMPLATES = Path(__file__).parent / "templates"

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
