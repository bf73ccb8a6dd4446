"""What the portal does, without HTTP: who may act for whom, and the work on the cores.

A signed-in subject acts for themselves, for a child they are the guardian of (under the
age of majority), and for members of an organisation they administer. Anyone else's id
is NotFound, exactly as an id that does not exist, so nothing is learnt by guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    Row,
    Select,
    String,
    and_,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from personvern.consent.decide import Decision
from personvern.consent.events import Actor, Channel, EventType
from personvern.consent.service import decisions_for, record_event
from personvern.consent.tables import Guardianship, Identity, LedgerEvent, Membership, Subject
from personvern.crypto.columns import ERASED, Sealed
from personvern.crypto.keyring import HASH_PREFIX, keyring_for
from personvern.errors import InvalidInput, NotFound
from personvern.manifest.model import Manifest, Purpose
from personvern.requests import engine as requests_engine
from personvern.requests import information as request_information
from personvern.requests import jobs as request_jobs
from personvern.requests import rectify as request_rectify
from personvern.requests.tables import Request
from personvern.rights.acting import Act, consent_age, guardian_may_act
from personvern.runtime import Runtime
from personvern.web.portal_text import MESSAGES

VERIFIED_BY = "signed-in portal session (one-time e-mail link)"
T = TypeVar("T")
# What depends on the manifest alone, per process: (id(manifest), what) -> (manifest, value).
_MANIFEST_CACHE: dict[tuple[Any, ...], tuple[Manifest, Any]] = {}
_INFORMATION: dict[tuple[str, str | None, frozenset[str], str], dict[str, Any]] = {}


@dataclass(frozen=True)
class Person:
    """Someone the signed-in subject may act for, and in which role."""

    id: str
    role: str  # "self", "guardian" (of a child) or "admin" (of a member)
    label: str
    kind: str | None = None  # the kind of subject (manifest ``subjects``), if known
    erased: bool = False  # only "self" can be: the others are listed while not erased


def _live(session: Session, subject_id: str) -> Subject | None:
    subject = session.get(Subject, subject_id)
    return subject if subject is not None and subject.erased_at is None else None


def people(session: Session, rt: Runtime, me: str) -> list[Person]:
    """The signed-in subject, their children who are minors and their organisation's members.

    One query whatever the family or organisation size (every page asks this): who, in
    which role, their kind of subject, and their first e-mail address as the label.
    """
    today = rt.clock().date()
    j = rt.consent.jurisdiction
    age = consent_age(rt.loaded.manifest, j)
    conn = session.connection()
    keyring = keyring_for(session)
    key_conn = None if keyring.store is not None else conn
    roles: dict[str, tuple[str, str | None, bool]] = {}
    labels: dict[str, str] = {}
    for rank, person_id, born, kind, erased_at, sealed, lookup in conn.execute(
            _PEOPLE, {"me": me}):
        if person_id not in roles and (
                rank != _GUARDIAN or guardian_may_act(Act.REQUEST, born, today, age, j)):
            # Stored relations the rights module then weighs: a guardian's child only while
            # a minor, an admin's members always; self first, then a child, then a member.
            roles[person_id] = (_ROLES[rank], kind, erased_at is not None)
        if person_id not in labels:
            label = _opened(keyring, key_conn, person_id, sealed, lookup)
            if label is not None:
                labels[person_id] = label
    return [Person(i, role, labels.get(i, i[:8]), kind, erased)
            for i, (role, kind, erased) in roles.items()]


def _opened(keyring: Any, conn: Any, subject_id: str, sealed: Any, lookup: str | None
            ) -> str | None:
    """An e-mail identity's value, opened as loading the Identity would (crypto.columns)."""
    if isinstance(sealed, Sealed):
        data = keyring.open(conn, subject_id, _IDENTITY_VALUE.context, sealed)
        return ERASED if data is None else str(_IDENTITY_VALUE.decode(data))
    if sealed is None and lookup is not None and not lookup.startswith(HASH_PREFIX):
        return lookup  # a row written before encryption keeps its plain value there
    return None


_SELF, _GUARDIAN, _ADMIN = 0, 1, 2
_ROLES = {_SELF: "self", _GUARDIAN: "guardian", _ADMIN: "admin"}
_IDENTITY_VALUE: Any = Identity.__table__.c.sealed.type


