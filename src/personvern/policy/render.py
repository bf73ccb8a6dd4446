"""The privacy policy, written from the manifest in bokmål and English, as HTML and Markdown.

Writing happens in two steps. The wording (:mod:`personvern.policy.wording`) turns the
manifest into a small document model (:mod:`personvern.policy.document`: sections of
paragraphs, lists, fact lists and tables, made of text runs) in one language. Every
sentence comes from that language's phrase catalogue (``templates/nb.yaml``,
``templates/en.yaml``), and each is chosen by what the manifest says, so none is false for
it: "we transfer nothing outside the EEA" appears only when every recipient's country is
in the EEA, and the rights listed are those the legal bases give
(:func:`personvern.rights.basis.rights_given`). Then one Jinja2 template per format
writes the model (:mod:`personvern.policy.formats`): HTML autoescaped, Markdown escaped by
its own filter. Both formats therefore carry the same content.

A manifest missing an element Art. 13/14 requires is refused (``InvalidInput`` listing
what is missing); ``draft=True`` writes it anyway, marked as a draft in its title, in a
notice at the top and on every printed page, with each gap shown where the text would
be. Drafts are for authors; :func:`personvern.policy.versions.publish` never publishes
one. A manifest with ``personvern check`` errors is refused one layer up
(:mod:`personvern.check.gate`), since the checks sit above the policy.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from personvern.errors import InvalidInput
from personvern.law import get_jurisdiction
from personvern.manifest.model import Manifest
from personvern.policy.completeness import describe_missing, missing_elements
from personvern.policy.document import Document
from personvern.policy.formats import FORMATS, write
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import LANGS
from personvern.policy.wording.writer import policy_document


def check_choice(lang: str, fmt: str) -> None:
    """InvalidInput for a language or format the policy is not written in."""
    if lang not in LANGS:
        raise InvalidInput(f"unknown language {lang!r}; the policy is written in nb or en")
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; choose html or md")


def build_document(manifest: Manifest, lang: str, *, draft: bool = False,
                   version: int | None = None,
                   effective: date | datetime | None = None) -> Document:
    """The policy as a document model; InvalidInput when an element is missing (unless draft)."""
    check_choice(lang, "html")
    missing = missing_elements(manifest)
    if missing and not draft:
        raise InvalidInput(describe_missing(missing))
    # A moment takes effect on its date where the controller is, not in UTC.
    if isinstance(effective, datetime):
        zone = ZoneInfo(get_jurisdiction(manifest.jurisdiction.country).timezone)
        effective = effective.astimezone(zone).date()
    if effective is None:
        effective = manifest.policy_changes.effective_from
    return policy_document(Context(manifest, lang, missing, version, effective, draft=draft))


def render_policy(manifest: Manifest, lang: str, fmt: str, *, draft: bool = False,
                  version: int | None = None,
                  effective: date | datetime | None = None) -> str:
    """The privacy policy for ``manifest`` in ``lang`` ("nb" or "en") as ``fmt`` ("html",
    "md"). Raises InvalidInput listing the missing Art. 13/14 elements, and writes nothing,
    when the manifest lacks any; ``draft=True`` writes it marked as a draft instead."""
    check_choice(lang, fmt)
    doc = build_document(manifest, lang, draft=draft, version=version, effective=effective)
    return write(doc, fmt)


def render_documents(manifest: Manifest, *, version: int | None = None,
                     effective: date | datetime | None = None) -> dict[str, dict[str, str]]:
    """Every language and format: ``{"nb": {"html": ..., "md": ...}, "en": {...}}``."""
    out: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        # One document per language, written in both formats.
        doc = build_document(manifest, lang, version=version, effective=effective)
        out[lang] = {fmt: write(doc, fmt) for fmt in FORMATS}
    return out
