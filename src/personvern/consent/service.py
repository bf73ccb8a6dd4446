"""Consent use cases: record an event with every rule checked, decide, list, receipts.

The web API, the CLI and the Python client all call these; none adds rules of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.consent.cache import DecisionCache
from personvern.consent.decide import Decision, SubjectState, decide_purpose
from personvern.consent.events import (
    CONSENT_TYPES,
    OBJECTION_TYPES,
    Actor,
    Channel,
    EventType,
)
from personvern.consent.ledger import (
    NewEvent,
    append_event,
    as_consent_event,
    event_by_key,
    subject_events,
)
from personvern.consent.subjects import (
    SubjectRow,
    facts_of,
    guardians_of,
    is_admin_for,
    require_subject,
    subject_row,
)
from personvern.consent.tables import LedgerEvent
from personvern.errors import InvalidInput, NotFound
from personvern.law import Jurisdiction, get_jurisdiction
from personvern.manifest.model import Manifest, Purpose
from personvern.rights.acting import Act, Relation, consent_age, require_standing
from personvern.rights.basis import require_objectable
from personvern.storage.locks import lock_chain

if TYPE_CHECKING:
    from personvern.policy.versions import ConsentTimeline


class PolicyTimeline:
    """Material policy changes that need fresh consent, reloaded from the database at most
    every ``ttl`` seconds (a publish takes effect after its notice period, not at once)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._timeline: ConsentTimeline | None = None
        self._loaded_at = float("-inf")

    def since(self, session: Session | None, at: datetime, purpose: str) -> datetime | None:
        """When consent for ``purpose`` must be newer than, at ``at``; None if no change.

        Without a session (the event loop's fast path) the last loaded timeline is used.
        """
        if session is not None and time.monotonic() - self._loaded_at >= self.ttl:
            from personvern.policy.versions import consent_timeline

            self._timeline = consent_timeline(session)
            self._loaded_at = time.monotonic()
        return None if self._timeline is None else self._timeline.since(at, purpose)


@dataclass(frozen=True)
class ConsentContext:
    """The manifest in force and the policy version events are tied to."""

    manifest: Manifest
    jurisdiction: Jurisdiction
    policy_version: str
    cache: DecisionCache = field(default_factory=DecisionCache, compare=False, repr=False)
    policy: PolicyTimeline = field(default_factory=PolicyTimeline, compare=False, repr=False)
    purposes: dict[str, Purpose] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Looked up on every decision; built once.
        object.__setattr__(self, "purposes", {p.id: p for p in self.manifest.purposes})

    @classmethod
    def of(cls, manifest: Manifest, policy_version: str) -> ConsentContext:
        """Context for ``manifest``, with its jurisdiction looked up once."""
        return cls(manifest, get_jurisdiction(manifest.jurisdiction.country), policy_version)

    def purpose(self, purpose_id: str) -> Purpose:
        """The purpose, or NotFound naming the known ones."""
        found = self.purposes.get(purpose_id)
        if found is not None:
            return found
        known = ", ".join(p.id for p in self.manifest.purposes)
        raise NotFound(f"unknown purpose {purpose_id!r}; the manifest declares: {known}")

    def child_age(self) -> int:
        """The age under which a guardian must consent (GDPR Art. 8(1))."""
        return consent_age(self.manifest, self.jurisdiction)


