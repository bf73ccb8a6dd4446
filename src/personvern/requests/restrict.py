"""Restriction (Art. 18): while it is in force, every use of the person's data but storage
is denied, until the privacy owner lifts it (``engine.lift_restriction``, Art. 18(3)).

A restriction is a completed restriction request whose outcome records no lift: a
``lifted_at`` time, as ``lift_restriction`` writes it (:func:`is_lifted`; anything else
there leaves the restriction in force). There is no other record. Every decision reads
:func:`restricted_since_of` inside the person's one cold-load statement
(``consent.service.load_state``), so at run time this module imports only that table:
consent builds on nothing of the requests package but this hook.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, bindparam, func, not_, or_, select
from sqlalchemy.orm import Session

from personvern.requests.tables import Request

if TYPE_CHECKING:  # consent.service imports this module (the restriction hook)
    from personvern.consent.service import ConsentContext
    from personvern.requests.jobs import Job


def restricted_since_of(subject_id: ColumnElement[str]) -> ScalarSelect[datetime | None]:
    """The rule, as SQL: when the restriction of ``subject_id`` began (Art. 18), the
    earliest completed restriction not lifted; NULL when none is in force. A scalar
    subquery, so a decision's cold load reads it in the same statement as the person."""
    return select(func.min(Request.closed_at)).where(
        Request.subject_id == subject_id, _in_force()).scalar_subquery()


def _in_force() -> ColumnElement[bool]:
    """A request row that is a restriction in force: completed, its lift not recorded."""
    # Fails closed: only an ISO time (what lift_restriction writes) lifts; JSON null, false,
    # 0, "" or any other text leaves it in force, the same as is_lifted in Python.
    lifted = Request.outcome["lifted_at"].as_string()
    return and_(Request.type == "restriction", Request.state == "completed",
                or_(lifted.is_(None), not_(lifted.like(_LIFTED_LIKE))))


def restricted_subjects(session: Session) -> list[str]:
    """Everyone with a restriction in force (Art. 18), by the rule of
    :func:`restricted_since_of`: the retention sweep leaves their rows as they are."""
    return list(session.scalars(select(Request.subject_id).where(
        _in_force(), Request.subject_id.is_not(None)).distinct()))


# An ISO date and time, "2027-03-01T12:00:00+00:00": the one shape a lift is recorded in.
_LIFTED_LIKE = "____-__-__T%"
_LIFTED = re.compile(r"....-..-..T.*", re.S)


def is_lifted(outcome: dict[str, Any] | None) -> bool:
    """Whether a restriction request's outcome records its lift (Art. 18(3)), by the same
    rule as :func:`restricted_since_of`."""
    value = (outcome or {}).get("lifted_at")
    return isinstance(value, str) and _LIFTED.fullmatch(value) is not None


# Built once: SQLAlchemy reuses its compiled form.
_RESTRICTED_SINCE = select(restricted_since_of(
    bindparam("subject_id", type_=Request.subject_id.type)))


def restricted_since(session: Session, subject_id: str) -> datetime | None:
    """When the person's restriction began (Art. 18), or None when none is in force."""
    since: datetime | None = session.execute(_RESTRICTED_SINCE,
                                             {"subject_id": subject_id}).scalar()
    return since


def record(session: Session, consent: ConsentContext, job: Job, now: datetime
           ) -> dict[str, Any]:
    """The engine's side of a restriction: what the outcome says; decisions change at once."""
    # Cached decisions would still allow what the restriction now denies.
    consent.cache.invalidate_on_commit(session, job.subject_id)
    return {"restricted_since": now.isoformat(),
            "scope": "every purpose; storage only (GDPR Art. 18(2))"}
