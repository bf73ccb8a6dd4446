"""Reflect a database's schema, sample a bounded number of rows per table and classify each
column: the kind of personal data it holds and how sure that is, the identity it finds a
person by, the references between tables, and the dates that could start a retention clock.

Bounded: at most ``sample`` rows per table, read with a plain LIMIT (no ORDER BY, no COUNT),
so a table of a billion rows costs what a table of ``sample`` rows does; on PostgreSQL each
read also has a statement timeout. Values never leave this module unmasked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import Boolean, Date, DateTime, LargeBinary

from personvern.discover.recognisers import (
    RECOGNISERS,
    Recogniser,
    found_in_text,
    is_moment,
    mask,
    pseudonym,
    suggested_by_name,
)
from personvern.discover.vocabulary import (
    FLAGS,
    NAME_ONLY,
    NAME_ONLY_UNFIT,
    VOCABULARY,
    fit,
    named,
)
from personvern.errors import InvalidInput, StorageError
from personvern.storage.engine import one_line, parse_url, safe_url, storage_errors

SAMPLE = 1000
STATEMENT_TIMEOUT_MS = 5000
CONFIDENT = 0.6  # below this a column is reported, not proposed for the data map
_OVERLAP_VALUES = 50  # distinct values tried against another table's key
_PROBE = 50  # values tried before a kind is given up on
_CLASSIFY = 200  # distinct values classified per column


@dataclass
class ColumnFinding:
    """What one column holds, as far as its name and its sampled values tell."""

    name: str
    type: str
    kind: str | None = None
    category: str | None = None
    identity: str | None = None
    confidence: float = 0.0
    non_null: int = 0
    matched: int = 0
    examples: list[str] = field(default_factory=list)  # masked
    note: str = ""
    in_text: list[str] = field(default_factory=list)
    is_date: bool = False
    name_only: bool = False  # found by its name alone (discover.vocabulary), no value check
    flags: bool = False  # every sampled value is a yes/no
    # Per kind tried: how many sampled values matched, and how many were tried (a kind none
    # of the first _PROBE values matches is not tried further).
    matches: dict[str, int] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)

    def tried(self, kind: str) -> str:
        """How ``kind`` fared, in words true to what was tried."""
        n, of = self.matches.get(kind, 0), self.checked.get(kind, 0)
        return f"{n} of {of} sampled values tried" if n else \
            f"none of the {of} sampled values tried is one"

    @property
    def proposed(self) -> bool:
        """Whether the data map should declare it."""
        return (self.category is not None or self.identity is not None
                ) and self.confidence >= CONFIDENT


@dataclass
class Reference:
    """``column`` holds keys of ``to`` (``table.column``), and how that was found."""

    column: str
    to: str
    how: str


# The note of a table whose rows could not be read.
NOT_READ = "not read: "


@dataclass
class TableFinding:
    """One table: its key, its columns, its references and its date columns."""

    name: str
    key: str | None
    sampled: int
    columns: list[ColumnFinding]
    references: list[Reference] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def unread(self) -> bool:
        """Whether the table could not be read (its columns are not classified)."""
        return self.note.startswith(NOT_READ)


@dataclass
class Discovery:
    """What one database holds."""

    url: str
    tables: list[TableFinding]
    seconds: float
    # PostgreSQL schemas other than the default one, with their table count: not read.
    other_schemas: dict[str, int] = field(default_factory=dict)


def discover(url: str, *, sample: int = SAMPLE) -> Discovery:
    """Reflect and sample the database at ``url``; StorageError if it cannot be read."""
    if sample < 1:
        raise InvalidInput(f"--sample must be at least 1, not {sample}")
    started = time.perf_counter()
    engine = _read_only_engine(url)
    try:
        with storage_errors(engine.url), engine.connect() as conn:
            tables = _scan(conn, sample)
            others = _other_schemas(conn)
    finally:
        engine.dispose()
    return Discovery(engine.url.render_as_string(hide_password=True), tables,
                     time.perf_counter() - started, others)


def _other_schemas(conn: Connection) -> dict[str, int]:
    """The PostgreSQL schemas besides the default one that hold tables, with their count;
    only the default schema is read, and the rest must be said, not passed over."""
    if conn.dialect.name != "postgresql":
        return {}
    inspector = inspect(conn)
    skip = {inspector.default_schema_name, "information_schema"}
    counts = {schema: len(inspector.get_table_names(schema=schema))
              for schema in inspector.get_schema_names()
              if schema not in skip and not schema.startswith("pg_")}
    return {schema: n for schema, n in counts.items() if n}


def _read_only_engine(url: str) -> Engine:
    """An engine that cannot change the database it reads: SQLite opened read-only (no
    file created, no journal mode switched), PostgreSQL in read-only transactions."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            raise InvalidInput(f"{safe_url(parsed)} is not a database file to discover")
        if not Path(path).is_file():
            raise StorageError(f"no SQLite database at {path}")
        return create_engine(f"sqlite:///file:{quote(str(Path(path).resolve()))}"
                             "?mode=ro&uri=true")
    engine = create_engine(parsed, connect_args={"connect_timeout": 10})

    @event.listens_for(engine, "begin")
    def _read_only(conn: Connection) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def _scan(conn: Connection, sample: int) -> list[TableFinding]:
    inspector = inspect(conn)
    names = sorted(inspector.get_table_names())
    metadata = MetaData()
    found: list[TableFinding] = []
    samples: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        table = Table(name, metadata, autoload_with=conn)
        key = _key(table)
        try:
            rows = _sample(conn, table, sample)
        except SQLAlchemyError as err:  # one unreadable table does not stop the others
            found.append(TableFinding(name, key, 0, [], note=f"{NOT_READ}{one_line(err)}"))
            continue
        samples[name] = rows
        columns = [_classify(column, [row[column.name] for row in rows], name)
                   for column in table.c]
        finding = TableFinding(name, key, len(rows), columns)
        finding.dates = [c.name for c in columns
                         if c.is_date and not (c.proposed and c.kind == "birth date")]
        for fk in inspector.get_foreign_keys(name):
            for local, remote in zip(fk["constrained_columns"], fk["referred_columns"],
                                     strict=False):
                finding.references.append(
                    Reference(local, f"{fk['referred_table']}.{remote}", "foreign key"))
        found.append(finding)
    _identify_people(found)
    _infer_references(conn, metadata, found, samples)
    _link_to_people(found)
    _relating_to_people(found)
    return found


