"""A write's evidence is sealed as its canonical JSON text, byte for byte what was sealed
when the text was read back and written again first (as ``Keyring.seal_json`` writes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from personvern.audit import canonical_json
from personvern.consent.ledger import EVIDENCE_CONTEXT, seal_evidence
from personvern.consent.subjects import create_subject
from personvern.crypto.keyring import keyring_for
from personvern.errors import InvalidInput

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
EVIDENCE: list[dict[str, Any]] = [
    {"text_shown": "Ja takk", "ip_hash": "ab" * 32},
    {"z": 1, "a": [3, 2, {"y": None, "b": True}], "m": "æøå ☃ \u2028 \"q\" \\ \t"},
    {"floats": [0.1, -0.0, 1e16, 1e-7, 2.5e300, 123456789.123456789], "big": 2**80},
    {"nested": {"deep": {"deeper": ["", {}, []]}}, "emoji": "\U0001F600"},
]


def _as_before(evidence: dict[str, Any]) -> bytes:
    """What was sealed before: the canonical text read back, then Keyring's own JSON."""
    return json.dumps(json.loads(canonical_json(evidence)), sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str).encode()


@pytest.mark.parametrize("evidence", EVIDENCE)
def test_evidence_is_sealed_as_the_same_bytes(db_session: Session,
                                              evidence: dict[str, Any]) -> None:
    sid = create_subject(db_session, lambda: T0, {"email": "kari@example.no"})[0].id
    sealed = seal_evidence(db_session, sid, evidence)
    assert sealed is not None
    keyring = keyring_for(db_session)
    opened = keyring.open(db_session.connection(), sid, EVIDENCE_CONTEXT, sealed)
    assert opened == _as_before(evidence)
    assert keyring.open_json(db_session.connection(), sid, EVIDENCE_CONTEXT, sealed
                             ) == json.loads(_as_before(evidence))


def test_no_evidence_is_no_row_and_nan_is_refused(db_session: Session) -> None:
    sid = create_subject(db_session, lambda: T0, {"email": "kari@example.no"})[0].id
    assert seal_evidence(db_session, sid, {}) is None
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(InvalidInput, match="finite numbers"):
            seal_evidence(db_session, sid, {"x": [bad]})
