"""Consent use cases: record an event with every rule checked, decide, list, receipts.

The web API, the CLI and the Python client all call these; none adds rules of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import ColumnElement, Row, ScalarSelect, Select, Table, bindparam, select
from sqlalchemy.orm import Session

from personvern.consent.cache import DecisionCache
from personvern.consent.decide import Decision, SubjectState, decide_purpose, decide_reusing
from personvern.consent.events import (
    CONSENT_TYPES,
    OBJECTION_TYPES,
    Actor,
    Channel,
    EventType,
)
from personvern.consent.ledger import (
    CONSENT_EVENT_COLUMNS,
    DriverRead,
    NewEvent,
    append_values,
    consent_event_of,
    event_by_key,
    flush_appends,
    lock_and_read_head,
    lock_left_to_preload,
    seal_evidence,
)
from personvern.consent.subjects import (
    FACT_COLUMNS,
    FIRST_BY_IDENTITY,
    SubjectRow,
    _named_by,
    facts_of_row,
    guardians_of,
    identity_params,
    is_admin_for,
    lookup_of,
    normalise,
    require_subject,
    subject_row,
    subject_row_of,
    subject_rows,
)
from personvern.consent.tables import ApiKey, Identity, LedgerEvent, Subject
from personvern.crypto.keyring import keyring_for
from personvern.errors import InvalidInput, PersonvernError, UnknownPurpose, UnknownSubject
from personvern.law import Jurisdiction, get_jurisdiction
from personvern.manifest.model import Manifest, Purpose
from personvern.rights.acting import Act, Relation, consent_age, require_standing
from personvern.rights.basis import require_objectable
from personvern.storage.locks import lock_chain
from personvern.storage.models import AwareDateTime


class DecisionSources(Protocol):
    """What a decision needs beyond the ledger, answered by the layers above consent (the
    requests, retention and the policy's versions), so consent imports none of them.

    The restriction and the retention limit are given as SQL (scalar subqueries over
    ``subject_id``), each rule kept in its own module: a person's cold load reads both
    in the one statement that reads the person and their events."""

    def restricted_since_of(self, subject_id: ColumnElement[str]
                            ) -> ScalarSelect[datetime | None]:
        """When the person's restriction (GDPR Art. 18) began; NULL when none is in force."""
        ...

    def retained_for_of(self, subject_id: ColumnElement[str]
                        ) -> ScalarSelect[list[str] | None]:
        """The only purposes retention still allows for the person (a JSON list); NULL: no
        such limit."""
        ...

    def fresh_consent_since(self, session: Session | None, at: datetime, purpose: str
                            ) -> datetime | None:
        """When consent for ``purpose`` must be newer than (a material policy change), at
        ``at``; without a session, from what was loaded last."""
        ...


_SUBJECTS = cast(Table, Subject.__table__)
_EVENTS = cast(Table, LedgerEvent.__table__)


@dataclass(frozen=True)
class ConsentContext:
    """The manifest in force, the policy version events are tied to, and where decisions
    learn of restrictions, retention and policy changes (no default: a decision that
    could not hear of a restriction would allow what the person stopped)."""

    manifest: Manifest
    jurisdiction: Jurisdiction
    policy_version: str
    sources: DecisionSources = field(compare=False, repr=False)
    cache: DecisionCache = field(default_factory=DecisionCache, compare=False, repr=False)
    purposes: dict[str, Purpose] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Looked up on every decision; built once.
        object.__setattr__(self, "purposes", {p.id: p for p in self.manifest.purposes})

    @classmethod
    def of(cls, manifest: Manifest, policy_version: str, sources: DecisionSources
           ) -> ConsentContext:
        """Context for ``manifest``, with its jurisdiction looked up once."""
        return cls(manifest, get_jurisdiction(manifest.jurisdiction.country), policy_version,
                   sources)

    def load_state(self, session: Session, subject_id: str) -> SubjectState:
        """A subject's facts and events in ledger order, from the database, in one
        statement; UnknownSubject if unknown or erased."""
        flush_appends(session)
        rows = session.execute(self.cold_load, {"subject_id": subject_id}).all()
        if not rows:
            raise UnknownSubject(f"no subject {subject_id!r}")
        return _state_of(rows, 0)

    def load_state_by_ref(self, session: Session, ref: str) -> tuple[str, SubjectState]:
        """:meth:`load_state` for the subject named by ``ref`` (e-mail, phone, ``ext:ID``),
        found and read in the same one statement: its id and decision inputs. The same
        errors as :func:`subject_row_of` (InvalidInput for a malformed reference,
        UnknownSubject for one nobody has, or an erased person has)."""
        ref = ref.strip()
        found_by = identity_params(session, ref)
        if found_by is None:  # a subject id: read by it
            subject_id = subject_row_of(session, ref).id
            return subject_id, self.load_state(session, subject_id)
        flush_appends(session)
        # Core, not the ORM's execute: the rows are plain columns (a third of the calls).
        rows = session.connection().execute(self.cold_load_by_identity, found_by).all()
        if not rows:
            raise UnknownSubject(f"no subject {ref!r}")
        return rows[0][0], _state_of(rows, 1)

    @cached_property
    def cold_load(self) -> Select[Any]:
        """The statement :meth:`load_state` runs, built once: the person's facts, their
        restriction and retention limit (scalar subqueries from the sources), and their
        events joined in ledger order. It was four statements (the subject, the
        restriction, the retention limit, the events)."""
        return self._cold_load(bindparam("subject_id", type_=_SUBJECTS.c.id.type))

    @cached_property
    def cold_load_by_identity(self) -> Select[Any]:
        """:attr:`cold_load` with the person found by an identity's keyed hash in the same
        statement (:data:`FIRST_BY_IDENTITY`, an uncorrelated scalar subquery, so each
        database works it out once), the subject's id first. A cold decision by e-mail
        was two statements (the lookup, then the load)."""
        return self._cold_load(FIRST_BY_IDENTITY, _SUBJECTS.c.id)

    def _cold_load(self, sid: ColumnElement[str], *lead: ColumnElement[Any]) -> Select[Any]:
        return (select(*lead, *FACT_COLUMNS,
                       self.sources.restricted_since_of(sid).label("restricted_since"),
                       self.sources.retained_for_of(sid).label("retained_for"),
                       *CONSENT_EVENT_COLUMNS)
                .select_from(_SUBJECTS.outerjoin(_EVENTS, _EVENTS.c.subject_id == _SUBJECTS.c.id))
                .where(_SUBJECTS.c.id == sid, _SUBJECTS.c.erased_at.is_(None))
                .order_by(_EVENTS.c.seq))

    def purpose(self, purpose_id: str) -> Purpose:
        """The purpose, or UnknownPurpose naming the known ones."""
        found = self.purposes.get(purpose_id)
        if found is not None:
            return found
        known = ", ".join(p.id for p in self.manifest.purposes)
        raise UnknownPurpose(f"unknown purpose {purpose_id!r}; the manifest declares: {known}")

    def child_age(self) -> int:
        """The age under which a guardian must consent (GDPR Art. 8(1))."""
        return consent_age(self.manifest, self.jurisdiction)


def _state_of(rows: Sequence[Row[Any]], skip: int) -> SubjectState:
    """The decision inputs from a cold load's rows, whose first ``skip`` columns are not
    the load's."""
    first = rows[0]
    birth, customer, closed, restricted, retained = first[skip:skip + 5]
    facts = replace(facts_of_row(birth, customer, closed), restricted_since=restricted,
                    retained_for=None if retained is None else frozenset(retained))
    # A person without events is one row whose event columns are NULL (the outer join).
    start = skip + 5
    events = [consent_event_of(*row[start:]) for row in rows if row[start] is not None]
    return SubjectState.of(facts, events)


@dataclass(frozen=True)
class PreparedEvent:
    """An event checked as far as it can be without the ledger's lock, its evidence sealed:
    what :func:`append_prepared` appends once the lock is held."""

    subject: SubjectRow
    new: NewEvent
    at: datetime  # when the checks were made (a person's age is judged on its day)


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
    # In a group commit's batch whose subjects were read together under the lock (its
    # writers' hints, preload_subjects): not read again one by one.
    preloaded: dict[str, SubjectRow | None] | None = session.info.get(_PRELOADED)
    prepared = prepare_event(session, ctx, at, subject_id, type, purpose_id=purpose_id,
                             actor=actor, channel=channel, actor_subject_id=actor_subject_id,
                             evidence=evidence, idempotency_key=idempotency_key,
                             known=None if preloaded is None else preloaded.get(subject_id))
    # Checked under the lock already: nothing to read again.
    values, replayed = _append(session, ctx, prepared, at, prepared.subject)
    return LedgerEvent(**values), replayed


def prepare_event(
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
    known: SubjectRow | None = None,
) -> PreparedEvent:
    """Every rule that does not depend on the ledger (the purpose, the actor's standing),
    checked, and the evidence sealed, without the ledger's lock: concurrent writers do
    this at once, and only :func:`append_prepared` waits for the lock.

    ``known``: the subject as this transaction has just read it (not read again).
    """
    subject = known if known is not None and known.id == subject_id else subject_row(
        session, subject_id)
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
        sealed_evidence=seal_evidence(session, subject.id, evidence) if evidence else None,
    )
    return PreparedEvent(subject, new, at)


