"""The breach register (GDPR Art. 33-34): record, assess, notify in phases, tell people, close.

Every breach is documented, notified or not (Art. 33(5)). The clock starts when the
controller became aware: Datatilsynet must have the notice within 72 hours, unless
the breach is unlikely to result in a risk (then the reason is recorded), and a late
notice gives its reason (Art. 33(1)). Information may follow in phases (33(4)).
When the risk is high the people affected are told (Art. 34), by e-mail queued in
the same transaction as the record of it.

Each change is checked completely before anything is written, so refused input
leaves the register as it was; each change is appended to the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personvern.audit import append_audit
from personvern.breach.tables import Breach, BreachUpdate
from personvern.clock import Clock
from personvern.consent.tables import Identity, Subject
from personvern.errors import Conflict, InvalidInput, NotFound, UnknownSubject
from personvern.law import get_jurisdiction
from personvern.mail.outbox import Mail, queue
from personvern.mail.tables import OutboxMessage
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.model import Manifest
from personvern.storage.models import as_utc
from personvern.wording import count

RISKS: tuple[str, ...] = ("none", "low", "risk", "high")
# Art. 33(1): no notice when the breach is unlikely to result in a risk.
NOTICE_RISKS = frozenset({"risk", "high"})
UPDATE_KINDS: tuple[str, ...] = ("authority_notice", "phase", "note", "subject_notice")
NATURES: tuple[str, ...] = ("confidentiality", "integrity", "availability")
NOTICE_WINDOW = timedelta(hours=72)
MAIL_KIND = "breach_notice"
# Where times are shown to people; the database keeps UTC.
_ID = re.compile(r"^B-(\d{4})-(\d{3,})$")


# ---- the clock ------------------------------------------------------------------

def deadline(breach: Breach) -> datetime:
    """When the notice to the supervisory authority is due: awareness + 72 hours."""
    return as_utc(breach.aware_at) + NOTICE_WINDOW


def time_left(breach: Breach, now: datetime) -> timedelta:
    """Time until the deadline; negative once it has passed."""
    return deadline(breach) - as_utc(now)


def format_delta(delta: timedelta) -> str:
    """``47 h 5 min left`` or ``3 h 10 min overdue`` (a started minute of delay counts)."""
    total = delta.total_seconds()
    seconds = int(total) if total >= 0 else -int(total // 60) * 60
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    return f"{hours} h {minutes} min {'left' if delta >= timedelta(0) else 'overdue'}"


def local_time(at: datetime, country: str = "NO") -> datetime:
    """``at`` in the jurisdiction's local time, for people to read."""
    return as_utc(at).astimezone(ZoneInfo(get_jurisdiction(country).timezone))


def is_late(breach: Breach) -> bool:
    """Whether the authority was notified after the Art. 33(1) deadline (72 hours from
    awareness). A breach not yet notified is never "late" here: :func:`status` calls it
    ``overdue`` once the deadline has passed."""
    return (breach.authority_notified_at is not None
            and as_utc(breach.authority_notified_at) > deadline(breach))


def status(breach: Breach, now: datetime) -> str:
    """closed | notified | no_notice_required | overdue | awaiting_notice."""
    if breach.closed_at is not None:
        return "closed"
    if breach.authority_notified_at is not None:
        return "notified"
    if not breach.notify_authority:
        return "no_notice_required"
    return "overdue" if time_left(breach, now) < timedelta(0) else "awaiting_notice"


def subjects_must_be_told(breach: Breach) -> bool:
    """Art. 34(1): a high risk means telling the people affected, not yet done."""
    return breach.risk == "high" and breach.subjects_notified_at is None


# ---- reading --------------------------------------------------------------------

def get_breach(session: Session, breach_id: str) -> Breach:
    """The breach with ``breach_id``; NotFound with a hint otherwise."""
    key = breach_id.strip().upper()
    found = session.get(Breach, key) if key else None
    if found is None:
        raise NotFound(f"no breach {breach_id!r}; `personvern breach list` shows them all")
    return found


def list_breaches(session: Session, *, open_only: bool = False) -> list[Breach]:
    """Every breach, newest awareness first; ``open_only`` leaves out closed ones."""
    query = select(Breach).order_by(Breach.aware_at.desc(), Breach.id.desc())
    if open_only:
        query = query.where(Breach.closed_at.is_(None))
    return list(session.scalars(query))


