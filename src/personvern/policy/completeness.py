"""Completeness: the elements GDPR Art. 13 and 14 require of a privacy notice.

The policy is written from the manifest, so an element the manifest does not give
cannot be written, and the policy is not written at all (``render_policy`` raises
``InvalidInput`` listing what is missing). ``personvern check`` reports the same
gaps: where an existing rule already detects exactly the gap (a purpose without a
legal basis is PV001) the element carries that rule's id, so nothing is reported
twice; the gaps no other rule sees have rules of their own in
:mod:`personvern.check.rules.notice`, from PV050.

What is *not* an element here, on purpose: facts the policy can state truthfully
either way. A legal obligation without its statute is the Art. 6(1)(c) basis alone
(PV005), a cookie without a lifetime "not stated" (PV032); the rights come from the
legal bases, and complaints go to the jurisdiction's authority, so neither can be
missing. A recipient's country is an element (PV008): "not stated" does not answer
whether data leaves the EEA, which Art. 13(1)(f) asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from personvern.law import Jurisdiction, get_jurisdiction, has_adequacy_decision, is_eea
from personvern.manifest.loader import format_path
from personvern.manifest.model import Manifest
from personvern.manifest.references import is_special, special_keys

Loc = tuple[str | int, ...]
Detector = Callable[[Manifest, Jurisdiction], Iterator[tuple[Loc, str]]]


@dataclass(frozen=True)
class Element:
    """One kind of notice element: its id, the rule reporting it, and its legal source."""

    id: str
    rule: str
    article: str
    nb: str
    en: str


@dataclass(frozen=True)
class Missing:
    """An element the notice must contain that the manifest does not give."""

    element: str
    article: str
    path: str
    message: str
    rule: str
    loc: Loc = ()

    def __str__(self) -> str:
        return f"{self.path}: {self.message} ({self.article}, {self.rule})"


ELEMENTS: dict[str, Element] = {e.id: e for e in (
    Element("controller_contact", "PV020", "GDPR Art. 13(1)(a)",
            "kontaktopplysninger for den behandlingsansvarlige",
            "the controller's contact details"),
    Element("dpo_contact", "PV051", "GDPR Art. 13(1)(b)",
            "kontaktopplysninger for personvernombudet", "the data protection officer's contact"),
    Element("purposes", "PV050", "GDPR Art. 13(1)(c)", "formål", "purposes"),
    Element("legal_basis", "PV001", "GDPR Art. 13(1)(c)", "behandlingsgrunnlag", "legal basis"),
    Element("legitimate_interest", "PV003", "GDPR Art. 13(1)(d)",
            "den berettigede interessen", "the legitimate interest"),
    Element("categories", "PV026", "GDPR Art. 14(1)(d)",
            "kategorier av personopplysninger", "categories of personal data"),
    Element("special_condition", "PV012", "GDPR Art. 9(2), Art. 13(1)(c)",
            "unntak for særlige kategorier", "the Art. 9(2) condition"),
    Element("recipients", "PV053", "GDPR Art. 13(1)(e)", "mottakere", "recipients"),
    Element("recipient_country", "PV008", "GDPR Art. 13(1)(f)",
            "landet der mottakeren behandler opplysningene",
            "the country where the recipient processes the data"),
    Element("transfer_safeguard", "PV006", "GDPR Art. 13(1)(f)",
            "grunnlag for overføring ut av EØS", "safeguard for transfers outside the EEA"),
    Element("retention", "PV009", "GDPR Art. 13(2)(a)", "lagringstid", "storage period"),
    Element("automated_logic", "PV052", "GDPR Art. 13(2)(f)",
            "logikken bak automatiserte avgjørelser", "the logic of automated decisions"),
)}


def _controller_contact(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    c = m.controller
    if not (c.email or c.phone or c.address):
        yield ("controller",), f"{c.name} gives no e-mail, phone or postal address"


def _dpo_contact(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    dpo = m.controller.dpo
    if dpo is not None and not (dpo.email or dpo.phone or dpo.address or dpo.url):
        yield ("controller", "dpo"), (
            "a data protection officer is named, but not how to reach them"
        )


def _purposes(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    if not m.purposes:
        yield ("personvern",), "no purposes are declared, so the policy has nothing to explain"


def _legal_basis(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, p in enumerate(m.purposes):
        if p.legal_basis is None:
            yield ("purposes", i, "id"), f"purpose {p.id!r} has no legal basis"


def _legitimate_interest(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "legitimate_interests" and p.legitimate_interest is None:
            yield ("purposes", i, "legal_basis"), (
                f"purpose {p.id!r} rests on legitimate interest but does not say which interest"
            )


def _categories(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, p in enumerate(m.purposes):
        if not p.categories:
            yield ("purposes", i, "id"), f"purpose {p.id!r} lists no data categories"


def _special_condition(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    special = special_keys(m)
    for i, p in enumerate(m.purposes):
        hits = [k for k in p.categories if is_special(k, special)]
        if hits and p.special_categories is None:
            yield ("purposes", i, "categories"), (
                f"purpose {p.id!r} processes special-category data ({', '.join(hits)}) "
                "without an Art. 9(2) condition"
            )


def _recipients(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, p in enumerate(m.purposes):
        if p.third_party_sharing and not p.recipients:
            yield ("purposes", i, "third_party_sharing"), (
                f"purpose {p.id!r} shares data with others but names no recipient"
            )


def _recipient_country(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, r in enumerate(m.recipients):
        if r.country is None:
            yield ("recipients", i, "name"), (
                f"{r.name}: the country where the data is processed is not stated"
            )


def transfer_safeguard_missing(country: str | None, mechanism: str | None) -> bool:
    """Whether a transfer to ``country`` lacks a safeguard the notice could name (as PV006)."""
    if country is None or is_eea(country):
        return False
    if mechanism in {"scc", "bcr", "consent_derogation", "contract_derogation"}:
        return False
    return not (
        mechanism in {"adequacy", "dpf"}
        and has_adequacy_decision(country, certified=mechanism == "dpf")
    )


def _transfer_safeguard(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, r in enumerate(m.recipients):
        mechanism = r.transfer.mechanism if r.transfer else None
        if transfer_safeguard_missing(r.country, mechanism):
            yield ("recipients", i, "country"), (
                f"{r.name} processes data in {r.country} with no adequacy decision or "
                "safeguard the policy could name"
            )


def _retention(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, p in enumerate(m.purposes):
        if not p.retention:
            yield ("purposes", i, "id"), (
                f"purpose {p.id!r} says nothing about how long data is kept"
            )


def _automated_logic(m: Manifest, j: Jurisdiction) -> Iterator[tuple[Loc, str]]:
    for i, p in enumerate(m.purposes):
        ad = p.automated_decisions
        if ad is not None and ad.legal_or_similar_effect and ad.logic is None:
            yield ("purposes", i, "automated_decisions"), (
                f"purpose {p.id!r} makes automated decisions with significant effect but does "
                "not explain the logic involved"
            )


DETECTORS: dict[str, Detector] = {
    "controller_contact": _controller_contact,
    "dpo_contact": _dpo_contact,
    "purposes": _purposes,
    "legal_basis": _legal_basis,
    "legitimate_interest": _legitimate_interest,
    "categories": _categories,
    "special_condition": _special_condition,
    "recipients": _recipients,
    "recipient_country": _recipient_country,
    "transfer_safeguard": _transfer_safeguard,
    "retention": _retention,
    "automated_logic": _automated_logic,
}


def detect(element: str, m: Manifest, j: Jurisdiction | None = None) -> list[Missing]:
    """The gaps of one element kind in ``m``."""
    e = ELEMENTS[element]
    j = j or get_jurisdiction(m.jurisdiction.country)
    return [
        Missing(e.id, e.article, format_path(loc), message, e.rule, loc)
        for loc, message in DETECTORS[element](m, j)
    ]


def missing_elements(manifest: Manifest) -> list[Missing]:
    """Every Art. 13/14 element the policy must state but the manifest does not give."""
    j = get_jurisdiction(manifest.jurisdiction.country)
    return [miss for element in ELEMENTS for miss in detect(element, manifest, j)]


def describe_missing(missing: list[Missing]) -> str:
    """The refusal message: what is missing, where, and which article asks for it."""
    count = len(missing)
    head = (
        f"the privacy policy cannot be written: {count} mandatory "
        f"element{'s are' if count != 1 else ' is'} missing from the manifest"
    )
    return "\n".join([head, *(f"  - {m}" for m in missing)])
