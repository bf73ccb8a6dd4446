"""Children under the age of consent without a guardian's consent: found, and erased.

GDPR Art. 8(1): below the age the jurisdiction sets (personopplysningsloven § 5: 13 in
Norway, or a manifest's higher ``jurisdiction.child_consent_age``) a child's consent to an
information society service counts only when "given or authorised by the holder of
parental responsibility". A child's processing that rests on their own consent has no
basis, and Art. 17(1)(f) makes such data erasable. Seed 004 (Teoritentamen) goes further:
it does not want children's data at all without a guardian's consent; the manifest switch
``children.erase_without_guardian_consent`` says so, and then the child's contract data
goes too.

What counts as a guardian's consent: a consent given by one of the child's guardians (a
ledger event with actor ``guardian``; the ledger checked the relation) that still stands,
as the consent module decides it: one withdrawn (Art. 7(3)) or expired no longer counts;
or a guardian linked to the child with a note of how the link was verified (Art. 8(2)):
the service recorded that the holder of parental responsibility authorised the
processing. A link without that note does not count.

The age is the child's on today's date in the controller's time zone. A birth date missing
or in the future gives no age: such a person is reported as "age unknown", never erased on
a guess. Each child is erased through the request engine (an erasure opened by the privacy
owner), so legal holds, proof, notices and the audit trail apply as to any erasure; the
audit record of why names the request, never the child.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from personvern.audit import append_audit, require_reason
from personvern.consent.decide import SubjectFacts, SubjectState, decide_purpose
from personvern.consent.events import Actor, ConsentEvent, EventType
from personvern.consent.ledger import as_consent_event
from personvern.consent.service import ConsentContext
from personvern.consent.tables import Guardianship, LedgerEvent, Subject
from personvern.errors import InvalidInput, PersonvernError
from personvern.law import Jurisdiction
from personvern.manifest.categories import categories_meet
from personvern.manifest.model import Manifest
from personvern.requests.deadlines import receipt_date
from personvern.requests.engine import Requester, Requests, open_request
from personvern.requests.restrict import restricted_subjects
from personvern.requests.tables import Request
from personvern.rights.acting import consent_age, years_on

# How the privacy owner "checked identity": nobody asked; the engine found the child.
FOUND_BY = "found by the engine's children check (GDPR Art. 8(1), Art. 17(1)(f)); " \
           "no one asked, so there was no identity to check"
CHANNEL = "engine"
OPEN = ("received", "verifying", "verified", "in_progress", "waiting")


def rule_text(j: Jurisdiction, age: int) -> str:
    """The reason each erasure gives, with the age and the statute of the jurisdiction."""
    return (f"child under the age of consent ({age}) without guardian consent "
            f"(GDPR Art. 8(1), {j.child_consent_source.citation})")


@dataclass(frozen=True)
class Child:
    """One person found: their subject id, age in whole years (None: unknown), and why."""

    subject_id: str
    age: int | None
    why: str
    open_request: str | None = None  # an erasure of theirs already under way

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON (no identity: the pseudonymous id and the age only)."""
        return dict(self.__dict__)


@dataclass
class Found:
    """What a check found at ``today``: who is to be erased, who is kept and why, whose
    age is unknown, and what the check cannot see."""

    today: date
    consent_age: int
    rule: str
    erase_all_data: bool
    to_erase: list[Child] = field(default_factory=list)
    kept: list[Child] = field(default_factory=list)
    age_unknown: list[Child] = field(default_factory=list)
    not_searched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"today": self.today.isoformat(), "consent_age": self.consent_age,
                "rule": self.rule, "erase_all_data": self.erase_all_data,
                "to_erase": [c.as_dict() for c in self.to_erase],
                "kept": [c.as_dict() for c in self.kept],
                "age_unknown": [c.as_dict() for c in self.age_unknown],
                "not_searched": self.not_searched}


