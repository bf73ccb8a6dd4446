"""Published versions of the privacy policy: frozen, numbered, announced in time.

``publish`` renders the policy in every language and format, diffs it against the
previous version, and stores the result as version N+1 with a content hash, the manifest
text and the date it takes effect. The manifest's notice period (seed 004: seven days)
is counted from now: an earlier effective date is refused, naming the earliest allowed
one, and nothing is stored. A material change queues e-mail notices (when the manifest
promises them) in the same transaction, and from its effective time, consent given
earlier no longer counts for the purposes it touched (:func:`fresh_consent_since`).

Every version stays in the table; none is ever changed or deleted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from personvern.audit import append_audit
from personvern.clock import Clock
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.law import get_jurisdiction
from personvern.manifest.loader import parse_manifest
from personvern.policy.diff import Change, diff, first_version
from personvern.policy.notices import queue_notices, without_email
from personvern.policy.render import render_documents
from personvern.policy.tables import PolicyVersion
from personvern.storage.locks import lock_chain
from personvern.storage.manifests import manifest_sha256
from personvern.storage.models import as_utc
from personvern.storage.notify import POLICY, announce

if TYPE_CHECKING:
    from personvern.manifest.loader import LoadedManifest
    from personvern.manifest.model import Manifest


@dataclass(frozen=True)
class Published:
    """What a publish did: the version stored, the notices queued with it, and how many
    people the notice the policy promises cannot reach (no e-mail address on record)."""

    version: PolicyVersion
    changes: list[Change]
    notices: int
    unreachable: int = 0


def content_sha256(documents: dict[str, dict[str, str]], manifest_hash: str) -> str:
    """SHA-256 over the rendered documents (canonical JSON) and the manifest's hash."""
    canonical = json.dumps({"documents": documents, "manifest": manifest_hash},
                           ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def effective_time(manifest: Manifest, effective: date | datetime) -> datetime:
    """When ``effective`` begins: a date means midnight in the controller's time zone."""
    if isinstance(effective, datetime):
        if effective.tzinfo is None or effective.utcoffset() is None:
            raise InvalidInput(
                f"the effective time {effective.isoformat()} needs a UTC offset, "
                "e.g. 2027-03-08T00:00:00+01:00, or give a date"
            )
        return effective
    zone = ZoneInfo(get_jurisdiction(manifest.jurisdiction.country).timezone)
    return datetime.combine(effective, time(0), tzinfo=zone)


def earliest_effective(manifest: Manifest, now: datetime) -> date:
    """The earliest date a change published ``now`` may take effect (the notice period)."""
    days = manifest.policy_changes.notice_days or 0
    zone = ZoneInfo(get_jurisdiction(manifest.jurisdiction.country).timezone)
    return now.astimezone(zone).date() + timedelta(days=days)


def _check_notice(manifest: Manifest, now: datetime, effective: date | datetime) -> None:
    """InvalidInput naming the earliest allowed date when ``effective`` is too early."""
    days = manifest.policy_changes.notice_days or 0
    if isinstance(effective, datetime):
        earliest_time = now + timedelta(days=days)
        if effective_time(manifest, effective) >= earliest_time:
            return
        shown = earliest_time.isoformat(timespec="minutes")
    else:
        earliest_date = earliest_effective(manifest, now)
        if effective >= earliest_date:
            return
        shown = earliest_date.isoformat()
    given = effective.isoformat()
    if days:
        raise InvalidInput(
            f"the policy cannot take effect on {given}: the manifest promises {days} days' "
            f"notice of changes (policy_changes.notice_days), counted from now "
            f"({now.isoformat(timespec='minutes')}); the earliest allowed date is {shown}"
        )
    raise InvalidInput(
        f"the policy cannot take effect in the past ({given}); the earliest allowed is {shown}"
    )


def versions(session: Session) -> list[PolicyVersion]:
    """Every published version, oldest first."""
    return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.number)))


def latest_version(session: Session) -> PolicyVersion | None:
    """The most recently published version (whether in force yet or not)."""
    return session.scalars(
        select(PolicyVersion).order_by(PolicyVersion.number.desc()).limit(1)
    ).first()


def get_version(session: Session, number: int) -> PolicyVersion:
    """Version ``number``; NotFound naming the versions there are."""
    found = session.scalars(select(PolicyVersion).where(PolicyVersion.number == number)).first()
    if found is not None:
        return found
    count = session.scalar(select(func.count()).select_from(PolicyVersion)) or 0
    have = f"versions 1 to {count} exist" if count else "no version has been published yet"
    raise NotFound(f"there is no policy version {number}; {have}")


def in_force(session: Session, at: datetime) -> PolicyVersion | None:
    """The version in force at ``at``: the latest to have taken effect by then."""
    return session.scalars(
        select(PolicyVersion).where(PolicyVersion.effective_from <= as_utc(at))
        .order_by(PolicyVersion.effective_from.desc(), PolicyVersion.number.desc()).limit(1)
    ).first()


def version_manifest(version: PolicyVersion) -> Manifest:
    """The manifest a version was published from."""
    return parse_manifest(version.manifest_text, file=f"<policy version {version.number}>").manifest


def version_changes(version: PolicyVersion) -> list[Change]:
    """The changes stored with a version."""
    return [Change.from_dict(c) for c in version.changes]


def publish(
    session: Session,
    clock: Clock,
    loaded: LoadedManifest,
    effective: date | datetime,
    *,
    actor: str = "cli",
) -> PolicyVersion:
    """Freeze the policy of ``loaded`` as the next version, in force from ``effective``.

    Refused (InvalidInput, nothing stored) when an Art. 13/14 element is missing or the
    date falls inside the notice period or before the latest version takes effect;
    Conflict when the manifest is unchanged since the latest version. Queues the e-mail notices of
    a material change in the same transaction. Returns the stored version.
    """
    return publish_with_notices(session, clock, loaded, effective, actor=actor).version


