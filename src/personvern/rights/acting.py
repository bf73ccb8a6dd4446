"""Who may act for a person: themselves, a guardian for a child, an admin for a member.

- A child's consent to an information society service counts from the age the
  jurisdiction sets (GDPR Art. 8(1); personopplysningsloven § 5: 13 in Norway, or a
  manifest's higher ``jurisdiction.child_consent_age``); below it a guardian consents,
  and from it the child decides for themselves. Withdrawing is always the child's own
  right too (Art. 7(3)).
- For every other right a guardian acts for a minor, until the age of majority
  (vergemålsloven § 2: 18 in Norway), as the child's legal representative.
- An organisation admin acts for the organisation's members (a B2B service whose
  company administers its employees' data, seed 003).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from personvern.errors import Forbidden, InvalidInput
from personvern.law import Jurisdiction, age_on
from personvern.manifest.model import Manifest


class Relation(StrEnum):
    """How the acting person stands to the person acted for."""

    SELF = "self"
    GUARDIAN = "guardian"
    ADMIN = "admin"


class Act(StrEnum):
    """What is being done on the person's behalf."""

    GIVE_CONSENT = "give_consent"  # a consent given (Art. 8(1) applies)
    CONSENT_EVENT = "consent_event"  # withdrawn, refused, objection raised or lifted
    REQUEST = "request"  # a data-subject request (Art. 15-22)


def consent_age(manifest: Manifest, j: Jurisdiction) -> int:
    """The age from which a child's own consent counts (Art. 8(1), the manifest may raise it)."""
    return manifest.jurisdiction.child_consent_age or j.child_consent_age


def years_on(birth: date | None, day: date) -> int | None:
    """Completed years of age on ``day``; None when the birth date is missing or after
    ``day`` (an age that cannot be told is never guessed)."""
    if birth is None or birth > day:
        return None
    return age_on(birth, day)


def needs_guardian_consent(birth: date | None, day: date, age: int) -> bool:
    """Whether a person born ``birth`` is, on ``day``, too young to consent alone."""
    return birth is not None and age_on(birth, day) < age


def guardian_may_act(act: Act, birth: date | None, day: date, age: int,
                     j: Jurisdiction) -> bool:
    """Whether a guardian may do ``act`` for a child born ``birth`` (unknown: no).

    ``age`` is :func:`consent_age`; consent events end there, requests at majority.
    An unknown birth date gives no standing: nothing could tell when the child came of
    age, so the guardian would act for them forever.
    """
    if birth is None:
        return False
    limit = j.age_of_majority if act is Act.REQUEST else age
    return age_on(birth, day) < limit


def require_known_age(subject_id: str, birth: date | None, j: Jurisdiction) -> None:
    """Refuse a guardian for someone whose age is unknown: their standing must be able to
    end at majority (vergemålsloven § 2)."""
    if birth is None:
        raise InvalidInput(
            f"record {subject_id}'s birth date first: a guardian acts only for a child under "
            f"{j.age_of_majority} ({j.age_of_majority_source.citation}), and without it no "
            "one can tell when that ends", code="birth_date_required")


def require_standing(relation: Relation, act: Act, *, subject_id: str, actor_id: str | None,
                     related: bool, birth: date | None, day: date, age: int,
                     j: Jurisdiction) -> None:
    """Refuse unless ``actor_id`` may do ``act`` for ``subject_id`` on ``day``.

    ``related`` says the stored relation holds (the actor is a guardian of, or an admin
    for, the subject); ``birth`` is the subject's; ``age`` is :func:`consent_age`.
    Forbidden when the relation does not hold or a guardian's child is an adult;
    InvalidInput when the age rules send the act to someone else.
    """
    if relation is Relation.SELF:
        if act is Act.GIVE_CONSENT and needs_guardian_consent(birth, day, age):
            raise InvalidInput(
                f"the subject is under {age}: a guardian must give this consent "
                f"({j.child_consent_source.citation}, GDPR Art. 8)",
                code="guardian_required", age=age, source=j.child_consent_source.citation)
        return
    if relation is Relation.ADMIN:
        if not related:
            raise Forbidden(f"{actor_id} is not an admin of an organisation "
                            f"{subject_id} belongs to")
        return
    if not related:
        raise Forbidden(f"{actor_id} is not a guardian of {subject_id}")
    if guardian_may_act(act, birth, day, age, j):
        return
    if birth is None:
        raise InvalidInput(
            f"{subject_id} has no birth date on record, so a guardian's standing cannot be "
            f"shown (it ends at {j.age_of_majority}, {j.age_of_majority_source.citation}); "
            "record the birth date first", code="birth_date_required")
    if act is Act.REQUEST:
        raise Forbidden(f"{subject_id} is an adult; a guardian acts only for a child under "
                        f"{j.age_of_majority} ({j.age_of_majority_source.citation})")
    raise InvalidInput(
        f"{subject_id} is {age_on(birth, day)}, old enough to decide for themselves; "
        f"a guardian consents only under {age}", code="old_enough", age=age)