def find(session: Session, consent: ConsentContext, now: datetime) -> Found:
    """The children under the consent age at ``now`` with no guardian's consent, judged by
    the consent module as a decision would (withdrawn, expired, or given before a material
    policy change: no longer standing)."""
    manifest, j = consent.manifest, consent.jurisdiction
    if now.tzinfo is None:
        raise InvalidInput("the check's time needs a UTC offset")
    today = receipt_date(now, j)
    age = consent_age(manifest, j)
    erase_all = manifest.children.erase_without_guardian_consent
    found = Found(today, age, rule_text(j, age), erase_all,
                  not_searched=[] if erase_all else _consent_tables(manifest))
    live = Subject.erased_at.is_(None)
    # Anyone born after this day is at most `age` years old; age_on decides exactly.
    oldest = date(today.year - age - 1, 1, 1)
    young = list(session.execute(select(Subject.id, Subject.birth_date).where(
        live, Subject.birth_date > oldest).order_by(Subject.id)).tuples())
    kinds = _child_kinds(manifest)
    unknown_kind = or_(Subject.kind.is_(None), Subject.kind.in_(kinds)) if kinds else \
        Subject.kind.is_(None)
    missing = [] if not (kinds or manifest.children.present) else list(session.scalars(
        select(Subject.id).where(live, Subject.birth_date.is_(None), unknown_kind)
        .order_by(Subject.id)))
    children: dict[str, int] = {}
    births = dict(young)
    for sid, born in young:
        years = years_on(born, today)
        if years is None:  # the query excludes a missing one: this one is in the future
            found.age_unknown.append(Child(sid, None, "birth date in the future"))
        elif years < age:
            children[sid] = years
    found.age_unknown += [Child(sid, None, "no birth date on record") for sid in missing]
    if not children:
        return found
    ids = list(children)
    authorised, lapsed = _guardian_consented(session, consent, ids, births, now)
    own_consent = _consent_given(session, manifest, ids)
    under_way = _open_erasures(session, ids)
    restricted = set(restricted_subjects(session))
    for sid in ids:
        if sid in authorised:
            found.kept.append(Child(sid, children[sid], authorised[sid]))
            continue
        if sid in restricted:  # asked for restriction instead of erasure: Art. 18(1)(b)
            found.kept.append(Child(sid, children[sid], "a restriction is in force (GDPR "
                                    "Art. 18): kept, used for nothing, until it is lifted"))
            continue
        if sid in own_consent:
            why = ("consent on record not given by a guardian, for "
                   + ", ".join(sorted(own_consent[sid])))
        elif erase_all and sid in lapsed:
            why = ("the guardian's consent no longer stands, for " + ", ".join(lapsed[sid])
                   + " (children.erase_without_guardian_consent)")
        elif erase_all:
            why = "no guardian's consent on record (children.erase_without_guardian_consent)"
        else:
            found.kept.append(Child(sid, children[sid], "no consent-based processing on "
                                    "record; children.erase_without_guardian_consent is off"))
            continue
        found.to_erase.append(Child(sid, children[sid], why, under_way.get(sid)))
    return found


def _child_kinds(manifest: Manifest) -> list[str]:
    return [s.id for s in manifest.subjects if s.includes_children]


def _consent_tables(manifest: Manifest) -> list[str]:
    """Mapped tables holding a consent purpose's categories: not searched per child, so a
    child whose only consent-based data is there is not found (said, not hidden)."""
    consent = [p for p in manifest.purposes if p.legal_basis == "consent"]
    out = []
    for ds in manifest.datasets:
        for t in ds.tables:
            cats = [c for col in t.columns for c in col.categories]
            # As retention reads it: a parent category covers its children.
            if any(categories_meet(cats, p.categories) for p in consent):
                out.append(f"{ds.id}.{t.name}")
    return out


