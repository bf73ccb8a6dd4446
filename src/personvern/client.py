"""A small synchronous client for the Personvern HTTP API, for the app beside it.

    from personvern.client import PersonvernClient

    with PersonvernClient("http://127.0.0.1:8000", api_key) as pv:
        kari = pv.ensure_subject(email="kari@example.no")
        pv.record_consent(kari.id, "newsletter", text_shown="Vil du ha nyhetsbrev?")
        if pv.decide(kari.id, "newsletter"):
            ...

It needs only httpx, not the rest of Personvern. Every error answer raises one
``PersonvernAPIError`` carrying the server's problem details.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Literal

import httpx

EventType = Literal[
    "consent_given", "consent_withdrawn", "consent_refused", "objection_raised",
    "objection_lifted",
]
Actor = Literal["self", "guardian", "admin", "system"]
Channel = Literal["portal", "api", "banner", "import", "email"]


class PersonvernAPIError(Exception):
    """An error answer (problem+json) from the server, or no answer at all (status 0)."""

    def __init__(self, status: int, title: str, detail: str,
                 problem: Mapping[str, Any] | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.problem: dict[str, Any] = dict(problem or {})
        self.type: str = str(self.problem.get("type", "about:blank"))
        super().__init__(f"{status} {title}: {detail}" if status else f"{title}: {detail}")

    @classmethod
    def from_response(cls, response: httpx.Response) -> PersonvernAPIError:
        """The error for a non-2xx response, from its problem+json when it has one."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "title" in body:
            return cls(int(body.get("status", response.status_code)), str(body["title"]),
                       str(body.get("detail", "")), body)
        return cls(response.status_code, response.reason_phrase or "Error",
                   response.text[:500])


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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
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
              headers: Mapping[str, str] | None = None, retries: int = 0) -> httpx.Response:
        for attempt in range(retries + 1):
            try:
                response = self._http.request(method, path, json=json, params=params,
                                              headers=headers)
            except httpx.TransportError as err:
                # Only idempotent calls get retries > 0, so trying again is safe.
                if attempt < retries:
                    continue
                raise PersonvernAPIError(0, "Connection failed", str(err)) from err
            if response.is_success:
                return response
            raise PersonvernAPIError.from_response(response)
        raise AssertionError("unreachable")  # pragma: no cover

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
        are stored hashed only. A fresh idempotency key makes one retry safe."""
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
                              headers={"Idempotency-Key": key}, retries=1)
        data = response.json()
        return Event(data["id"], data["seq"], data["subject_id"], data["purpose"], data["type"],
                     datetime.fromisoformat(data["at"]), data["hash"],
                     response.headers.get("Idempotent-Replayed") == "true", data)

    def withdraw(self, subject: str, purpose: str, **kwargs: Any) -> Event:
        """Withdraw consent (as easy as giving it, GDPR Art. 7(3))."""
        return self.record_consent(subject, purpose, type="consent_withdrawn", **kwargs)

    def decide(self, subject: str, purpose: str, gpc: bool = False) -> Decision:
        """May ``purpose`` be carried out for ``subject`` now? ``gpc``: the person's browser
        sent ``Sec-GPC: 1``."""
        headers = {"Sec-GPC": "1"} if gpc else None
        data = self._call("GET", "/api/v1/decisions", headers=headers, retries=1,
                          params={"subject": subject, "purpose": purpose}).json()
        return Decision(bool(data["allowed"]), data["purpose"], data["basis"], data["reason"],
                        data["code"], datetime.fromisoformat(data["at"]))

    def record_activity(self, subject: str) -> datetime:
        """Note that ``subject`` was active now; returns the last activity."""
        data = self._call("POST", f"/api/v1/subjects/{_seg(subject)}/activity", retries=1).json()
        return datetime.fromisoformat(data["last_activity"])

    def consents(self, subject: str) -> dict[str, Any]:
        """Every purpose's decision for ``subject`` with its events (the server's JSON)."""
        data: dict[str, Any] = self._call(
            "GET", f"/api/v1/subjects/{_seg(subject)}/consents", retries=1
        ).json()
        return data


def _seg(ref: str) -> str:
    """``ref`` as one path segment (an e-mail or ``ext:`` id may hold / or ?)."""
    from urllib.parse import quote

    return quote(ref, safe="@+:")