def record_event(
    session: Session,
    ctx: ConsentContext,
    at: datetime,
    subject_id: str,
    type: EventType,
    *,
    purpose_id: str | None,
    actor: Actor = Actor.SELF,
    channel: Channel = Channel.API,
    actor_subject_id: str | None = None,
    evidence: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> tuple[LedgerEvent, bool]:
    """Check every rule, then append; returns (event, replayed). Nothing is stored on error.

    The ledger lock is taken first, so the checks (e.g. "is there a consent to
    withdraw?") see the same ledger the append extends, even with concurrent writers.
    """
    lock_chain(session, LedgerEvent.__tablename__)
    subject = subject_row(session, subject_id)
    purpose = ctx.purpose(purpose_id) if purpose_id is not None else None
    if type in CONSENT_TYPES or type in OBJECTION_TYPES:
        if purpose is None:
            raise InvalidInput(f"{type} needs a purpose")
        _check_purpose_allows(purpose, type)
    _check_actor(session, ctx, subject, at, type, actor, actor_subject_id)
    new = NewEvent(
        subject_id=subject.id, type=type, actor=actor, channel=channel,
        purpose=purpose_id, actor_subject_id=actor_subject_id,
        policy_version=ctx.policy_version, evidence=evidence, idempotency_key=idempotency_key,
    )
    # A replayed withdrawal finds the consent already withdrawn; the ledger answers it.
    if type is EventType.CONSENT_WITHDRAWN and not _replaying(session, idempotency_key):
        _check_something_to_withdraw(session, subject, purpose_id, at)
    ctx.cache.invalidate_on_commit(session, subject.id)
    return append_event(session, at, new, locked=True)


def _replaying(session: Session, key: str | None) -> bool:
    return key is not None and event_by_key(session, key) is not None


def _check_purpose_allows(purpose: Purpose, type: EventType) -> None:
    if type in CONSENT_TYPES and purpose.legal_basis != "consent":
        raise InvalidInput(
            f"purpose {purpose.id!r} rests on {purpose.legal_basis}, not consent; there is no "
            "consent to give or withdraw (object to it instead, where the basis allows)",
            code="not_consent_basis", purpose=purpose.id)
    if type in OBJECTION_TYPES:
        require_objectable(purpose)


_RELATIONS = {Actor.SELF: Relation.SELF, Actor.GUARDIAN: Relation.GUARDIAN,
              Actor.ADMIN: Relation.ADMIN}


def _check_actor(
    session: Session, ctx: ConsentContext, subject: SubjectRow, at: datetime, type: EventType,
    actor: Actor, actor_subject_id: str | None,
) -> None:
    relation = _RELATIONS.get(actor)
    if relation is None:  # the controller or a system acting under its own duty
        return
    related = False
    if relation is Relation.GUARDIAN:
        if actor_subject_id is None:
            raise InvalidInput("a guardian's event must name the guardian (actor_subject_id)")
        require_subject(session, actor_subject_id)
        related = actor_subject_id in guardians_of(session, subject.id)
    elif relation is Relation.ADMIN:
        related = actor_subject_id is not None and is_admin_for(
            session, actor_subject_id, subject.id)
    act = Act.GIVE_CONSENT if type is EventType.CONSENT_GIVEN else Act.CONSENT_EVENT
    require_standing(relation, act, subject_id=subject.id, actor_id=actor_subject_id,
                     related=related, birth=subject.birth_date, day=at.date(),
                     age=ctx.child_age(), j=ctx.jurisdiction)


def _check_something_to_withdraw(
    session: Session, subject: SubjectRow, purpose_id: str | None, at: datetime
) -> None:
    events = LedgerEvent.__table__
    last = session.connection().execute(
        select(events.c.type)
        .where(events.c.subject_id == subject.id, events.c.purpose == purpose_id,
               events.c.type.in_([str(t) for t in CONSENT_TYPES]), events.c.at <= at)
        .order_by(events.c.seq.desc()).limit(1)
    ).scalar()
    if last != EventType.CONSENT_GIVEN:
        raise InvalidInput(f"there is no consent to withdraw for purpose {purpose_id!r}",
                           code="nothing_to_withdraw", purpose=purpose_id)


def decide_for(
    session: Session, ctx: ConsentContext, subject_id: str, purpose_id: str, at: datetime,
    *, gpc: bool = False, fresh_consent_since: datetime | None = None,
) -> Decision:
    """The decision for a stored subject, from its events in ledger order (cached)."""
    purpose = ctx.purpose(purpose_id)
    state = ctx.cache.inputs(session, subject_id, load_state)
    if fresh_consent_since is None:
        fresh_consent_since = ctx.policy.since(session, at, purpose_id)
    return decide_purpose(purpose, ctx.child_age(), ctx.jurisdiction, state, at, gpc=gpc,
                          fresh_consent_since=fresh_consent_since)


def decide_cached(
    ctx: ConsentContext, subject_id: str, purpose_id: str, at: datetime, *, gpc: bool = False,
) -> Decision | None:
    """The decision from memory alone, or None when the database must be asked."""
    purpose = ctx.purpose(purpose_id)
    state = ctx.cache.peek(subject_id)
    if state is None:
        return None
    return decide_purpose(purpose, ctx.child_age(), ctx.jurisdiction, state, at, gpc=gpc,
                          fresh_consent_since=ctx.policy.since(None, at, purpose_id))


def load_state(session: Session, subject_id: str) -> SubjectState:
    """A subject's facts and events in ledger order, from the database."""
    from dataclasses import replace

    # Imported here: the requests package builds on consent, not the other way round.
    from personvern.requests.restrict import restricted_since

    subject = require_subject(session, subject_id)
    events = (as_consent_event(e) for e in subject_events(session, subject.id))
    from personvern.retention.people import retained_for

    facts = replace(facts_of(subject), restricted_since=restricted_since(session, subject.id),
                    retained_for=retained_for(session, subject.id))
    return SubjectState.of(facts, events)


def decisions_for(
    session: Session, ctx: ConsentContext, subject_id: str, at: datetime
) -> list[Decision]:
    """A decision for every purpose, for showing a person their consents."""
    state = ctx.cache.inputs(session, subject_id, load_state)
    return [decide_purpose(p, ctx.child_age(), ctx.jurisdiction, state, at,
                           fresh_consent_since=ctx.policy.since(session, at, p.id))
            for p in ctx.manifest.purposes]