def updates_of(session: Session, breach_id: str) -> list[BreachUpdate]:
    """The breach's history, oldest first."""
    return list(session.scalars(
        select(BreachUpdate).where(BreachUpdate.breach_id == breach_id).order_by(BreachUpdate.id)
    ))


def cross_border_text(details: Mapping[str, Any]) -> str:
    """yes (countries), no or not stated (Art. 33(3), 56): left out never reads as no."""
    value = details.get("cross_border")
    countries = ", ".join(details.get("countries") or [])
    word = "not stated" if value is None else ("yes" if value else "no")
    return word + (f" ({countries})" if countries else "")


def recorded_details(session: Session, breach_id: str) -> dict[str, Any]:
    """Facts kept with the first entry: nature, cross-border, how it was discovered."""
    first = session.scalars(
        select(BreachUpdate).where(BreachUpdate.breach_id == breach_id,
                                   BreachUpdate.kind == "recorded").order_by(BreachUpdate.id)
    ).first()
    return dict(first.data) if first is not None else {}


# ---- checks -------------------------------------------------------------------------

def _text(value: str | None, what: str, *, limit: int | None = None,
          required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{what} must not be empty")
    if limit is not None and len(text) > limit:
        raise InvalidInput(f"{what} is {len(text)} characters; at most {limit}")
    return text


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{what} {at.isoformat()} needs a UTC offset, "
                           "e.g. 2027-03-01T08:30:00+01:00")
    return at


def _risk(value: str) -> str:
    risk = (value or "").strip().lower()
    if risk not in RISKS:
        raise InvalidInput(f"unknown risk {value!r}; use one of {', '.join(RISKS)} "
                           "(none/low: unlikely to result in a risk; high: tell the people)")
    return risk


def _notice_decision(risk: str, notify: bool | None, reason: str | None) -> tuple[bool, str | None]:
    """Whether Datatilsynet must be notified, and the recorded reason when not."""
    reason = (reason or "").strip() or None
    if risk in NOTICE_RISKS:
        if notify is False:
            raise InvalidInput(
                f"a breach with risk {risk!r} must be notified to the supervisory authority "
                "(GDPR Art. 33(1)); if it is unlikely to result in a risk, say risk none or low "
                "and give the reason"
            )
        if reason is not None:
            raise InvalidInput(f"a reason for not notifying contradicts risk {risk!r}, which "
                               "must be notified (GDPR Art. 33(1))")
        return True, None
    if notify:
        return True, reason  # notified voluntarily
    if reason is None:
        raise InvalidInput(
            f"risk {risk!r}: give the reason the breach is unlikely to result in a risk to "
            "people's rights and freedoms (no-notice reason, --no-notice-reason); it is "
            "recorded in place of a notice (GDPR Art. 33(1) and 33(5))"
        )
    return False, reason


def _count(value: int | None, what: str) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput(f"{what} cannot be negative ({value})")
    return value


_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_SUBJECT = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def _check_keys(keys: Iterable[str], shape: re.Pattern[str] | set[str], what: str,
                hint: str) -> list[str]:
    """The keys, stripped and deduplicated; one that is not of ``shape`` is refused."""
    out: list[str] = []
    for raw in keys:
        key = raw.strip()
        if not key:
            continue
        ok = key in shape if isinstance(shape, set) else shape.match(key) is not None
        if not ok:
            raise InvalidInput(f"{what} {key!r} is not valid; {hint}")
        if key not in out:
            out.append(key)
    return out


def _next_id(session: Session, year: int) -> str:
    prefix = f"B-{year}-"
    taken = session.scalars(select(Breach.id).where(Breach.id.like(prefix + "%"))).all()
    numbers = [int(m.group(2)) for i in taken if (m := _ID.match(i))]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


# ---- changes ------------------------------------------------------------------------

