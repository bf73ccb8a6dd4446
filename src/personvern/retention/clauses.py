"""SQL for retention: when a rule has fired for a row, whose rows they are, what erasing sets.

Everything here builds SQLAlchemy Core expressions on the service's reflected tables, so a
sweep is a handful of set-based statements per batch, never one statement per person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from personvern.errors import ConfigurationError
from personvern.law import Jurisdiction
from personvern.manifest.model import RetentionRule
from personvern.manifest.model import Table as MappedTable
from personvern.requests.datamap import CHUNK, SqlDataset, as_column_type
from personvern.retention.resolve import Dating, is_owned

MASK = "slettet-"


def local_today(now: datetime, j: Jurisdiction) -> date:
    """The controller's calendar date at ``now``."""
    return now.astimezone(ZoneInfo(j.timezone)).date()


def cutoff(rule: RetentionRule, now: datetime, j: Jurisdiction) -> datetime | None:
    """Rows whose trigger date is before this have passed the rule (None: never).

    A date plus the duration (plus the right-of-withdrawal period, angrerettloven, where
    the rule says so) that has come by ``now``. ``fiscal_year_end`` counts from the end of
    the fiscal year (the calendar year) of the date: bokføringsloven § 13 keeps a document
    from 2020 through 31 December 2025, so it goes in 2026. Other triggers of a rule marked
    bookkeeping keep their own period (the checker flags one shorter than the law's).
    """
    if rule.duration.unlimited:
        return None
    tz = ZoneInfo(j.timezone)
    if rule.trigger == "fiscal_year_end":
        # A bookkeeping rule keeps at least what the law says, whatever the manifest says.
        years = max(rule.duration.years, j.bookkeeping_years if rule.bookkeeping else 0)
        extra = relativedelta(months=rule.duration.months, days=rule.duration.days)
        # Kept through 31 Dec of (year + years) + extra; gone once today is past that.
        today = local_today(now, j) - extra
        return datetime.combine(date(today.year - years, 1, 1), time(), tz)
    d = rule.duration
    back = relativedelta(years=d.years, months=d.months, days=d.days)
    if rule.plus_withdrawal_period:
        back += relativedelta(days=j.withdrawal_period_days)
    return now - back


def before(column: ColumnElement[Any], limit: datetime, j: Jurisdiction,
           strict: bool) -> ColumnElement[bool]:
    """``column`` earlier than ``limit`` (a date column compares with the local date)."""
    value: date | datetime = limit
    if isinstance(column.type, Date):
        value = limit.astimezone(ZoneInfo(j.timezone)).date()
    return column < value if strict else column <= value


def fired(ds: SqlDataset, table: str, rule: RetentionRule, dating: Dating, now: datetime,
          j: Jurisdiction) -> ColumnElement[bool] | None:
    """Rows of ``table`` whose ``rule`` has fired by ``now`` (column or children dating)."""
    if dating.kind not in ("column", "children"):
        return None
    limit = cutoff(rule, now, j)
    if limit is None:
        return false()
    assert dating.table is not None and dating.column is not None
    strict = rule.trigger == "fiscal_year_end"
    clause: ColumnElement[bool]
    if dating.kind == "children":
        top = dating.path[-1].target if dating.path else table
        clause = _children_fired(ds, top, rule, dating, limit, j, strict)
    else:
        clause = before(ds.tables[dating.table].c[dating.column], limit, j, strict)
    # Walk back down the path: the row refers to a parent whose date has passed.
    for edge in reversed(dating.path):
        parent = ds.tables[edge.target]
        child = ds.tables[edge.table]
        clause = child.c[edge.column].in_(select(parent.c[edge.target_column]).where(clause))
    return clause


def owned(ds: SqlDataset, table: str, identities: Mapping[str, Sequence[Any]],
          seen: frozenset[str] = frozenset()) -> ColumnElement[bool]:
    """Rows of ``table`` belonging to the people with these identities (kind -> values),
    through identity columns or up the references, as the data map walk goes."""
    t = ds.tables[table]
    spec = ds.mapped[table]
    parts: list[ColumnElement[bool]] = []
    for col in spec.columns:
        if not col.identity:
            continue
        values = list(identities.get(col.identity, ()))
        if col.identity == "user_id":
            values += list(identities.get("external_id", ()))
        # As the data map walk compares: the column's own index does the work (a
        # lower() here would scan the table for every batch).
        values = as_column_type(t.c[col.name], values)
        column = t.c[col.name]
        if values and ds.engine.dialect.name == "postgresql":
            # One array parameter: an IN list binds a parameter a value, and PostgreSQL
            # takes at most 65,535 in a statement, which a page of 20,000 people with
            # their identities, repeated up the references, goes past.
            parts.append(column == any_(bindparam(None, values, type_=ARRAY(column.type))))
            continue
        for start in range(0, len(values), CHUNK):
            parts.append(column.in_(values[start:start + CHUNK]))
    for edge in ds.edges:
        if edge.table == table and edge.target not in seen | {table}:
            inner = owned(ds, edge.target, identities, seen | {table})
            parent = ds.tables[edge.target]
            parts.append(t.c[edge.column].in_(select(parent.c[edge.target_column]).where(inner)))
    return or_(*parts) if parts else false()


