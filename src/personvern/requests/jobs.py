"""A request as the work sees it, and what every kind of work shares.

The engine reads a :class:`Job` in one transaction (:func:`snapshot`) and closes it, so
no engine transaction stays open while the service's datasets are worked on. Each kind
of work (:mod:`access`, :mod:`rectify`, :mod:`erase`, :mod:`restrict`, :mod:`objection`,
all in :mod:`personvern.requests`) takes the job and an :class:`Env`; this module also
finds the person's rows and says which purposes are theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.consent.tables import Identity, LedgerEvent, Subject
from personvern.crypto.columns import opened
from personvern.errors import NotFound
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest, Purpose
from personvern.requests.datamap import Found, SqlDataset, resolve_column
from personvern.requests.tables import Request
from personvern.storage.engine import storage_errors

# The outcome key under which a run's intended changes wait until it finishes.
INTENDED = "intended"


@dataclass(frozen=True)
class Env:
    """What the work needs from outside: the manifest, the law, the clock, where files go."""

    manifest: Manifest
    jurisdiction: Jurisdiction
    clock: Clock
    out_dir: Path
    lang: str | None = None
    # Told what an erasure is about to change in a dataset, before it commits there, so a
    # run killed after that commit still reports it (kept in the engine by the caller).
    intend: Callable[[dict[str, dict[str, int]]], None] | None = None
    # PostgreSQL datasets: rewrite the tables an erasure touched (VACUUM FULL), so their
    # files hold no byte of it; off by default (it locks the service's tables meanwhile).
    vacuum: bool = False

    def language(self) -> str:
        """The language of the summary: asked for, else bokmål if the service speaks it."""
        if self.lang in ("nb", "en"):
            return self.lang
        return "nb" if "nb" in self.manifest.languages else "en"


@dataclass(frozen=True)
class Job:
    """A request as the work sees it, read from the engine in one transaction."""

    request_id: str
    type: str
    subject_id: str
    subject_kind: str | None
    identities: dict[str, list[str]]
    details: dict[str, Any]
    opened_by: str
    actor_subject_id: str | None
    channel: str
    consent_purposes: frozenset[str]
    engine_records: dict[str, Any]
    # The answers of http datasets (personvern.requests.tasks), by dataset id.
    callbacks: dict[str, Any] = field(default_factory=dict)
    # What an earlier, interrupted run was about to change: {"deleted"|"changed": counts}.
    intended: dict[str, dict[str, int]] = field(default_factory=dict)


# The purposes the person's ledger events name (built once: not anew at every request).
_PURPOSES = select(LedgerEvent.purpose).distinct().where(
    LedgerEvent.subject_id == bindparam("sid"), LedgerEvent.purpose.is_not(None))


def snapshot(session: Session, req: Request) -> Job:
    """Everything the work needs, so no engine transaction stays open during it."""
    subject = session.get(Subject, req.subject_id)
    if subject is None or subject.erased_at is not None:
        raise NotFound(f"subject {req.subject_id} no longer exists (erased)")
    identities: dict[str, list[str]] = defaultdict(list)
    rows = session.scalars(select(Identity).where(Identity.subject_id == subject.id)
                           .order_by(Identity.id))
    for ident in rows:
        identities[ident.kind].append(ident.value)
    records: dict[str, Any] = {}
    if req.type != "access":  # the work needs the purposes alone, not every event as a row
        purposes = frozenset(p for p in session.execute(_PURPOSES, {"sid": subject.id})
                             .scalars() if p)
    else:
        events = list(session.scalars(select(LedgerEvent).where(
            LedgerEvent.subject_id == subject.id).order_by(LedgerEvent.seq)))
        purposes = frozenset(e.purpose for e in events if e.purpose)
        records = {
            "subject": {"id": subject.id, "kind": subject.kind, "birth_date": subject.birth_date,
                        "created_at": subject.created_at,
                        "last_activity": subject.last_activity},
            "identities": [{"kind": k, "value": v} for k, vs in identities.items() for v in vs],
            "consent_events": [{"purpose": e.purpose, "type": e.type, "at": e.at,
                                "actor": e.actor, "channel": e.channel} for e in events],
            "requests": [{"id": r.id, "type": r.type, "state": r.state,
                          "received_at": r.received_at, "closed_at": r.closed_at}
                         for r in session.scalars(select(Request).where(
                             Request.subject_id == subject.id).order_by(Request.received_at))],
        }
    return Job(
        request_id=req.id, type=req.type, subject_id=subject.id, subject_kind=subject.kind,
        identities=dict(identities), details=dict(req.details or {}), opened_by=req.opened_by,
        actor_subject_id=req.opened_by_subject_id, channel=req.channel,
        consent_purposes=purposes, engine_records=records,
        intended=dict((req.outcome or {}).get(INTENDED) or {}),
    )


def snapshot_many(session: Session, reqs: Sequence[Request]) -> dict[str, Job | NotFound]:
    """:func:`snapshot` for several requests (a batch), their subjects, identities and
    consent events read a statement per chunk; by request id, a Job or the NotFound that
    :func:`snapshot` would raise. Access requests (which carry the engine's records) are
    snapshot one at a time."""
    out: dict[str, Job | NotFound] = {}
    simple = [r for r in reqs if r.type != "access"]
    for r in reqs:
        if r.type == "access":
            try:
                out[r.id] = snapshot(session, r)
            except NotFound as exc:
                out[r.id] = exc
    sids = list(dict.fromkeys(r.subject_id for r in simple))
    subjects: dict[str, Any] = {}
    identities: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    purposes: dict[str, set[str]] = defaultdict(set)
    # Columns, not mapped objects: a batch's 200 subjects and 600 identities cost more as
    # ORM instances (and their load hooks) than the rest of the reads.
    for start in range(0, len(sids), 500):
        part = sids[start:start + 500]
        subjects.update((s.id, s) for s in session.execute(
            select(Subject.id, Subject.kind, Subject.erased_at).where(Subject.id.in_(part))))
        for sid, kind, sealed, lookup in session.execute(
                select(Identity.subject_id, Identity.kind, Identity.value, Identity.lookup)
                .where(Identity.subject_id.in_(part)).order_by(Identity.id)):
            identities[sid][kind].append(opened(session, _IDENTITY_VALUE, sid, sealed, lookup))
        for sid, purpose in session.execute(select(LedgerEvent.subject_id, LedgerEvent.purpose)
                                            .where(LedgerEvent.subject_id.in_(part))):
            if purpose:
                purposes[sid].add(purpose)
    for req in simple:
        subject = subjects.get(req.subject_id)
        if subject is None or subject.erased_at is not None:
            out[req.id] = NotFound(f"subject {req.subject_id} no longer exists (erased)")
            continue
        out[req.id] = Job(
            request_id=req.id, type=req.type, subject_id=subject.id,
            subject_kind=subject.kind, identities=dict(identities[subject.id]),
            details=dict(req.details or {}), opened_by=req.opened_by,
            actor_subject_id=req.opened_by_subject_id, channel=req.channel,
            consent_purposes=frozenset(purposes[subject.id]), engine_records={},
            intended=dict((req.outcome or {}).get(INTENDED) or {}))
    return out


# The identity value's sealed column type: what opens it (its context, its erased text).
_IDENTITY_VALUE: Any = Identity.__table__.c.sealed.type


def needs_datasets(job: Job) -> bool:
    """Whether the work touches the service's datasets."""
    return job.type in ("access", "portability", "rectification", "erasure")


def plain(value: Any) -> Any:
    """A JSON- and CSV-ready form of a database value."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


# ---- the person's rows ------------------------------------------------------------------

def walk_ids(job: Job, ds: SqlDataset) -> dict[str, Sequence[Any]]:
    """The identities typed as the columns they are compared with.

    PostgreSQL does not compare an integer user id with the text "42" (SQLite does).
    ``SqlDataset.find`` now casts per column itself (``as_column_type``); this earlier
    cast differs only for text with a leading "-" (dropped here; there "-5" matches -5
    and "--5" fails in ``int``), so it stays until a change of its own settles that.
    """
    out: dict[str, Sequence[Any]] = {}
    for kind, values in job.identities.items():
        wanted = frozenset({kind, "user_id"} if kind == "external_id" else {kind})
        if ds.identity_types(wanted) == {int}:
            out[kind] = [int(v) for v in values if v.strip().isdigit()]
        else:
            out[kind] = values
    return out


def find_all(job: Job, datasets: Sequence[SqlDataset]) -> dict[str, Found]:
    """The person's rows in every dataset, by dataset id, each read in its own connection."""
    found: dict[str, Found] = {}
    for ds in datasets:
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            found[ds.spec.id] = ds.find(conn, walk_ids(job, ds))
    return found


# ---- which purposes are this person's ---------------------------------------------------

def subject_purposes(manifest: Manifest, job: Job) -> list[Purpose]:
    """The purposes that process this person's data: those for their kind of subject,
    and consent purposes only where they ever answered (the ledger has an event)."""
    known = {s.id for s in manifest.subjects}
    kind = job.subject_kind if job.subject_kind in known else None
    return [p for p in manifest.purposes
            if (kind is None or not p.subjects or kind in p.subjects)
            and (p.legal_basis != "consent" or p.id in job.consent_purposes)]


def affected_purposes(manifest: Manifest, job: Job) -> list[Purpose]:
    """Purposes whose recipients must hear of this change (Art. 19)."""
    purposes = subject_purposes(manifest, job)
    if job.type != "rectification":
        return purposes
    # A rectification concerns only those who receive the changed categories.
    categories: set[str] = set()
    for ref in job.details.get("changes", {}):
        _, _, column = resolve_column(manifest, ref)
        categories.update(column.categories)
    return [p for p in purposes if categories & set(p.categories)]