def append_prepared(session: Session, ctx: ConsentContext, prepared: PreparedEvent,
                    at: datetime) -> tuple[LedgerEvent, bool]:
    """Take the ledger's lock, check what depends on the ledger as it now stands, append
    ``prepared`` at ``at``; returns (event, replayed). Nothing is stored on error.

    The subject is read again under the lock: one erased (or changed) since the checks
    is seen, and a changed one's standing judged again.
    """
    values, replayed = append_prepared_values(session, ctx, prepared, at)
    return LedgerEvent(**values), replayed


def append_prepared_values(session: Session, ctx: ConsentContext, prepared: PreparedEvent,
                           at: datetime) -> tuple[dict[str, Any], bool]:
    """:func:`append_prepared`, the event given as its column values by name (no ORM
    instance: the group commit's leader runs this for every write of a batch)."""
    lock_chain(session, LedgerEvent.__tablename__)
    preloaded: dict[str, SubjectRow | None] | None = session.info.get(_PRELOADED)
    if preloaded is not None and prepared.subject.id in preloaded:
        subject = preloaded[prepared.subject.id]
        if subject is None:
            raise UnknownSubject(f"no subject {prepared.subject.id!r}")
    else:
        subject = subject_row(session, prepared.subject.id)
    return _append(session, ctx, prepared, at, subject)


