"""Who is responsible and how it is documented: GDPR Art. 12-13, 24, 30, 37."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest
from personvern.manifest.types import Text


@rule("PV020", "controller-without-contact", Severity.ERROR,
      "The controller cannot be contacted", "GDPR Art. 13(1)(a)")
def controller_without_contact(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The notice must give the controller's identity and contact details."""
    c = m.controller
    if not (c.email or c.phone or c.address):
        yield ("controller",), f"{c.name} gives no e-mail, phone or postal address"


@rule("PV021", "no-privacy-contact", Severity.WARNING,
      "No data protection officer or privacy contact", "GDPR Art. 37(1), Art. 12(2)")
def no_privacy_contact(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A data protection officer is mandatory only in the cases of Art. 37(1); Art.
    13(1)(b) asks for the DPO's contact only where one is appointed (PV051). No
    article requires a privacy contact otherwise, but naming who answers privacy
    questions is how a controller facilitates the exercise of rights (Art. 12(2))."""
    c = m.controller
    if c.dpo is None and c.privacy_contact is None:
        yield ("controller",), "neither a data protection officer nor a privacy contact is named"


def _texts(m: Manifest) -> Iterator[tuple[tuple[str | int, ...], Text]]:
    for i, p in enumerate(m.purposes):
        yield ("purposes", i, "name"), p.name
        if p.description is not None:
            yield ("purposes", i, "description"), p.description
    for i, s in enumerate(m.subjects):
        yield ("subjects", i, "name"), s.name
    for i, r in enumerate(m.retention):
        if r.description is not None:
            yield ("retention", i, "description"), r.description
    for i, rec in enumerate(m.recipients):
        yield ("recipients", i, "service"), rec.service
    for i, c in enumerate(m.cookies):
        yield ("cookies", i, "purpose"), c.purpose


@rule("PV031", "missing-translation", Severity.WARNING,
      "Text missing in one of the policy's languages", "GDPR Art. 12(1)")
def missing_translation(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Information must be intelligible to the people it is for; a policy
    published in bokmål and English needs every text in both."""
    langs = list(m.languages)
    for loc, text in _texts(m):
        missing = [lang for lang in langs if lang not in text.root]
        if len(langs) > 1 and text.neutral:
            yield loc, f"written once for all languages; write it in {' and '.join(langs)}"
        elif missing and not text.neutral:
            yield loc, f"no text in {', '.join(missing)}"


@rule("PV033", "no-change-notice", Severity.INFO,
      "How policy changes are announced is not stated", "GDPR Art. 12(1), Art. 5(1)(a)")
def no_change_notice(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """No article sets a notice period for changes to a policy; fair and transparent
    processing (Art. 5(1)(a), 12(1)) means people learn of a change before it
    applies. (Art. 13(3) is another matter: information before data is processed
    for a new purpose.) State a notice period."""
    if m.policy_changes.notice_days is None:
        yield ("policy_changes",), "no notice period for policy changes is given"


@rule("PV036", "no-security-description", Severity.INFO,
      "No general description of security measures", "GDPR Art. 30(1)(g), Art. 32")
def no_security(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The record of processing includes, where possible, a general description
    of the technical and organisational security measures."""
    if m.security is None:
        yield ("personvern",), "no description of security measures (security)"


@rule("PV037", "unused-category", Severity.INFO,
      "A declared data category no purpose uses", "GDPR Art. 5(1)(c)")
def unused_category(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Data minimisation: a category collected for no purpose should not be
    collected at all, or the purpose is missing from the manifest."""
    used = {k for p in m.purposes for k in p.categories}
    for i, c in enumerate(m.categories):
        if c.id not in used:
            yield ("categories", i, "id"), f"category {c.id!r} is declared but no purpose uses it"


@rule("PV041", "dataset-unreachable", Severity.WARNING,
      "A dataset requests cannot reach", "GDPR Art. 12(2), Art. 15-17")
def dataset_unreachable(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Access and erasure must cover every place the service keeps personal data.
    A database without a connection, or without a column that identifies the
    person, is a place no request can reach."""
    for i, ds in enumerate(m.datasets):
        if ds.kind != "sql":
            continue
        if not (ds.url or ds.url_env):
            yield ("datasets", i, "id"), (
                f"dataset {ds.id!r} has no url or url_env, so requests cannot read or erase it"
            )
        elif not any(c.identity for t in ds.tables for c in t.columns):
            yield ("datasets", i, "tables"), (
                f"dataset {ds.id!r} maps no column that identifies a person (identity), so no "
                "one's rows can be found"
            )