def _children_fired(ds: SqlDataset, table: str, rule: RetentionRule, dating: Dating,
                    limit: datetime, j: Jurisdiction, strict: bool) -> ColumnElement[bool]:
    """Rows dated by the rows referring to them: some child has the date, and no child's
    date is later, missing, or kept at the person's request (one course kept until the
    next keeps the participant too)."""
    assert dating.via is not None and dating.table is not None and dating.column is not None
    child = ds.tables[dating.table]
    me = ds.tables[table]
    link = child.c[dating.via.column] == me.c[dating.via.target_column]
    col = child.c[dating.column]
    later = or_(col.is_(None), not_(before(col, limit, j, strict)))
    kept = kept_on_request(ds, dating.table, rule, limit, j)
    if kept is not None:
        later = or_(later, kept)
    return and_(exists().where(link, col.is_not(None)), not_(exists().where(link, later)))


def kept_on_request(ds: SqlDataset, table: str, rule: RetentionRule, limit: datetime,
                    j: Jurisdiction) -> ColumnElement[bool] | None:
    """Rows the person asked to keep (the table's keep flag, for a rule with such a
    condition), until a later row of theirs has passed the rule itself.

    Seed 001 keeps course data "til neste gang du vil på kurs": the wish holds until the
    next course, which then ends like any other, and takes the kept one with it. A kept
    row whose table has no date for the rule, or no reference to its person, stays kept.
    """
    spec = ds.mapped[table]
    if not spec.keep_flag or not any(c.requested_by_subject for c in rule.conditions):
        return None
    t = ds.tables[table]
    kept: ColumnElement[bool] = func.coalesce(t.c[spec.keep_flag], False) == True  # noqa: E712
    column = spec.dates.get(rule.trigger)
    owner = next((e for e in ds.edges if e.table == table and is_owned(ds, e.target)), None)
    if not column or "." in column or owner is None:
        return kept
    later = t.alias("later_row")
    strict = rule.trigger == "fiscal_year_end"
    passed = exists().where(later.c[owner.column] == t.c[owner.column],
                            later.c[column] > t.c[column],
                            before(later.c[column], limit, j, strict),
                            func.coalesce(later.c[spec.keep_flag], False) == False)  # noqa: E712
    return and_(kept, not_(passed))


def unreferenced(ds: SqlDataset, table: str) -> ColumnElement[bool] | None:
    """Rows no remaining row of another mapped table refers to (deleting keeps foreign keys)."""
    t = ds.tables[table]
    parts = []
    for edge in ds.edges:
        if edge.target == table and edge.table != table:
            child = ds.tables[edge.table]
            parts.append(not_(exists().where(child.c[edge.column] == t.c[edge.target_column])))
    return and_(*parts) if parts else None


def erase_values(ds: SqlDataset, spec: MappedTable, how_default: str
                 ) -> tuple[dict[str, Any], ColumnElement[bool]]:
    """The values a row's personal columns are set to, and the rows not yet set so.

    Mask writes ``slettet-<key>`` (unique, as unique columns need); hash is a mask here,
    since SQL has no portable SHA-256; null on a NOT NULL column masks instead. Columns
    under a column-level hold are left for the hold.
    """
    t = ds.tables[spec.name]
    key = t.c[spec.key]
    values: dict[str, Any] = {}
    pending: list[ColumnElement[bool]] = []
    # A column that dates a retention trigger stays: rows referring to this one are dated
    # by it, and it says nothing about the person once the rest is gone.
    dating = set(spec.dates.values())
    for col in spec.columns:
        how = col.erase or how_default
        if col.name == spec.key or how == "keep" or col.hold or col.name in dating:
            continue
        c = t.c[col.name]
        is_text = isinstance(c.type, String)
        length = getattr(c.type, "length", None)
        too_short = length is not None and length < len(MASK) + 2  # the mask would not fit
        if (how == "null" or too_short) and c.nullable:
            values[col.name] = null()
            pending.append(c.is_not(None))
        elif is_text and not too_short:
            masked = literal(MASK) + cast(key, String)
            values[col.name] = func.substr(masked, 1, length) if length else masked
            pending.append(func.coalesce(c, "").not_like(MASK + "%"))
        elif c.nullable:
            values[col.name] = null()
            pending.append(c.is_not(None))
        else:
            raise ConfigurationError(
                f"{ds.spec.id}.{spec.name}.{col.name} ({c.type}) cannot be erased and is NOT "
                "NULL; map it with erase: keep or null")
    return values, (or_(*pending) if pending else false())
