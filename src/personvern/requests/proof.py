"""Proof of erasure: search every dataset for the person's identities and report what is left.

Every table of every SQL dataset is searched, mapped or not (an unmapped table is
where a forgotten copy hides): identity columns for an exact match of their kind,
and every text column for the e-mail addresses and phone numbers as substrings.
What is left is *expected* when the data map keeps it (a legal hold, ``erase: keep``)
and *unexpected* otherwise. The report names tables, columns, keys and identity
kinds, never the values searched for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import sort_tables

from personvern.consent.subjects import matches
from personvern.consent.tables import Identity
from personvern.mail.scrub import DONE, ERASED_TEXT
from personvern.mail.tables import OutboxMessage
from personvern.requests.datamap import SqlDataset
from personvern.requests.tables import FollowUp, RecipientNotice
from personvern.storage.engine import storage_errors

TEXT_KINDS = ("email", "phone")
# What the search does not reach, said beside every "nothing left" (GDPR Art. 5(2)): it
# reads the SQL datasets' tables, not what lies outside them.
NOT_SEARCHED = ("files the rows point to, backups, datasets other than SQL (http apps, "
                "manual tasks) and recipients")


@dataclass(frozen=True)
class Finding:
    """One column of one row that still holds an identity of the person."""

    dataset: str
    table: str
    column: str
    key: str
    kind: str
    expected: bool
    why: str


@dataclass
class Proof:
    """What the search looked at and what it found."""

    findings: list[Finding] = field(default_factory=list)
    tables: int = 0
    columns: int = 0

    @property
    def clean(self) -> bool:
        """Nothing is left that the data map does not keep on purpose, in at least one table
        searched: a search that read no table (nothing it could look for) proves nothing."""
        return self.tables > 0 and not any(not f.expected for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the identity values."""
        return {
            "clean": self.clean, "searched": {"tables": self.tables, "columns": self.columns},
            "not_searched": NOT_SEARCHED,
            "unexpected": [asdict(f) for f in self.findings if not f.expected],
            "expected": [asdict(f) for f in self.findings if f.expected],
        }


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def prove_erased(
    datasets: Sequence[SqlDataset], identities: dict[str, list[str]],
    kept: dict[str, dict[str, set[Any]]] | None = None, *,
    renew: Callable[[], None] | None = None,
) -> Proof:
    """Search ``datasets`` for ``identities``; ``kept`` names rows kept under a hold;
    ``renew`` is called before each table (a follow-up's lease: it may raise to stop)."""
    proof = Proof()
    kept = kept or {}
    ids = {k: [v for v in vs if v] for k, vs in identities.items()}
    ids["user_id"] = ids.get("user_id", []) + ids.get("external_id", [])
    for ds in datasets:
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            for table in _tables(conn):
                if renew is not None:
                    renew()
                _search_table(conn, ds, table, ids, kept.get(ds.spec.id, {}), proof)
    return proof


def _tables(conn: Any) -> list[Table]:
    """Every table of the dataset, parents first, as ``MetaData.reflect`` orders them, with
    what the search reads: columns, their types and the primary key. Read anew at each
    proof, so a table or column added since the engine started is searched too; indexes,
    constraints and comments, which ``reflect`` also read, were half the proof's time."""
    inspector = inspect(conn)
    keys = inspector.get_multi_pk_constraint()
    meta = MetaData()
    tables: dict[str, Table] = {}
    for (schema, name), columns in sorted(inspector.get_multi_columns().items(),
                                          key=lambda item: item[0][1]):
        primary = (keys.get((schema, name)) or {}).get("constrained_columns") or []
        tables[name] = Table(name, meta, *(Column(c["name"], c["type"]) for c in columns),
                             *([PrimaryKeyConstraint(*primary)] if primary else []))
    references = [(tables[fk["referred_table"]], tables[name])
                  for (_, name), fks in inspector.get_multi_foreign_keys().items()
                  for fk in fks
                  if fk["referred_table"] in tables and fk["referred_table"] != name
                  and fk.get("referred_schema") is None]
    return sort_tables(list(tables.values()), extra_dependencies=references)


def _contains(col: Any, value: str, sqlite: bool) -> Any:
    """``col`` contains ``value``, ignoring case. SQLite's LIKE already ignores ASCII case,
    and lower() on every row of every text column is most of the cost of the scan."""
    pattern = f"%{_escape(value.lower())}%"
    if sqlite:
        return col.like(pattern, escape="\\")
    return col.ilike(pattern, escape="\\")