def record_breach(
    session: Session,
    clock: Clock,
    *,
    title: str,
    description: str,
    risk: str,
    aware_at: datetime | None = None,
    occurred_at: datetime | None = None,
    data_categories: Sequence[str] = (),
    subject_categories: Sequence[str] = (),
    approx_subjects: int | None = None,
    approx_records: int | None = None,
    consequences: str = "",
    measures: str = "",
    no_notice_reason: str | None = None,
    notify_authority: bool | None = None,
    nature: Sequence[str] = (),
    cross_border: bool | None = None,
    countries: Sequence[str] = (),
    discovery: str | None = None,
    manifest: Manifest | None = None,
    actor: str = "cli",
) -> Breach:
    """Document a breach (Art. 33(5)); refuses, storing nothing, when a fact is impossible.

    ``aware_at`` (default: now) starts the 72-hour clock and may not lie in the future.
    ``risk`` none or low needs ``no_notice_reason``; risk or high must be notified.
    ``cross_border`` None is "not stated" (Art. 33(3), 56), kept as null, never as no;
    naming an affected country answers it yes.
    """
    now = clock()
    aware = _aware(aware_at, "awareness time") if aware_at is not None else now
    if aware > now:
        raise InvalidInput(
            f"awareness time {aware.isoformat()} is in the future (now is {now.isoformat()}); "
            "the 72-hour clock starts when the controller became aware, which cannot be later "
            "than now"
        )
    if occurred_at is not None:
        _aware(occurred_at, "time of the breach")
        if occurred_at > aware:
            raise InvalidInput(f"the breach cannot have occurred ({occurred_at.isoformat()}) "
                               f"after the controller became aware of it ({aware.isoformat()})")
    title_text = _text(title, "title", limit=300)
    description_text = _text(description, "description")
    level = _risk(risk)
    notify, reason = _notice_decision(level, notify_authority, no_notice_reason)
    people = _count(approx_subjects, "the number of people")
    records = _count(approx_records, "the number of records")
    data = _check_keys(data_categories, _CATEGORY, "data category",
                       "use a dotted category key such as user.contact.email")
    subjects = _check_keys(subject_categories, _SUBJECT, "subject category",
                           "use a subject id of the manifest, such as customers")
    natures = _check_keys([n.lower() for n in nature], set(NATURES), "nature",
                          f"use {', '.join(NATURES)}")
    # A breach may reach data the manifest never declared: that is documented, not refused
    # (Art. 33(5)), and flagged, because the manifest (and the policy) must then change.
    undeclared: dict[str, list[str]] = {}
    if manifest is not None:
        known_data = set(BUILTIN_CATEGORIES) | {c.id for c in manifest.categories}
        known_data |= {k for p in manifest.purposes for k in p.categories}
        known_subjects = {x.id for x in manifest.subjects}
        undeclared = {"data_categories": [k for k in data if k not in known_data],
                      "subject_categories": [k for k in subjects if k not in known_subjects]}
        undeclared = {k: v for k, v in undeclared.items() if v}
    country_codes = [c.strip().upper() for c in countries if c.strip()]
    if any(not re.fullmatch(r"[A-Z]{2}", c) for c in country_codes):
        raise InvalidInput(f"countries must be two-letter codes such as SE, not {countries!r}")
    breach = Breach(
        id=_next_id(session, as_utc(now).year), recorded_at=now, aware_at=aware,
        occurred_at=occurred_at, title=title_text, description=description_text,
        data_categories=data, subject_categories=subjects,
        approx_subjects=people, approx_records=records,
        consequences=(consequences or "").strip(), measures=(measures or "").strip(),
        risk=level, notify_authority=notify, no_notice_reason=reason,
        authority_notified_at=None, subjects_notified_at=None, late_reason=None, closed_at=None,
    )
    session.add(breach)
    session.flush()
    details = {"nature": natures,
               "cross_border": True if country_codes else cross_border,
               "countries": country_codes, "discovery": (discovery or "").strip() or None,
               "risk": level, "notify_authority": notify, "undeclared": undeclared}
    _history(session, now, breach.id, "recorded", actor, title_text, details)
    append_audit(session, clock, actor, "breach.recorded", f"breach:{breach.id}", {
        "risk": level, "notify_authority": notify, "approx_subjects": breach.approx_subjects,
        "approx_records": breach.approx_records, "data_categories": data,
        "undeclared": undeclared,
    })
    return breach


def _history(session: Session, at: datetime, breach_id: str, kind: str, actor: str, text: str,
             data: dict[str, Any] | None = None) -> BreachUpdate:
    entry = BreachUpdate(breach_id=breach_id, at=at, kind=kind, actor=actor, text=text,
                         data=data or {})
    session.add(entry)
    session.flush()
    return entry