_PRELOADED = "personvern.subject_rows"
_PRELOADED_REFS = "personvern.subject_refs"
_PRELOADED_KEYS = "personvern.api_key_revoked_at"


@dataclass(frozen=True)
class WriteLookups:
    """A group commit writer's hint: the subject references it will look up and the API
    key whose ``revoked_at`` it will read again, in the batch's transaction. The batch
    reads them for all its writers at once (:func:`preload_subjects`)."""

    refs: tuple[str, ...]
    key_id: int | None = None


def preload_subjects(session: Session, hints: list[object]) -> None:
    """For the group commit (consent/group.py): the subjects of a batch of prepared events
    or of :func:`record_event` calls (its writers' hints: a PreparedEvent, or the subject's
    id) read in one statement under the ledger's lock, for :func:`append_prepared` and
    :func:`record_event` to take instead of reading each again. For :class:`WriteLookups`
    hints also the people they name by e-mail, phone or ``ext:`` (one statement) and
    their API keys' ``revoked_at`` (one statement), for :func:`subject_of_ref` and
    :func:`key_revoked_at`.

    When the batch leaves the ledger's lock to it (PostgreSQL), these reads are sent with
    the lock and the head, in one round trip (ledger.lock_and_read_head)."""
    ids = {h.subject.id if isinstance(h, PreparedEvent) else h for h in hints
           if isinstance(h, PreparedEvent | str)}
    lookups = [h for h in hints if isinstance(h, WriteLookups)]
    # The lookup hashes first: computing one may read the lookup key, before the lock.
    wanted = _identity_plan(session, {r.strip() for h in lookups for r in h.refs})
    ids.update(r.strip() for h in lookups for r in h.refs if _named_by(r.strip())[0] is None)
    key_ids = sorted({h.key_id for h in lookups if h.key_id is not None})
    values = sorted({v for kind, digest, normal in wanted.values() for v in (digest, normal)})
    kinds = sorted({kind for kind, digest, normal in wanted.values()})
    subject_ids = sorted(ids)
    keys: list[Any] = []
    identities: list[Any] = []
    subjects: list[Any] = []
    if lock_left_to_preload(session):
        reads: list[DriverRead] = []
        if key_ids:
            reads.append((_KEYS_REVOKED_AT_SQL, (key_ids,)))
        if wanted:
            reads.append((_IDENTITY_ROWS_SQL, (kinds, values)))
        if subject_ids:
            reads.append((_SUBJECT_ROWS_SQL, (subject_ids,)))
        got = iter(lock_and_read_head(session, reads))
        dialect = session.connection().dialect
        keys = [(k, _UTC.process_result_value(at, dialect)) for k, at in next(got)
                ] if key_ids else []
        identities = [_IdentityHit(*row) for row in next(got)] if wanted else []
        subjects = list(next(got)) if subject_ids else []
    else:
        conn = session.connection()
        if key_ids:
            keys = list(conn.execute(_KEYS_REVOKED_AT, {"ids": key_ids}).tuples())
        if wanted:
            identities = [_IdentityHit(*row) for row in conn.execute(
                _IDENTITY_ROWS, {"kinds": kinds, "values": values})]
        if subject_ids:
            subjects = [(r.id, r.birth_date) for r in subject_rows(session, subject_ids)]
    if lookups and key_ids:
        revoked = dict(keys)
        session.info[_PRELOADED_KEYS] = {k: revoked.get(k, _NO_KEY) for k in key_ids}
    named = _identity_refs(wanted, identities)
    if not ids and not named:
        return
    found = {sid: SubjectRow(sid, birth) for sid, birth in subjects}
    refs: dict[str, SubjectRow | None] = {sid: found.get(sid) for sid in ids}
    refs.update(named)
    session.info[_PRELOADED] = {**{sid: found.get(sid) for sid in ids},
                                **{row.id: row for row in named.values() if row is not None}}
    session.info[_PRELOADED_REFS] = refs
    # The keys their evidence is sealed under, read at once for those not cached (a
    # person's first write since this process started read its key under the lock).
    sealed_for = {row.id for h in lookups if h.refs
                  if (row := refs.get(h.refs[0].strip())) is not None}
    if sealed_for:
        keyring_for(session).warm(session.connection(), sorted(sealed_for))


