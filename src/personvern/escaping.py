"""User text into the documents we write, escaped for each format.

Every feature that exports a document (the policy, the record of processing, the
breach report) lays out text that came from a manifest or from a person, so each
format's escaping lives here once, below every feature layer. The module imports
nothing from personvern.
"""

from __future__ import annotations

import re

# ---- Markdown -----------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_MD_UNDERSCORE = re.compile(r"(?<![\w])_|_(?![\w])")
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])(\s)")


def md_escape(text: str) -> str:
    """Escape what Markdown would read as markup; intra-word underscores stay as they are."""
    # One line: a newline would end a table row or list item and start a block of the
    # text's own choosing (a heading, a table row, a quote).
    text = _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return _MD_LINE_START.sub(r"\1\\\2\3", text)


# ---- CSV ----------------------------------------------------------------------------

# A spreadsheet reads a cell starting with one of these as a formula (tab and carriage
# return: it may strip them and then read one): OWASP's list for CSV injection.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """``value`` for a CSV cell, with a leading apostrophe when a spreadsheet would run it."""
    # The price is a stray apostrophe before text such as "+47 22 ..."; in return a
    # spreadsheet shows =HYPERLINK(...) from a manifest or a person instead of running it.
    return f"'{value}" if value.startswith(_FORMULA_START) else value