def add_update(
    session: Session,
    clock: Clock,
    breach_id: str,
    kind: str,
    text: str,
    *,
    late_reason: str | None = None,
    data: dict[str, Any] | None = None,
    everyone_told: bool = True,
    actor: str = "cli",
) -> BreachUpdate:
    """Add to the breach's history: the notice to the authority, a later phase of it (33(4)),
    a note, or that the people were told (Art. 34).

    ``authority_notice`` after the deadline needs ``late_reason`` (Art. 33(1), last sentence).
    A ``subject_notice`` that reached only some of the people (``everyone_told`` False) is
    recorded without marking the people told.
    """
    breach = get_breach(session, breach_id)
    if kind not in UPDATE_KINDS:
        raise InvalidInput(f"unknown update kind {kind!r}; use one of {', '.join(UPDATE_KINDS)}")
    body = _text(text, "the text of the update")
    now = clock()
    if breach.closed_at is not None and kind != "note":
        raise Conflict(f"breach {breach.id} is closed; only notes can be added")
    late = (late_reason or "").strip() or None
    if kind == "authority_notice":
        if breach.authority_notified_at is not None:
            raise Conflict(
                f"the authority was notified of {breach.id} at "
                f"{breach.authority_notified_at.isoformat()}; send further information as "
                "--kind phase (GDPR Art. 33(4))"
            )
        if as_utc(now) < as_utc(breach.aware_at):
            raise InvalidInput("the notice cannot precede the awareness of the breach")
        overdue = -time_left(breach, now)
        if overdue > timedelta(0) and late is None:
            raise InvalidInput(
                f"the notice of {breach.id} is {format_delta(-overdue).removesuffix(' overdue')}"
                " late (deadline "
                f"{deadline(breach).astimezone(now.tzinfo).isoformat(timespec='minutes')}); "
                "give the reasons for the delay (late reason, --late-reason; GDPR Art. 33(1))"
            )
    elif kind == "phase" and breach.authority_notified_at is None:
        raise InvalidInput(f"{breach.id}: send the first notice to the authority "
                           "(--kind authority_notice) before further phases")
    if kind == "authority_notice":
        breach.authority_notified_at = now
        breach.notify_authority = True
        breach.late_reason = late if -time_left(breach, now) > timedelta(0) else None
    elif kind == "subject_notice" and everyone_told and breach.subjects_notified_at is None:
        breach.subjects_notified_at = now
    extra = dict(data or {})
    if kind == "subject_notice" and data is None:
        # Told another way (by hand): it covers the e-mails that had failed for good by
        # now, so close_breach knows which failures someone has answered (Art. 34(1)).
        extra["failed_letters_covered"] = mail_delivery(session, breach.id)["failed"]
    if kind == "authority_notice" and breach.late_reason:
        extra["late_reason"] = breach.late_reason
    entry = _history(session, now, breach.id, kind, actor, body, extra)
    append_audit(session, clock, actor, f"breach.{kind}", f"breach:{breach.id}",
                 {"update": entry.id, "late": bool(breach.late_reason) if
                  kind == "authority_notice" else None})
    return entry


