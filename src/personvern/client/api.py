"""The synchronous client of the HTTP API: typed results, bounded retries, typed errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Literal

import httpx

from personvern.client.errors import PersonvernAPIError, ServerUnavailable

EventType = Literal[
    "consent_given", "consent_withdrawn", "consent_refused", "objection_raised",
    "objection_lifted",
]
Actor = Literal["self", "guardian", "admin", "system"]
Channel = Literal["portal", "api", "banner", "import", "email"]
# Answers worth another try: the server is restarting or its database is away for a moment.
RETRY_STATUSES = frozenset({502, 503, 504})


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Subject:
    """A subject as the server knows it."""

    id: str
    identities: list[tuple[str, str]]
    created: bool = False
    last_activity: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Event:
    """A ledger event the server stored (or replayed)."""

    id: str
    seq: int
    subject_id: str
    purpose: str | None
    type: str
    at: datetime
    hash: str
    replayed: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class PurposeConsent:
    """One purpose's decision for a subject and the ledger events behind it."""

    purpose: str
    allowed: bool
    basis: str | None
    reason: str
    code: str
    events: list[Event]


@dataclass(frozen=True)
class Consents:
    """Every purpose's decision for a subject, now."""

    subject_id: str
    at: datetime
    purposes: list[PurposeConsent]

    def __getitem__(self, purpose: str) -> PurposeConsent:
        """``consents["newsletter"]``; KeyError for a purpose the manifest lacks."""
        for p in self.purposes:
            if p.purpose == purpose:
                return p
        raise KeyError(purpose)


@dataclass(frozen=True)
class Decision:
    """The answer to "may I?": truthy when allowed, with the basis and the reason."""

    allowed: bool
    purpose: str
    basis: str | None
    reason: str
    code: str
    at: datetime

    def __bool__(self) -> bool:
        """``if client.decide(...)``: true when allowed."""
        return self.allowed