def publish_with_notices(
    session: Session,
    clock: Clock,
    loaded: LoadedManifest,
    effective: date | datetime,
    *,
    actor: str = "cli",
) -> Published:
    """:func:`publish`, also returning the changes and how many notices were queued."""
    manifest = loaded.manifest
    now = clock()
    _check_notice(manifest, now, effective)
    starts = effective_time(manifest, effective)
    # Serialise publishers: the number and the "previous version" read below must not race.
    lock_chain(session, PolicyVersion.__tablename__)
    previous = latest_version(session)
    number = 1 if previous is None else previous.number + 1
    manifest_hash = manifest_sha256(loaded.text)
    if previous is not None:
        if previous.manifest_sha256 == manifest_hash:
            raise Conflict(f"nothing to publish: the manifest is unchanged since version "
                           f"{previous.number}")
        if previous.effective_from > as_utc(starts):
            raise InvalidInput(
                f"version {previous.number} takes effect {previous.effective_from.isoformat()}; "
                "a newer version cannot take effect before it"
            )
    documents = render_documents(manifest, version=number, effective=starts)
    changes = [first_version()] if previous is None else diff(
        version_manifest(previous), manifest)
    material = any(c.material for c in changes)
    row = PolicyVersion(
        number=number, content_sha256=content_sha256(documents, manifest_hash),
        manifest_sha256=manifest_hash, published_at=as_utc(now), effective_from=as_utc(starts),
        material=material, notice_days=manifest.policy_changes.notice_days or 0,
        changes=[c.as_dict() for c in changes], documents=documents, manifest_text=loaded.text,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"policy version {number} was published at the same time by someone "
                       "else; try again") from None
    notices = unreachable = 0
    if material and manifest.policy_changes.email_on_material_change:
        notices = queue_notices(session, clock, row, manifest, changes)
        # Promised to everyone, sent only by e-mail: those without an address are told apart.
        unreachable = without_email(session)
    append_audit(session, clock, actor, "policy.published", f"policy_version:{number}", {
        "number": number, "effective_from": as_utc(starts).isoformat(), "material": material,
        "content_sha256": row.content_sha256, "notices": notices,
        # The record says whom the promised notice could not reach, as the publisher is told.
        "notices_unreachable": unreachable,
    })
    announce(session, POLICY)  # every host reloads its timeline when this commits
    return Published(row, changes, notices, unreachable)


@dataclass(frozen=True)
class ConsentTimeline:
    """Effective times of material changes touching consent, loaded once for many decisions."""

    # (effective_from, purposes touched or None for all), oldest first.
    entries: tuple[tuple[datetime, frozenset[str] | None], ...]

    def since(self, at: datetime, purpose: str | None = None) -> datetime | None:
        """The time consent must be newer than, at ``at`` (for ``purpose``, or any)."""
        at = as_utc(at)
        for starts, purposes in reversed(self.entries):
            if starts > at:
                continue
            if purpose is None or purposes is None or purpose in purposes:
                return starts
        return None


class PolicyTimeline:
    """Material policy changes that need fresh consent, reloaded from the database at most
    every ``ttl`` seconds (a publish takes effect after its notice period, not at once)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._timeline: ConsentTimeline | None = None
        self._loaded_at = float("-inf")

    def forget(self) -> None:
        """Reload at the next question (a version was published, maybe elsewhere)."""
        self._loaded_at = float("-inf")

    def since(self, session: Session | None, at: datetime, purpose: str) -> datetime | None:
        """When consent for ``purpose`` must be newer than, at ``at``; None if no change.

        Without a session (the event loop's fast path) the last loaded timeline is used.
        """
        if session is not None and monotonic() - self._loaded_at >= self.ttl:
            self._timeline = consent_timeline(session)
            self._loaded_at = monotonic()
        return None if self._timeline is None else self._timeline.since(at, purpose)


def consent_timeline(session: Session) -> ConsentTimeline:
    """Every material version that touched a purpose resting on consent."""
    rows = session.execute(
        select(PolicyVersion.effective_from, PolicyVersion.changes)
        .where(PolicyVersion.material.is_(True)).order_by(PolicyVersion.effective_from)
    ).all()
    entries: list[tuple[datetime, frozenset[str] | None]] = []
    for starts, changes in rows:
        touched = [c for c in changes if c.get("consent")]
        if not touched:
            continue
        purposes: set[str] = set()
        for c in touched:
            purposes |= set(c.get("purposes") or ())
        entries.append((as_utc(starts).astimezone(UTC), frozenset(purposes) or None))
    return ConsentTimeline(tuple(entries))


def fresh_consent_since(
    session: Session, at: datetime, purpose: str | None = None
) -> datetime | None:
    """When the latest material change touching consent took effect, as of ``at``.

    Consent given before that time no longer counts (pass it to ``decide_purpose`` as
    ``fresh_consent_since``). With ``purpose``, only changes touching that purpose
    count; None when no such change is in force at ``at``.
    """
    return consent_timeline(session).since(at, purpose)


def describe(version: PolicyVersion) -> dict[str, Any]:
    """A version as JSON for the CLI and API (without the documents)."""
    return {
        "number": version.number, "published_at": version.published_at.isoformat(),
        "effective_from": version.effective_from.isoformat(), "material": version.material,
        "notice_days": version.notice_days, "content_sha256": version.content_sha256,
        "manifest_sha256": version.manifest_sha256, "changes": version.changes,
    }