def _guardian_consented(session: Session, consent: ConsentContext, ids: list[str],
                        births: dict[str, date | None], now: datetime
                        ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Children with a guardian's consent standing at ``now`` or a verified guardian link
    (which of the two, said in the report: the link is taken as authorisation), and the
    children whose guardian's consent was given but no longer stands, with its purposes."""
    linked = set(session.scalars(select(Guardianship.child_id).where(
        Guardianship.child_id.in_(ids), Guardianship.verified_by.is_not(None),
        Guardianship.verified_by != "")))
    out = dict.fromkeys(linked, "a guardian's verified link to the child, taken as the "
                                "guardian's authorisation (Art. 8(2))")
    lapsed: dict[str, list[str]] = {}
    purposes = [p for p in consent.manifest.purposes if p.legal_basis == "consent"]
    guardian_gave = set(session.scalars(select(LedgerEvent.subject_id).where(
        LedgerEvent.subject_id.in_(ids), LedgerEvent.actor == Actor.GUARDIAN.value,
        LedgerEvent.type == EventType.CONSENT_GIVEN.value)))
    if not purposes or not guardian_gave:
        return out, lapsed
    events: dict[str, list[ConsentEvent]] = {}
    for row in session.scalars(select(LedgerEvent).where(
            LedgerEvent.subject_id.in_(guardian_gave)).order_by(LedgerEvent.seq)):
        events.setdefault(row.subject_id, []).append(as_consent_event(row))
    age = consent_age(consent.manifest, consent.jurisdiction)
    # Consent is "specific, informed" (Art. 4(11)): one given before a material change of
    # the policy touching the purpose must be renewed. Asked once per purpose, not per child.
    fresh = {p.id: consent.sources.fresh_consent_since(session, now, p.id) for p in purposes}
    for sid, mine in events.items():
        # The consent module decides: below the age only a guardian's consent counts, so a
        # purpose allowed on consent is one a guardian's consent stands for.
        state = SubjectState.of(SubjectFacts(birth_date=births.get(sid)), mine)
        decided = [decide_purpose(p, age, consent.jurisdiction, state, now,
                                  fresh_consent_since=fresh[p.id]) for p in purposes]
        standing = [d.purpose for d in decided if d.allowed and d.code == "consent_given"]
        if standing:
            out[sid] = "a guardian's consent standing, for " + ", ".join(standing)
        elif sid not in out:
            lapsed[sid] = [f"{d.purpose} ({d.reason})" for d in decided
                           if d.events_considered]
    return out, lapsed


def _consent_given(session: Session, manifest: Manifest, ids: list[str]
                   ) -> dict[str, set[str]]:
    """Per child, the consent purposes a consent was given for by someone not a guardian."""
    purposes = [p.id for p in manifest.purposes if p.legal_basis == "consent"]
    out: dict[str, set[str]] = {}
    if not purposes:
        return out
    for sid, purpose in session.execute(select(LedgerEvent.subject_id, LedgerEvent.purpose)
                                        .where(and_(
                                            LedgerEvent.subject_id.in_(ids),
                                            LedgerEvent.purpose.in_(purposes),
                                            LedgerEvent.type == EventType.CONSENT_GIVEN.value,
                                            LedgerEvent.actor != Actor.GUARDIAN.value))):
        out.setdefault(sid, set()).add(str(purpose))
    return out


def _open_erasures(session: Session, ids: list[str]) -> dict[str, str]:
    return dict(session.execute(
        select(Request.subject_id, Request.id).where(
            Request.subject_id.in_(ids), Request.type == "erasure",
            Request.state.in_(OPEN))).tuples().all())


@dataclass(frozen=True)
class Erased:
    """One child's erasure: the request, where it ended, and the error when it waits."""

    request_id: str
    age: int
    state: str
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dict(self.__dict__)


def erase(service: Requests, found: Found, *, reason: str, actor: str) -> list[Erased]:
    """Erase each child of ``found.to_erase`` through the request engine: an erasure opened
    by the privacy owner with the rule as its note, run at once; audited as
    ``children.erasure_opened`` (before the run: the request's own events say how it
    ended) with the rule and ``reason`` (never the child's identity).
    A child whose erasure is already open is left to it. A run that waits (a dataset
    down) is reported and the others go on."""
    why = require_reason(reason, "erase children without a guardian's consent")
    done: list[Erased] = []
    for child in found.to_erase:
        if child.open_request is not None:
            continue
        assert child.age is not None
        with service.transaction() as s:
            opened = open_request(s, service.ctx, "erasure", subject=child.subject_id,
                                  by=Requester("owner", None, FOUND_BY), channel=CHANNEL,
                                  details={"note": found.rule})
            rid = opened.request.id
            append_audit(s, service.ctx.clock, actor, "children.erasure_opened",
                         f"request:{rid}", {"rule": found.rule, "why": child.why, "reason": why,
                          "age": child.age})
        try:
            result = service.run(rid, reason=f"{found.rule}: {why}"[:2000], actor=actor)
            done.append(Erased(rid, child.age, result.state, result.error))
        except PersonvernError as exc:  # kept waiting with the error; the others go on
            done.append(Erased(rid, child.age, "waiting", str(exc)))
    return done