def _identity_plan(session: Session, refs: set[str]) -> dict[str, tuple[str, str, str]]:
    """Of ``refs`` (stripped), those naming a person by identity, each with its kind, its
    keyed hash and its normal form. A reference that cannot be normalised is left out
    (looked up on its own, with its own error)."""
    wanted: dict[str, tuple[str, str, str]] = {}
    for ref in refs:
        kind, value = _named_by(ref)
        if kind is None:
            continue
        try:
            normal = normalise(kind, value)
        except PersonvernError:
            continue
        wanted[ref] = (kind, lookup_of(session, kind, normal), normal)
    return wanted


class _IdentityHit(NamedTuple):
    """A row of :data:`_IDENTITY_ROWS`."""

    kind: str
    lookup: str
    plain: bool  # bulk-loaded in clear: ``lookup`` holds the normalised value
    id: str
    birth_date: date | None
    erased_at: datetime | None


def _identity_refs(wanted: dict[str, tuple[str, str, str]], rows: list[_IdentityHit]
                   ) -> dict[str, SubjectRow | None]:
    """The subjects named by identity (``wanted``, :func:`_identity_plan`) among ``rows``,
    as :func:`subject_row_of` finds one: None for a reference found erased or not at all.
    A reference that two rows match is left out (looked up on its own, with its error)."""
    out: dict[str, SubjectRow | None] = {}
    for ref, (kind, digest, normal) in wanted.items():
        hits = [r for r in rows if r.kind == kind
                and (r.lookup == digest or (r.plain and r.lookup == normal))]
        if len(hits) > 1:
            continue
        hit = hits[0] if hits else None
        out[ref] = (SubjectRow(hit.id, hit.birth_date)
                    if hit is not None and hit.erased_at is None else None)
    return out


