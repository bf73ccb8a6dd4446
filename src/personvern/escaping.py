"""User text into the documents we write, escaped for each format: HTML, Markdown, CSV.

Every feature that exports a document (the policy, the record of processing, the
breach report) lays out text that came from a manifest or from a person, so each
format's escaping lives here once, below every feature layer. HTML comes from
Jinja2 templates with autoescaping on, next to the feature that owns them. The module
imports nothing from personvern, and Jinja2 only when a template is first needed.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

# ---- HTML ---------------------------------------------------------------------------


@functools.cache
def html_templates(directory: Path) -> jinja2.Environment:
    """The autoescaping Jinja2 environment for the templates in ``directory``, built once."""
    # Imported here, not at the top: `personvern ropa` and `personvern breach` start faster
    # when only an HTML export pays for Jinja2.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        # Every template here writes HTML, so escape everything, whatever the file is called.
        autoescape=True,
        finalize=_as_html_escape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship with the package: no stat() of the file per render.
        auto_reload=False,
    )


def _as_html_escape(value: object) -> object:
    """``value`` escaped as ``html.escape`` does; markup (a macro's output) as it is."""
    # Autoescaping would write ' and " as &#39; and &#34;; html.escape, which these pages
    # were written with before, as &#x27; and &quot;. The same characters are escaped
    # either way, and this way the pages stay byte for byte what they were.
    if hasattr(value, "__html__"):
        return value
    from markupsafe import Markup

    return Markup(html.escape(str(value)))


# ---- Markdown -----------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_MD_UNDERSCORE = re.compile(r"(?<![\w])_|_(?![\w])")
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=])(\s)")
# "7. mai" at the start of a line would open an ordered list. CommonMark escapes only
# ASCII punctuation, so the backslash goes before the "." or ")", never before the digit:
# "\7." would be printed with its backslash.
_MD_ORDERED_START = re.compile(r"^(\s*\d+)([.)])(\s)")


def md_escape(text: str) -> str:
    """Escape what Markdown would read as markup; intra-word underscores stay as they are."""
    # One line: a newline would end a table row or list item and start a block of the
    # text's own choosing (a heading, a table row, a quote).
    text = _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = _MD_LINE_START.sub(r"\1\\\2\3", text)
    return _MD_ORDERED_START.sub(r"\1\\\2\3", text)


# ---- CSV ----------------------------------------------------------------------------

# A spreadsheet reads a cell starting with one of these as a formula (tab and carriage
# return: it may strip them and then read one): OWASP's list for CSV injection.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """``value`` for a CSV cell, with a leading apostrophe when a spreadsheet would run it."""
    # The price is a stray apostrophe before text such as "+47 22 ..."; in return a
    # spreadsheet shows =HYPERLINK(...) from a manifest or a person instead of running it.
    return f"'{value}" if value.startswith(_FORMULA_START) else value