def _people() -> Any:
    """``:me``, their children and their organisations' members, each with kind, erasure
    and e-mail identities (oldest first), in one statement built once."""
    me: BindParameter[str] = bindparam("me", type_=String())
    myself: Select[Any] = select(literal_column(str(_SELF)).label("rank"),
                                 cast(me, String()).label("id"),
                                 # typed: the first branch gives the union its column types
                                 type_coerce(null(), Subject.birth_date.type).label("born"))
    children: Select[Any] = (
        select(literal_column(str(_GUARDIAN)).label("rank"), Subject.id.label("id"),
               Subject.birth_date.label("born"))
        .join(Guardianship, Guardianship.child_id == Subject.id)
        .where(Guardianship.guardian_id == me, Subject.erased_at.is_(None)))
    admin_of = select(Membership.organisation_id).where(Membership.subject_id == me,
                                                        Membership.role == "admin")
    members: Select[Any] = (
        select(literal_column(str(_ADMIN)).label("rank"), Membership.subject_id.label("id"),
               null().label("born"))
        .join(Subject, Subject.id == Membership.subject_id)
        .where(Membership.organisation_id.in_(admin_of), Subject.erased_at.is_(None)))
    them = union_all(myself, children, members).subquery()
    ident = Identity.__table__
    subj = Subject.__table__
    # ``kind || ''``: without statistics SQLite would rather walk the (kind, value) index
    # over every e-mail address than look up these few subjects (20 ms at 100,000).
    return (select(them.c.rank, them.c.id, them.c.born, subj.c.kind, subj.c.erased_at,
                   ident.c.sealed, ident.c.value)
            .select_from(them)
            .outerjoin(subj, subj.c.id == them.c.id)
            .outerjoin(ident, and_(ident.c.subject_id == them.c.id,
                                   ident.c.kind.concat("") == "email"))
            .order_by(them.c.rank, them.c.id, ident.c.id))


_PEOPLE = _people()


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


def purposes_of(manifest: Manifest, person: Person) -> list[Purpose]:
    """The purposes for this kind of subject (consent purposes always, to be chosen)."""
    kind = None if person.erased else person.kind
    return _per_manifest(manifest, ("purposes", kind), lambda: _purposes_for(manifest, kind))


def _purposes_for(manifest: Manifest, kind: str | None) -> list[Purpose]:
    known = {s.id for s in manifest.subjects}
    return [p for p in manifest.purposes
            if kind not in known or not p.subjects or kind in p.subjects]


def information(session: Session, rt: Runtime, person: Person, lang: str) -> dict[str, Any]:
    """The Art. 15 information for this person (purposes, why, how long, recipients)."""
    if person.erased:
        raise NotFound("no such person")
    answered = frozenset(p for p in session.connection().execute(
        _ANSWERED, {"sid": person.id}).scalars() if p)
    # The same for everyone of a kind who answered the same purposes: computed once.
    key = (rt.consent.policy_version, person.kind, answered, lang)
    cached = _INFORMATION.get(key)
    if cached is not None:
        return cached
    job = request_jobs.Job(request_id="", type="access", subject_id=person.id,
                     subject_kind=person.kind, identities={}, details={}, opened_by="self",
                     actor_subject_id=None, channel="portal", consent_purposes=answered,
                     engine_records={})
    info = request_information.art15(rt.loaded.manifest, rt.consent.jurisdiction, job, lang)
    if len(_INFORMATION) >= 1024:
        _INFORMATION.clear()
    _INFORMATION[key] = info
    return info


# The purposes a subject has answered (given or withdrawn consent to), built once.
_ANSWERED = select(LedgerEvent.purpose).where(
    LedgerEvent.subject_id == bindparam("sid")).distinct()


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


def requests_of(session: Session, subject_ids: list[str]) -> list[Row[Any]]:
    """The requests about these people, newest first (the columns a list shows)."""
    return list(session.connection().execute(_REQUESTS, {"ids": subject_ids}))


_REQUESTS = (select(Request.id, Request.type, Request.state, Request.received_at,
                    Request.due_on, Request.closed_at, Request.outcome, Request.reason)
             .where(Request.subject_id.in_(bindparam("ids", expanding=True)))
             .order_by(Request.received_at.desc()).limit(200))


def own_request(session: Session, rt: Runtime, me: str, request_id: str) -> Request:
    """A request about someone ``me`` may act for; NotFound otherwise (nothing leaked)."""
    req = session.get(Request, request_id) if len(request_id) <= 64 else None
    allowed = {p.id for p in people(session, rt, me)}
    if req is None or (req.subject_id not in allowed and req.opened_by_subject_id != me):
        raise NotFound("no such request")
    return req


