"""Restriction (Art. 18): while it is in force, every use of the person's data but storage
is denied, until the privacy owner lifts it (``engine.lift_restriction``, Art. 18(3)).

A restriction is a completed restriction request without ``lifted_at`` in its outcome;
there is no other record. Every decision asks :func:`restricted_since` (through
``consent.service.load_state``), so at run time this module imports only that table:
consent builds on nothing of the requests package but this hook.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.requests.tables import Request

if TYPE_CHECKING:  # consent.service imports this module (the restriction hook)
    from personvern.consent.service import ConsentContext
    from personvern.requests.jobs import Job


def restricted_since(session: Session, subject_id: str) -> datetime | None:
    """When the person's restriction began (Art. 18), or None when none is in force."""
    rows = session.execute(select(Request.closed_at, Request.outcome).where(
        Request.subject_id == subject_id, Request.type == "restriction",
        Request.state == "completed").order_by(Request.closed_at)).all()
    for closed_at, outcome in rows:
        if not (outcome or {}).get("lifted_at"):
            since: datetime | None = closed_at
            return since
    return None


def record(session: Session, consent: ConsentContext, job: Job, now: datetime
           ) -> dict[str, Any]:
    """The engine's side of a restriction: what the outcome says; decisions change at once."""
    # Cached decisions would still allow what the restriction now denies.
    consent.cache.invalidate_on_commit(session, job.subject_id)
    return {"restricted_since": now.isoformat(),
            "scope": "every purpose; storage only (GDPR Art. 18(2))"}
