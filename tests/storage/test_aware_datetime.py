"""Timestamps (AwareDateTime) go into and come out of both databases exactly as
SQLAlchemy's generic type wrapper would take them, though by one function per value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.types import TypeDecorator

from personvern.storage.models import AuditEvent, AwareDateTime

OSLO = ZoneInfo("Europe/Oslo")
TIMES = [
    None,
    datetime(2027, 1, 4, 12, 0, 0, 123, tzinfo=UTC),
    datetime(2027, 1, 4, 12, tzinfo=UTC),  # no microseconds: still written with them
    datetime(2027, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2))),
    datetime(2027, 3, 28, 2, 30, tzinfo=OSLO),
    datetime(999, 1, 1, tzinfo=UTC),
]


def _both(engine: Engine) -> tuple[Any, Any, Any, Any]:
    """The fused bind and result conversions, and the generic wrapper's, for ``engine``."""
    dialect = engine.dialect
    typ = AwareDateTime().dialect_impl(dialect)
    return (typ.bind_processor(dialect), TypeDecorator.bind_processor(typ, dialect),
            typ.result_processor(dialect, None),
            TypeDecorator.result_processor(typ, dialect, None))


def test_times_are_bound_as_the_generic_wrapper_binds_them(db_engine: Engine) -> None:
    """Every kind of time becomes the same stored value; a naive one is refused alike."""
    fused, generic, _, _ = _both(db_engine)
    for at in TIMES:
        assert fused(at) == generic(at), at
    naive = datetime(2027, 1, 4, 12)
    with pytest.raises(ValueError, match="naive datetime") as ours:
        fused(naive)
    with pytest.raises(ValueError, match="naive datetime") as theirs:
        generic(naive)
    assert str(ours.value) == str(theirs.value)


def test_times_are_read_as_the_generic_wrapper_reads_them(db_engine: Engine) -> None:
    """Stored values (with and without an offset) read back equal, in UTC, labelled so."""
    _, _, fused, generic = _both(db_engine)
    stored: list[Any] = [None]
    if db_engine.dialect.name == "sqlite":
        stored += ["2027-01-04 12:00:00.000123", "2027-01-04 12:00:00",
                   "2027-01-04 14:00:00.000001+02:00"]
    else:  # the driver hands over datetimes, with the session's offset
        stored += [datetime(2027, 1, 4, 12, tzinfo=timezone(timedelta(hours=1))),
                   datetime(2027, 1, 4, 12)]
    for value in stored:
        ours, theirs = fused(value), generic(value)
        assert ours == theirs and (ours is None or ours.tzinfo is UTC), value


def test_a_time_round_trips_through_the_database(db_engine: Engine) -> None:
    """Written in one zone, stored, read back: the same instant, in UTC."""
    at = datetime(2027, 3, 28, 3, 30, 0, 42, tzinfo=OSLO)
    table = AuditEvent.__table__
    with db_engine.begin() as conn:
        conn.execute(table.insert(), [{
            "id": 1, "at": at, "actor": "owner", "action": "test", "target": "t",
            "details": {}, "prev_hash": "0" * 64, "hash": "1" * 64}])
        back = conn.execute(select(table.c.at)).scalar_one()
    assert back == at and back.tzinfo is UTC