def kept_on_erasure(manifest: Manifest, lang: str) -> list[dict[str, Any]]:
    """What an erasure keeps of a person's data, why and for how long: rows and columns
    a retention rule holds, and personal columns the data map keeps (``erase: keep``);
    ``by_law`` says whether a statute is the reason (GDPR Art. 17(3)(b))."""
    return _per_manifest(manifest, ("kept", lang), lambda: _kept_on_erasure(manifest, lang))


def kept_by_law_alone(kept: list[dict[str, Any]]) -> bool:
    """Whether a statute is the reason for everything kept: only then may the form say
    the law requires it."""
    return all(k["by_law"] for k in kept)


def _kept_on_erasure(manifest: Manifest, lang: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def held(what: str, hold: str) -> None:
        rule = manifest.retention_rule(hold)
        if rule is None:
            return
        why = rule.statute or next((p.name.get(lang) for p in manifest.purposes
                                    if rule.id in p.retention), rule.id)
        out.append({"what": what, "why": why, "by_law": bool(rule.statute),
                    "until": request_information.rule_text(rule, lang)})

    def not_erased(what: str) -> None:
        out.append({"what": what, "why": MESSAGES["kept_by_map"][lang], "by_law": False,
                    "until": MESSAGES["kept_no_end"][lang]})

    for ds in manifest.datasets:
        for table in getattr(ds, "tables", ()):
            if table.hold:
                held(table.name, table.hold)
                continue
            personal = [c for c in table.columns if c.categories and c.name != table.key]
            if table.erase == "keep":
                # Rows the map keeps whole: their personal columns stay as they are.
                for c in personal:
                    not_erased(f"{table.name}.{c.name}")
                continue
            for c in personal:
                if c.hold:
                    held(f"{table.name}.{c.name}", c.hold)
                elif c.erase == "keep" and table.erase != "delete_row":
                    not_erased(f"{table.name}.{c.name}")
    return out


def _per_manifest(manifest: Manifest, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()`` once per manifest (and ``key``): it depends on nothing else.

    The manifest object is kept with the value, so an id reused by a later manifest (a
    test, a reload) is never mistaken for it. Callers must not change what they get.
    """
    known = _MANIFEST_CACHE.get((id(manifest), *key))
    if known is not None and known[0] is manifest:
        hit: T = known[1]
        return hit
    value = compute()
    if len(_MANIFEST_CACHE) >= 1024:
        _MANIFEST_CACHE.clear()
    _MANIFEST_CACHE[(id(manifest), *key)] = (manifest, value)
    return value


def stored_where(manifest: Manifest) -> dict[str, list[str]]:
    """Per purpose, where the data map keeps its categories (``table.column``)."""
    return _per_manifest(manifest, ("stored",), lambda: _stored_where(manifest))


def _stored_where(manifest: Manifest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in manifest.purposes:
        wanted = set(p.categories)
        out[p.id] = sorted({f"{table.name}.{col.name}" for ds in manifest.datasets
                            for table in getattr(ds, "tables", ()) for col in table.columns
                            if wanted & set(col.categories or ())})
    return out


def rectifiable(manifest: Manifest) -> list[tuple[str, str, str]]:
    """Columns a person may correct: (reference, validate_as, first category)."""
    return _per_manifest(manifest, ("rectifiable",), lambda: _rectifiable(manifest))


def _rectifiable(manifest: Manifest) -> list[tuple[str, str, str]]:
    out = []
    for ds in manifest.datasets:
        for table in getattr(ds, "tables", ()):
            for col in table.columns:
                if col.validate_as and getattr(col, "provided", False):
                    cat = col.categories[0] if col.categories else ""
                    out.append((f"{ds.id}.{table.name}.{col.name}", col.validate_as, cat))
    return out


def category_name(manifest: Manifest, category: str, ref: str, lang: str) -> str:
    """A column's label: its category's name (the manifest's, else built in), else the
    column's own name."""
    names = _per_manifest(manifest, ("category names", lang),
                          lambda: _category_names(manifest, lang))
    name = names.get(category)
    return name if name is not None else ref.rsplit(".", 1)[-1]


def _category_names(manifest: Manifest, lang: str) -> dict[str, str]:
    from personvern.manifest.categories import BUILTIN_CATEGORIES

    out = {cid: (c.nb if lang == "nb" else c.en) for cid, c in BUILTIN_CATEGORIES.items()}
    for cat in reversed(manifest.categories):  # the first of an id wins, as before
        if cat.name is not None:
            out[cat.id] = str(cat.name.get(lang))
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
