"""fideslang data categories as Personvern's, and back: exact, renamed, generalised or none.

Personvern's taxonomy (:mod:`personvern.manifest.categories`) follows fideslang's names,
so most keys are the same. Where fideslang names a category differently, the table below
says which Personvern key holds the same data; a fideslang key below one of ours (or below
a renamed one) becomes its nearest ancestor, which covers it. A category Personvern has no
key for becomes ``user`` (personal data, kind not said) with a warning: kept, so access and
erasure still reach the column, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from personvern.manifest.categories import BUILTIN_CATEGORIES

# fideslang key -> the Personvern key that holds the same data. The Art. 9(1) ones
# (biometric, health, genetic) must land on Personvern's special categories: the checks
# that ask for an Art. 9(2) condition see them only then.
RENAMED: dict[str, str] = {
    "user.authorization": "user.authorization.credentials",
    "user.authorization.password": "user.authorization.credentials",
    # Biometric credentials identify a person by their body: Art. 9(1) "biometric data".
    "user.authorization.biometric": "user.biometrics",
    "user.biometric": "user.biometrics",
    "user.childrens": "user.children",
    "user.demographic": "user.demographic.profile",
    "user.demographic.marital_status": "user.demographic.profile",
    "user.device.cookie": "user.device.cookie_id",
    "user.health_and_medical": "user.health",
    "user.health_and_medical.genetic": "user.health.genetic",
    "user.job_title": "user.professional_information.job_title",
    "user.workplace": "user.professional_information.workplace",
    "user.social": "user.social_activity",
    "user.telemetry": "user.behavior",
    "user.sensor": "user.device",
    "user.user_sensor": "user.device",
    # fideslang 1.x's name, still in Fides's own sample datasets.
    "user.financial.account_number": "user.financial.bank_account",
}

# fideslang categories Personvern has no key for. Passports and other state documents are
# not fødselsnummer: mapping them there would make drift look for fødselsnummer in them.
NO_EQUIVALENT: frozenset[str] = frozenset({
    "user.government_id",
    "user.government_id.birth_certificate",
    "user.government_id.immigration",
    "user.government_id.passport_number",
    "user.government_id.vehicle_registration",
})

# Personvern key -> fideslang key, only where the two are one-to-one (so that importing
# an export gives the manifest's own key back). Other Personvern keys fideslang lacks are
# written as they are: a Fides user defines them in their taxonomy.
TO_FIDES: dict[str, str] = {
    "user.biometrics": "user.biometric",
    "user.children": "user.childrens",
    "user.health": "user.health_and_medical",
    "user.health.genetic": "user.health_and_medical.genetic",
    "user.professional_information.job_title": "user.job_title",
    "user.professional_information.workplace": "user.workplace",
    "user.social_activity": "user.social",
}

# Keys Personvern has that fideslang's default taxonomy (3.x) does not, and TO_FIDES does
# not translate: an export writes them as they are, and says so.
NOT_IN_FIDESLANG: frozenset[str] = frozenset({
    "user.settings",
    "user.professional_information",
    "user.professional_information.education",
    "user.professional_information.skills",
    "user.demographic.philosophical_belief",
    "user.demographic.union_membership",
})

# fideslang's own keys below a key Personvern has: each becomes that nearest ancestor.
# A key below one of ours that is not listed here is not fideslang's (a typo, or the
# service's own extension): it is generalised the same way, but with a warning.
GENERALISED: frozenset[str] = frozenset({
    "user.behavior.search_history",
    "user.biometric.fingerprint", "user.biometric.health", "user.biometric.retinal",
    "user.biometric.voice",
    "user.contact.address.country", "user.contact.address.state",
    "user.contact.address.street",
    "user.contact.fax_number", "user.contact.organization", "user.contact.url",
    "user.content.public",
    "user.health_and_medical.insurance_beneficiary_id", "user.health_and_medical.record_id",
    "user.location.imprecise", "user.location.precise",
    "user.name.first", "user.name.last",
    "user.unique_id.pseudonymous",
})

UNMAPPED = "user"

How = Literal["same", "renamed", "generalised", "not_personal", "no_equivalent", "unknown"]


@dataclass(frozen=True)
class Mapped:
    """What one fideslang key became: the Personvern key (None: not personal data) and how."""

    fides: str
    key: str | None
    how: How


def from_fides(key: str, custom: frozenset[str] = frozenset()) -> Mapped:
    """The Personvern category for fideslang ``key``; ``custom``: keys the manifest declares.

    An ``unknown`` key still gets a category (its nearest known ancestor, else ``user``):
    the column stays personal data, and the caller warns."""
    if key == "system" or key.startswith("system."):
        return Mapped(key, None, "not_personal")
    if key in BUILTIN_CATEGORIES or key in custom:
        return Mapped(key, key, "same")
    if key in RENAMED:
        return Mapped(key, RENAMED[key], "renamed")
    if key in NO_EQUIVALENT:
        return Mapped(key, UNMAPPED, "no_equivalent")
    parts = key.split(".")
    # The nearest ancestor below the root: "user" alone says nothing of the kind.
    for end in range(len(parts) - 1, 1, -1):
        parent = ".".join(parts[:end])
        if parent in NO_EQUIVALENT:
            return Mapped(key, UNMAPPED, "no_equivalent")
        found = RENAMED.get(parent) or (parent if parent in BUILTIN_CATEGORIES else None)
        if found is not None:
            return Mapped(key, found, "generalised" if key in GENERALISED else "unknown")
    return Mapped(key, UNMAPPED, "unknown")


def to_fides(key: str) -> str:
    """The fideslang key for Personvern ``key`` (itself where the names are the same)."""
    return TO_FIDES.get(key, key)