class _NoKey:
    """A key id the batch's read did not find."""


_NO_KEY = _NoKey()
_KEYS_REVOKED_AT = select(ApiKey.id, ApiKey.revoked_at).where(
    ApiKey.id.in_(bindparam("ids", expanding=True)))
# subject_row_of's columns for many identities at once, with whether each row is one
# bulk-loaded in clear (its lookup column then holds the normalised value).
_IDENTITY_ROWS = (
    select(Identity.kind, Identity.lookup.label("lookup"), Identity.value.is_(None).label("plain"),
           Subject.id, Subject.birth_date, Subject.erased_at)
    .join(Subject, Subject.id == Identity.subject_id)
    # The kind too: the identities' index is (kind, value), and without it every batch
    # scanned the whole table.
    .where(Identity.kind.in_(bindparam("kinds", expanding=True)),
           Identity.lookup.in_(bindparam("values", expanding=True))))
# The same three reads as psycopg text, sent with the ledger's lock and head when the batch
# leaves the lock to the preload (PostgreSQL); ``= ANY`` of an array, as the driver takes a
# list (the identities' (kind, value) index serves it as it serves IN).
_KEYS_REVOKED_AT_SQL = (f"SELECT id, revoked_at FROM {ApiKey.__tablename__} "
                        "WHERE id = ANY(%s::integer[])")
_IDENTITY_ROWS_SQL = (
    f"SELECT i.kind, i.value, i.sealed IS NULL, s.id, s.birth_date, s.erased_at "
    f"FROM {Identity.__tablename__} i JOIN {Subject.__tablename__} s ON s.id = i.subject_id "
    "WHERE i.kind = ANY(%s::text[]) AND i.value = ANY(%s::text[])")
_SUBJECT_ROWS_SQL = (f"SELECT id, birth_date FROM {Subject.__tablename__} "
                     "WHERE id = ANY(%s::text[]) AND erased_at IS NULL")
# revoked_at as the ORM column reads it back (UTC).
_UTC = AwareDateTime()


def subject_of_ref(session: Session, ref: str) -> SubjectRow:
    """:func:`subject_row_of`, from what this batch read for its writers when it has it."""
    refs: dict[str, SubjectRow | None] | None = session.info.get(_PRELOADED_REFS)
    stripped = ref.strip()
    if refs is None or stripped not in refs:
        return subject_row_of(session, ref)
    found = refs[stripped]
    if found is None:
        raise UnknownSubject(f"no subject {stripped!r}")
    return found


def key_revoked_at(session: Session, key_id: int) -> tuple[bool, datetime | None] | None:
    """(the key exists, its ``revoked_at``) as this batch read it for its writers; None
    when the batch did not read it."""
    keys: dict[int, datetime | _NoKey | None] | None = session.info.get(_PRELOADED_KEYS)
    if keys is None or key_id not in keys:
        return None
    got = keys[key_id]
    return (False, None) if isinstance(got, _NoKey) else (True, got)


