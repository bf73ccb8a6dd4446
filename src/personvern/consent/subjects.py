"""The subject registry: stable ids, identities, guardians, organisations, activity."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session, aliased

from personvern.clock import Clock
from personvern.consent.decide import SubjectFacts
from personvern.consent.tables import (
    Guardianship,
    Identity,
    Membership,
    Organisation,
    Subject,
)
from personvern.contact import normalise_email, normalise_phone
from personvern.crypto.keyring import keyring_for
from personvern.errors import Conflict, InvalidInput, UnknownSubject
from personvern.law import Jurisdiction
from personvern.rights.acting import require_known_age

IDENTITY_KINDS = ("email", "phone", "external_id")


def new_id() -> str:
    """A random, meaningless id (uuid4 hex): it reveals nothing about the person."""
    return uuid.uuid4().hex


def normalise(kind: str, value: str) -> str:
    """The stored form of an identity of ``kind``.

    A phone number without its country code is read as the default jurisdiction's: the
    registry has no manifest at hand, and one deployment must key a number one way only.
    """
    if kind == "email":
        return normalise_email(value)
    if kind == "phone":
        return normalise_phone(value)
    if kind == "external_id":
        ext = value.strip()
        if not ext or len(ext) > 200:
            raise InvalidInput("an external id must be 1 to 200 characters")
        return ext
    raise InvalidInput(f"unknown identity kind {kind!r}; use one of {', '.join(IDENTITY_KINDS)}")


def lookup_of(session: Session, kind: str, normal: str) -> str:
    """The keyed hash an identity is found by (its value is stored only sealed)."""
    return keyring_for(session).lookup_hash(session.connection(), kind, normal)


def matches(session: Session, kind: str, normals: list[str]) -> Any:
    """WHERE clause for identities of ``kind`` with one of the normalised values."""
    hashes = [lookup_of(session, kind, v) for v in normals]
    return and_(Identity.kind == kind, or_(
        Identity.lookup.in_(hashes),
        # Rows bulk-inserted in clear and not yet sealed (sealed at the next start).
        and_(Identity.value.is_(None), Identity.lookup.in_(normals)),
    ))


def find_subject(session: Session, kind: str, value: str) -> Subject | None:
    """The subject with identity ``kind``=``value``, or None."""
    normal = normalise(kind, value)
    return session.scalars(_FIND_ONE, {"kind": kind, "hash": lookup_of(session, kind, normal),
                                       "plain": normal}).first()


# ``matches`` for one value, built once: building the expression at every call was a
# tenth of a consent write on SQLite (py-spy, docs/performance.md).
_FIND_ONE = select(Subject).join(Identity).where(
    Identity.kind == bindparam("kind"),
    or_(Identity.lookup == bindparam("hash"),
        and_(Identity.value.is_(None), Identity.lookup == bindparam("plain"))))


def _named_by(ref: str) -> tuple[str | None, str]:
    """How ``ref`` (stripped) names a subject: (identity kind, value), or (None, its id)."""
    if ref.startswith("ext:"):
        return "external_id", ref[4:]
    if "@" in ref:
        return "email", ref
    if ref.startswith("+"):
        return "phone", ref
    return None, ref


def get_subject(session: Session, ref: str) -> Subject:
    """A subject by id, e-mail (has @), phone (starts with +) or ``ext:ID``; else UnknownSubject."""
    ref = ref.strip()
    kind, value = _named_by(ref)
    found = session.get(Subject, ref) if kind is None else find_subject(session, kind, value)
    if found is None or found.erased_at is not None:
        raise UnknownSubject(f"no subject {ref!r}")
    return found


# _FIND_ONE's columns for subject_row_of: the row, not an ORM instance.
_FIND_ROW = select(Subject.id, Subject.birth_date, Subject.erased_at).join(Identity).where(
    Identity.kind == bindparam("kind"),
    or_(Identity.lookup == bindparam("hash"),
        and_(Identity.value.is_(None), Identity.lookup == bindparam("plain"))))


def subject_row_of(session: Session, ref: str) -> SubjectRow:
    """:func:`get_subject`'s subject (the same references, the same errors) as its id and
    birth date, read via Core: a consent write needs no more, and no ORM instance."""
    ref = ref.strip()
    found_by = identity_params(session, ref)
    if found_by is None:
        row = session.connection().execute(_SUBJECT_ROW, {"id": ref}).first()
        if row is not None:
            return SubjectRow(row.id, row.birth_date)
    else:
        found = session.connection().execute(_FIND_ROW, found_by).first()
        if found is not None and found.erased_at is None:
            return SubjectRow(found.id, found.birth_date)
    raise UnknownSubject(f"no subject {ref!r}")


def identity_params(session: Session, ref: str) -> dict[str, str] | None:
    """The values ``ref`` (stripped) is found by among the identities, as
    :data:`FIRST_BY_IDENTITY` and ``_FIND_ROW`` bind them (its kind, keyed hash and
    normal form); None when ``ref`` is a subject id. InvalidInput when it cannot be
    normalised (a malformed e-mail address or phone number)."""
    kind, value = _named_by(ref)
    if kind is None:
        return None
    normal = normalise(kind, value)
    return {"kind": kind, "hash": lookup_of(session, kind, normal), "plain": normal}


# The first subject _FIND_ROW finds for an identity (erased or not, as .first() takes it),
# as a scalar subquery over a CTE: a statement can find the person and read them at once,
# and name them several times with the identities searched once. Its own aliases, so that
# it never binds to a ``subjects`` of the statement around it. The value is matched with
# IN, then the form checked: the same rows as _FIND_ROW's OR, but PostgreSQL can find
# them by the (kind, value) index instead of reading every identity of the kind.
_S, _I = aliased(Subject), aliased(Identity)
_FIRST_HIT = (
    select(_S.id).join(_I, _I.subject_id == _S.id).where(
        _I.kind == bindparam("kind"),
        _I.lookup.in_([bindparam("hash"), bindparam("plain")]),
        or_(_I.lookup == bindparam("hash"), _I.value.is_(None)))
    .limit(1).cte("identity_hit"))
FIRST_BY_IDENTITY = select(_FIRST_HIT.c.id).scalar_subquery()


def create_subject(
    session: Session,
    clock: Clock,
    identities: dict[str, str],
    *,
    birth_date: date | None = None,
    kind: str | None = None,
    existing_customer: bool = False,
) -> tuple[Subject, bool]:
    """Find the subject owning these identities, or create one; returns (subject, created).

    Identities that point at two different subjects are a Conflict, never a merge.
    """
    if not identities:
        raise InvalidInput("give at least one identity: email, phone or external_id")
    normal = {k: normalise(k, v) for k, v in identities.items()}
    owners = {s.id: s for k, v in normal.items() if (s := find_subject(session, k, v))}
    if len(owners) > 1:
        raise Conflict("these identities belong to different subjects: " + ", ".join(owners))
    if birth_date is not None and birth_date > clock().date():
        raise InvalidInput(f"birth date {birth_date.isoformat()} is in the future")
    if owners:
        subject = next(iter(owners.values()))
        _add_missing(session, clock, subject, normal)
        return subject, False
    subject = Subject(
        id=new_id(), created_at=clock(), kind=kind, birth_date=birth_date,
        existing_customer=existing_customer,
    )
    session.add(subject)
    session.flush()
    _add_missing(session, clock, subject, normal)
    return subject, True


def fill_in(subject: Subject, *, birth_date: date | None = None, kind: str | None = None,
            existing_customer: bool = False) -> list[str]:
    """Record on a found subject the facts it lacked; what was recorded, in words. A value
    that contradicts the one on record is a Conflict: never overwritten in passing."""
    recorded: list[str] = []
    for field, given in (("birth date", birth_date), ("kind", kind)):
        attr = field.replace(" ", "_")
        held = getattr(subject, attr)
        if given is None or held == given:
            continue
        if held is not None:
            shown = held.isoformat() if isinstance(held, date) else held
            wanted = given.isoformat() if isinstance(given, date) else given
            raise Conflict(f"subject {subject.id} has {field} {shown} on record, not {wanted}; "
                           "nothing was changed")
        setattr(subject, attr, given)
        recorded.append(f"{field} {given.isoformat() if isinstance(given, date) else given}")
    if existing_customer and not subject.existing_customer:
        subject.existing_customer = True
        recorded.append("an existing customer")
    return recorded


def _add_missing(session: Session, clock: Clock, subject: Subject, normal: dict[str, str]) -> None:
    have = {(i.kind, i.value) for i in identities_of(session, subject.id)}
    for k, v in normal.items():
        if (k, v) not in have:
            session.add(Identity(subject_id=subject.id, kind=k, value=v, created_at=clock()))
    session.flush()


def identities_of(session: Session, subject_id: str) -> list[Identity]:
    """The subject's identities, oldest first."""
    return list(session.scalars(
        select(Identity).where(Identity.subject_id == subject_id).order_by(Identity.id)
    ))


