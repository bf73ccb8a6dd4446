"""People the data map holds whom the engine does not know: every identity in a mapped
table is a person with rights, registered or not.

The rights of GDPR Art. 15-17 belong to whoever the data is about; a newsletter address
that was never a customer is as much a data subject (Art. 4(1)) as an account holder. So a
request from such an address finds it in the datasets (:func:`locate`), the sweep says
which rows it cannot date because their people are unknown (:func:`strangers`), and
``personvern subject sync`` registers them (:func:`register_strangers`), after which their
consent, withdrawal and activity decide as for anyone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.consent.subjects import create_subject, lookup_of, normalise
from personvern.consent.tables import Identity, Subject
from personvern.errors import Conflict, InvalidInput
from personvern.requests.datamap import CHUNK, SqlDataset

# The data map's identity kinds as the engine keys them.
ENGINE_KIND = {"email": "email", "phone": "phone", "user_id": "external_id"}
EXAMPLES = 3


@dataclass
class Strangers:
    """Rows of one table whose identities belong to nobody the engine knows."""

    dataset: str
    table: str
    columns: list[str]
    rows: int = 0
    examples: list[Any] = field(default_factory=list)  # row keys, never values
    # Per row that is a stranger: identity kind -> normalised value (only when asked).
    people: list[dict[str, str]] = field(default_factory=list)
    unreadable: int = 0  # values no identity of their kind can be (not e-mail, not phone)
    owners: set[str] = field(default_factory=set)  # the known people of the other rows


def own_identity_columns(ds: SqlDataset, table: str) -> list[tuple[str, str]]:
    """(column, engine identity kind) of the table's own identity columns."""
    return [(c.name, ENGINE_KIND[str(c.identity)]) for c in ds.mapped[table].columns
            if c.identity and str(c.identity) in ENGINE_KIND]


def _candidate(kind: str, value: Any) -> str | None:
    """The form a valid value takes in the engine, without validating it: an e-mail
    address trimmed and case-folded (what ``contact.normalise_email`` returns once its
    syntax passes), an id trimmed. Validating every value of a large table costs ~25 µs
    each; only the values no subject holds are validated (:func:`_normal`)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if kind == "email":
        return text.casefold()
    if kind == "external_id":
        return text
    return _normal(kind, value)  # a phone number has no cheaper normal form


def _normal(kind: str, value: Any) -> str | None:
    """The engine's form of a dataset value, or None when it cannot be one."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return normalise(kind, str(value))
    except InvalidInput:
        return None


def _known(session: Session, kind: str, normals: Sequence[str]) -> dict[str, str]:
    """Which of ``normals`` a live subject of the engine holds as identity ``kind``:
    value -> subject id."""
    known: dict[str, str] = {}
    for start in range(0, len(normals), CHUNK):
        chunk = list(dict.fromkeys(normals[start:start + CHUNK]))
        by_hash = {lookup_of(session, kind, v): v for v in chunk}
        found = session.execute(
            select(Identity.lookup, Identity.subject_id)
            .join(Subject, Subject.id == Identity.subject_id)
            .where(Identity.kind == kind, Identity.lookup.in_(list(by_hash) + chunk),
                   Subject.erased_at.is_(None)))
        for h, sid in found:
            if h in by_hash:
                known[by_hash[h]] = sid
            elif h in chunk:  # bulk-inserted in clear, not yet sealed
                known[h] = sid
    return known


def strangers(session: Session, ds: SqlDataset, table: str, *, keep_people: bool = False,
              where: Any = None, page: int = 5000) -> Strangers | None:
    """Rows of ``table`` (those ``where`` selects) none of whose identities the engine
    knows; None when the table has no identity column of its own (its rows belong to
    people through references)."""
    columns = own_identity_columns(ds, table)
    if not columns:
        return None
    out = Strangers(ds.spec.id, table, [c for c, _ in columns])
    t = ds.tables[table]
    key = t.c[ds.mapped[table].key]
    query = select(key, *(t.c[c] for c, _ in columns))
    for rows in _pages(ds, query if where is None else query.where(where), key, page):
        candidates = [{kind: value for (_, kind), v in zip(columns, row[1:], strict=True)
                       if (value := _candidate(kind, v)) is not None} for row in rows]
        known = {kind: _known(session, kind, [p[kind] for p in candidates if kind in p])
                 for kind in {k for _, k in columns}}
        for row, found in zip(rows, candidates, strict=True):
            owners = {known[k][v] for k, v in found.items() if v in known[k]}
            out.owners |= owners
            if owners:
                continue
            # Nobody holds it: is it an identity at all (an address, a phone number)?
            person = {k: n for k, v in found.items() if (n := _normal(k, v)) is not None}
            if not person:
                out.unreadable += any(v is not None for v in row[1:])
            else:
                out.rows += 1
                if len(out.examples) < EXAMPLES:
                    out.examples.append(row[0])
                if keep_people:
                    out.people.append(person)
    return out


def _pages(ds: SqlDataset, query: Any, key: Any, size: int) -> Iterator[list[Any]]:
    """The query's rows in key order, a page at a time (no long-held read transaction)."""
    last: Any = None
    while True:
        q = query if last is None else query.where(key > last)
        with ds.engine.connect() as conn:
            rows = list(conn.execute(q.order_by(key).limit(size)))
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def locate(datasets: Sequence[SqlDataset], kind: str, normal: str) -> list[str]:
    """``dataset.table.column`` of every mapped identity column holding this identity."""
    places: list[str] = []
    for ds in datasets:
        for t in ds.spec.tables:
            for column, k in own_identity_columns(ds, t.name):
                if k != kind:
                    continue
                col = ds.tables[t.name].c[column]
                # E-mail addresses are one person whatever their case (contact.normalise_email).
                match = func.lower(col) == normal if kind == "email" else col == normal
                with ds.engine.connect() as conn:
                    if _exists(conn, select(col).where(match).limit(1)):
                        places.append(f"{ds.spec.id}.{t.name}.{column}")
    return places


def _exists(conn: Connection, query: Any) -> bool:
    return conn.execute(query).first() is not None


@dataclass
class Registered:
    """What :func:`register_strangers` found and registered, per table."""

    tables: list[Strangers]
    registered: int = 0
    # Rows whose identities a person registered earlier in the same run partly holds
    # (an address of one, the phone of another): never merged, left for a person to see.
    conflicts: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"registered": self.registered, "conflicts": self.conflicts, "tables": [
            {"dataset": s.dataset, "table": s.table, "columns": s.columns, "rows": s.rows,
             "unreadable": s.unreadable} for s in self.tables]}


def register_strangers(session: Session, clock: Clock, datasets: Sequence[SqlDataset], *,
                       dry_run: bool = False) -> Registered:
    """Register as subjects the people of every mapped table the engine does not know
    (one subject per person: a row's identities together, the same address in two tables
    once). With ``dry_run`` only count them."""
    out = Registered([])
    for ds in datasets:
        for t in ds.spec.tables:
            s = strangers(session, ds, t.name, keep_people=not dry_run)
            if s is None:
                continue
            out.tables.append(s)
            for person in s.people:
                try:
                    with session.begin_nested():
                        _, created = create_subject(session, clock, person)
                except Conflict:
                    out.conflicts += 1
                    continue
                out.registered += created
            s.people = []
    return out
