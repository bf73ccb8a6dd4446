"""A fixed sequence of audit events gives the same stored rows and hashes, in and out of a
bulk block: the chain's bytes are pinned, so a faster append cannot change them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from personvern.audit import append_audit, audit_in_bulk, event_hash, verify_audit_chain
from personvern.clock import Clock
from personvern.consent.subjects import create_subject
from personvern.storage.models import AuditEvent
from personvern.storage.session import make_sessionmaker, transaction

# (actor, action, target, details): unicode, nested dicts, floats and ints, int keys (sorted
# as text once stored), quotes and control characters, no details at all.
EVENTS: list[tuple[str, str, str, dict[Any, Any] | None]] = [
    ("admin@example.no", "consent.given", "subject:1",
     {"purpose": "marketing", "n": 1, "note": "Ærlig talt, ø og å"}),
    ("owner", "request.run", "request:2",
     {"b": {"z": 1.5, "a": [1, 2.0, -0.0, 1e16, 0.1]}, "a": 10**20, "ok": True, "none": None}),
    ("owner", "note", "subject:3", {"y": {10: "ten", 9: "nine"}, "x": {2: [], 11: {}}}),
    ("åse@example.no", "note", "subject:☃", None),
    ("owner", "note", "t", {"emoji": "😀", "ctl": "a\nb\"c\\\t\x01", "e": "", "k": {}}),
]
HASHES = [
    "bc2624b5aea68916d5d030ccb66ca041e66d5c69b22a045bc772fa110a6656ec",
    "c6755b4dbdf3b75b8c6fbd3eeaaeace724acb6b8bdd83d3d7982cb05652ae5a9",
    "97f2bc5d058beeca5300f69c5c36f10b452bb556f6c816b675153baca852c208",
    "2f38b0c8b36fc4e9d527140c19b40ceb4d97c5adfb15e24ca2b994251c4ce882",
    "dd4d19095c986baebd9ad66a4a413a58140342a45f83ba2413aba7a40e8090ec",
]
# The details column's text as stored (the JSON column's own serialisation, in the order
# the canonical text gave: numeric keys stay in numeric order there, not in the hash's).
STORED = [
    '{"n": 1, "note": "\\u00c6rlig talt, \\u00f8 og \\u00e5", "purpose": "marketing"}',
    '{"a": 100000000000000000000, "b": {"a": [1, 2.0, -0.0, 1e+16, 0.1], "z": 1.5}, '
    '"none": null, "ok": true}',
    '{"x": {"2": [], "11": {}}, "y": {"9": "nine", "10": "ten"}}',
    '{}',
    '{"ctl": "a\\nb\\"c\\\\\\t\\u0001", "e": "", "emoji": "\\ud83d\\ude00", "k": {}}',
]
DETAILS = [
    {"n": 1, "note": "Ærlig talt, ø og å", "purpose": "marketing"},
    {"a": 10**20, "b": {"a": [1, 2.0, -0.0, 1e16, 0.1], "z": 1.5}, "none": None, "ok": True},
    {"x": {"11": {}, "2": []}, "y": {"10": "ten", "9": "nine"}},
    {},
    {"ctl": "a\nb\"c\\\t\x01", "e": "", "emoji": "😀", "k": {}},
]


def _ticking() -> Clock:
    """A clock that moves one second (and a few microseconds) per reading."""
    at = datetime.fromisoformat("2027-03-01T12:00:00+01:00")
    ticks = iter(range(1_000))
    return lambda: at + timedelta(seconds=next(ticks), microseconds=7)


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, actor, action, target, prev_hash, hash, CAST(details AS TEXT)"
            " FROM audit_events ORDER BY id"))]


def _append_all(engine: Engine, bulk: bool) -> None:
    clock = _ticking()
    with transaction(engine) as session:
        if bulk:
            with audit_in_bulk(session):
                for actor, action, target, details in EVENTS:
                    append_audit(session, clock, actor, action, target, details)
        else:
            for actor, action, target, details in EVENTS[:2]:
                append_audit(session, clock, actor, action, target, details)
            savepoint = session.begin_nested()  # rolled back: its event and its id are gone
            append_audit(session, _ticking(), "ghost", "note", "t", {"gone": 1})
            savepoint.rollback()
            for actor, action, target, details in EVENTS[2:]:
                append_audit(session, clock, actor, action, target, details)


@pytest.mark.parametrize("bulk", [False, True], ids=["one_by_one", "in_bulk"])
def test_a_fixed_sequence_gives_pinned_rows_and_hashes(db_engine: Engine, bulk: bool) -> None:
    _append_all(db_engine, bulk)
    rows = _rows(db_engine)
    assert [r[5] for r in rows] == HASHES
    assert [r[4] for r in rows[1:]] == HASHES[:-1]
    assert [r[1:4] for r in rows] == [e[:3] for e in EVENTS]
    assert [r[6] for r in rows] == STORED
    with make_sessionmaker(db_engine)() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.details for e in events] == DETAILS
        assert [e.id for e in events] == [1, 2, 3, 4, 5]
        assert verify_audit_chain(session) is None


def test_personal_details_are_sealed_and_hashed_as_stored(db_engine: Engine) -> None:
    clock = _ticking()
    with transaction(db_engine) as session:
        subject, _ = create_subject(session, clock, {"email": "ola@example.no"})
        append_audit(session, clock, "owner", "note", "s", {"kind": {5: 1, 40: 2}},
                     personal={"said": "Ola ringte", "n": [1.5]}, subject_id=subject.id)
        with audit_in_bulk(session):
            append_audit(session, clock, "owner", "note", "s", None,
                         personal={"said": "ø"}, subject_id=subject.id)
    with make_sessionmaker(db_engine)() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [sorted(e.details) for e in events] == [
            ["kind", "personal", "personal_subject"], ["personal", "personal_subject"]]
        assert all(e.details["personal_subject"] == subject.id for e in events)
        assert all(e.hash == event_hash(e) for e in events)
        assert verify_audit_chain(session) is None


@pytest.mark.parametrize(("details", "personal", "subject", "why"), [
    ({"when": datetime(2027, 1, 1)}, None, None,
     "Object of type datetime is not JSON serializable"),
    ({"n": float("nan")}, None, None, "Out of range float values are not JSON compliant"),
    ({"n": {1: "a", "b": 2}}, None, None, "'<' not supported between instances of 'str' and 'int'"),
    ({}, {"said": "x"}, None, "personal audit details need the subject_id to seal them with"),
    ({}, {"n": float("inf")}, "s", "Out of range float values are not JSON compliant"),
])
def test_details_that_are_not_plain_json_are_refused(
        db_engine: Engine, details: dict[Any, Any], personal: dict[str, Any] | None,
        subject: str | None, why: str) -> None:
    with (pytest.raises(ValueError) as refused, transaction(db_engine) as session):
        append_audit(session, _ticking(), "a", "x", "t", details, personal=personal,
                     subject_id=subject)
    assert str(refused.value) == f"audit details must be plain JSON: {why}"
    assert _rows(db_engine) == []
