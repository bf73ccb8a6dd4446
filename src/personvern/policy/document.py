"""The policy as a small document model, independent of language and format.

A :class:`Document` is sections of blocks (paragraphs, bullet lists, label-value facts,
tables and titled subsections) made of text runs. The wording
(:mod:`personvern.policy.wording`) builds it in one language; a format template
(:mod:`personvern.policy.formats`) writes it as HTML or Markdown. Because both formats
write the same model, they carry the same content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

# Only these targets become links; anything else from the manifest stays plain text, so a
# manifest cannot smuggle a javascript: or data: address into the published policy.
_SAFE_HREF = re.compile(r"^(https?://|mailto:|tel:|#)", re.IGNORECASE)


@dataclass(frozen=True)
class Run:
    """A piece of text: plain, a link, bold, or a gap marker in a draft."""

    text: str
    href: str | None = None
    strong: bool = False
    missing: bool = False


Inline = tuple[Run, ...]
Value = str | Run | Sequence[Run]


@dataclass
class Paragraph:
    """A paragraph of runs."""

    runs: Inline
    kind: ClassVar[str] = "p"


@dataclass
class Bullets:
    """An unordered list."""

    items: list[Inline]
    kind: ClassVar[str] = "ul"


@dataclass
class Facts:
    """Label-value pairs (a definition list in HTML)."""

    items: list[tuple[str, Inline]]
    kind: ClassVar[str] = "dl"


@dataclass
class Table:
    """A table with a caption, column headers, and rows whose first cell heads the row."""

    caption: str
    headers: list[str]
    rows: list[list[Inline]]
    kind: ClassVar[str] = "table"


@dataclass
class Subsection:
    """A titled part of a section (one purpose, one right)."""

    id: str
    heading: str
    blocks: list[Block]
    kind: ClassVar[str] = "sub"


Block = Paragraph | Bullets | Facts | Table | Subsection


@dataclass
class Section:
    """A top-level section with its anchor id."""

    id: str
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """The whole policy in one language, ready for a format template."""

    lang: str
    title: str
    meta: list[str]
    lead: list[Inline]
    sections: list[Section]
    draft_mark: str | None = None
    draft_title: str | None = None
    draft_lead: str | None = None
    draft_items: list[str] = field(default_factory=list)


def as_runs(value: Value) -> Inline:
    """``value`` as runs: a string is one plain run (none when empty), runs stay as they are."""
    if isinstance(value, str):
        return (Run(value),) if value else ()
    if isinstance(value, Run):
        return (value,)
    return tuple(value)


def link(text: str, href: str | None) -> Run:
    """A link run; an address that is not http(s), mailto, tel or an anchor stays text."""
    if href is not None and _SAFE_HREF.match(href):
        return Run(text, href)
    return Run(text)


def url_run(value: str) -> Run:
    """A web address as a link; bare domains get https://."""
    href = value if "://" in value else f"https://{value}"
    return link(value, href if " " not in value else None)


def tel_href(number: str) -> str:
    """A ``tel:`` target for a phone number as people write it (spaces and dashes dropped)."""
    return "tel:" + re.sub(r"[^\d+]", "", number)
