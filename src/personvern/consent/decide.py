"""``decide``: may this be done with this person's data now, and why (in words)?

Pure: it takes the manifest, the facts about the subject and the subject's
events, and returns a Decision. Storage and HTTP call it; they add nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from dateutil.relativedelta import relativedelta

from personvern.consent.events import (
    CONSENT_TYPES,
    OBJECTION_TYPES,
    Actor,
    ConsentEvent,
    EventType,
)
from personvern.errors import NotFound
from personvern.law import Jurisdiction
from personvern.manifest.model import LEGAL_BASIS_ARTICLE, Manifest, Purpose
from personvern.manifest.types import Duration


@dataclass(frozen=True)
class SubjectFacts:
    """What decisions need to know about a person besides their events."""

    birth_date: date | None = None
    existing_customer: bool = False
    relationship_active: bool = True


@dataclass(frozen=True)
class Decision:
    """The answer, the basis it rests on and a reason a person can read."""

    allowed: bool
    purpose: str
    basis: str | None
    reason: str
    code: str
    at: datetime
    events_considered: int = 0
    details: dict[str, str] = field(default_factory=dict)


def age_on(birth: date, day: date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def add_duration(at: datetime, d: Duration) -> datetime:
    """``at`` plus a calendar duration (month ends clamp, as relativedelta does)."""
    return at + relativedelta(years=d.years, months=d.months, days=d.days)


def _when(e: ConsentEvent) -> str:
    return f"{e.at.date().isoformat()} via {e.channel}"


def decide(
    manifest: Manifest,
    jurisdiction: Jurisdiction,
    purpose_id: str,
    facts: SubjectFacts,
    events: Iterable[ConsentEvent],
    at: datetime,
    *,
    gpc: bool = False,
    fresh_consent_since: datetime | None = None,
) -> Decision:
    """Decide for ``purpose_id`` at ``at``; ``events`` in ledger order, any purpose.

    ``gpc`` is a Global Privacy Control signal on the current request;
    ``fresh_consent_since`` is when a material policy change took effect, after
    which consent given earlier no longer counts.
    """
    purposes = {p.id: p for p in manifest.purposes}
    if purpose_id not in purposes:
        raise NotFound(f"unknown purpose {purpose_id!r}")
    purpose = purposes[purpose_id]
    past = [e for e in events if e.at <= at]
    mine = [e for e in past if e.purpose == purpose_id]

    def answer(allowed: bool, code: str, reason: str) -> Decision:
        return Decision(allowed, purpose_id, purpose.legal_basis, reason, code, at, len(mine))

    # Art. 21(3): an objection to direct marketing is absolute.
    objection = _last(mine, OBJECTION_TYPES)
    objected = objection is not None and objection.type is EventType.OBJECTION_RAISED
    if purpose.marketing is not None and objected:
        assert objection is not None
        return answer(False, "objected_marketing",
                      f"objected to direct marketing {_when(objection)} (GDPR Art. 21(3))")
    gpc_event = _last(past, {EventType.GPC_SEEN})
    optional_cookies = any(c != "necessary" for c in purpose.cookie_categories)
    gpc_applies = purpose.marketing is not None or purpose.third_party_sharing or optional_cookies
    if gpc_applies and (gpc or gpc_event):
        return answer(False, "gpc", "Global Privacy Control signal, treated as an objection to "
                      "marketing and third-party sharing and a refusal of non-necessary cookies "
                      "(GDPR Art. 21(5))")
    basis = purpose.legal_basis
    if basis is None:
        return answer(False, "no_basis", "the purpose has no legal basis in the manifest")
    article = f"GDPR Art. 6(1)({LEGAL_BASIS_ARTICLE[basis]})"
    if basis == "consent":
        return _consent(manifest, jurisdiction, purpose, facts, mine, at, fresh_consent_since,
                        answer)
    if purpose.marketing is not None and purpose.marketing.existing_customer_exception:
        if not facts.existing_customer:
            return answer(False, "not_a_customer",
                          f"not an existing customer, so marketing needs consent "
                          f"({jurisdiction.marketing_source.citation})")
        return answer(True, "existing_customer", "existing customer, not opted out "
                      f"({jurisdiction.marketing_source.citation})")
    if basis in {"legitimate_interests", "public_task"} and objected:
        assert objection is not None
        return answer(False, "objected", f"objected {_when(objection)}; processing is restricted "
                      "while the objection is assessed (GDPR Art. 18(1)(d), 21(1))")
    if basis in {"contract", "legitimate_interests"} and not facts.relationship_active:
        return answer(False, "relationship_ended",
                      f"the customer relationship has ended ({article})")
    names = {"contract": "necessary for the contract", "legal_obligation": "required by law",
             "vital_interests": "protects vital interests", "public_task": "a public task",
             "legitimate_interests": "legitimate interest, no objection"}
    return answer(True, basis, f"{names[basis]} ({article})")


def _last(events: list[ConsentEvent], kinds: Iterable[EventType]) -> ConsentEvent | None:
    wanted = set(kinds)
    return next((e for e in reversed(events) if e.type in wanted), None)


def _consent(
    manifest: Manifest, j: Jurisdiction, purpose: Purpose, facts: SubjectFacts,
    mine: list[ConsentEvent], at: datetime, fresh_since: datetime | None, answer: _Answer,
) -> Decision:
    age_limit = manifest.jurisdiction.child_consent_age or j.child_consent_age
    child = facts.birth_date is not None and age_on(facts.birth_date, at.date()) < age_limit
    relevant = [e for e in mine if e.type in CONSENT_TYPES]
    if child:
        # Art. 8(1): below the age only a guardian's consent counts; the child's own
        # withdrawal still does (withdrawing is always allowed).
        relevant = [e for e in relevant
                    if e.actor is Actor.GUARDIAN or e.type is not EventType.CONSENT_GIVEN]
    last = relevant[-1] if relevant else None
    if last is None:
        if child and any(e.type is EventType.CONSENT_GIVEN for e in mine):
            return answer(False, "child_needs_guardian",
                          f"under {age_limit}: only a guardian's consent counts "
                          f"({j.child_consent_source.citation})")
        return answer(False, "no_consent", "no consent has been given (GDPR Art. 6(1)(a))")
    if last.type is not EventType.CONSENT_GIVEN:
        verb = {EventType.CONSENT_WITHDRAWN: "withdrawn", EventType.CONSENT_REFUSED: "refused",
                EventType.CONSENT_EXPIRED: "expired"}[last.type]
        return answer(False, f"consent_{verb}", f"consent {verb} {_when(last)}")
    expiry = purpose.consent.expires_after if purpose.consent else None
    if expiry is not None and not expiry.unlimited and add_duration(last.at, expiry) <= at:
        ends = add_duration(last.at, expiry).date().isoformat()
        return answer(False, "consent_expired",
                      f"consent given {_when(last)} expired {ends} (valid {expiry})")
    if fresh_since is not None and last.at < fresh_since <= at:
        return answer(False, "policy_changed",
                      f"the privacy policy changed materially on {fresh_since.date().isoformat()};"
                      " consent given before then must be renewed")
    who = " by a guardian" if last.actor is Actor.GUARDIAN else ""
    return answer(True, "consent_given", f"consent given{who} {_when(last)} (GDPR Art. 6(1)(a))")


class _Answer(Protocol):
    """Type of the ``answer`` closure (allowed, code, reason) -> Decision."""

    def __call__(self, allowed: bool, code: str, reason: str) -> Decision: ...