def _append(session: Session, ctx: ConsentContext, prepared: PreparedEvent, at: datetime,
            subject: SubjectRow) -> tuple[dict[str, Any], bool]:
    new = prepared.new
    if subject != prepared.subject or at.date() != prepared.at.date():
        _check_actor(session, ctx, subject, at, new.type, new.actor, new.actor_subject_id)
    # A replayed withdrawal finds the consent already withdrawn; the ledger answers it.
    if new.type is EventType.CONSENT_WITHDRAWN and not _replaying(session, new.idempotency_key):
        _check_something_to_withdraw(session, subject, new.purpose, at)
    ctx.cache.invalidate_on_commit(session, subject.id)
    return append_values(session, at, new, locked=True)


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
    flush_appends(session)  # this batch's own appends count too
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
    state = ctx.cache.inputs(session, subject_id, ctx.load_state)
    if fresh_consent_since is None:
        fresh_consent_since = ctx.sources.fresh_consent_since(session, at, purpose_id)
    return decide_reusing(purpose, ctx.child_age(), ctx.jurisdiction, state, at, gpc=gpc,
                          fresh_consent_since=fresh_consent_since)


def decide_for_ref(
    session: Session, ctx: ConsentContext, ref: str, purpose_id: str, at: datetime,
    *, gpc: bool = False,
) -> tuple[str, Decision]:
    """:func:`decide_for` for the subject named by ``ref`` (e-mail, phone, ``ext:ID``): its
    id and the decision. A person not cached is found and read in one statement
    (:meth:`ConsentContext.load_state_by_ref`), and ``ref`` is linked to the entry, so its
    next decision is answered from memory (:func:`decide_cached_ref`). The errors come in
    :func:`subject_row_of` then :func:`decide_for`'s order: the reference, then the purpose."""
    subject_id, state = ctx.cache.inputs_by_ref(session, ref, ctx.load_state_by_ref)
    purpose = ctx.purpose(purpose_id)
    return subject_id, decide_reusing(
        purpose, ctx.child_age(), ctx.jurisdiction, state, at, gpc=gpc,
        fresh_consent_since=ctx.sources.fresh_consent_since(session, at, purpose_id))


def decide_cached(
    ctx: ConsentContext, subject_id: str, purpose_id: str, at: datetime, *, gpc: bool = False,
) -> Decision | None:
    """The decision from memory alone, or None when the database must be asked."""
    purpose = ctx.purpose(purpose_id)
    state = ctx.cache.peek(subject_id)
    if state is None:
        return None
    return decide_reusing(purpose, ctx.child_age(), ctx.jurisdiction, state, at, gpc=gpc,
                          fresh_consent_since=ctx.sources.fresh_consent_since(None, at, purpose_id))


def decide_cached_ref(
    ctx: ConsentContext, ref: str, purpose_id: str, at: datetime, *, gpc: bool = False,
) -> tuple[str, Decision] | None:
    """:func:`decide_cached` for a subject named by ``ref`` (e-mail, phone, ``ext:ID``)
    that a decision found before (``DecisionCache.inputs_by_ref``): its id and the decision, or None
    when the database must be asked."""
    found = ctx.cache.peek_ref(ref)
    if found is None:
        return None
    subject_id, state = found
    purpose = ctx.purpose(purpose_id)
    return subject_id, decide_reusing(
        purpose, ctx.child_age(), ctx.jurisdiction, state, at, gpc=gpc,
        fresh_consent_since=ctx.sources.fresh_consent_since(None, at, purpose_id))


def decisions_for(
    session: Session, ctx: ConsentContext, subject_id: str, at: datetime
) -> list[Decision]:
    """A decision for every purpose, for showing a person their consents."""
    state = ctx.cache.inputs(session, subject_id, ctx.load_state)
    return [decide_purpose(p, ctx.child_age(), ctx.jurisdiction, state, at,
                           fresh_consent_since=ctx.sources.fresh_consent_since(session, at, p.id))
            for p in ctx.manifest.purposes]