def _key(table: Table) -> str | None:
    keys = [c.name for c in table.primary_key.columns]
    return keys[0] if len(keys) == 1 else None


def _sample(conn: Connection, table: Table, sample: int) -> list[dict[str, Any]]:
    if conn.dialect.name == "postgresql":
        # Bounded in time as well as rows; local to this read's transaction.
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            conn.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            return [dict(r._mapping) for r in conn.execute(select(table).limit(sample))]
    return [dict(r._mapping) for r in conn.execute(select(table).limit(sample))]


def _classify(column: Any, values: Sequence[Any], table: str = "") -> ColumnFinding:
    finding = ColumnFinding(column.name, str(column.type))
    present = [v for v in values if v is not None]
    finding.non_null = len(present)
    if isinstance(column.type, LargeBinary) or any(isinstance(v, bytes | bytearray)
                                                   for v in present[:20]):
        finding.note = "binary: not classified by value"
        return finding
    # The distinct values, at most _CLASSIFY of them: enough to tell a share, and the
    # checks of e-mail syntax and phone rules cost a fraction of a millisecond each.
    texts = list(dict.fromkeys(_as_text(v) for v in present))[:_CLASSIFY]
    finding.is_date = isinstance(column.type, Date | DateTime) or (
        bool(texts) and all(is_moment(t) for t in texts[:50]))
    finding.flags = isinstance(column.type, Boolean) or (
        bool(texts) and all(t.strip().lower() in FLAGS for t in texts))
    hint = suggested_by_name(column.name)
    best: tuple[float, Recogniser, int] | None = None
    for recogniser in RECOGNISERS:
        if recogniser.name == "free text" and recogniser is not hint:
            continue  # long text alone says nothing; it needs its name to say so too
        # A kind none of the first values matches cannot reach CONFIDENT: skip the rest.
        if not any(recogniser.matches(t) for t in texts[:_PROBE]):
            finding.matches[recogniser.name] = 0
            finding.checked[recogniser.name] = len(texts[:_PROBE])
            continue
        matched = sum(1 for t in texts if recogniser.matches(t))
        finding.matches[recogniser.name] = matched
        finding.checked[recogniser.name] = len(texts)
        share = matched / len(texts)
        named = hint is recogniser
        if recogniser.weak:
            score = share * (0.9 if named else 0.4)
        else:
            score = min(0.99, share + (0.05 if named else 0.0))
        if best is None or score > best[0]:
            best = (score, recogniser, matched)
    if best is not None:
        score, recogniser, matched = best
        finding.kind, finding.category = recogniser.name, recogniser.category
        finding.identity = recogniser.identity
        finding.confidence, finding.matched = round(score, 2), matched
        finding.examples = [mask(t) for t in texts if recogniser.matches(t)][:3]
        finding.note = (f"{matched} of {len(texts)} sampled values match: {recogniser.name}"
                        + (f"; the name {column.name!r} says so too" if hint is recogniser
                           else ""))
        standing_in = sum(1 for t in texts if pseudonym(t)) if recogniser.name == "name" else 0
        if standing_in:
            finding.note += (f"; {standing_in} of them a role and a number in a person's place "
                             "(a pseudonym: personal data, GDPR Art. 4(5))")
    elif hint is not None:
        finding.kind, finding.category = hint.name, hint.category
        finding.confidence = 0.1 if texts else 0.3
    if hint is not None and finding.kind in (None, hint.name) and not finding.matched:
        finding.note = (f"the name {column.name!r} suggests {hint.name}, but "
                        f"{finding.tried(hint.name)}" if texts else
                        f"the name {column.name!r} suggests {hint.name}; no value to check")
    elif hint is not None and finding.kind != hint.name:  # named one thing, holds another
        finding.note += (f"; the name {column.name!r} suggests {hint.name}: "
                         f"{finding.tried(hint.name)}")
    _by_name(finding, table, texts)
    if finding.kind is None or finding.kind == "free text":
        inside = {r.name for t in texts[:200] for r in found_in_text(t)}
        finding.in_text = sorted(inside)
        if inside:
            finding.note = (finding.note + "; " if finding.note else "") + (
                "inside the text: " + ", ".join(sorted(inside)))
    return finding