class PersonvernClient:
    """Synchronous client; one connection pool, closed by ``close()`` or ``with``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``retries`` more attempts after a failed one (no answer, 502-504), waiting
        ``backoff``, then twice that, ...; then :class:`ServerUnavailable`. Every call this
        client makes is safe to repeat (writes carry idempotency keys or are find-or-create)."""
        self.base_url = base_url.rstrip("/")
        self.retries = max(retries, 0)
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport,
            # A short connect timeout: a server that is down is found out quickly.
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json",
                     "User-Agent": "personvern-client"},
        )

    def __enter__(self) -> PersonvernClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, *, json: Any = None,
              params: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None) -> httpx.Response:
        started = time.monotonic()
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._http.request(method, path, json=json, params=params,
                                              headers=headers)
            except httpx.TransportError as err:
                last = f"{type(err).__name__}: {err}"
                continue
            if response.is_success:
                return response
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                last = f"HTTP {response.status_code}"
                continue
            raise PersonvernAPIError.from_response(response)
        took = time.monotonic() - started
        raise ServerUnavailable(
            0, "Server unavailable",
            f"no answer from {self.base_url} after {self.retries + 1} attempts in {took:.1f} s "
            f"({last}); is `personvern serve` running there?")

    def ensure_subject(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        external_id: str | None = None,
        birth_date: date | None = None,
        kind: str | None = None,
        existing_customer: bool = False,
    ) -> Subject:
        """The subject with these identities, created if none has them."""
        body: dict[str, Any] = {"existing_customer": existing_customer}
        for name, value in (("email", email), ("phone", phone), ("external_id", external_id),
                            ("kind", kind)):
            if value is not None:
                body[name] = value
        if birth_date is not None:
            body["birth_date"] = birth_date.isoformat()
        response = self._call("POST", "/api/v1/subjects", json=body)
        return self._subject(response.json(), created=response.status_code == 201)

    def subject(self, ref: str) -> Subject:
        """A subject by id, e-mail, +phone or ``ext:ID``."""
        return self._subject(self._call("GET", f"/api/v1/subjects/{_seg(ref)}").json())

    @staticmethod
    def _subject(data: dict[str, Any], created: bool = False) -> Subject:
        return Subject(data["id"], [(i["kind"], i["value"]) for i in data["identities"]],
                       created, _time(data.get("last_activity")), data)

    def record_consent(
        self,
        subject: str,
        purpose: str,
        *,
        type: EventType = "consent_given",
        actor: Actor = "self",
        actor_subject_id: str | None = None,
        channel: Channel = "api",
        text_shown: str | None = None,
        evidence: Mapping[str, Any] | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Append a consent or objection event; ``ip``/``user_agent`` are the person's and
        are stored hashed only. The idempotency key (a fresh one by default) makes retries
        safe: a replay returns the stored event (``replayed``)."""
        proof: dict[str, Any] = dict(evidence or {})
        for name, value in (("text_shown", text_shown), ("ip", ip), ("user_agent", user_agent)):
            if value is not None:
                proof[name] = value
        body: dict[str, Any] = {"subject": subject, "purpose": purpose, "type": type,
                                "actor": actor, "channel": channel, "evidence": proof}
        if actor_subject_id is not None:
            body["actor_subject_id"] = actor_subject_id
        key = idempotency_key or uuid.uuid4().hex
        response = self._call("POST", "/api/v1/consents", json=body,
                              headers={"Idempotency-Key": key})
        return _event(response.json(), response.headers.get("Idempotent-Replayed") == "true")

    def withdraw(self, subject: str, purpose: str, **kwargs: Any) -> Event:
        """Withdraw consent (as easy as giving it, GDPR Art. 7(3))."""
        return self.record_consent(subject, purpose, type="consent_withdrawn", **kwargs)

    def decide(self, subject: str, purpose: str, gpc: bool = False) -> Decision:
        """May ``purpose`` be carried out for ``subject`` now? ``gpc``: the person's browser
        sent ``Sec-GPC: 1``. A purpose the manifest lacks raises UnknownPurposeError."""
        headers = {"Sec-GPC": "1"} if gpc else None
        data = self._call("GET", "/api/v1/decisions", headers=headers,
                          params={"subject": subject, "purpose": purpose}).json()
        return Decision(bool(data["allowed"]), data["purpose"], data["basis"], data["reason"],
                        data["code"], datetime.fromisoformat(data["at"]))

    def record_activity(self, subject: str) -> datetime:
        """Note that ``subject`` was active now; returns the last activity."""
        data = self._call("POST", f"/api/v1/subjects/{_seg(subject)}/activity").json()
        return datetime.fromisoformat(data["last_activity"])

    def consents(self, subject: str) -> Consents:
        """Every purpose's decision for ``subject`` now, with the events behind each."""
        data = self._call("GET", f"/api/v1/subjects/{_seg(subject)}/consents").json()
        return Consents(data["subject_id"], datetime.fromisoformat(data["at"]), [
            PurposeConsent(p["purpose"], bool(p["allowed"]), p["basis"], p["reason"], p["code"],
                           [_event(e) for e in p["events"]]) for p in data["purposes"]])

    def link_guardian(self, child: str, guardian_id: str, *,
                      verified_by: str | None = None) -> None:
        """Record that ``guardian_id`` (a subject id) acts for ``child`` (a parent)."""
        body: dict[str, Any] = {"guardian_id": guardian_id}
        if verified_by is not None:
            body["verified_by"] = verified_by
        self._call("POST", f"/api/v1/subjects/{_seg(child)}/guardians", json=body)


def _event(data: dict[str, Any], replayed: bool = False) -> Event:
    return Event(data["id"], data["seq"], data["subject_id"], data["purpose"], data["type"],
                 datetime.fromisoformat(data["at"]), data["hash"], replayed, data)


def _seg(ref: str) -> str:
    """``ref`` as one path segment (an e-mail or ``ext:`` id may hold / or ?)."""
    from urllib.parse import quote

    return quote(ref, safe="@+:")
