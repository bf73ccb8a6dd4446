"""The engine's side of retention: whose rule fired (last activity, account closed, consent
withdrawn, objection), which purposes have ended for whom, and erasing or restricting
subjects once their data is gone. Set-based: a page of subjects per query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from personvern.consent.decide import add_duration
from personvern.consent.events import CONSENT_TYPES, OBJECTION_TYPES, EventType
from personvern.consent.tables import (
    Identity,
    LedgerEvent,
    Subject,
)
from personvern.crypto.keyring import keyring_for
from personvern.keys.shred import shred_subject
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest, RetentionRule
from personvern.requests.erase import forget_subjects
from personvern.retention.clauses import cutoff
from personvern.retention.tables import RetentionRestriction

_ENDED_CONSENT = frozenset({EventType.CONSENT_WITHDRAWN.value, EventType.CONSENT_REFUSED.value,
                            EventType.CONSENT_EXPIRED.value})
_CONSENT = frozenset(t.value for t in CONSENT_TYPES)
_OBJECTION = frozenset(t.value for t in OBJECTION_TYPES)
S = cast(Table, Subject.__table__)
L = cast(Table, LedgerEvent.__table__)
I = cast(Table, Identity.__table__)  # noqa: E741 (the identities table, as in the ERD)
_RESTRICTIONS = cast(Table, RetentionRestriction.__table__)


def page_fired(session: Session, manifest: Manifest, rule: RetentionRule,
               purposes: Sequence[str], now: datetime, j: Jurisdiction, after: str,
               limit: int) -> tuple[list[str], str | None]:
    """A page of subjects (ids above ``after``) whose ``rule`` has fired by ``now``; the
    second value is where the next page starts (None: no more)."""
    limit_at = cutoff(rule, now, j)
    if limit_at is None:
        return [], None
    live = S.c.erased_at.is_(None)
    if rule.trigger in ("last_activity", "account_closed"):
        col = (func.coalesce(S.c.last_activity, S.c.created_at)
               if rule.trigger == "last_activity" else S.c.closed_at)
        ids = list(session.scalars(select(S.c.id).where(live, S.c.id > after, col <= limit_at)
                                   .order_by(S.c.id).limit(limit)))
        return ids, (ids[-1] if len(ids) == limit else None)
    # Consent withdrawn or objection raised: candidates have such an event; the latest
    # events decide (a consent given again after a withdrawal keeps the data).
    kinds = _ENDED_CONSENT if rule.trigger == "consent_withdrawn" else {"objection_raised"}
    ended = and_(L.c.purpose.in_(purposes), L.c.type.in_(kinds))
    lapsing = _expiring(manifest, purposes) if rule.trigger == "consent_withdrawn" else []
    if lapsing:
        # A consent that ran out (the purpose's expires_after) has ended as surely as one
        # withdrawn, though no event says so: its holders are candidates too.
        ended = or_(ended, and_(L.c.purpose.in_(lapsing),
                                L.c.type == EventType.CONSENT_GIVEN.value))
    candidates = list(session.scalars(
        select(L.c.subject_id).distinct().where(ended, L.c.subject_id > after)
        .order_by(L.c.subject_id).limit(limit)))
    if not candidates:
        return [], None
    alive = set(session.scalars(select(S.c.id).where(S.c.id.in_(candidates), live)))
    fired = _event_fired(session, manifest, rule, purposes, [c for c in candidates
                                                              if c in alive], now, limit_at)
    return [c for c in candidates if c in fired], (
        candidates[-1] if len(candidates) == limit else None)


def _event_fired(session: Session, manifest: Manifest, rule: RetentionRule,
                 purposes: Sequence[str], subjects: Sequence[str], now: datetime,
                 limit_at: datetime) -> set[str]:
    """Subjects for whom a consent-withdrawn or objection rule has fired.

    Consent withdrawn: some purpose listing the rule had its consent withdrawn (refused,
    expired) by the cutoff, and no consent purpose listing it still has consent in force
    (withdrawing marketing alone does not delete the profile the sign-up consent keeps).
    Objection: the latest objection event of a purpose listing the rule is raised.
    """
    if not subjects:
        return set()
    out: set[str] = set()
    if rule.trigger == "objection_raised":
        latest = _latest(session, subjects, purposes, _OBJECTION)
        for (sid, _), (kind, at) in latest.items():
            if kind == "objection_raised" and at <= limit_at:
                out.add(sid)
        return out
    latest = _latest(session, subjects, purposes, _CONSENT)
    for sid in subjects:
        withdrawn = any(_ended_by(manifest, p, latest.get((sid, p)), limit_at)
                        for p in purposes)
        if withdrawn and not any(_in_force(manifest, p, latest.get((sid, p)), now)
                                 for p in purposes):
            out.add(sid)
    return out


def _expiring(manifest: Manifest, purposes: Sequence[str]) -> list[str]:
    """The purposes of ``purposes`` whose consent runs out after a set time."""
    return [p.id for p in manifest.purposes if p.id in purposes and p.consent is not None
            and p.consent.expires_after is not None and not p.consent.expires_after.unlimited]


def _ended_by(manifest: Manifest, purpose_id: str, last: tuple[str, datetime] | None,
              limit_at: datetime) -> bool:
    """Whether consent for the purpose had ended by ``limit_at``: withdrawn, refused or
    expired by an event, or given so long before that it ran out (its ``expires_after``)."""
    if last is None:
        return False
    if last[0] in _ENDED_CONSENT:
        return last[1] <= limit_at
    purpose = next((p for p in manifest.purposes if p.id == purpose_id), None)
    expiry = purpose.consent.expires_after if purpose and purpose.consent else None
    return (last[0] == EventType.CONSENT_GIVEN.value and expiry is not None
            and not expiry.unlimited and add_duration(last[1], expiry) <= limit_at)


def _in_force(manifest: Manifest, purpose_id: str, last: tuple[str, datetime] | None,
              now: datetime) -> bool:
    """Whether consent for a consent-based purpose is in force (given, not expired)."""
    purpose = next((p for p in manifest.purposes if p.id == purpose_id), None)
    if purpose is None or purpose.legal_basis != "consent" or last is None:
        return False
    expiry = purpose.consent.expires_after if purpose.consent else None
    return last[0] == "consent_given" and not (
        expiry is not None and not expiry.unlimited and add_duration(last[1], expiry) <= now)


def without_consent(session: Session, subjects: Sequence[str], purpose: str) -> int:
    """How many of ``subjects`` have no consent event at all (given, refused, withdrawn,
    expired) for ``purpose``."""
    with_any: set[str] = set()
    for start in range(0, len(subjects), 500):
        chunk = list(subjects[start:start + 500])
        with_any |= set(session.scalars(select(L.c.subject_id).distinct().where(
            L.c.subject_id.in_(chunk), L.c.purpose == purpose, L.c.type.in_(_CONSENT))))
    return len(subjects) - len(with_any)


def _latest(session: Session, subjects: Sequence[str], purposes: Iterable[str],
            kinds: Iterable[str]) -> dict[tuple[str, str], tuple[str, datetime]]:
    """The latest event of ``kinds`` per (subject, purpose): (type, at)."""
    last = (select(func.max(L.c.seq)).where(L.c.subject_id.in_(subjects),
                                            L.c.purpose.in_(list(purposes)),
                                            L.c.type.in_(list(kinds)))
            .group_by(L.c.subject_id, L.c.purpose))
    rows = session.execute(select(L.c.subject_id, L.c.purpose, L.c.type, L.c.at)
                           .where(L.c.seq.in_(last)))
    return {(r.subject_id, r.purpose): (r.type, r.at) for r in rows}


def ended(session: Session, manifest: Manifest, j: Jurisdiction, subjects: Sequence[str],
          purposes: Iterable[str], engine_rules: dict[str, list[RetentionRule]], now: datetime
          ) -> dict[str, set[str]]:
    """Per subject, the purposes (of ``purposes``) that have ended for them by the engine's
    records: one of the purpose's engine-dated rules fired, or, for a purpose resting on
    consent, no consent is in force (never given, withdrawn, refused or expired)."""
    out: dict[str, set[str]] = defaultdict(set)
    wanted = list(purposes)
    if not subjects or not wanted:
        return out
    facts = {r.id: r for r in session.execute(
        select(S.c.id, S.c.last_activity, S.c.created_at, S.c.closed_at)
        .where(S.c.id.in_(subjects)))}
    consent = _latest(session, subjects, wanted, _CONSENT)
    by_rule: dict[str, set[str]] = {}
    for pid in wanted:
        purpose = next((p for p in manifest.purposes if p.id == pid), None)
        for sid in subjects:
            if sid not in facts:
                continue
            if purpose is not None and purpose.legal_basis == "consent" and not _in_force(
                    manifest, pid, consent.get((sid, pid)), now):
                out[sid].add(pid)
        for rule in engine_rules.get(pid, []):
            limit = cutoff(rule, now, j)
            if limit is None:
                continue
            if rule.trigger in ("consent_withdrawn", "objection_raised"):
                if rule.id not in by_rule:
                    listing = [p.id for p in manifest.purposes if rule.id in p.retention]
                    by_rule[rule.id] = _event_fired(session, manifest, rule, listing,
                                                    list(facts), now, limit)
                hit = by_rule[rule.id]
            else:
                hit = set()
                for sid, f in facts.items():
                    at = (f.last_activity or f.created_at) if rule.trigger == "last_activity" \
                        else f.closed_at
                    if at is not None and at <= limit:
                        hit.add(sid)
            for sid in hit:
                out[sid].add(pid)
    return out


def identities(session: Session, subjects: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """Per subject, identity kind -> values."""
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    # Whole entities: values are sealed, and loading the object is what opens them.
    for found in session.scalars(select(Identity).where(Identity.subject_id.in_(subjects))):
        out[found.subject_id][found.kind].append(found.value)
    return out


def merged(ids: dict[str, dict[str, list[str]]], subjects: Iterable[str]) -> dict[str, list[str]]:
    """The identities of several subjects together, kind -> values."""
    out: dict[str, list[str]] = defaultdict(list)
    for s in subjects:
        for kind, values in ids.get(s, {}).items():
            out[kind] += values
    return out


def active_after(session: Session, at: datetime, subjects: Sequence[str] | None = None
                 ) -> set[str]:
    """Live subjects (of ``subjects``, else any: at most one is returned) whose recorded
    activity is later than ``at``."""
    q = select(S.c.id).where(S.c.erased_at.is_(None), S.c.last_activity > at)
    if subjects is None:
        return set(session.scalars(q.limit(1)))
    out: set[str] = set()
    for start in range(0, len(subjects), 500):
        out |= set(session.scalars(q.where(S.c.id.in_(list(subjects[start:start + 500])))))
    return out


def has_identities(session: Session) -> bool:
    """Whether any live subject has an identity (else no service row can be anyone's)."""
    return session.execute(select(I.c.id).join(S, S.c.id == I.c.subject_id)
                           .where(S.c.erased_at.is_(None)).limit(1)).first() is not None


def owners_of(session: Session, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The live subject owning each (kind, value) identity, where one does.

    The engine stores identities by keyed hash (their values are sealed), so each value is
    looked for by its hash, and in clear for rows inserted in bulk and not yet sealed.
    Many values go through a temporary table (one executemany and one join): binding tens
    of thousands of IN parameters costs more than the lookup itself."""
    plain = list(dict.fromkeys(pairs))
    if not plain:
        return {}
    keyring, conn = keyring_for(session), session.connection()
    stored: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, value in plain:
        stored[(kind, keyring.lookup_hash(conn, kind, value))] = (kind, value)
        stored[(kind, value)] = (kind, value)
    wanted = list(stored)
    joined = select(I.c.kind, I.c.value, I.c.subject_id).join(S, S.c.id == I.c.subject_id)
    found: dict[tuple[str, str], str] = {}
    if len(wanted) <= 400:
        rows = session.execute(joined.where(tuple_(I.c.kind, I.c.value).in_(wanted),
                                            S.c.erased_at.is_(None)))
        return {stored[(r.kind, r.value)]: r.subject_id for r in rows}
    session.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS pv_wanted_identities "
                         "(kind VARCHAR(32) NOT NULL, value VARCHAR(320) NOT NULL)"))
    session.execute(text("DELETE FROM pv_wanted_identities"))
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    # The driver's own executemany: SQLAlchemy's per-row parameter handling costs more.
    conn.exec_driver_sql(
        f"INSERT INTO pv_wanted_identities (kind, value) VALUES ({mark}, {mark})", wanted)
    rows = session.execute(text(
        "SELECT i.kind, i.value, i.subject_id FROM pv_wanted_identities w "
        "JOIN subject_identities i ON i.kind = w.kind AND i.value = w.value "
        "JOIN subjects s ON s.id = i.subject_id WHERE s.erased_at IS NULL"))
    found.update({stored[(r.kind, r.value)]: r.subject_id for r in rows})
    session.execute(text("DELETE FROM pv_wanted_identities"))
    return found


def on_subject_erased(session: Session, subject_id: str, at: datetime) -> None:
    """Called once for each subject a sweep erases entirely, in the erasing transaction.

    Destroys the subject's key (crypto-shredding), as a completed erasure request does:
    every copy of their sealed data, backups included, becomes unreadable.
    """
    shred_subject(session, subject_id, at=at, actor="retention", reason="retention")


def erase_subjects(session: Session, subjects: Sequence[str], at: datetime) -> None:
    """Erase what the engine holds on these people, as an erasure request does (the same
    function), and the sweep's own restrictions of them; then the hook."""
    if not subjects:
        return
    ids = list(subjects)
    forget_subjects(session, ids, at)
    session.connection().execute(delete(_RESTRICTIONS).where(
        _RESTRICTIONS.c.subject_id.in_(ids)))
    for sid in ids:
        on_subject_erased(session, sid, at)


def restrict_subjects(session: Session, subjects: dict[str, list[str]], rule: str,
                      at: datetime, reason: str) -> int:
    """Record that only the listed purposes may still use each subject's data; returns how
    many were not restricted before."""
    new = 0
    for sid, purposes in subjects.items():
        found = session.get(RetentionRestriction, sid)
        if found is None:
            session.add(RetentionRestriction(subject_id=sid, purposes=sorted(purposes),
                                             rule=rule, since=at, reason=reason))
            new += 1
        elif set(purposes) - set(found.purposes) or set(found.purposes) - set(purposes):
            found.purposes = sorted(set(found.purposes) & set(purposes) or purposes)
    session.flush()
    return new


def retained_for_of(subject_id: ColumnElement[str]) -> ScalarSelect[list[str] | None]:
    """The rule, as SQL: the purposes retention still allows for ``subject_id`` (a JSON
    list), NULL when no such restriction is in force. A scalar subquery, so a decision's
    cold load reads it in the same statement as the person."""
    return select(_RESTRICTIONS.c.purposes).where(
        _RESTRICTIONS.c.subject_id == subject_id).scalar_subquery()


# Built once: SQLAlchemy reuses its compiled form.
_RETAINED_FOR = select(retained_for_of(
    bindparam("subject_id", type_=_RESTRICTIONS.c.subject_id.type)))


def retained_for(session: Session, subject_id: str) -> frozenset[str] | None:
    """The only purposes that may still use the person's data, when retention restricted
    them (their other purposes have ended); None when no such restriction is in force."""
    purposes = session.execute(_RETAINED_FOR, {"subject_id": subject_id}).scalar()
    return None if purposes is None else frozenset(purposes)