def record_activity(session: Session, subject: Subject, at: datetime) -> datetime:
    """Note activity at ``at``; a clock that goes backwards never moves it back."""
    if subject.last_activity is None or at > subject.last_activity:
        subject.last_activity = at
        session.flush()
    assert subject.last_activity is not None
    return subject.last_activity


def link_guardian(
    session: Session, clock: Clock, guardian: Subject, child: Subject, verified_by: str | None,
    j: Jurisdiction,
) -> Guardianship:
    """Record that ``guardian`` acts for ``child`` (idempotent); the child's birth date
    must be known, so the guardian's standing ends at majority."""
    if guardian.id == child.id:
        raise InvalidInput("a subject cannot be their own guardian")
    require_known_age(child.id, child.birth_date, j)
    existing = session.scalars(select(Guardianship).where(
        Guardianship.guardian_id == guardian.id, Guardianship.child_id == child.id
    )).first()
    if existing is not None:
        return existing
    link = Guardianship(guardian_id=guardian.id, child_id=child.id, verified_by=verified_by,
                        created_at=clock())
    session.add(link)
    session.flush()
    return link


def guardians_of(session: Session, child_id: str) -> set[str]:
    """Ids of the child's guardians."""
    return set(session.scalars(
        select(Guardianship.guardian_id).where(Guardianship.child_id == child_id)
    ))


