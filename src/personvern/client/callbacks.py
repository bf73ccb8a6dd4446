"""Checking the engine's signed calls to the app: dataset callbacks and Art. 19 notices.

The engine POSTs JSON with ``X-Personvern-Timestamp`` (Unix seconds) and
``X-Personvern-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``:

- to a ``kind: http`` dataset's ``callback``: ``action`` ``access`` or ``erase``;
- to a recipient's ``webhook`` (with ``secret_env``): ``action`` ``rectification``,
  ``erasure`` or ``restriction`` (GDPR Art. 19).

Verify the exact body bytes before parsing them; answer 401 to an :class:`InvalidSignature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from personvern.errors import PersonvernError

SIGNATURE_HEADER = "X-Personvern-Signature"
TIMESTAMP_HEADER = "X-Personvern-Timestamp"
# A call signed longer ago (or further ahead) than this is refused: a replay.
MAX_AGE_S = 300

Action = Literal["access", "erase", "rectification", "erasure", "restriction"]
ACTIONS = ("access", "erase", "rectification", "erasure", "restriction")


class InvalidSignature(PersonvernError):
    """A call that is not provably the engine's (no, wrong or stale signature): refuse it."""

    status = 401


@dataclass(frozen=True)
class Callback:
    """A verified call: what to do, for which request, to whom (their identities)."""

    action: Action
    request: str
    identities: dict[str, list[str]]
    dataset: str | None = None
    notice: int | None = None
    recipient: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def emails(self) -> list[str]:
        """The person's e-mail addresses, the usual key in the app's own tables."""
        return list(self.identities.get("email", []))


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify_callback(secret: str | bytes, body: bytes, headers: Mapping[str, str], *,
                    now: float | None = None) -> Callback:
    """The call in ``body`` if its signature holds; :class:`InvalidSignature` otherwise."""
    if not secret:
        raise InvalidSignature("no secret to check the signature with: set the same secret "
                               "as the manifest's secret_env names")
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not signature:
        raise InvalidSignature(f"the call has no {SIGNATURE_HEADER} header")
    if not stamp.isdigit():
        raise InvalidSignature(f"the call has no {TIMESTAMP_HEADER} header (Unix seconds)")
    at = time.time() if now is None else now
    if abs(at - int(stamp)) > MAX_AGE_S:
        raise InvalidSignature(f"the call was signed {abs(int(at) - int(stamp))} s from now; "
                               f"more than {MAX_AGE_S} s is refused as a replay")
    # compare_digest: the time taken does not tell how much of a guess was right.
    if not hmac.compare_digest(sign(secret, int(stamp), body), signature):
        raise InvalidSignature("the signature does not match the body: another secret, or "
                               "the body was changed (verify the raw bytes, before parsing)")
    return _parse(body)


def _parse(body: bytes) -> Callback:
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidSignature("a signed call that is not JSON") from None
    action = data.get("action") if isinstance(data, dict) else None
    if action not in ACTIONS:
        raise InvalidSignature(f"a signed call with an unknown action {action!r}")
    identities = data.get("identities") or {}
    notice = data.get("notice")
    return Callback(action, str(data.get("request", "")),
                    {str(k): [str(v) for v in vs] for k, vs in identities.items()},
                    data.get("dataset"), int(notice) if notice is not None else None,
                    data.get("recipient"), data)
