"""A notice to the person ``notice_before`` an inactivity deletion, queued once (outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personvern.consent.tables import Identity
from personvern.errors import InvalidInput
from personvern.law import Jurisdiction
from personvern.mail.outbox import Mail, queue
from personvern.manifest.model import Manifest, RetentionRule
from personvern.retention.clauses import MASK, cutoff, local_today
from personvern.retention.people import S
from personvern.storage.engine import storage_errors

KIND = "retention_notice"  # the outbox kind of a reminder before deletion

if TYPE_CHECKING:
    from personvern.retention.due import Due


def queue_notices(session: Session, manifest: Manifest, j: Jurisdiction, rule: RetentionRule,
                  now: datetime) -> int:
    """Queue a notice for each person whose data ``rule`` deletes within ``notice_before``;
    returns how many were queued. The dedupe key makes it once per person and deletion
    date, however often the sweep runs."""
    limit = cutoff(rule, now, j)
    if limit is None or rule.notice_before is None:
        return 0
    d = rule.notice_before
    window = limit + relativedelta(years=d.years, months=d.months, days=d.days)
    when = func.coalesce(S.c.last_activity, S.c.created_at)
    # Whole Identity entities: addresses are sealed, and loading the object opens them.
    rows = session.execute(
        select(S.c.id, when.label("at"), Identity).join(Identity, Identity.subject_id == S.c.id)
        .where(S.c.erased_at.is_(None), Identity.kind == "email", when > limit,
               when <= window)
        .order_by(S.c.id)).all()
    count = 0
    for sid, at, identity in rows:
        email = identity.value
        due = local_today(at + (now - limit), j)
        key = f"retention-notice:{rule.id}:{sid}:{due.isoformat()}"
        try:
            _, queued = queue(session, lambda: now, Mail(
                kind=KIND, to_address=email, subject_id=sid, dedupe_key=key,
                title=f"{manifest.service.name}: kontoen din slettes {due.isoformat()} / "
                      f"your account will be deleted on {due.isoformat()}",
                body_text=_body(manifest, rule, due.isoformat())))
        except InvalidInput:  # an address the outbox cannot use: nothing to send to
            continue
        count += int(queued)
    return count


def _body(manifest: Manifest, rule: RetentionRule, due: str) -> str:
    nb = rule.description.get("nb") if rule.description and rule.description.has("nb") else ""
    en = rule.description.get("en") if rule.description and rule.description.has("en") else ""
    return (f"Du har ikke vært aktiv hos {manifest.service.name} på en stund. Logger du ikke "
            f"inn før {due}, sletter vi opplysningene om deg. {nb}\n\n"
            f"You have not been active at {manifest.service.name} for a while. Unless you sign "
            f"in before {due}, we will delete your data. {en}\n")


def queue_row_notices(session: Session, manifest: Manifest, j: Jurisdiction,
                      rule: RetentionRule, now: datetime, rows: list[tuple[Any, str, datetime]],
                      where: str) -> int:
    """Notices for rows of a service table dated by their own column: (key, e-mail, date)."""
    limit = cutoff(rule, now, j)
    if limit is None:
        return 0
    count = 0
    for key, email, at in rows:
        when = at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
        due = local_today(when + (now - limit), j)
        try:
            _, queued = queue(session, lambda: now, Mail(
                kind=KIND, to_address=email,
                dedupe_key=f"retention-notice:{rule.id}:{where}:{key}:{due.isoformat()}",
                title=f"{manifest.service.name}: kontoen din slettes {due.isoformat()} / "
                      f"your account will be deleted on {due.isoformat()}",
                body_text=_body(manifest, rule, due.isoformat())))
        except InvalidInput:
            continue
        count += int(queued)
    return count


def window(rule: RetentionRule, now: datetime, j: Jurisdiction
           ) -> tuple[datetime, datetime] | None:
    """Trigger dates whose deletion falls within ``notice_before`` of ``now``."""
    limit = cutoff(rule, now, j)
    if limit is None or rule.notice_before is None:
        return None
    d = rule.notice_before
    return limit, limit + relativedelta(years=d.years, months=d.months, days=d.days)


def queue_due(due: Due) -> int:
    """Warn people ``notice_before`` an inactivity deletion: dated by the engine, or by a
    column of a table that identifies them by e-mail. How many were queued (a plan queues
    them in its rehearsal, rolled back: retention.rehearsal)."""
    count = 0
    res, j, now = due.res, due.j, due.now
    for rule in res.manifest.retention:
        if rule.notice_before is None or rule.trigger != "last_activity":
            continue
        holdings = [(tr, h) for tr in res.tables for h in tr.holdings if h.rule.id == rule.id]
        if any(h.dating.kind == "engine" for _, h in holdings):
            with due.engine() as s:
                count += queue_notices(s, res.manifest, j, rule, now)
        span = window(rule, now, j)
        for tr, h in holdings:
            ds = res.datasets[tr.dataset]
            spec = ds.mapped[tr.table]
            email = next((c.name for c in spec.columns if c.identity == "email"), None)
            if span is None or email is None or h.dating.kind != "column" \
                    or h.dating.table != tr.table or h.dating.path:
                continue
            t = ds.tables[tr.table]
            date_col = t.c[str(h.dating.column)]
            with storage_errors(ds.engine.url), ds.engine.connect() as conn:
                rows = [(r[0], r[1], r[2]) for r in conn.execute(
                    select(t.c[spec.key], t.c[email], date_col).where(
                        date_col > span[0], date_col <= span[1],
                        t.c[email].not_like(MASK + "%")))]
            with due.engine() as s:
                count += queue_row_notices(s, res.manifest, j, rule, now, rows,
                                           f"{tr.dataset}.{tr.table}")
    return count