def children_of(session: Session, guardian_id: str) -> set[str]:
    """Ids of the subjects this guardian acts for."""
    return set(session.scalars(
        select(Guardianship.child_id).where(Guardianship.guardian_id == guardian_id)
    ))


def reference_of(session: Session, subject_id: str) -> str:
    """How a person refers to the subject on the command line: ``ext:ID`` where the app
    registered its own user id, else the subject id."""
    for ident in identities_of(session, subject_id):
        if ident.kind == "external_id":
            return f"ext:{ident.value}"
    return subject_id


def organisations_of(session: Session, subject_id: str) -> list[tuple[Organisation, str]]:
    """The organisations the subject belongs to, by name, each with the subject's role."""
    return [(org, role) for org, role in session.execute(
        select(Organisation, Membership.role).join(
            Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.subject_id == subject_id).order_by(Organisation.name)).tuples()]


def create_organisation(
    session: Session, clock: Clock, name: str, orgnr: str | None = None
) -> Organisation:
    """A customer organisation (seed 003); the orgnr is checked with mod-11."""
    if orgnr is not None:
        from stdnum.exceptions import ValidationError
        from stdnum.no import orgnr as orgnr_check

        try:
            orgnr = str(orgnr_check.validate(orgnr))
        except ValidationError:
            raise InvalidInput(f"{orgnr!r} is not a valid organisasjonsnummer") from None
    org = Organisation(id=new_id(), name=name.strip(), orgnr=orgnr, created_at=clock())
    session.add(org)
    session.flush()
    return org


def add_member(
    session: Session, clock: Clock, org: Organisation, subject: Subject, role: str = "member"
) -> Membership:
    """Make ``subject`` a member (or admin) of ``org``."""
    if role not in {"member", "admin"}:
        raise InvalidInput(f"role must be member or admin, not {role!r}")
    member = Membership(organisation_id=org.id, subject_id=subject.id, role=role,
                        created_at=clock())
    session.add(member)
    session.flush()
    return member


def is_admin_for(session: Session, admin_id: str, member_id: str) -> bool:
    """Whether ``admin_id`` administers an organisation that ``member_id`` belongs to."""
    admin_orgs = select(Membership.organisation_id).where(
        Membership.subject_id == admin_id, Membership.role == "admin"
    )
    return session.scalars(select(Membership.id).where(
        Membership.subject_id == member_id, Membership.organisation_id.in_(admin_orgs)
    )).first() is not None


def facts_of(subject: Subject) -> SubjectFacts:
    """What decisions need to know about ``subject``."""
    return facts_of_row(subject.birth_date, subject.existing_customer, subject.closed_at)


# The columns :func:`facts_of_row` takes, in its order, for statements that read them.
FACT_COLUMNS = (Subject.__table__.c.birth_date, Subject.__table__.c.existing_customer,
                Subject.__table__.c.closed_at)


def facts_of_row(birth_date: date | None, existing_customer: bool,
                 closed_at: datetime | None) -> SubjectFacts:
    """What decisions need to know about a subject, from its :data:`FACT_COLUMNS`."""
    return SubjectFacts(birth_date=birth_date, existing_customer=existing_customer,
                        relationship_active=closed_at is None)


def require_subject(session: Session, subject_id: str) -> Subject:
    """The subject with ``subject_id``; UnknownSubject if unknown or erased."""
    found = session.get(Subject, subject_id)
    if found is None or found.erased_at is not None:
        raise UnknownSubject(f"no subject {subject_id!r}")
    return found


_SUBJECTS = Subject.__table__
# Built once: SQLAlchemy then reuses its compiled form instead of re-deriving it per call.
_SUBJECT_ROW = select(_SUBJECTS.c.id, _SUBJECTS.c.birth_date).where(
    _SUBJECTS.c.id == bindparam("id"), _SUBJECTS.c.erased_at.is_(None)
)


_SUBJECT_ROWS = select(_SUBJECTS.c.id, _SUBJECTS.c.birth_date).where(
    _SUBJECTS.c.id.in_(bindparam("ids", expanding=True)), _SUBJECTS.c.erased_at.is_(None)
)


class SubjectRow(NamedTuple):
    """The few columns the ledger's checks need, read without the ORM."""

    id: str
    birth_date: date | None


def subject_rows(session: Session, subject_ids: list[str]) -> list[SubjectRow]:
    """The rows of those of ``subject_ids`` that exist and are not erased, in one statement."""
    rows = session.connection().execute(_SUBJECT_ROWS, {"ids": subject_ids})
    return [SubjectRow(r.id, r.birth_date) for r in rows]


def subject_row(session: Session, subject_id: str) -> SubjectRow:
    """The subject's id and birth date via Core (hot path); UnknownSubject if unknown or erased."""
    row = session.connection().execute(_SUBJECT_ROW, {"id": subject_id}).first()
    if row is None:
        raise UnknownSubject(f"no subject {subject_id!r}")
    return SubjectRow(row.id, row.birth_date)
