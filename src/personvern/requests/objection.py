"""Objection (Art. 21) and consent withdrawal (Art. 7(3)): events in the consent ledger.

Which purposes an objection or a withdrawal names is settled when the request is opened
(``personvern.rights.basis.objection_targets`` and the person's given consents); here
each becomes one ledger event, and decisions apply it from then on (marketing stops
absolutely, Art. 21(3)). There is no work on the service's datasets.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from personvern.consent.events import Actor, Channel, EventType
from personvern.consent.service import record_event
from personvern.errors import InvalidInput
from personvern.requests.jobs import Job

if TYPE_CHECKING:
    from personvern.consent.service import ConsentContext


def record(session: Session, consent: ConsentContext, at: datetime, job: Job
           ) -> dict[str, Any]:
    """One ledger event per purpose; returns what was recorded and what was skipped, why."""
    actor = {"guardian": Actor.GUARDIAN, "admin": Actor.ADMIN, "owner": Actor.SYSTEM}.get(
        job.opened_by, Actor.SELF)
    channel = {"portal": Channel.PORTAL, "email": Channel.EMAIL}.get(job.channel, Channel.API)
    kind = EventType.OBJECTION_RAISED if job.type == "objection" else EventType.CONSENT_WITHDRAWN
    recorded, skipped = [], []
    for purpose in job.details.get("purposes", []):
        try:
            # The request id as idempotency key: a re-run records nothing twice.
            record_event(session, consent, at, job.subject_id, kind, purpose_id=purpose,
                         actor=actor, channel=channel, actor_subject_id=job.actor_subject_id,
                         evidence={"request": job.request_id},
                         idempotency_key=f"request:{job.request_id}:{purpose}")
            recorded.append(purpose)
        except InvalidInput as exc:  # e.g. withdrawn in the portal meanwhile
            skipped.append({"purpose": purpose, "why": str(exc)})
    key = "objected" if job.type == "objection" else "withdrawn"
    return {key: recorded, "skipped": skipped}