def assess_risk(
    session: Session,
    clock: Clock,
    breach_id: str,
    risk: str | None,
    *,
    no_notice_reason: str | None = None,
    notify_authority: bool | None = None,
    consequences: str | None = None,
    measures: str | None = None,
    actor: str = "cli",
) -> Breach:
    """Change the risk as facts emerge, the notice decision following (with its reason);
    and record the likely consequences and the measures (Art. 33(3)(c), (d)) once known."""
    breach = get_breach(session, breach_id)
    if breach.closed_at is not None:
        raise Conflict(f"breach {breach.id} is closed; its assessment can no longer change")
    if risk is None and consequences is None and measures is None:
        raise InvalidInput("say what changed: the risk, the likely consequences or the measures")
    facts = {what: _text(value, what) for what, value in
             (("consequences", consequences), ("measures", measures)) if value is not None}
    for what, text in facts.items():
        setattr(breach, what, text)
        _history(session, clock(), breach.id, "assessment", actor, f"{what}: {text}",
                 {what: True})
    if risk is None:
        append_audit(session, clock, actor, "breach.assessed", f"breach:{breach.id}",
                     {"facts": sorted(facts)})
        return breach
    level = _risk(risk)
    if breach.authority_notified_at is not None:
        # Notified already (Art. 33(1)): the reason for the lower risk goes in the history,
        # never in the record as a reason for not notifying.
        notify, reason, said = True, None, (no_notice_reason or "").strip() or None
    else:
        notify, reason = _notice_decision(level, notify_authority, no_notice_reason)
        said = reason
    before = breach.risk
    breach.risk, breach.notify_authority, breach.no_notice_reason = level, notify, reason
    _history(session, clock(), breach.id, "assessment", actor,
             f"risk {before} -> {level}" + (f": {said}" if said else ""),
             {"from": before, "to": level, "notify_authority": notify})
    append_audit(session, clock, actor, "breach.assessed", f"breach:{breach.id}",
                 {"from": before, "to": level, "notify_authority": notify,
                  **({"facts": sorted(facts)} if facts else {})})
    return breach


def close_breach(
    session: Session,
    clock: Clock,
    breach_id: str,
    *,
    subjects_exemption: str | None = None,
    note: str | None = None,
    actor: str = "cli",
) -> Breach:
    """Close a breach once every notice the law requires is given (or its exemption noted).

    A high risk needs the people told, or the Art. 34(3) reason they need not be
    (the data was unintelligible to others, later measures removed the high risk,
    or a public communication replaced individual notices).
    """
    breach = get_breach(session, breach_id)
    if breach.closed_at is not None:
        raise Conflict(f"breach {breach.id} was closed at {breach.closed_at.isoformat()}")
    if breach.notify_authority and breach.authority_notified_at is None:
        raise InvalidInput(f"{breach.id} must be notified to the supervisory authority before it "
                           "is closed (`personvern breach notify ID --authority`)")
    exemption = (subjects_exemption or "").strip() or None
    if subjects_must_be_told(breach) and exemption is None:
        raise InvalidInput(
            f"{breach.id} has a high risk and the people affected have not been told: "
            "`personvern breach notify ID --subjects`, or give the GDPR Art. 34(3) reason "
            "(--subjects-exemption)"
        )
    # Art. 34(1) asks it of a high risk only (lower risks are told by choice).
    untold = failed_unanswered(session, breach) \
        if exemption is None and breach.risk == "high" else 0
    if untold:
        # A letter the outbox gave up on told nobody, and nothing sends it again.
        raise InvalidInput(
            f"{breach.id}: {count(untold, 'e-mail')} to the people failed for good, so "
            "they are not told (GDPR Art. 34(1)). Tell them another way and record it "
            f"(`personvern breach update {breach.id} --kind subject_notice --text TEXT`), "
            "or give the GDPR Art. 34(3) reason (--subjects-exemption)")
    now = clock()
    breach.closed_at = now
    text = (note or "").strip() or "closed"
    _history(session, now, breach.id, "closed", actor, text,
             {"subjects_exemption": exemption} if exemption else {})
    append_audit(session, clock, actor, "breach.closed", f"breach:{breach.id}",
                 {"subjects_exemption": exemption is not None})
    return breach


def failed_unanswered(session: Session, breach: Breach) -> int:
    """How many of the breach's e-mails to people failed for good beyond those someone
    has since recorded telling another way (a ``subject_notice`` by hand): people not told."""
    failed = mail_delivery(session, breach.id)["failed"]
    if not failed:
        return 0
    covered = max((int((u.data or {}).get("failed_letters_covered") or 0)
                   for u in updates_of(session, breach.id) if u.kind == "subject_notice"),
                  default=0)
    return max(0, failed - covered)


# ---- telling the people (Art. 34) ------------------------------------------------------

@dataclass(frozen=True)
class SubjectNotice:
    """What ``notify_subjects`` did."""

    breach_id: str
    queued: int
    already_queued: int
    without_email: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"breach": self.breach_id, "queued": self.queued,
                "already_queued": self.already_queued, "without_email": self.without_email}


