"""``decide``: may this be done with this person's data now, and why (in words)?

Pure: it takes the manifest, the facts about the subject and the subject's
events, and returns a Decision. Storage and HTTP call it; they add nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple, Protocol

from dateutil.relativedelta import relativedelta

from personvern.consent.events import (
    CONSENT_TYPES,
    OBJECTION_TYPES,
    Actor,
    ConsentEvent,
    EventType,
)
from personvern.errors import UnknownPurpose
from personvern.law import Jurisdiction
from personvern.manifest.model import LEGAL_BASIS_ARTICLE, Manifest, Purpose
from personvern.manifest.types import Duration
from personvern.rights.acting import consent_age, needs_guardian_consent
from personvern.rights.basis import Objection
from personvern.rights.basis import objection as objection_kind


@dataclass(frozen=True)
class SubjectFacts:
    """What decisions need to know about a person besides their events."""

    birth_date: date | None = None
    existing_customer: bool = False
    relationship_active: bool = True
    restricted_since: datetime | None = None
    # Retention: the person's other purposes have ended; only these may use the data.
    retained_for: frozenset[str] | None = None


class Decision(NamedTuple):
    """The answer, the basis it rests on and a reason a person can read.

    A NamedTuple, not a frozen dataclass: it is built on every decision, and a frozen
    dataclass's __init__ costs a third of the whole hot path.
    """

    allowed: bool
    purpose: str
    basis: str | None
    reason: str
    code: str
    at: datetime
    events_considered: int = 0


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
    purpose = next((p for p in manifest.purposes if p.id == purpose_id), None)
    if purpose is None:
        raise UnknownPurpose(f"unknown purpose {purpose_id!r}")
    state = SubjectState.of(facts, events)
    return decide_purpose(purpose, consent_age(manifest, jurisdiction), jurisdiction, state,
                          at, gpc=gpc, fresh_consent_since=fresh_consent_since)


@dataclass(frozen=True)
class SubjectState:
    """A subject's decision inputs, with events grouped by purpose once, for speed."""

    facts: SubjectFacts
    by_purpose: dict[str | None, tuple[ConsentEvent, ...]]
    gpc_events: tuple[ConsentEvent, ...]
    # decide_reusing's answers, kept with the state they were worked out from: dropping
    # the state (a write, a notice, the cache's own bounds) drops them with it.
    answers: dict[tuple[str, bool, datetime | None], _Kept] = field(
        default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, facts: SubjectFacts, events: Iterable[ConsentEvent]) -> SubjectState:
        """Group ``events`` (ledger order) by purpose, keeping the order."""
        grouped: dict[str | None, list[ConsentEvent]] = {}
        for e in events:
            grouped.setdefault(e.purpose, []).append(e)
        gpc = tuple(e for e in grouped.get(None, ()) if e.type is EventType.GPC_SEEN)
        return cls(facts, {k: tuple(v) for k, v in grouped.items()}, gpc)


def decide_purpose(
    purpose: Purpose,
    age_limit: int,
    jurisdiction: Jurisdiction,
    state: SubjectState,
    at: datetime,
    *,
    gpc: bool = False,
    fresh_consent_since: datetime | None = None,
) -> Decision:
    """The hot path of :func:`decide`, for a purpose already looked up."""
    purpose_id = purpose.id
    facts = state.facts
    mine = state.by_purpose.get(purpose_id, ())
    if mine and mine[-1].at > at:  # rare: asking about the past (--now); drop later events
        mine = tuple(e for e in mine if e.at <= at)

    def answer(allowed: bool, code: str, reason: str) -> Decision:
        return Decision(allowed, purpose_id, purpose.legal_basis, reason, code, at, len(mine))

    # Art. 18(2): under a restriction the data may only be stored.
    if facts.restricted_since is not None and facts.restricted_since <= at:
        return answer(False, "restricted", "processing restricted at the person's request since "
                      f"{facts.restricted_since.date().isoformat()}; only storage is allowed "
                      "(GDPR Art. 18(2))")

    if facts.retained_for is not None and purpose_id not in facts.retained_for:
        return answer(False, "retention_ended", "this purpose's retention period has ended; "
                      "the data is kept only for " + ", ".join(sorted(facts.retained_for))
                      + " (GDPR Art. 5(1)(b) and (e))")

    # Art. 21(3): an objection to direct marketing is absolute.
    objection = _last(mine, OBJECTION_TYPES)
    objected = objection is not None and objection.type is EventType.OBJECTION_RAISED
    kind = objection_kind(purpose)
    if kind is Objection.ABSOLUTE and objected:
        assert objection is not None
        return answer(False, "objected_marketing",
                      f"objected to direct marketing {_when(objection)} (GDPR Art. 21(3))")
    gpc_event = _last([e for e in state.gpc_events if e.at <= at], _GPC) if state.gpc_events \
        else None
    # A recorded signal yields to a specific consent given after it: the person chose
    # this purpose knowingly. A signal on the request itself always counts.
    recorded = gpc_event is not None and not any(
        e.type is EventType.CONSENT_GIVEN and e.at > gpc_event.at for e in mine
    )
    if (gpc or recorded) and _gpc_applies(purpose):
        return answer(False, "gpc", "Global Privacy Control signal, treated as an objection to "
                      "marketing and third-party sharing and a refusal of non-necessary cookies "
                      "(GDPR Art. 21(5))")
    basis = purpose.legal_basis
    if basis is None:
        return answer(False, "no_basis", "the purpose has no legal basis in the manifest")
    article = f"GDPR Art. 6(1)({LEGAL_BASIS_ARTICLE[basis]})"
    if basis == "consent":
        return _consent(age_limit, jurisdiction, purpose, facts, mine, at, fresh_consent_since,
                        answer)
    if purpose.marketing is not None and purpose.marketing.existing_customer_exception:
        if not facts.existing_customer:
            return answer(False, "not_a_customer",
                          f"not an existing customer, so marketing needs consent "
                          f"({jurisdiction.marketing_source.citation})")
        return answer(True, "existing_customer", "existing customer, not opted out "
                      f"({jurisdiction.marketing_source.citation})")
    if kind is Objection.WEIGHED and objected:
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


