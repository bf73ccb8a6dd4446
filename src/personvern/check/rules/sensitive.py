"""Special categories and children: GDPR Art. 8, 9 and personopplysningsloven § 5."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest
from personvern.manifest.references import is_special, special_keys
from personvern.rights.acting import consent_age


@rule("PV012", "special-category-without-condition", Severity.ERROR,
      "Special-category data without an Art. 9 condition", "GDPR Art. 9(1)-(2)")
def special_without_condition(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Health, religion, ethnicity, biometrics and the other Art. 9 categories are
    forbidden unless one of the conditions in Art. 9(2) applies, in addition to
    an Art. 6 basis."""
    special = special_keys(m)
    for i, p in enumerate(m.purposes):
        hits = [k for k in p.categories if is_special(k, special)]
        if hits and p.special_categories is None:
            yield ("purposes", i, "categories"), (
                f"purpose {p.id!r} processes special-category data ({', '.join(hits)}) "
                "without an Art. 9(2) condition"
            )


@rule("PV035", "special-category-consent-not-explicit", Severity.ERROR,
      "Consent for special categories is not explicit", "GDPR Art. 9(2)(a)")
def special_consent_not_explicit(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """When consent lifts the Art. 9 ban it must be explicit: a separate,
    express statement, not a ticked box among others."""
    for i, p in enumerate(m.purposes):
        cond = p.special_categories
        if cond and cond.condition == "explicit_consent" and not (p.consent and p.consent.explicit):
            yield ("purposes", i, "special_categories"), (
                f"purpose {p.id!r} relies on explicit consent for special categories, but "
                "its consent is not marked explicit"
            )


@rule("PV013", "children-without-guardian-consent", Severity.ERROR,
      "Children below the age limit consent without a guardian",
      "GDPR Art. 8(1)-(2), personopplysningsloven § 5")
def children_without_guardian(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Below the jurisdiction's age (13 in Norway) a child cannot consent to an
    information-society service; a parent or guardian must, and the controller
    must make reasonable efforts to verify it."""
    children = m.children.present or any(s.includes_children for s in m.subjects)
    if not children or m.children.guardian_consent:
        return
    age = consent_age(m, j)
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "consent":
            yield ("purposes", i, "legal_basis"), (
                f"children use the service, but purpose {p.id!r} asks for consent and the "
                f"manifest has no guardian-consent path for those under {age} "
                f"({j.child_consent_source.citation})"
            )


@rule("PV038", "guardian-consent-unverified", Severity.WARNING,
      "Guardian consent without a way to verify it", "GDPR Art. 8(2)")
def guardian_unverified(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The controller must make reasonable efforts to verify that consent below
    the age limit is given by the holder of parental responsibility. Describe
    how (e.g. the guardian signs in with their own verified account)."""
    if m.children.guardian_consent and m.children.verification is None:
        yield ("children", "guardian_consent"), (
            "guardians consent for children, but how that is verified is not described"
        )