def _search_table(conn: Any, ds: SqlDataset, table: Any, ids: dict[str, list[str]],
                  kept: dict[str, set[Any]], proof: Proof) -> None:
    spec = ds.mapped.get(table.name)
    sqlite = conn.dialect.name == "sqlite"
    identity_cols: dict[str, str] = {c.name: c.identity for c in spec.columns if c.identity} \
        if spec else {}
    checks: list[tuple[Any, str, str]] = []  # (column, kind, "exact" | "text")
    conditions = []
    for col in table.columns:
        id_kind = identity_cols.get(col.name)
        if id_kind and ids.get(id_kind):
            values: list[Any] = ids[id_kind]
            if isinstance(col.type, Integer):
                values = [int(v) for v in values if v.isdigit()]
            if values:
                checks.append((col, id_kind, "exact"))
                conditions.append(col.in_(values))
        if isinstance(col.type, String):
            length = col.type.length
            for k in TEXT_KINDS:
                for v in ids.get(k, []):
                    if length is not None and length < len(v):
                        continue  # the column cannot hold it
                    checks.append((col, k, "text"))
                    conditions.append(_contains(col, v, sqlite))
    if not conditions:
        return
    proof.tables += 1
    proof.columns += len({c.name for c, _, _ in checks})
    key_col = (table.c[spec.key] if spec and spec.key in table.c
               else next(iter(table.primary_key.columns), None))
    for row in conn.execute(select(table).where(or_(*conditions))):
        m = row._mapping
        key = m[key_col.name] if key_col is not None else None
        hit: set[tuple[str, str]] = set()
        for col, kind, how in checks:
            value = m[col.name]
            if value is None or (col.name, kind) in hit:
                continue
            wanted = ids[kind]
            text = str(value)
            if how == "exact":
                found = text in {str(v) for v in wanted}
            else:
                found = any(v.lower() in text.lower() for v in wanted)
            if found:
                hit.add((col.name, kind))
                expected, why = _expected(spec, table.name, col.name, key, kept)
                proof.findings.append(Finding(ds.spec.id, table.name, col.name, str(key), kind,
                                              expected, why))


def _expected(spec: Any, table: str, column: str, key: Any, kept: dict[str, set[Any]]
              ) -> tuple[bool, str]:
    if key in kept.get(table, set()):
        return True, "kept under a legal hold (restricted)"
    if spec is None:
        return False, "table not in the data map"
    col = next((c for c in spec.columns if c.name == column), None)
    if col is not None and col.erase == "keep":
        return True, "the data map keeps this column (erase: keep)"
    if spec.erase == "keep" and not spec.hold:
        return True, "the data map keeps this table (erase: keep)"
    if col is None:
        return False, "column not in the data map"
    return False, "left although the data map erases it"


def engine_leftovers(session: Session, identities: dict[str, list[str]]) -> list[dict[str, str]]:
    """Identities of the person the engine itself still holds (should be none)."""
    if not any(identities.values()):
        return []
    rows = session.execute(select(Identity.kind).where(or_(
        *(matches(session, kind, vs) for kind, vs in identities.items() if vs)))).all()
    return [{"table": "subject_identities", "kind": r.kind} for r in rows]


def held_until_delivered(session: Session, request_id: str, subject_id: str | None,
                         follow_up_id: int) -> list[dict[str, Any]]:
    """What the engine keeps of an erased person only until it is delivered or has run,
    each with its count and when it goes. A proof says it beside "nothing left", so that
    a letter still addressed to the person is never hidden by the claim."""
    counts = (
        ("outbox", "e-mail to the person (their address), blanked once sent",
         0 if subject_id is None else session.scalar(
             select(func.count()).select_from(OutboxMessage).where(
                 OutboxMessage.subject_id == subject_id, OutboxMessage.status.not_in(DONE),
                 OutboxMessage.to_address != ERASED_TEXT))),
        ("recipient_notices", "Art. 19 notice to a recipient (the identities it must "
         "name), blanked once delivered or given up",
         session.scalar(select(func.count()).select_from(RecipientNotice).where(
             RecipientNotice.request_id == request_id,
             RecipientNotice.identities.is_not(None)))),
        ("request_follow_ups", "work after the answer (the identities it needs), blanked "
         "once it has run",
         session.scalar(select(func.count()).select_from(FollowUp).where(
             FollowUp.request_id == request_id, FollowUp.id != follow_up_id,
             FollowUp.input.is_not(None)))),
    )
    return [{"table": table, "rows": int(n or 0), "what": what}
            for table, what, n in counts if n]


def describe(result: dict[str, Any]) -> str:
    """What a done proof found, in one sentence every surface shows (the CLI, the
    dashboard): with the tables it searched and what it does not search, and never
    "nothing left" from a search that read no table."""
    tables = int((result.get("searched") or {}).get("tables") or 0)
    scope = f"; not searched by this proof: {NOT_SEARCHED}"
    if not tables:
        return ("nothing proven: no table was searched (the person has no identity the "
                "tables can hold)" + scope)
    if result.get("clean"):
        held = held_note(result.get("held") or ())
        return (f"nothing left that the data map does not keep in the {tables} "
                f"{'table' if tables == 1 else 'tables'} searched{scope}"
                + (f"; {held}" if held else ""))
    places = len(result.get("unexpected", [])) + len(result.get("engine", []))
    return f"{places} place(s) still hold the person's data"


def held_note(held: Sequence[dict[str, Any]]) -> str:
    """The places :func:`held_until_delivered` found, in a few words; "" when none."""
    if not held:
        return ""
    return "held until delivered: " + "; ".join(f"{h['rows']} × {h['what']}" for h in held)
