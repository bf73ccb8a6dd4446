"""What the portal does, without HTTP: who may act for whom, and the work on the cores.

A signed-in subject acts for themselves, for a child they are the guardian of (under the
age of majority), and for members of an organisation they administer. Anyone else's id
is NotFound, exactly as an id that does not exist, so nothing is learnt by guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BindParameter,
    Select,
    String,
    bindparam,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from personvern.consent.decide import Decision
from personvern.consent.events import Actor, Channel, EventType
from personvern.consent.service import decisions_for, record_event
from personvern.consent.tables import Guardianship, Identity, Membership, Subject
from personvern.errors import InvalidInput, NotFound
from personvern.manifest.model import Manifest, Purpose
from personvern.requests import engine as requests_engine
from personvern.requests import information as request_information
from personvern.requests import jobs as request_jobs
from personvern.requests import rectify as request_rectify
from personvern.requests.tables import Request
from personvern.rights.acting import Act, consent_age, guardian_may_act
from personvern.runtime import Runtime

VERIFIED_BY = "signed-in portal session (one-time e-mail link)"
_STORED: dict[int, tuple[Manifest, dict[str, list[str]]]] = {}
_INFORMATION: dict[tuple[str, str | None, frozenset[str], str], dict[str, Any]] = {}


@dataclass(frozen=True)
class Person:
    """Someone the signed-in subject may act for, and in which role."""

    id: str
    role: str  # "self", "guardian" (of a child) or "admin" (of a member)
    label: str


def _labels(session: Session, ids: list[str]) -> dict[str, str]:
    """Each subject's first e-mail address (its id's start when it has none), one query."""
    # Whole entities: the address is sealed, and only loading the object opens it.
    # ``kind || ''``: without statistics SQLite would rather walk the (kind, value) index
    # over every e-mail address than look up these few subjects (20 ms at 100,000).
    rows = session.scalars(select(Identity).where(
        Identity.subject_id.in_(ids), Identity.kind.concat("") == "email")
        .order_by(Identity.id))
    found: dict[str, str] = {}
    for identity in rows:
        found.setdefault(identity.subject_id, identity.value)
    return {i: found.get(i, i[:8]) for i in ids}


def _live(session: Session, subject_id: str) -> Subject | None:
    subject = session.get(Subject, subject_id)
    return subject if subject is not None and subject.erased_at is None else None


def people(session: Session, rt: Runtime, me: str) -> list[Person]:
    """The signed-in subject, their children who are minors and their organisation's members.

    Two queries whatever the family or organisation size: every page asks this.
    """
    today = rt.clock().date()
    j = rt.consent.jurisdiction
    age = consent_age(rt.loaded.manifest, j)
    roles: dict[str, str] = {me: "self"}
    for role, person_id, born in session.connection().execute(_RELATIVES, {"me": me}):
        # Stored relations the rights module then weighs: a guardian's child only while
        # a minor, an admin's members always.
        if role == "admin" or guardian_may_act(Act.REQUEST, born, today, age, j):
            roles.setdefault(person_id, role)  # a child first, then a member
    labels = _labels(session, list(roles))
    return [Person(i, role, labels[i]) for i, role in roles.items()]


def _relatives() -> Any:
    """Children (role "guardian") and organisation members (role "admin") of ``:me``, in
    one query built once: children first, each group by id."""
    me: BindParameter[str] = bindparam("me", type_=String())
    children: Select[Any] = (
        select(literal_column("'guardian'").label("role"), Subject.id.label("id"),
               Subject.birth_date.label("born"))
        .join(Guardianship, Guardianship.child_id == Subject.id)
        .where(Guardianship.guardian_id == me, Subject.erased_at.is_(None)))
    admin_of = select(Membership.organisation_id).where(Membership.subject_id == me,
                                                        Membership.role == "admin")
    members: Select[Any] = (
        select(literal_column("'admin'").label("role"), Membership.subject_id.label("id"),
               null().label("born"))
        .join(Subject, Subject.id == Membership.subject_id)
        .where(Membership.organisation_id.in_(admin_of), Subject.erased_at.is_(None)))
    both = union_all(children, members).subquery()
    return select(both.c.role, both.c.id, both.c.born).order_by(
        both.c.role.desc(), both.c.id)  # "guardian" before "admin"


_RELATIVES = _relatives()


def acting_for(session: Session, rt: Runtime, me: str, target: str | None,
               everyone: list[Person] | None = None) -> Person:
    """The person ``me`` acts for when asking about ``target``; NotFound when not allowed."""
    everyone = everyone if everyone is not None else people(session, rt, me)
    wanted = target or me
    for person in everyone:
        if person.id == wanted:
            return person
    raise NotFound("no such person")


def requester(me: str, person: Person) -> requests_engine.Requester:
    """The Requester for a request opened in the portal (identity checked by the session)."""
    if person.role == "self":
        return requests_engine.Requester("self", None, VERIFIED_BY)
    return requests_engine.Requester(person.role, me, VERIFIED_BY)


def purposes_of(session: Session, manifest: Manifest, subject_id: str) -> list[Purpose]:
    """The purposes for this kind of subject (consent purposes always, to be chosen)."""
    subject = _live(session, subject_id)
    kind = subject.kind if subject is not None else None
    known = {s.id for s in manifest.subjects}
    return [p for p in manifest.purposes
            if kind not in known or not p.subjects or kind in p.subjects]


def information(session: Session, rt: Runtime, subject_id: str, lang: str) -> dict[str, Any]:
    """The Art. 15 information for this person (purposes, why, how long, recipients)."""
    subject = _live(session, subject_id)
    if subject is None:
        raise NotFound("no such person")
    from personvern.consent.tables import LedgerEvent

    answered = frozenset(p for p in session.scalars(
        select(LedgerEvent.purpose).where(LedgerEvent.subject_id == subject_id).distinct())
        if p)
    # The same for everyone of a kind who answered the same purposes: computed once.
    key = (rt.consent.policy_version, subject.kind, answered, lang)
    cached = _INFORMATION.get(key)
    if cached is not None:
        return cached
    job = request_jobs.Job(request_id="", type="access", subject_id=subject_id,
                     subject_kind=subject.kind, identities={}, details={}, opened_by="self",
                     actor_subject_id=None, channel="portal", consent_purposes=answered,
                     engine_records={})
    info = request_information.art15(rt.loaded.manifest, rt.consent.jurisdiction, job, lang)
    if len(_INFORMATION) >= 1024:
        _INFORMATION.clear()
    _INFORMATION[key] = info
    return info


def decisions(session: Session, rt: Runtime, subject_id: str) -> dict[str, Decision]:
    """The decision for every purpose now, by purpose id."""
    return {d.purpose: d for d in decisions_for(session, rt.consent, subject_id, rt.clock())}


def set_consent(session: Session, rt: Runtime, me: str, person: Person, purpose_id: str,
                give: bool, evidence: dict[str, Any]) -> None:
    """Give or withdraw consent through the consent service (the API's decisions follow)."""
    actor = {"self": Actor.SELF, "guardian": Actor.GUARDIAN, "admin": Actor.ADMIN}[person.role]
    record_event(session, rt.consent, rt.clock(), person.id,
                 EventType.CONSENT_GIVEN if give else EventType.CONSENT_WITHDRAWN,
                 purpose_id=purpose_id, actor=actor, channel=Channel.PORTAL,
                 actor_subject_id=None if person.role == "self" else me, evidence=evidence)


def run_request(rt: Runtime, me: str, person: Person, type: str, details: dict[str, Any],
                out_dir: Path, lang: str) -> Request:
    """Open a request for ``person`` (verified by the session) and carry it out now."""
    ctx = requests_engine.Context(rt.consent, rt.clock)
    with rt.transaction() as session:
        opened = requests_engine.open_request(
            session, ctx, type, subject=person.id, by=requester(me, person), channel="portal",
            details=details)
        request_id = opened.request.id
    service = requests_engine.Requests.of(rt)
    try:
        service.run(request_id, reason=requests_engine.RUN_BY_SUBJECT, out_dir=out_dir,
                    actor=f"subject:{me}", lang=lang)
    finally:
        service.close()
    with rt.transaction() as session:
        req = session.get(Request, request_id)
        assert req is not None
        session.expunge(req)
        return req


def requests_of(session: Session, subject_ids: list[str]) -> list[Request]:
    """The requests about these people, newest first."""
    return list(session.scalars(select(Request).where(Request.subject_id.in_(subject_ids))
                                .order_by(Request.received_at.desc()).limit(200)))


def own_request(session: Session, rt: Runtime, me: str, request_id: str) -> Request:
    """A request about someone ``me`` may act for; NotFound otherwise (nothing leaked)."""
    req = session.get(Request, request_id) if len(request_id) <= 64 else None
    allowed = {p.id for p in people(session, rt, me)}
    if req is None or (req.subject_id not in allowed and req.opened_by_subject_id != me):
        raise NotFound("no such request")
    return req


def kept_on_erasure(manifest: Manifest, lang: str) -> list[dict[str, str]]:
    """What an erasure keeps, why and for how long: tables held by a retention rule."""
    out = []
    for ds in manifest.datasets:
        for table in getattr(ds, "tables", ()):
            hold = getattr(table, "hold", None)
            rule = manifest.retention_rule(hold) if hold else None
            if rule is None:
                continue
            why = rule.statute or next((p.name.get(lang) for p in manifest.purposes
                                        if rule.id in p.retention), rule.id)
            out.append({"what": table.name, "why": why,
                        "until": request_information.rule_text(rule, lang)})
    return out


def stored_where(manifest: Manifest) -> dict[str, list[str]]:
    """Per purpose, where the data map keeps its categories (``table.column``)."""
    known = _STORED.get(id(manifest))
    if known is not None and known[0] is manifest:
        return known[1]
    out: dict[str, list[str]] = {}
    for p in manifest.purposes:
        wanted = set(p.categories)
        out[p.id] = sorted({f"{table.name}.{col.name}" for ds in manifest.datasets
                            for table in getattr(ds, "tables", ()) for col in table.columns
                            if wanted & set(col.categories or ())})
    _STORED[id(manifest)] = (manifest, out)  # the manifest is kept: its id stays its own
    return out


def rectifiable(manifest: Manifest) -> list[tuple[str, str, str]]:
    """Columns a person may correct: (reference, validate_as, first category)."""
    out = []
    for ds in manifest.datasets:
        for table in getattr(ds, "tables", ()):
            for col in table.columns:
                if col.validate_as and getattr(col, "provided", False):
                    cat = col.categories[0] if col.categories else ""
                    out.append((f"{ds.id}.{table.name}.{col.name}", col.validate_as, cat))
    return out


def rectify(rt: Runtime, me: str, person: Person, given: dict[str, str], out_dir: Path,
            lang: str) -> Request:
    """Correct the filled-in fields; InvalidInput (nothing changed) when none or one is bad."""
    changes = {ref: value.strip() for ref, value in given.items() if value.strip()}
    if not changes:
        raise InvalidInput("fill in at least one field", code="nothing_to_change")
    # Every error before anything runs.
    request_rectify.validate_changes(rt.loaded.manifest, changes)
    return run_request(rt, me, person, "rectification", {"changes": changes}, out_dir, lang)


def is_erased(session: Session, subject_id: str) -> bool:
    """Whether the subject has been erased from the engine."""
    return _live(session, subject_id) is None
