"""Which rights a purpose's legal basis gives, and what an objection to it does.

GDPR Art. 15 (access), 16 (rectification) and 18 (restriction) hold whatever the basis.
Art. 17 (erasure) does not reach processing a legal obligation requires (Art. 17(3)(b)).
Art. 20 (portability) follows only from consent or contract (Art. 20(1)(a)). Art. 21
(objection) covers public task and legitimate interests (Art. 21(1), weighed against
compelling grounds; so does a purpose whose basis the manifest does not state, since it
may be either) and direct marketing on any basis (Art. 21(2), and then processing
stops: Art. 21(3)). Consent may be withdrawn (Art. 7(3)); a decision based solely on
automated processing with legal or similarly significant effect gives human review
(Art. 22(3)).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from personvern.errors import InvalidInput, UnknownPurpose
from personvern.manifest.model import Manifest, Purpose

# In the order the policy, the portal and the access report list them.
RIGHTS: tuple[str, ...] = (
    "access", "rectification", "erasure", "restriction", "objection", "portability",
    "withdraw_consent", "human_review",
)
ARTICLES: dict[str, str] = {
    "access": "GDPR Art. 15", "rectification": "GDPR Art. 16", "erasure": "GDPR Art. 17",
    "restriction": "GDPR Art. 18", "objection": "GDPR Art. 21",
    "portability": "GDPR Art. 20", "withdraw_consent": "GDPR Art. 7(3)",
    "human_review": "GDPR Art. 22(3)",
}
_WEIGHED_BASES = frozenset({"public_task", "legitimate_interests"})


class Objection(StrEnum):
    """What an objection to a purpose does."""

    NONE = "none"  # the basis gives no right to object (Art. 21 does not apply)
    WEIGHED = "weighed"  # Art. 21(1): restricted while compelling grounds are weighed
    ABSOLUTE = "absolute"  # Art. 21(2)-(3): direct marketing stops, no weighing


def objection(purpose: Purpose) -> Objection:
    """What objecting to ``purpose`` does (direct marketing first: it is absolute)."""
    if purpose.marketing is not None:
        return Objection.ABSOLUTE
    # A basis the manifest leaves out may be Art. 6(1)(e) or (f): refusing the objection
    # would claim "no right" that no data backs, so it is taken and weighed (Art. 21(1)).
    if purpose.legal_basis is None or purpose.legal_basis in _WEIGHED_BASES:
        return Objection.WEIGHED
    return Objection.NONE


def may_object(purpose: Purpose) -> bool:
    """Whether a person may object to ``purpose`` (GDPR Art. 21(1)-(2))."""
    return objection(purpose) is not Objection.NONE


def rights_for(purpose: Purpose) -> list[str]:
    """The rights ``purpose`` gives, in :data:`RIGHTS` order."""
    basis = purpose.legal_basis
    given = {"access", "rectification", "restriction"}
    if basis != "legal_obligation":
        given.add("erasure")
    if basis in ("consent", "contract"):
        given.add("portability")
    if may_object(purpose):
        given.add("objection")
    if basis == "consent":
        given.add("withdraw_consent")
    automated = purpose.automated_decisions
    if automated is not None and automated.legal_or_similar_effect:
        given.add("human_review")
    return [r for r in RIGHTS if r in given]


def rights_given(purposes: Iterable[Purpose]) -> set[str]:
    """Every right some purpose gives; access, rectification and restriction always."""
    given = {"access", "rectification", "restriction"}
    for purpose in purposes:
        given.update(rights_for(purpose))
    return given


def objectable(purposes: Iterable[Purpose]) -> list[Purpose]:
    """The purposes, of ``purposes``, a person may object to."""
    return [p for p in purposes if may_object(p)]


def objection_targets(manifest: Manifest, purpose_id: str | None) -> list[str]:
    """The purposes an objection names: ``purpose_id`` if it may be objected to, else all.

    UnknownPurpose for an unknown purpose; InvalidInput (code ``cannot_object``) for one the
    right to object does not cover, or when no purpose can be objected to.
    """
    if purpose_id is None:
        ids = [p.id for p in objectable(manifest.purposes)]
        if not ids:
            raise InvalidInput("no purpose of this service can be objected to (GDPR Art. 21)",
                               code="cannot_object")
        return ids
    found = next((p for p in manifest.purposes if p.id == purpose_id), None)
    if found is None:
        known = ", ".join(p.id for p in manifest.purposes)
        raise UnknownPurpose(f"unknown purpose {purpose_id!r}; the manifest declares: {known}")
    require_objectable(found)
    return [found.id]


def require_objectable(purpose: Purpose) -> None:
    """InvalidInput (code ``cannot_object``) unless a person may object to ``purpose``."""
    if not may_object(purpose):
        raise InvalidInput(
            f"purpose {purpose.id!r} rests on {purpose.legal_basis}; the right to object "
            "(GDPR Art. 21) covers legitimate interest, public task and direct marketing",
            code="cannot_object", purpose=purpose.id)