def _emails_for(session: Session, subject_ids: list[str] | None) -> dict[str, str]:
    """subject id -> first e-mail identity, for live subjects (all when ids is None)."""
    # Whole rows: the ORM opens the sealed addresses with each subject's key.
    query = (select(Identity).join(Subject)
             .where(Identity.kind == "email", Subject.erased_at.is_(None))
             .order_by(Identity.id))
    found: dict[str, str] = {}
    if subject_ids is None:
        for ident in session.scalars(query):
            found.setdefault(ident.subject_id, ident.value)
        return found
    for i in range(0, len(subject_ids), 500):
        chunk = subject_ids[i:i + 500]
        for ident in session.scalars(query.where(Identity.subject_id.in_(chunk))):
            found.setdefault(ident.subject_id, ident.value)
    return found


def _contact_point(m: Manifest) -> str:
    c = m.controller
    for person in (c.dpo, c.privacy_contact):
        if person is not None and (person.email or person.phone):
            return ", ".join(x for x in (person.name, person.email, person.phone) if x)
    return ", ".join(x for x in (c.name, c.email, c.phone) if x)


def subject_mail(breach: Breach, m: Manifest, message: str | None = None) -> tuple[str, str]:
    """(title, text) of the notice to a person (Art. 34(2)), in the manifest's languages."""
    what = (message or "").strip() or breach.description
    contact = _contact_point(m)
    service = m.service.name
    texts = {
        "nb": (
            f"Viktig: brudd på personopplysningssikkerheten hos {service}",
            f"Vi har oppdaget et brudd på sikkerheten som gjelder opplysninger om deg.\n\n"
            f"Hva som skjedde: {what}\n\n"
            f"Mulige konsekvenser for deg: {breach.consequences}\n\n"
            f"Hva vi har gjort og vil gjøre: {breach.measures}\n\n"
            f"Spørsmål? Kontakt {contact}. Du kan også klage til Datatilsynet.\n",
        ),
        "en": (
            f"Important: a personal data breach at {service}",
            f"We have discovered a security breach involving data about you.\n\n"
            f"What happened: {what}\n\n"
            f"Likely consequences for you: {breach.consequences}"
            f"\n\nWhat we have done and will do: {breach.measures}"
            f"\n\nQuestions? Contact {contact}. You may also complain to Datatilsynet, the "
            "Norwegian data protection authority.\n",
        ),
    }
    langs = [lang for lang in m.languages if lang in texts] or ["nb"]
    title = " / ".join(texts[lang][0] for lang in langs)[:300]
    body = "\n---\n\n".join(texts[lang][1] for lang in langs)
    return title, body


def notify_subjects(
    session: Session,
    clock: Clock,
    breach_id: str,
    manifest: Manifest,
    *,
    subject_ids: Sequence[str] = (),
    all_subjects: bool = False,
    message: str | None = None,
    actor: str = "cli",
) -> SubjectNotice:
    """Queue the Art. 34 notice by e-mail to the given subjects, or to every live subject.

    Queued through the outbox in the caller's transaction, one per person and breach
    (running it again queues nobody twice). Unknown ids refuse the whole call.
    """
    breach = get_breach(session, breach_id)
    if breach.closed_at is not None:
        raise Conflict(f"breach {breach.id} is closed")
    ids = list(dict.fromkeys(s.strip() for s in subject_ids if s.strip()))
    if all_subjects == bool(ids):
        raise InvalidInput("name the subjects to tell (subject ids) or choose all subjects, "
                           "not both and not neither")
    if ids:
        live = set(session.scalars(select(Subject.id).where(
            Subject.id.in_(ids), Subject.erased_at.is_(None))))
        missing = [i for i in ids if i not in live]
        if missing:
            raise UnknownSubject(f"no subject {', '.join(repr(i) for i in missing[:5])}"
                           + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                           + "; nothing was queued")
    missing_facts = [what for what in ("consequences", "measures")
                     if not (getattr(breach, what) or "").strip()]
    if missing_facts:
        # Art. 34(2): the notice describes the likely consequences and the measures
        # (Art. 33(3)(c), (d)); a letter without them does not meet it.
        raise InvalidInput(
            f"breach {breach.id} has no {' and no '.join(missing_facts)} recorded; the notice "
            "to the people must describe the likely consequences and the measures taken or "
            "proposed (GDPR Art. 34(2)). Record them with `personvern breach assess "
            f"{breach.id} --consequences TEXT --measures TEXT`; nothing was queued")
    emails = _emails_for(session, ids or None)
    if not emails:
        raise InvalidInput("none of these subjects has an e-mail address; nothing was queued. "
                           "Tell them another way and record it with "
                           f"`personvern breach update {breach.id} --kind subject_notice "
                           "--text TEXT`")
    title, body = subject_mail(breach, manifest, message)
    queued = already = 0
    for sid, address in emails.items():
        _msg, new = queue(session, clock, Mail(
            kind=MAIL_KIND, to_address=address, title=title, body_text=body, subject_id=sid,
            dedupe_key=f"breach:{breach.id}:{sid}", breach_id=breach.id,
        ))
        queued += new
        already += not new
    # Art. 34(1) is owed to each person: those with no address are counted, --all too.
    asked = len(ids) if ids else session.scalar(
        select(func.count()).select_from(Subject).where(Subject.erased_at.is_(None))) or 0
    result = SubjectNotice(breach.id, queued, already, asked - len(emails))
    text = f"e-mail queued to {queued} people" + (f" ({already} already had it)"
                                                  if already else "")
    if result.without_email:
        text += (f"; {count(result.without_email, 'person', 'people')} without an e-mail address "
                 "not told")
    add_update(session, clock, breach.id, "subject_notice", text, data=result.as_dict(),
               everyone_told=not result.without_email, actor=actor)
    return result


