"""Request and response bodies of the HTTP API (they are the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from personvern.consent.events import Actor, Channel

# Every time the API answers with is in UTC ("...Z"), whatever the clock's zone.
Utc = Annotated[datetime, AfterValidator(lambda at: at.astimezone(UTC))]


def _date_text(value: object) -> object:
    # Lax Pydantic reads a number as a Unix time; a birth date is only ever YYYY-MM-DD.
    if not isinstance(value, str | date):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text)]

EventTypeIn = Literal[
    "consent_given", "consent_withdrawn", "consent_refused", "objection_raised",
    "objection_lifted",
]


class Strict(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="URI naming the kind of problem")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong this time, for a person")
    instance: str = Field(description="the path of the request that failed")
    errors: list[dict[str, Any]] | None = Field(
        None, description="for 422: each invalid field, where it is and why"
    )


class SubjectIn(Strict):
    """Identities of a subject to find or create; at least one is required."""

    email: str | None = Field(None, max_length=320, examples=["kari@example.no"],
                              json_schema_extra={"format": "email"})
    phone: str | None = Field(None, max_length=32, examples=["+4791234567"])
    external_id: str | None = Field(None, max_length=200, examples=["user-1234"])
    birth_date: IsoDate | None = None
    kind: str | None = Field(None, max_length=64, description="a subject id of the manifest")
    existing_customer: StrictBool = False


class IdentityOut(BaseModel):
    """One way to find the subject."""

    kind: Literal["email", "phone", "external_id"]
    value: str


class SubjectOut(BaseModel):
    """A subject with its identities."""

    id: str
    identities: list[IdentityOut]
    kind: str | None
    birth_date: date | None
    existing_customer: bool
    last_activity: Utc | None
    created_at: Utc
    guardians: list[str] = Field(description="ids of the subject's guardians")


class ActivityOut(BaseModel):
    """The subject's last recorded activity."""

    id: str
    last_activity: Utc


class GuardianIn(Strict):
    """A guardian (parent) who acts for this subject."""

    guardian_id: str = Field(min_length=1, max_length=320)
    verified_by: str | None = Field(
        None, max_length=500, description="how guardianship was verified (e.g. BankID)"
    )


class GuardianOut(BaseModel):
    """A guardian link."""

    guardian_id: str
    child_id: str
    verified_by: str | None
    created_at: Utc


class EvidenceIn(BaseModel):
    """What the person saw and where the choice came from; more fields are kept as given.

    ``ip`` and ``user_agent`` are the person's, as the calling app saw them; they are
    stored only as a keyed, salted hash. When absent, the request's own are hashed.
    """

    model_config = ConfigDict(extra="allow")

    text_shown: str | None = Field(None, max_length=4_000)
    ip: str | None = Field(None, max_length=64)
    user_agent: str | None = Field(None, max_length=1_000)


class ConsentIn(Strict):
    """A consent or objection event to append to the ledger."""

    subject: str = Field(min_length=1, max_length=320,
                         description="subject id, e-mail, +phone or ext:ID")
    purpose: str = Field(min_length=1, max_length=64)
    type: EventTypeIn
    actor: Actor = Actor.SELF
    actor_subject_id: str | None = Field(None, max_length=320,
                                         description="the guardian or admin acting")
    channel: Channel = Channel.API
    evidence: EvidenceIn = Field(default_factory=EvidenceIn)


class EventOut(BaseModel):
    """A ledger event (its personal evidence is kept apart and not echoed)."""

    id: str
    seq: int
    subject_id: str
    purpose: str | None
    type: str
    actor: str
    actor_subject_id: str | None
    channel: str
    policy_version: str | None
    at: Utc
    recorded_at: Utc
    evidence_digest: str
    prev_hash: str
    hash: str


class DecisionIn(Strict):
    """Ask whether ``purpose`` is allowed for ``subject`` now."""

    subject: str = Field(min_length=1, max_length=320)
    purpose: str = Field(min_length=1, max_length=64)


class DecisionOut(BaseModel):
    """The answer, the legal basis it rests on, and why."""

    allowed: bool
    purpose: str
    basis: str | None
    reason: str
    code: str
    at: Utc
    subject_id: str
    gpc: bool = Field(description="whether a Sec-GPC: 1 signal was taken into account")


class PurposeConsentOut(BaseModel):
    """The decision for one purpose and the events behind it."""

    purpose: str
    allowed: bool
    basis: str | None
    reason: str
    code: str
    events: list[EventOut]


class ConsentsOut(BaseModel):
    """Everything a subject decided, per purpose."""

    subject_id: str
    at: Utc
    purposes: list[PurposeConsentOut]
    other_events: list[EventOut] = Field(description="events tied to no purpose (GPC seen)")


class CookieChoiceIn(Strict):
    """A browser's choice per cookie category; categories left out are refused."""

    browser_id: str | None = Field(
        None, min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="the anonymous id from an earlier answer; a new one is made if absent",
    )
    subject_id: str | None = Field(
        None, max_length=320, description="the signed-in subject (needs an API key)"
    )
    choices: dict[str, StrictBool] = Field(
        default_factory=dict, max_length=16, examples=[{"statistics": True, "marketing": False}]
    )


class CookieStateOut(BaseModel):
    """Which cookie categories may be set now."""

    browser_id: str
    subject_id: str | None
    allowed: dict[str, bool]
    gpc: bool
    chosen_at: Utc | None
    expires_at: Utc | None
    expired: bool
    policy_version: str | None
    needs_choice: bool = Field(description="no live choice for the current policy: ask again")


class GpcSupport(BaseModel):
    """``/.well-known/gpc.json`` as the Global Privacy Control specification defines it."""

    gpc: bool
    lastUpdate: str  # the name the GPC specification gives
