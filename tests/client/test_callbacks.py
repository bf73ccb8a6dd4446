"""verify_callback on calls the engine signed itself: what an app accepts and what it refuses."""

from __future__ import annotations

import pytest

from personvern.client import InvalidSignature, verify_callback
from personvern.client.callbacks import sign as client_sign
from personvern.manifest.model import Dataset
from personvern.requests.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER, body_for, sign

SECRET = b"chat-hemmelighet"
AT = 1_798_977_600
CHAT = Dataset.model_validate({"id": "chat", "kind": "http", "secret_env": "CHAT_SECRET",
                               "callback": "https://app.example.no/privacy"})
WHO = {"email": ["kari@example.no"], "phone": ["+4791234567"]}


def signed(action: str = "access") -> tuple[bytes, dict[str, str]]:
    body = body_for(CHAT, action, "req-7", WHO)
    return body, {TIMESTAMP_HEADER: str(AT), SIGNATURE_HEADER: sign(SECRET, AT, body)}


def test_a_call_the_engine_signed_is_accepted_and_typed() -> None:
    body, headers = signed()
    assert client_sign(SECRET, AT, body) == headers[SIGNATURE_HEADER]  # one algorithm
    lowered = {k.lower(): v for k, v in headers.items()}  # as some servers hand them over
    call = verify_callback(SECRET.decode(), body, lowered, now=AT + 299)
    assert (call.action, call.request, call.dataset, call.notice) == ("access", "req-7",
                                                                      "chat", None)
    assert call.identities == WHO and call.emails == ["kari@example.no"]


@pytest.mark.parametrize(("change", "says"), [
    (lambda b, h: (b, {k: v for k, v in h.items() if k != SIGNATURE_HEADER}),
     "no X-Personvern-Signature header"),
    (lambda b, h: (b, {k: v for k, v in h.items() if k != TIMESTAMP_HEADER}),
     "no X-Personvern-Timestamp header"),
    (lambda b, h: (b.replace(b"access", b"erase"), h), "does not match the body"),
    (lambda b, h: (b, {**h, SIGNATURE_HEADER: "v1=" + "0" * 64}), "does not match the body"),
    (lambda b, h: (b, {**h, TIMESTAMP_HEADER: str(AT - 301)}), "refused as a replay"),
])
def test_a_missing_wrong_or_stale_signature_is_refused(change: object, says: str) -> None:
    body, headers = change(*signed())  # type: ignore[operator]
    with pytest.raises(InvalidSignature, match=says) as caught:
        verify_callback(SECRET, body, headers, now=AT)
    assert caught.value.status == 401


def test_another_secret_or_none_is_refused() -> None:
    body, headers = signed("erase")
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_callback("another secret", body, headers, now=AT)
    with pytest.raises(InvalidSignature, match="no secret"):
        verify_callback("", body, headers, now=AT)
