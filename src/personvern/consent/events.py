"""Ledger event kinds, who acted and through which channel (DPV consent statuses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventType(StrEnum):
    """What happened; consent kinds map to DPV ConsentGiven, ConsentWithdrawn, ..."""

    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_REFUSED = "consent_refused"
    CONSENT_EXPIRED = "consent_expired"
    OBJECTION_RAISED = "objection_raised"
    OBJECTION_LIFTED = "objection_lifted"
    GPC_SEEN = "gpc_seen"


CONSENT_TYPES = frozenset({
    EventType.CONSENT_GIVEN, EventType.CONSENT_WITHDRAWN, EventType.CONSENT_REFUSED,
    EventType.CONSENT_EXPIRED,
})
OBJECTION_TYPES = frozenset({EventType.OBJECTION_RAISED, EventType.OBJECTION_LIFTED})

DPV_STATUS = {
    EventType.CONSENT_GIVEN: "dpv:ConsentGiven",
    EventType.CONSENT_WITHDRAWN: "dpv:ConsentWithdrawn",
    EventType.CONSENT_REFUSED: "dpv:ConsentRefused",
    EventType.CONSENT_EXPIRED: "dpv:ConsentExpired",
}


class Actor(StrEnum):
    """Who caused the event: the person, their guardian, an organisation admin, the system."""

    SELF = "self"
    GUARDIAN = "guardian"
    ADMIN = "admin"
    SYSTEM = "system"


class Channel(StrEnum):
    """Where the event came from."""

    PORTAL = "portal"
    API = "api"
    BANNER = "banner"
    IMPORT = "import"
    EMAIL = "email"


@dataclass(frozen=True)
class ConsentEvent:
    """The facts of one ledger event that decisions need (no personal evidence)."""

    type: EventType
    purpose: str | None
    at: datetime
    actor: Actor
    channel: Channel
    policy_version: str | None = None
