"""The callback protocol of ``kind: http`` datasets: the app answers access and erase calls.

Personvern POSTs JSON to the dataset's ``callback`` URL::

    X-Personvern-Timestamp: 1798977600                       (Unix seconds)
    X-Personvern-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
    {"version": 1, "action": "access" | "erase", "request": ID, "dataset": ID,
     "identities": {"email": [...], "phone": [...], "external_id": [...]}}

The secret is read from the environment variable the dataset names (``secret_env``).
The app answers 200 with, for ``access``, ``{"tables": {TABLE: [ROW, ...]}}`` and, for
``erase``, ``{"erased": {TABLE: ROWS}, "kept": [{"table", "rows", "why", "until"}]}``
(``kept`` optional). Anything else — no connection, a timeout, another status, not JSON,
another shape — is a :class:`CallbackFailed`: the request waits and is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import date, datetime
from typing import Any

from personvern.manifest.model import Dataset

VERSION = 1
TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Personvern-Signature"
TIMESTAMP_HEADER = "X-Personvern-Timestamp"
# An app should refuse a call signed longer ago than this (replays).
MAX_AGE_S = 300
MAX_ANSWER_BYTES = 50 * 1024 * 1024


class CallbackFailed(Exception):
    """The app did not give a usable answer; the message says why (no personal data)."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, now: int) -> bool:
    """What the app does with a call: a good signature, made within ``MAX_AGE_S``."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_AGE_S:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def secret_of(ds: Dataset) -> bytes:
    """The dataset's signing secret from the environment; CallbackFailed when unset."""
    name = getattr(ds, "secret_env", None)
    if not name:
        raise CallbackFailed(f"dataset {ds.id!r} names no secret_env: calls must be signed")
    value = os.environ.get(name, "").strip()
    if not value:
        raise CallbackFailed(f"the environment variable {name} (secret of dataset {ds.id!r}) "
                             "is not set")
    return value.encode()


def body_for(ds: Dataset, action: str, request_id: str, identities: dict[str, list[str]]
             ) -> bytes:
    """The JSON body of a call, as sent and signed."""
    return json.dumps({"version": VERSION, "action": action, "request": request_id,
                       "dataset": ds.id, "identities": identities},
                      ensure_ascii=False, separators=(",", ":")).encode()


def call(ds: Dataset, action: str, request_id: str, identities: dict[str, list[str]],
         at: datetime) -> dict[str, Any]:
    """Make the call and return the checked answer; CallbackFailed otherwise."""
    import httpx

    if action not in ("access", "erase"):
        raise ValueError(f"unknown callback action {action!r}")
    if not ds.callback:
        raise CallbackFailed(f"dataset {ds.id!r} has no callback URL")
    secret = secret_of(ds)
    body = body_for(ds, action, request_id, identities)
    timestamp = int(at.timestamp())
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
               SIGNATURE_HEADER: sign(secret, timestamp, body)}
    where = f"dataset {ds.id!r} ({ds.callback})"
    try:
        resp = httpx.post(ds.callback, content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise CallbackFailed(f"{where} did not answer: {type(exc).__name__}: {exc}") from None
    if resp.status_code != 200:
        raise CallbackFailed(f"{where} answered HTTP {resp.status_code}")
    if len(resp.content) > MAX_ANSWER_BYTES:
        raise CallbackFailed(f"{where} answered more than {MAX_ANSWER_BYTES} bytes")
    try:
        answer = resp.json()
    except ValueError:
        raise CallbackFailed(f"{where} did not answer JSON") from None
    problem = check_answer(action, answer)
    if problem:
        raise CallbackFailed(f"{where} answered the {action} call wrongly: {problem}")
    return dict(answer)


def check_answer(action: str, answer: Any) -> str | None:
    """What is wrong with an answer's shape, or None."""
    if not isinstance(answer, dict):
        return "expected a JSON object"
    if action == "access":
        tables = answer.get("tables")
        if not isinstance(tables, dict):
            return 'expected {"tables": {TABLE: [ROW, ...]}}'
        for name, rows in tables.items():
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                return f"tables.{name} must be a list of objects"
        return None
    erased = answer.get("erased")
    if not isinstance(erased, dict) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in erased.values()):
        return 'expected {"erased": {TABLE: ROWS}} with whole numbers'
    kept = answer.get("kept", [])
    if not isinstance(kept, list):
        return "kept must be a list"
    for k in kept:
        if not (isinstance(k, dict) and isinstance(k.get("table"), str)
                and isinstance(k.get("rows"), int) and isinstance(k.get("why"), str)):
            return 'each kept item needs "table", "rows" and "why"'
        until = k.get("until")
        if until is not None:
            try:
                date.fromisoformat(str(until))
            except ValueError:
                return f"kept.until {until!r} is not a date (YYYY-MM-DD)"
    return None