def _by_name(finding: ColumnFinding, table: str, texts: list[str]) -> None:
    """Where no value evidence is confident, what the column's name plainly says
    (discover.vocabulary), if its values look the part: proposed with the lower confidence
    of a name, and said to be by name only."""
    kind = named(table, finding.name)
    if kind is None or finding.confidence >= CONFIDENT:
        return
    fitting, fits = fit(kind, texts)
    confidence = NAME_ONLY if fits else NAME_ONLY_UNFIT
    if confidence <= finding.confidence:
        return
    where = f"the name {finding.name!r}" + (f" in table {table!r}" if kind.tables else "")
    if fits:
        note = (f"name only: {where} says {kind.name}, which no value pattern can confirm; "
                f"{fitting} of {len(texts)} sampled values are {kind.looks}")
    elif texts:
        note = (f"{where} suggests {kind.name}, but only {fitting} of {len(texts)} sampled "
                f"values are {kind.looks}")
    else:
        note = f"{where} suggests {kind.name}; no value to check"
    finding.note = note + (f"; {finding.note}" if finding.note else "")
    finding.kind, finding.category, finding.identity = kind.name, kind.category, None
    finding.confidence, finding.matched, finding.name_only = confidence, 0, True
    finding.examples = [mask(t) for t in texts if kind.fits(t)][:3] if fits else []


_IDENTIFYING = {kind.name for kind in VOCABULARY if kind.identifying}


def _link_to_people(tables: list[TableFinding]) -> None:
    """A name is evidence of personal data only where the row belongs to a person: a
    ``score`` in a table that neither finds a person nor refers to a table of people is
    said, not proposed — unless the value itself singles a person out (a cookie id)."""
    people = {t.name for t in tables if any(c.identity for c in t.columns)}
    for table in tables:
        if table.name in people or any(r.to.split(".", 1)[0] in people
                                       for r in table.references):
            continue
        for column in table.columns:
            if column.name_only and column.proposed and column.kind not in _IDENTIFYING:
                column.confidence = 0.4
                column.note += ("; not proposed: no column of this table finds a person or "
                                "refers to a table of people")


# Art. 4(1): any information relating to an identified or identifiable person is personal
# data, whether or not a pattern or a common name says which kind. Said at this confidence,
# below CONFIDENT: on the seeds' services proposing them costs more precision than it gains
# recall (docs/discover.md), and which of them a data map should declare is the owner's call.
RELATES = 0.5
RELATES_KIND = "about the person (Art. 4(1))"
RELATES_CATEGORY = "user"  # the taxonomy's root: "Personal data"
UNNAMED = "; no value pattern or common name says which kind of personal data"
_TECHNICAL = re.compile(r"(^|_)(id|uuid|guid|ref|key|token|hash|salt|checksum|version|"
                        r"etag|rev)$", re.IGNORECASE)