# ---- views ------------------------------------------------------------------------------

def mail_delivery(session: Session, breach_id: str) -> dict[str, int]:
    """How the breach's e-mails to people stand in the outbox: sent, waiting (queued or
    being sent), failed (cancelled ones, for a person erased since, are left out)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).where(
            OutboxMessage.breach_id == breach_id, OutboxMessage.kind == MAIL_KIND)
        .group_by(OutboxMessage.status)).all()
    by = {status: int(n) for status, n in rows}
    return {"sent": by.get("sent", 0), "waiting": by.get("queued", 0) + by.get("sending", 0),
            "failed": by.get("failed", 0)}


def failed_letters(session: Session) -> dict[str, int]:
    """Breach id -> how many of its e-mails to people the outbox gave up on (``failed``):
    those people are not told (Art. 34(1)) and nothing will send them again."""
    rows = session.execute(
        select(OutboxMessage.breach_id, func.count()).where(
            OutboxMessage.kind == MAIL_KIND, OutboxMessage.status == "failed",
            OutboxMessage.breach_id.is_not(None))
        .group_by(OutboxMessage.breach_id)).all()
    return {str(breach_id): int(n) for breach_id, n in rows}


def breach_view(breach: Breach, now: datetime,
                updates: Sequence[BreachUpdate] | None = None,
                details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The breach as plain JSON, with its deadline, time left and status at ``now``."""
    left = time_left(breach, now)
    view: dict[str, Any] = {
        "id": breach.id, "title": breach.title, "status": status(breach, now),
        "risk": breach.risk, "recorded_at": breach.recorded_at, "aware_at": breach.aware_at,
        "occurred_at": breach.occurred_at, "deadline": deadline(breach),
        "time_left_seconds": int(left.total_seconds()), "time_left": format_delta(left),
        "notify_authority": breach.notify_authority,
        "no_notice_reason": breach.no_notice_reason,
        "authority_notified_at": breach.authority_notified_at, "late": is_late(breach),
        "late_reason": breach.late_reason,
        "subjects_must_be_told": subjects_must_be_told(breach),
        "subjects_notified_at": breach.subjects_notified_at, "closed_at": breach.closed_at,
        "description": breach.description, "data_categories": list(breach.data_categories),
        "subject_categories": list(breach.subject_categories),
        "approx_subjects": breach.approx_subjects, "approx_records": breach.approx_records,
        "consequences": breach.consequences, "measures": breach.measures,
    }
    if details is not None:
        view.update({k: details.get(k) for k in ("nature", "cross_border", "countries",
                                                 "discovery")})
        view["undeclared"] = details.get("undeclared") or {}
    if updates is not None:
        view["updates"] = [{"id": u.id, "at": u.at, "kind": u.kind, "actor": u.actor,
                            "text": u.text, "data": u.data} for u in updates]
    return view
