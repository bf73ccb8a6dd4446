"""The data map at work: find every row of a subject by walking references.

From the subject's identities (e-mail, phone, user id) the walk selects the rows
whose identity columns match, then follows references from child to parent key
(invoice -> purchase -> user, read backwards: user -> purchases -> invoices) until
nothing new is found. The map is checked against the reflected schema first, so a
table or column that does not exist is a clear error before any request runs.
:func:`resolve_column` finds the mapped column a request names (``users.phone``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column as SqlColumn
from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    MetaData,
    Select,
    Table,
    bindparam,
    or_,
    select,
)

from personvern.errors import ConfigurationError, InvalidInput, StorageError
from personvern.manifest.model import Column, Dataset, Manifest
from personvern.manifest.model import Table as MappedTable
from personvern.storage.engine import create_engine_for

# Values per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


@dataclass(frozen=True)
class Edge:
    """``table.column`` holds keys of ``target.target_column``."""

    table: str
    column: str
    target: str
    target_column: str


@dataclass
class Found:
    """A subject's rows per table, keyed by primary key, in the order found."""

    rows: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    # Rows that only name the person (through references with owner: false), per table:
    # key -> the columns naming them. A row the person also owns is not here.
    named: dict[str, dict[Any, set[str]]] = field(default_factory=dict)
    owned: dict[str, set[Any]] = field(default_factory=dict)

    def add(self, table: str, key: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add rows not seen before; returns the new ones."""
        seen = self.rows.setdefault(table, {})
        new = []
        for row in rows:
            if row[key] not in seen:
                seen[row[key]] = row
                new.append(row)
        return new

    def own(self, table: str, key: str, rows: Iterable[dict[str, Any]]) -> bool:
        """Add rows the person owns; whether any was not owned before."""
        self.add(table, key, rows)
        mine = self.owned.setdefault(table, set())
        new = {row[key] for row in rows} - mine
        mine |= new
        named = self.named.get(table, {})
        for k in new:
            named.pop(k, None)
        return bool(new)

    def name(self, table: str, key: str, rows: Iterable[dict[str, Any]],
             columns: dict[str, list[Any]]) -> None:
        """Add rows that name the person in ``columns`` (column -> the person's keys)."""
        self.add(table, key, rows)
        mine = self.owned.get(table, set())
        for row in rows:
            if row[key] in mine:
                continue
            hits = {c for c, values in columns.items() if row.get(c) in set(values)}
            if hits:
                self.named.setdefault(table, {}).setdefault(row[key], set()).update(hits)

    def keys(self, table: str) -> set[Any]:
        """Primary keys found in ``table``."""
        return set(self.rows.get(table, {}))

    def count(self) -> int:
        """All rows found."""
        return sum(len(r) for r in self.rows.values())


def dataset_url(ds: Dataset) -> str:
    """The dataset's URL: ``url``, or the environment variable ``url_env`` names."""
    if ds.url:
        return ds.url
    if ds.url_env:
        value = os.environ.get(ds.url_env)
        if not value:
            raise ConfigurationError(
                f"dataset {ds.id!r}: environment variable {ds.url_env} is not set"
            )
        return value
    raise ConfigurationError(f"dataset {ds.id!r} has no url or url_env")


def resolve_column(manifest: Manifest, ref: str) -> tuple[Dataset, MappedTable, Column]:
    """``dataset.table.column`` or ``table.column`` (when unambiguous) of the data map."""
    parts = str(ref).split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidInput(f"{ref!r}: name a column as table.column or dataset.table.column")
    want_ds = parts[0] if len(parts) == 3 else None
    table_name, column_name = parts[-2], parts[-1]
    hits = [(ds, t, c) for ds in manifest.datasets if ds.kind == "sql"
            and (want_ds is None or ds.id == want_ds)
            for t in ds.tables if t.name == table_name for c in t.columns if c.name == column_name]
    if not hits:
        raise InvalidInput(f"{ref!r} is not a column of the data map")
    if len(hits) > 1:
        raise InvalidInput(f"{ref!r} is in more than one dataset; write dataset.table.column")
    return hits[0]


# Reading a dataset's schema waits for any table the service holds in ACCESS EXCLUSIVE (a
# migration's ALTER TABLE). Every request that needs the datasets waits for the first read
# (Requests.datasets), so it fails within this bound, leaving the request waiting with the
# error, rather than hang them all until the migration ends.
REFLECT_LOCK_TIMEOUT = "5s"


class SqlDataset:
    """One mapped SQL dataset: its engine, reflected tables and reference graph."""

    def __init__(self, ds: Dataset, engine: Engine) -> None:
        self.spec = ds
        self.engine = engine
        self.mapped: dict[str, MappedTable] = {t.name: t for t in ds.tables}
        self.tables: dict[str, Table] = {}
        # References to the row's owner (walked for ownership), and those that only name
        # someone (owner: false; followed one step, never further).
        self.edges: list[Edge] = [
            Edge(t.name, r.column, *r.to.split(".", 1))
            for t in ds.tables for r in t.references if r.owner and not r.part]
        # References to a row that is part of the referring one (users.address_id ->
        # addresses.id): walked the other way, from the referrer to the row it points at.
        self.parts: list[Edge] = [
            Edge(t.name, r.column, *r.to.split(".", 1))
            for t in ds.tables for r in t.references if r.part]
        self.links: list[Edge] = [
            Edge(t.name, r.column, *r.to.split(".", 1))
            for t in ds.tables for r in t.references if not r.owner]
        # Each edge the walk follows back from a row it reached, and whether it owns (found
        # once: a list's `in` per person and round compared every edge field by field).
        self._followed = [(edge, edge in self.edges) for edge in [*self.edges, *self.links]]
        # One statement per (table, columns) shape, built once: building and keying a new
        # select per query cost more than running it.
        self._statements: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}
        # The map's identity columns, found once: the manifest's models are frozen, and a
        # batch asked for them some 4,000 times (per person and identity kind).
        self._identity_columns: tuple[tuple[str, str, str], ...] = tuple(
            (t.name, c.name, c.identity) for t in ds.tables for c in t.columns if c.identity)
        # What depends on the reflected columns' types, kept until the next reflect().
        self._identity_types: dict[frozenset[str], frozenset[type]] = {}
        self._python_types: dict[tuple[str, str], type | None] = {}

    def reflect(self) -> None:
        """Read the real schema and check every mapped table and column exists."""
        meta = MetaData()
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{REFLECT_LOCK_TIMEOUT}'")
                meta.reflect(conn, only=list(self.mapped))
                conn.rollback()
        except Exception as exc:
            missing = self._missing_tables(exc)
            if missing:
                raise ConfigurationError(
                    f"dataset {self.spec.id!r}: table {missing} does not exist in the database"
                ) from None
            raise StorageError(f"dataset {self.spec.id!r} cannot be read: {exc}") from exc
        problems = []
        for name, mapped in self.mapped.items():
            table = meta.tables[name]
            wanted = [mapped.key, *(c.name for c in mapped.columns),
                      *(r.column for r in mapped.references),
                      *([mapped.organisation] if mapped.organisation else [])]
            problems += [f"{name}.{col}" for col in wanted if col not in table.c]
        for edge in self.all_edges:
            target = meta.tables.get(edge.target)
            if target is None or edge.target_column not in target.c:
                problems.append(f"{edge.target}.{edge.target_column}")
        if problems:
            raise ConfigurationError(
                f"dataset {self.spec.id!r}: the data map names columns the database does not "
                f"have: {', '.join(sorted(set(problems)))}"
            )
        self.tables = {name: meta.tables[name] for name in self.mapped}
        self._identity_types.clear()
        self._python_types.clear()

    def _missing_tables(self, exc: Exception) -> str | None:
        from sqlalchemy import inspect

        try:
            present = set(inspect(self.engine).get_table_names())
        except Exception:  # the database itself is down: not a mapping problem
            return None
        missing = sorted(set(self.mapped) - present)
        return ", ".join(missing) if missing else None

    @property
    def all_edges(self) -> list[Edge]:
        """Every reference of the map, owning, part or naming."""
        return [*self.edges, *self.parts, *self.links]

    def suggestions(self) -> list[str]:
        """Foreign keys in the database that the map does not follow: likely missed references."""
        mapped = {(e.table, e.column) for e in self.all_edges}
        out = []
        for name, table in self.tables.items():
            for fk in table.foreign_keys:
                col = fk.parent.name
                if (name, col) not in mapped and fk.column.table.name in self.mapped:
                    out.append(f"{name}.{col} -> {fk.column.table.name}.{fk.column.name}")
        return sorted(out)

    def deletion_order(self) -> list[str]:
        """Mapped tables with referring tables first, so deletes never break a foreign key."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(table: str) -> None:
            if table in seen:
                return
            seen.add(table)
            for e in self.all_edges:
                if e.target == table and e.table != table:
                    visit(e.table)
            order.append(table)

        for name in self.mapped:
            visit(name)
        return order

    def identity_columns(self) -> Iterator[tuple[str, str, str]]:
        """(table, column, identity kind) for every identity column."""
        return iter(self._identity_columns)

    def identity_types(self, kinds: frozenset[str]) -> frozenset[type]:
        """The Python types of the identity columns of ``kinds`` (``object`` for a type
        without one), found once per set of kinds."""
        types = self._identity_types.get(kinds)
        if types is None:
            found: set[type] = set()
            for table, column, kind in self._identity_columns:
                if kind in kinds:
                    try:
                        found.add(self.tables[table].c[column].type.python_type)
                    except NotImplementedError:
                        found.add(object)
            types = self._identity_types[kinds] = frozenset(found)
        return types

    def _python_type(self, table: str, column: str) -> type | None:
        """The reflected column's Python type (None without one), found once."""
        key = (table, column)
        if key not in self._python_types:
            self._python_types[key] = column_python_type(self.tables[table].c[column])
        return self._python_types[key]

    def find(self, conn: Connection, identities: dict[str, Sequence[Any]]) -> Found:
        """Every row of the subject with these identities (kind -> values).

        One query per table and round: the table's columns that may match are OR-ed
        (``pupil_id IN (..) OR mentor_id IN (..)``), as a person would write it.
        """
        return self.walk(conn, self._seeds(identities))

    def find_many(self, conn: Connection, people: Mapping[str, Mapping[str, Sequence[Any]]]
                  ) -> dict[str, Found]:
        """:meth:`find` for several people (a batch), by the same id as ``people``: the walk
        made once for all, one query per table and round for everyone, each row given to
        the people whose values it holds. A row that matched none of them exactly (a
        column comparing values case-insensitively, say) makes it walk one person at a
        time instead, so nobody's rows are missed."""
        seeds = {pid: self._seeds(ids) for pid, ids in people.items()}
        try:
            return self._walk_many(conn, seeds)
        except _Unattributed:
            return {pid: self.walk(conn, wanted) for pid, wanted in seeds.items()}

    def _seeds(self, identities: Mapping[str, Sequence[Any]]) -> dict[str, dict[str, list[Any]]]:
        wanted: dict[str, dict[str, list[Any]]] = {}
        for table, column, kind in self._identity_columns:
            values = list(identities.get(kind, ()))
            if kind == "user_id":
                values += list(identities.get("external_id", ()))
            values = as_python_type(self._python_type(table, column), values)
            if values:
                wanted.setdefault(table, {})[column] = values
        return wanted

    def _walk_many(self, conn: Connection, seeds: dict[str, dict[str, dict[str, list[Any]]]]
                   ) -> dict[str, Found]:
        """:meth:`walk` for each person of ``seeds``, round by round together."""
        found = {pid: Found() for pid in seeds}
        frontier: dict[str, set[str]] = {pid: set() for pid in seeds}
        for table, rows in self._select_many(conn, seeds).items():
            for pid, mine in rows.items():
                if found[pid].own(table, self.mapped[table].key, mine):
                    frontier[pid].add(table)
        while any(frontier.values()):
            wanted: dict[str, dict[str, dict[str, list[Any]]]] = {}
            naming: dict[str, dict[str, dict[str, list[Any]]]] = {}
            for pid, reached in frontier.items():
                if reached:
                    wanted[pid], naming[pid] = self._next(found[pid], reached)
            frontier = {pid: set() for pid in seeds}
            for table, rows in self._select_many(conn, wanted).items():
                for pid, mine in rows.items():
                    if found[pid].own(table, self.mapped[table].key, mine):
                        frontier[pid].add(table)
            for table, rows in self._select_many(conn, naming).items():
                for pid, mine in rows.items():
                    found[pid].name(table, self.mapped[table].key, mine, naming[pid][table])
        return found

    def _next(self, found: Found, reached: set[str]
              ) -> tuple[dict[str, dict[str, list[Any]]], dict[str, dict[str, list[Any]]]]:
        """What one round of :meth:`walk` looks for next: (owned, naming) table -> column
        -> values."""
        wanted: dict[str, dict[str, list[Any]]] = {}
        naming: dict[str, dict[str, list[Any]]] = {}
        for edge in self.parts:
            if edge.table not in reached:
                continue
            rows_of = found.rows[edge.table]
            keys = [rows_of[k][edge.column] for k in found.owned[edge.table]
                    if rows_of[k][edge.column] is not None]
            if keys:
                wanted.setdefault(edge.target, {}).setdefault(
                    edge.target_column, []).extend(keys)
        for edge, owns in self._followed:
            if edge.target not in reached:
                continue
            rows_of = found.rows[edge.target]
            # Only from rows the person owns: a message sent to them leads nowhere.
            keys = [rows_of[k][edge.target_column] for k in found.owned[edge.target]]
            into = wanted if owns else naming
            into.setdefault(edge.table, {}).setdefault(edge.column, []).extend(keys)
        return wanted, naming

    def _select_many(self, conn: Connection, by_person: dict[str, dict[str, dict[str, list[Any]]]]
                     ) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """One :meth:`_select_any` per table for everyone's values; table -> person -> the
        rows holding one of that person's values."""
        tables: dict[str, dict[str, dict[str, list[Any]]]] = {}
        for pid, wanted in by_person.items():
            for table, columns in wanted.items():
                tables.setdefault(table, {})[pid] = columns
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for table, people in tables.items():
            who: dict[str, dict[Any, list[str]]] = {}
            try:
                for pid, columns in people.items():
                    for column, values in columns.items():
                        index = who.setdefault(column, {})
                        for v in values:
                            pids = index.setdefault(v, [])
                            if not pids or pids[-1] != pid:
                                pids.append(pid)
            except TypeError:  # a value that cannot be a dict key: one at a time then
                raise _Unattributed(table) from None
            union = {c: list(values) for c, values in who.items()}
            mine: dict[str, list[dict[str, Any]]] = {}
            # One column (the usual case): its index holds each person once per value
            # already, as dict.fromkeys over the columns would leave them.
            only = next(iter(who.items())) if len(who) == 1 else None
            for row in self._select_any(conn, table, union):
                try:
                    holders = (list(only[1].get(row[only[0]], ())) if only is not None
                               else list(dict.fromkeys(pid for c, index in who.items()
                                                       for pid in index.get(row[c], ()))))
                except TypeError:
                    raise _Unattributed(table) from None
                if not holders:
                    raise _Unattributed(table)
                for n, pid in enumerate(holders):
                    mine.setdefault(pid, []).append(row if n == 0 else dict(row))
            out[table] = {pid: mine.get(pid, []) for pid in people}  # none found: said too
        return out

    def walk(self, conn: Connection, seeds: dict[str, dict[str, list[Any]]]) -> Found:
        """The rows whose ``seeds`` columns hold the values (table -> column -> values), every
        row that refers to them, owning or naming, and every row a found row has as its part
        (``part: true``), until nothing new is found."""
        found = Found()
        frontier: set[str] = set()
        for table, columns in seeds.items():
            if found.own(table, self.mapped[table].key, self._select_any(conn, table, columns)):
                frontier.add(table)
        while frontier:
            wanted, naming = self._next(found, frontier)
            frontier = set()
            for table, columns in wanted.items():
                rows = self._select_any(conn, table, columns)
                if found.own(table, self.mapped[table].key, rows):
                    frontier.add(table)
            for table, columns in naming.items():
                found.name(table, self.mapped[table].key, self._select_any(conn, table, columns),
                           columns)
        return found

    def _select_any(
        self, conn: Connection, table: str, columns: dict[str, list[Any]]
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` where any of ``columns`` holds one of its values."""
        if any(len(v) > CHUNK for v in columns.values()):
            out: list[dict[str, Any]] = []
            for column, values in columns.items():
                out += self._select_in(conn, table, column, values)
            return out
        shape = (table, tuple(sorted(columns)))
        stmt = self._statements.get(shape)
        if stmt is None:
            t = self.tables[table]
            stmt = select(t).where(or_(*(t.c[c].in_(bindparam(f"v_{c}", expanding=True))
                                         for c in shape[1])))
            self._statements[shape] = stmt
        params = {f"v_{c}": v for c, v in columns.items()}
        return _as_dicts(conn.execute(stmt, params))

    def _select_in(
        self, conn: Connection, table: str, column: str, values: Sequence[Any]
    ) -> list[dict[str, Any]]:
        t = self.tables[table]
        out: list[dict[str, Any]] = []
        for start in range(0, len(values), CHUNK):
            chunk = list(values[start:start + CHUNK])
            out += _as_dicts(conn.execute(select(t).where(t.c[column].in_(chunk))))
        return out


def _as_dicts(result: CursorResult[Any]) -> list[dict[str, Any]]:
    """The rows as dicts by column name (``dict(row._mapping)``, without building a
    mapping per row: a batch's walk reads some 2,000 rows)."""
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.all()]


class _Unattributed(Exception):
    """A row a batched walk found that none of its people's values match exactly."""


def as_column_type(column: SqlColumn[Any], values: list[Any]) -> list[Any]:
    """Identity values as the column's type, dropping those that cannot be one.

    PostgreSQL does not compare an integer column with the text "42" (SQLite does), and a
    value that cannot be an integer matches no row anyway."""
    return as_python_type(column_python_type(column), values)


def column_python_type(column: SqlColumn[Any]) -> type | None:
    """The column type's Python type, None when it has none."""
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def as_python_type(python_type: type | None, values: list[Any]) -> list[Any]:
    """:func:`as_column_type` with the column's Python type found already."""
    if python_type is int:
        return [int(v) for v in values if str(v).strip().lstrip("-").isdigit()]
    if python_type is str:
        return [str(v) for v in values]
    return values


def open_datasets(manifest: Manifest) -> list[SqlDataset]:
    """Engines for the manifest's SQL datasets, reflected and checked."""
    out: list[SqlDataset] = []
    for ds in manifest.datasets:
        if ds.kind != "sql":
            continue
        mapped = SqlDataset(ds, create_engine_for(dataset_url(ds)))
        try:
            mapped.reflect()
        except BaseException:
            mapped.engine.dispose()
            for other in out:
                other.engine.dispose()
            raise
        out.append(mapped)
    return out
