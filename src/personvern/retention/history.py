"""The sweeps that ran: when, who started them, batches, rows per action, people erased.

Read from the engine's own records (``retention_sweeps``, ``retention_batches``) and the
sweeps' audit events, which carry the counts; no HTTP, no personal values.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personvern.errors import InvalidInput
from personvern.retention.execute import ACTOR
from personvern.retention.tables import RetentionBatch, RetentionSweep
from personvern.storage.models import AuditEvent

# The history page shows this many sweeps at most, newest first.
HISTORY_LIMIT = 20
_EVENTS = ("retention.sweep.start", "retention.batch", "retention.release")


@dataclass(frozen=True)
class PendingBatch:
    """A batch recorded before the service's data changed and not marked done: a crash
    left it; the next sweep finishes it first."""

    id: int
    rule: str
    table: str
    people: int  # pseudonymous subjects recorded with it (no personal values are)


@dataclass
class SweepRecord:
    """One sweep as its history shows it."""

    id: int
    now: datetime
    started_at: datetime
    finished_at: datetime | None
    interrupted: bool
    by: str | None
    batch_size: int
    batches_done: int = 0
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by rule action
    erased: int = 0
    restricted: int = 0
    notices: int = 0
    pending: list[PendingBatch] = field(default_factory=list)

    @property
    def state(self) -> str:
        """``pending`` (open, with work left), ``interrupted`` (closed by a later sweep
        after a crash) or ``finished``."""
        if self.finished_at is None:
            return "pending"
        return "interrupted" if self.interrupted else "finished"


def sweeps(session: Session, *, limit: int = HISTORY_LIMIT) -> list[SweepRecord]:
    """The newest ``limit`` sweeps with their batches and counts (four queries in all)."""
    if not 1 <= limit <= 500:
        raise InvalidInput("the history shows 1 to 500 sweeps")
    rows = list(session.scalars(select(RetentionSweep).order_by(RetentionSweep.id.desc())
                                .limit(limit)))
    if not rows:
        return []
    found = {r.id: SweepRecord(r.id, r.now, r.started_at, r.finished_at,
                               bool((r.totals or {}).get("interrupted")), None, r.batch_size,
                               notices=int((r.totals or {}).get("notices") or 0))
             for r in rows}
    ids = list(found)
    for sweep_id, state, n in session.execute(
            select(RetentionBatch.sweep_id, RetentionBatch.state, func.count())
            .where(RetentionBatch.sweep_id.in_(ids))
            .group_by(RetentionBatch.sweep_id, RetentionBatch.state)):
        if state == "done":
            found[sweep_id].batches_done = int(n)
    for b in session.scalars(select(RetentionBatch).where(
            RetentionBatch.sweep_id.in_(ids), RetentionBatch.state == "pending")
            .order_by(RetentionBatch.id)):
        rule, dataset, table, *_ = b.step.split("|")
        where = f"{dataset}.{table}" if table != "*" else f"{dataset} (people)"
        found[b.sweep_id].pending.append(PendingBatch(b.id, rule, where, len(b.subject_ids)))
    # A sweep's events are stamped with its own "now" (resumed batches too), and "now"
    # never goes back: every event of these sweeps is at or after the oldest one's.
    oldest = min(r.now for r in rows)
    for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(_EVENTS), AuditEvent.actor == ACTOR, AuditEvent.at >= oldest)):
        details = e.details or {}
        sweep_id = details.get("sweep") if e.action != "retention.sweep.start" \
            else _id_of(e.target)
        record = found.get(sweep_id) if isinstance(sweep_id, int) else None
        if record is None:
            continue
        if e.action == "retention.sweep.start":
            record.by = details.get("by")
            continue
        if e.action == "retention.batch":
            record.rows[str(details.get("action"))] += int(details.get("rows") or 0)
            record.restricted += int(details.get("restricted_subjects") or 0)
        record.erased += int(details.get("erased_subjects") or 0)
    return [found[i] for i in ids]


def _id_of(target: str) -> int | None:
    """The sweep id of an audit target ``sweep:<id>``."""
    kind, _, value = target.partition(":")
    return int(value) if kind == "sweep" and value.isdigit() else None


def plan_time(value: str, timezone: str) -> datetime:
    """The time a plan is asked for: ``YYYY-MM-DD`` (midnight in ``timezone``, the
    controller's) or an ISO 8601 time with offset; InvalidInput for anything else."""
    from datetime import date, time
    from zoneinfo import ZoneInfo

    text = value.strip()
    try:
        at = datetime.combine(date.fromisoformat(text), time(), ZoneInfo(timezone)) \
            if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"at {text[:40]!r} is not a date (YYYY-MM-DD) or a time with an "
                           "offset (2027-06-01T12:00:00+02:00)") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"at {text[:40]!r} needs a UTC offset, e.g. "
                           "2027-06-01T12:00:00+02:00, or give a date")
    if not 1970 <= at.year <= 9000:
        raise InvalidInput(f"at {text[:40]!r}: the year must lie between 1970 and 9000")
    return at
