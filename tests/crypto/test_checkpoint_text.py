"""A checkpoint's signed text is exactly the canonical JSON its format promises (sorted keys,
no spaces, ASCII escapes), so exported files signed by any version verify in any other."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from personvern.crypto.checkpoints import SCHEME, Checkpoint, sign, signature_problem
from personvern.crypto.keyring import Keyring
from personvern.crypto.master import MasterKey


def canonical(cp: Checkpoint) -> bytes:
    body = {"v": SCHEME, "chain": cp.chain, "seq": cp.seq, "hash": cp.hash,
            "at": cp.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "key_id": cp.key_id}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(("chain", "head_hash", "key_id"), [
    ("consent", "ab" * 32, "0123456789abcdef"),
    ('qu"ote\\back', "line\nbreak\ttab", "\x00\x1f"),
    ("Blåbær ☃ 𝄞", "ſK", "é"),
])
def test_the_signed_text_is_the_canonical_json(chain: str, head_hash: str, key_id: str) -> None:
    at = datetime(2027, 3, 1, 9, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    cp = Checkpoint(chain, 2**40, head_hash, at, key_id, "")
    assert cp.signed_text() == canonical(cp)


def test_a_signed_head_verifies_and_any_changed_field_does_not() -> None:
    master = MasterKey.generate()
    signed = sign(master, "consent", 7, "cd" * 32, datetime(2027, 1, 1, tzinfo=UTC))
    keyring = Keyring(master)
    assert signature_problem(keyring, signed) is None
    for changed in (Checkpoint(signed.chain, 8, signed.hash, signed.at, signed.key_id,
                               signed.signature),
                    Checkpoint("audit", signed.seq, signed.hash, signed.at, signed.key_id,
                               signed.signature),
                    Checkpoint(signed.chain, signed.seq, signed.hash,
                               signed.at + timedelta(microseconds=1), signed.key_id,
                               signed.signature)):
        assert "does not match" in (signature_problem(keyring, changed) or "")
