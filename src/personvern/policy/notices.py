"""E-mail notices of a material policy change, queued for every subject with an address.

One message is written per version (the same for everyone, in bokmål and English) and
queued for all subjects in one ``INSERT ... SELECT``, in the publishing transaction, so
100,000 notices cost one statement rather than 100,000 round trips. Each row's
``dedupe_key`` is the version and the subject: the same notice is never queued twice.
The SMTP job (:mod:`personvern.mail.smtp`) sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.consent.tables import Identity, Subject
from personvern.law import get_jurisdiction
from personvern.mail.tables import OutboxMessage
from personvern.policy.diff import Change
from personvern.policy.formats import environment
from personvern.policy.wording.phrases import LANGS, Phrases
from personvern.storage.models import as_utc

if TYPE_CHECKING:
    from personvern.manifest.model import Manifest
    from personvern.policy.tables import PolicyVersion

KIND = "policy_notice"
# More changes than this are summarised; the policy itself has them all.
MAX_LISTED = 20
_TITLE_MAX = 300


@dataclass(frozen=True)
class NoticePart:
    """The notice in one language."""

    lang: str
    title: str
    greeting: str
    intro: str
    changes_lead: str
    changes: list[str]
    more: int
    consent: str | None
    read: str
    url: str | None
    href: str | None
    why: str
    sign: str


@dataclass(frozen=True)
class Notice:
    """A rendered notice: subject line, plain text and HTML."""

    title: str
    text: str
    html: str


def _safe_href(url: str | None) -> bool:
    return url is not None and url.lower().startswith(("https://", "http://"))


def dedupe_key(number: int, subject_id: str) -> str:
    """The outbox key of version ``number``'s notice to ``subject_id``."""
    return f"policy-notice:v{number}:{subject_id}"


def notice_for(manifest: Manifest, number: int, effective: date,
               changes: list[Change]) -> Notice:
    """The notice of version ``number``: the material changes, in every policy language."""
    material = [c for c in changes if c.material]
    parts = []
    for lang in [x for x in LANGS if x in manifest.languages] or list(LANGS):
        p = Phrases(lang)
        service, when = manifest.service.name, p.date(effective)
        listed = [c.text(lang) for c in material[:MAX_LISTED]]
        parts.append(NoticePart(
            lang=lang, title=p.text("notice_title", service=service, date=when),
            greeting=p.text("notice_greeting"),
            intro=p.text("notice_intro", service=service, date=when),
            changes_lead=p.text("notice_changes"), changes=listed,
            more=max(0, len(material) - MAX_LISTED),
            consent=p.text("notice_consent") if any(c.consent for c in material) else None,
            read=p.text("notice_read"), url=manifest.service.url,
            href=manifest.service.url if _safe_href(manifest.service.url) else None,
            why=p.text("notice_why"),
            sign=p.text("notice_sign", controller=manifest.controller.name),
        ))
    title = " / ".join(part.title for part in parts)
    if len(title) > _TITLE_MAX:
        title = parts[0].title[:_TITLE_MAX]
    text = cast(str, environment("txt").get_template("notice.txt.j2").render(parts=parts))
    html = cast(str, environment("html").get_template("notice.html.j2").render(
        parts=parts, title=title, lang=parts[0].lang))
    return Notice(title, text, html)


def without_email(session: Session) -> int:
    """How many people (not erased) have no e-mail address on record: no notice reaches them."""
    has_email = select(Identity.subject_id).where(Identity.kind == "email")
    return int(session.scalar(select(func.count()).select_from(Subject).where(
        Subject.erased_at.is_(None), Subject.id.not_in(has_email))) or 0)


def queue_notices(session: Session, clock: Clock, version: PolicyVersion, manifest: Manifest,
                  changes: list[Change]) -> int:
    """Queue the notice of ``version`` to every subject with an e-mail address; the count.

    One message per subject (their oldest e-mail identity); erased subjects get none.
    Runs in the caller's transaction; addresses are opened in batches of 1000.
    """
    zone = ZoneInfo(get_jurisdiction(manifest.jurisdiction.country).timezone)
    effective = version.effective_from.astimezone(zone).date()
    notice = notice_for(manifest, version.number, effective, changes)
    first_email = (
        select(func.min(Identity.id)).join(Subject, Subject.id == Identity.subject_id)
        .where(Identity.kind == "email", Subject.erased_at.is_(None))
        .group_by(Identity.subject_id)
    )
    prefix = dedupe_key(version.number, "")
    outbox = cast(Table, OutboxMessage.__table__)
    at = as_utc(clock())
    ids = list(session.scalars(first_email))
    queued = 0
    # Addresses are sealed per subject, so they are opened here (by the ORM), in batches.
    for start in range(0, len(ids), 1000):
        rows = session.scalars(select(Identity).where(Identity.id.in_(ids[start:start + 1000])))
        batch = [{"created_at": at, "kind": KIND, "subject_id": i.subject_id,
                  "to_address": i.value, "title": notice.title, "body_text": notice.text,
                  "body_html": notice.html, "status": "queued", "attempts": 0,
                  "dedupe_key": prefix + i.subject_id} for i in rows]
        if batch:
            session.connection().execute(insert(outbox), batch)
        queued += len(batch)
    return queued