def _relating_to_people(tables: list[TableFinding]) -> None:
    """Columns that no value and no name places but that sit in a row belonging to a person
    (a table that finds a person, or refers to one, directly or through another table):
    said as personal data of no narrower category. Keys, references between a person's rows,
    technical ids, timestamps and bare yes/no flags are left out — they describe the record,
    not the person."""
    by_name = {t.name: t for t in tables}
    how: dict[str, str] = {t.name: "finds a person" for t in tables
                           if any(c.proposed and c.identity for c in t.columns)}
    grown = True
    while grown:  # invoices -> purchases -> users: an invoice relates to the payer too
        grown = False
        for table in tables:
            if table.name in how:
                continue
            for ref in table.references:
                target = ref.to.split(".", 1)[0]
                if target in how and target in by_name:
                    how[table.name] = (f"refers to {target} through {ref.column}"
                                       if how[target] == "finds a person"
                                       else f"refers to {target} through {ref.column}, which "
                                            + how[target])
                    grown = True
                    break
    for table in tables:
        if table.name not in how:
            continue
        linking = {r.column for r in table.references if r.to.split(".", 1)[0] in how}
        outward = {r.column: r.to.split(".", 1)[0] for r in table.references
                   if r.to.split(".", 1)[0] not in how}
        for column in table.columns:
            # A column with a guess of its own (named skills, holding numbers) keeps it.
            if (column.kind is not None or column.name == table.key
                    or column.name in linking or column.is_date or not column.non_null
                    or column.note.startswith("binary") or column.flags):
                continue
            if column.name in outward:
                what = (f"which {outward[column.name]} row this person's row points at is a "
                        "fact about the person")
            elif _TECHNICAL.search(column.name):
                continue
            else:
                what = "describes the person this row belongs to"
            note = f"{what} (Art. 4(1)): {table.name} {how[table.name]}{UNNAMED}"
            column.note = note + (f"; {column.note}" if column.note else "")
            column.kind, column.category, column.identity = (RELATES_KIND, RELATES_CATEGORY,
                                                             None)
            column.confidence, column.matched, column.examples = RELATES, 0, []


def _as_text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _identify_people(tables: Iterable[TableFinding]) -> None:
    """A table holding e-mail, phone or national id columns is about people: its key is the
    user id other tables point at."""
    for table in tables:
        if table.key and any(c.proposed and c.identity for c in table.columns):
            for column in table.columns:
                if column.name == table.key and column.identity is None:
                    column.identity, column.confidence = "user_id", 0.9
                    column.note = "the key of a table of people"


def _infer_references(conn: Connection, metadata: MetaData, tables: list[TableFinding],
                      samples: dict[str, list[dict[str, Any]]]) -> None:
    """Columns that hold another table's keys without a declared foreign key: by name
    (``user_id`` → users.id) or by values (every sampled value is a key there)."""
    people = [t for t in tables if t.key and any(c.identity for c in t.columns)]
    by_name = {t.name.lower(): t for t in tables if t.key}
    for table in tables:
        declared = {r.column for r in table.references}
        for column in table.columns:
            name = column.name.lower()
            if (column.name in declared or column.name == table.key
                    or not (name.endswith("_id") or name.endswith("id"))):
                continue
            stem = name.removesuffix("_id").removesuffix("id")
            named = [by_name[n] for n in (stem, stem + "s", stem + "es") if n in by_name]
            candidates = named + [t for t in people if t not in named]
            values = {row[column.name] for row in samples.get(table.name, [])
                      if row[column.name] is not None}
            if len(values) < 2:
                continue
            for target in candidates:
                if target is table and not named:
                    continue
                if _all_keys(conn, metadata, target, list(values)[:_OVERLAP_VALUES]):
                    how = "name and values" if target in named else "values"
                    table.references.append(Reference(column.name,
                                                      f"{target.name}.{target.key}", how))
                    break


def _all_keys(conn: Connection, metadata: MetaData, target: TableFinding,
              values: list[Any]) -> bool:
    table = metadata.tables[target.name]
    key = table.c[target.key]  # type: ignore[index]
    try:
        hits = conn.execute(select(func.count()).select_from(table).where(
            key.in_(values))).scalar_one()
    except SQLAlchemyError:  # a type the key cannot be compared with: not a reference
        if conn.in_transaction():
            conn.rollback()
        return False
    return int(hits) == len(values)
