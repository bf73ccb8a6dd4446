"""Retention rules resolved to data: which rule holds which mapped table, and where each
trigger's date comes from.

A rule covers a table when a purpose that lists it uses a category of one of the table's
columns (of the purposes the table names, when it names them), or when the table names
it as its ``hold``. Its trigger date comes from a
column (the table's ``dates:`` mapping, or that of a table it refers to) or, for the
triggers the engine itself records (last activity, account closed, consent withdrawn,
objection), from the engine's subjects and ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Boolean, Date, DateTime

from personvern.errors import ManifestError, Problem
from personvern.manifest.categories import categories_meet
from personvern.manifest.loader import LoadedManifest, format_path
from personvern.manifest.model import Manifest, Purpose, RetentionRule
from personvern.requests.datamap import Edge, SqlDataset

# Triggers the engine records itself; a table's ``dates:`` mapping may still name a column.
ENGINE_TRIGGERS = frozenset({"last_activity", "account_closed", "consent_withdrawn",
                             "objection_raised"})
HOLD = "hold"  # the purpose id of a hold no purpose lists


@dataclass(frozen=True)
class Dating:
    """Where a rule's trigger date is for a table's rows.

    ``column``: in ``table.column``, reached from the swept table along ``path``
    (child -> parent references; empty when it is the table's own column). ``engine``:
    in the engine's records, the rows found through their identity columns.
    """

    kind: str  # column | children | engine
    table: str | None = None
    column: str | None = None
    path: tuple[Edge, ...] = ()
    # children: the reference from ``table`` (the children) to the dated table.
    via: Edge | None = None

    def describe(self) -> str:
        """Where the date comes from, in words."""
        if self.kind == "engine":
            return "the engine's records"
        via = "".join(f" via {e.table}.{e.column}" for e in self.path)
        if self.kind == "children":
            assert self.via is not None
            return (f"the latest {self.table}.{self.column} of the rows referring to "
                    f"{self.via.target}{via}")
        return f"{self.table}.{self.column}{via}"


@dataclass(frozen=True)
class Holding:
    """A rule of a purpose that holds a table, with its dating."""

    purpose: str
    rule: RetentionRule
    dating: Dating


@dataclass
class TableRules:
    """Every purpose holding one mapped table and the rules that end it."""

    dataset: str
    table: str
    holdings: list[Holding] = field(default_factory=list)
    undated: list[tuple[str, str, str]] = field(default_factory=list)  # purpose, rule, why
    owned: bool = False  # rows can be tied to subjects (identity columns up the references)
    # References to rows that are part of this table's (part: true), erased with its rows.
    parts: list[Edge] = field(default_factory=list)

    def purposes(self) -> list[str]:
        """Purpose ids holding the table, in manifest order."""
        return list(dict.fromkeys(h.purpose for h in self.holdings))

    def of_purpose(self, purpose: str) -> list[Holding]:
        """The holdings of one purpose."""
        return [h for h in self.holdings if h.purpose == purpose]


@dataclass
class Resolution:
    """The manifest's retention resolved against the reflected datasets."""

    manifest: Manifest
    datasets: dict[str, SqlDataset]
    tables: list[TableRules]

    def steps(self) -> Iterator[tuple[RetentionRule, TableRules]]:
        """(rule, table) pairs, rule by rule in manifest order."""
        for rule in self.manifest.retention:
            for tr in self.tables:
                if any(h.rule.id == rule.id for h in tr.holdings):
                    yield rule, tr

    def unmapped(self) -> list[dict[str, object]]:
        """Rules of the manifest that reach no mapped table at all: their promise is not
        enforced by the engine, which must say so rather than find "nothing due"."""
        reached = {h.rule.id for tr in self.tables for h in tr.holdings}
        reached |= {rid for tr in self.tables for _, rid, _ in tr.undated}
        out: list[dict[str, object]] = []
        for rule in self.manifest.retention:
            if rule.id in reached:
                continue
            purposes = [p.id for p in self.manifest.purposes if rule.id in p.retention]
            if not self.datasets:
                why = ("the manifest maps no dataset, so nothing it governs is within the "
                       "engine's reach; map the service's tables under datasets:")
            else:
                why = ("no mapped table holds a column of its purposes' categories"
                       + (f" ({', '.join(purposes)})" if purposes else " (no purpose uses it)"))
            out.append({"rule": rule.id, "purposes": purposes, "why": why})
        return out

    def unheld(self) -> list[dict[str, object]]:
        """Mapped tables with personal columns that no purpose holds (PV091): no rule
        reaches them, so a sweep leaves them whole; said, never silently skipped."""
        out: list[dict[str, object]] = []
        for tr in self.tables:
            spec = self.datasets[tr.dataset].mapped[tr.table]
            cats = sorted({c for col in spec.columns for c in col.categories})
            if cats and not tr.holdings and not tr.undated:
                out.append({"dataset": tr.dataset, "table": tr.table, "categories": cats})
        return out

    def purposes_of(self, rule_id: str) -> list[str]:
        """Purposes that list ``rule_id`` (or the hold pseudo-purpose)."""
        ids = [p.id for p in self.manifest.purposes if rule_id in p.retention]
        return ids or [HOLD]


def overlaps(column_categories: Sequence[str], purpose: Purpose) -> bool:
    """Whether a column's categories meet the purpose's (a parent category covers its
    children: ``user.contact`` covers ``user.contact.email``)."""
    return categories_meet(column_categories, purpose.categories)


def _find_dating(ds: SqlDataset, table: str, trigger: str) -> Dating | None:
    """The nearest mapped date column for ``trigger``: this table's, else up the references."""
    frontier: list[tuple[str, tuple[Edge, ...]]] = [(table, ())]
    seen = {table}
    while frontier:
        nxt: list[tuple[str, tuple[Edge, ...]]] = []
        for name, path in frontier:
            column = ds.mapped[name].dates.get(trigger)  # type: ignore[call-overload]
            if column and "." in column:
                # The latest date of the rows referring to that table (a participant by the
                # end of their last course; their cookie records by the same date).
                via = children_edge(ds, name, column)
                if via is not None:
                    return Dating("children", via.table, column.split(".", 1)[1], path,
                                  via=via)
            elif column:
                return Dating("column", name, column, path)
            for e in ds.edges:
                if e.table == name and e.target not in seen and e.target != name:
                    seen.add(e.target)
                    nxt.append((e.target, (*path, e)))
        frontier = nxt
    return None


def children_edge(ds: SqlDataset, table: str, ref: str) -> Edge | None:
    """The owning reference from ``ref``'s table (``child.column``) to ``table``, if any."""
    child = ref.split(".", 1)[0]
    return next((e for e in ds.edges if e.table == child and e.target == table), None)


def is_owned(ds: SqlDataset, table: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether rows of ``table`` lead to identity columns (directly or up the references)."""
    spec = ds.mapped[table]
    if any(c.identity for c in spec.columns):
        return True
    return any(is_owned(ds, e.target, seen | {table}) for e in ds.edges
               if e.table == table and e.target not in seen | {table})


def resolve(loaded: LoadedManifest, datasets: Sequence[SqlDataset]) -> Resolution:
    """Resolve every rule to tables; a date column the database lacks, a keep flag that is
    not a boolean, or a hold that cannot be dated is a ManifestError with its place."""
    m = loaded.manifest
    problems = _problems(loaded, datasets)
    if problems:
        raise ManifestError(problems)
    out: list[TableRules] = []
    for ds in datasets:
        for spec in ds.spec.tables:
            tr = TableRules(ds.spec.id, spec.name, owned=is_owned(ds, spec.name))
            cats = [c for col in spec.columns for c in col.categories]
            pairs: list[tuple[str, RetentionRule]] = []
            for p in m.purposes:
                if spec.purposes is not None and p.id not in spec.purposes:
                    continue  # the table names the purposes it serves
                if cats and overlaps(cats, p):
                    pairs += [(p.id, r) for rid in p.retention if (r := m.retention_rule(rid))]
            if spec.hold and (hold := m.retention_rule(spec.hold)):
                for pid in [p.id for p in m.purposes if spec.hold in p.retention] or [HOLD]:
                    if (pid, hold) not in pairs:
                        pairs.append((pid, hold))
            for pid, rule in pairs:
                dating = _find_dating(ds, spec.name, rule.trigger)
                if dating is None and rule.trigger in ENGINE_TRIGGERS:
                    dating = Dating("engine") if tr.owned else None
                if dating is None:
                    tr.undated.append((pid, rule.id, _why_undated(rule, tr.owned)))
                else:
                    tr.holdings.append(Holding(pid, rule, dating))
            out.append(tr)
        _parts_go_with_their_rows(ds, [tr for tr in out if tr.dataset == ds.spec.id])
    return Resolution(m, {ds.spec.id: ds for ds in datasets}, out)


def _parts_go_with_their_rows(ds: SqlDataset, tables: list[TableRules]) -> None:
    """A part (``part: true``: a user's address row) is erased with the row pointing at
    it, by the step that erases that row (``execute``): a rule that holds the referring
    table then holds the part, which needs no date of its own. Only a part one table
    points at: one several tables share stays "not enforced", said as such."""
    by_name = {tr.table: tr for tr in tables}
    for e in ds.parts:
        if sum(1 for x in ds.parts if x.target == e.target) != 1:
            continue
        part, owner = by_name.get(e.target), by_name.get(e.table)
        if part is None or owner is None:
            continue
        held = {h.rule.id for h in owner.holdings}
        part.undated = [u for u in part.undated if u[1] not in held]
        owner.parts.append(e)


def _why_undated(rule: RetentionRule, owned: bool) -> str:
    if rule.trigger in ENGINE_TRIGGERS:
        return "no identity column leads to the person, so the engine's date cannot apply"
    return (f"no column holds the {rule.trigger.replace('_', ' ')} date; map one under "
            f"dates: {{{rule.trigger}: COLUMN}}")


def _children_problem(ds: SqlDataset, table: str, ref: str) -> str | None:
    """What is wrong with a ``child.column`` date of ``table``, or None."""
    child, _, column = ref.partition(".")
    if child not in ds.tables:
        return f"{ref}: {child!r} is not a mapped table of dataset {ds.spec.id!r}"
    if children_edge(ds, table, ref) is None:
        return (f"{ref}: {child} does not refer to {table} (map a reference from {child} "
                f"to {table} whose rows are theirs)")
    if column not in ds.tables[child].c:
        return f"{ref} does not exist in the database"
    if not isinstance(ds.tables[child].c[column].type, (Date, DateTime)):
        return f"{ref} is {ds.tables[child].c[column].type}, not a date or timestamp"
    return None


def _problems(loaded: LoadedManifest, datasets: Sequence[SqlDataset]) -> list[Problem]:
    """Date columns and keep flags checked against the reflected schema, with places."""
    m = loaded.manifest
    problems: list[Problem] = []

    def add(path: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(format_path(path), message, loaded.file,
                                loaded.line_of(path), loaded.column_of(path)))

    index = {ds.id: d for d, ds in enumerate(m.datasets)}
    for ds in datasets:
        d = index[ds.spec.id]
        for t, spec in enumerate(ds.spec.tables):
            table = ds.tables[spec.name]
            loc: tuple[str | int, ...] = ("datasets", d, "tables", t)
            for trigger, column in spec.dates.items():
                if "." in column:
                    problem = _children_problem(ds, spec.name, column) or (
                        f"{spec.name} is dated by the rows referring to it ({column}), so "
                        "erasure cannot delete its rows (they would outlive their date or "
                        "lose it): map the table with erase: mask or null"
                        if spec.erase == "delete_row" else None)
                    if problem:
                        add((*loc, "dates", trigger), problem)
                elif column not in table.c:
                    add((*loc, "dates", trigger), f"{spec.name}.{column} does not exist in the "
                        f"database (the {trigger} date of dataset {ds.spec.id!r})")
                elif not isinstance(table.c[column].type, (Date, DateTime)):
                    add((*loc, "dates", trigger), f"{spec.name}.{column} is "
                        f"{table.c[column].type}, not a date or timestamp")
            if spec.keep_flag is not None:
                if spec.keep_flag not in table.c:
                    add((*loc, "keep_flag"), f"{spec.name}.{spec.keep_flag} does not exist "
                        "in the database")
                elif not isinstance(table.c[spec.keep_flag].type, Boolean):
                    add((*loc, "keep_flag"), f"{spec.name}.{spec.keep_flag} is not a boolean")
            if spec.hold and (rule := m.retention_rule(spec.hold)) is not None \
                    and rule.trigger not in ENGINE_TRIGGERS \
                    and _find_dating(ds, spec.name, rule.trigger) is None:
                add((*loc, "hold"), f"hold {rule.id!r} cannot be dated for {spec.name}: map "
                    f"its {rule.trigger} date under dates: {{{rule.trigger}: COLUMN}}")
    return problems