# What decide_reusing keeps: the inputs beside the state (the purpose, the age limit, the
# jurisdiction), the span of ``at`` the answer holds for, and the answer.
_Kept = tuple[Purpose, int, Jurisdiction, datetime, datetime | None, Decision]


def decide_reusing(
    purpose: Purpose,
    age_limit: int,
    jurisdiction: Jurisdiction,
    state: SubjectState,
    at: datetime,
    *,
    gpc: bool = False,
    fresh_consent_since: datetime | None = None,
) -> Decision:
    """:func:`decide_purpose`'s answer, kept on ``state`` and given again (with this ``at``)
    while no comparison it makes with ``at`` can come out otherwise."""
    tz = at.tzinfo
    if tz is None:  # a naive time: decided as given, it fails where decide_purpose fails
        return decide_purpose(purpose, age_limit, jurisdiction, state, at, gpc=gpc,
                              fresh_consent_since=fresh_consent_since)
    key = (purpose.id, gpc, fresh_consent_since)
    kept = state.answers.get(key)
    if kept is not None:
        k_purpose, k_age, k_jurisdiction, since, until, d = kept
        if (k_purpose is purpose and k_age == age_limit and k_jurisdiction is jurisdiction
                and d.at.tzinfo is tz and since <= at and (until is None or at < until)):
            return Decision(d.allowed, d.purpose, d.basis, d.reason, d.code, at,
                            d.events_considered)
    d = decide_purpose(purpose, age_limit, jurisdiction, state, at, gpc=gpc,
                       fresh_consent_since=fresh_consent_since)
    state.answers[key] = (purpose, age_limit, jurisdiction, at,
                          _unchanged_until(purpose, state, at, fresh_consent_since), d)
    return d


def _unchanged_until(purpose: Purpose, state: SubjectState, at: datetime,
                     fresh_since: datetime | None) -> datetime | None:
    """The first time after ``at`` at which one of :func:`decide_purpose`'s comparisons with
    ``at`` may turn (None: none can); until then its answer is the same but for ``at``.

    Each instant it compares ``at`` with: the restriction's start, every event of the
    purpose and every GPC signal (later events are left out, earlier ones counted), the end
    of every consent's validity, the policy change, and the next day for a person whose
    age is judged on ``at``'s date. Taking them all is more than needed, never less.
    """
    facts = state.facts
    mine = state.by_purpose.get(purpose.id, ())
    times = [e.at for e in mine]
    times += [e.at for e in state.gpc_events]
    expiry = purpose.consent.expires_after if purpose.consent else None
    if expiry is not None and not expiry.unlimited:
        times += [add_duration(e.at, expiry) for e in mine if e.type is EventType.CONSENT_GIVEN]
    if facts.restricted_since is not None:
        times.append(facts.restricted_since)
    if fresh_since is not None:
        times.append(fresh_since)
    if facts.birth_date is not None:
        times.append(datetime.combine(at.date() + timedelta(days=1), time(), tzinfo=at.tzinfo))
    return min((t for t in times if t > at), default=None)


_GPC = frozenset({EventType.GPC_SEEN})


def _last(events: Sequence[ConsentEvent], kinds: frozenset[EventType]) -> ConsentEvent | None:
    for e in reversed(events):
        if e.type in kinds:
            return e
    return None


def _consent(
    age_limit: int, j: Jurisdiction, purpose: Purpose, facts: SubjectFacts,
    mine: Sequence[ConsentEvent], at: datetime, fresh_since: datetime | None, answer: _Answer,
) -> Decision:
    child = needs_guardian_consent(facts.birth_date, at.date(), age_limit)
    last = None
    for e in reversed(mine):
        # Art. 8(1): below the age only a guardian's consent counts; the child's own
        # withdrawal still does (withdrawing is always allowed).
        if e.type in CONSENT_TYPES and not (
            child and e.type is EventType.CONSENT_GIVEN and e.actor is not Actor.GUARDIAN
        ):
            last = e
            break
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
        # The date the owner published it to take effect: the controller's, not UTC's.
        return answer(False, "policy_changed", "the privacy policy changed materially on "
                      f"{j.local_date(fresh_since).isoformat()};"
                      " consent given before then must be renewed")
    who = " by a guardian" if last.actor is Actor.GUARDIAN else ""
    return answer(True, "consent_given", f"consent given{who} {_when(last)} (GDPR Art. 6(1)(a))")


class _Answer(Protocol):
    """Type of the ``answer`` closure (allowed, code, reason) -> Decision."""

    def __call__(self, allowed: bool, code: str, reason: str) -> Decision: ...


def _gpc_applies(purpose: Purpose) -> bool:
    """Whether GPC stops ``purpose``: marketing, third-party sharing, optional cookies."""
    return (purpose.marketing is not None or purpose.third_party_sharing
            or any(c != "necessary" for c in purpose.cookie_categories))
