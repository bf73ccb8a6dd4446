"""`personvern check --datasets`: the data map against the live databases — tables and
columns the map names that are gone, personal data the map does not declare, declared
categories the values do not show, national identity and card numbers where none are
declared. Findings of the data rules (check/rules/data.py), with the same ids, severities,
positions and output formats as every other finding."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.engine import Finding
from personvern.check.registry import RULES
from personvern.discover.scan import ColumnFinding, Discovery, TableFinding, discover
from personvern.errors import PersonvernError
from personvern.manifest.loader import LoadedManifest, format_path
from personvern.manifest.model import Dataset, Table
from personvern.requests.datamap import dataset_url

SAMPLE = 200
# What a value can prove about a declared category: only kinds with a checksum or a syntax.
_PROVABLE = {
    "user.contact.email": "e-mail address",
    "user.contact.phone_number": "phone number",
    "user.government_id.national_identification_number": "fødselsnummer or D-nummer",
    "user.device.ip_address": "IP address",
}
_IDENTIFIERS = {"fødselsnummer or D-nummer": "user.government_id.national_identification_number",
                "card number": "user.financial.credit_card"}

Loc = tuple[str | int, ...]


def drift_findings(loaded: LoadedManifest, *, sample: int = SAMPLE) -> list[Finding]:
    """Every data-rule finding for the manifest's SQL datasets (read-only, sampled)."""
    out: list[Finding] = []
    for i, ds in enumerate(loaded.manifest.datasets):
        if ds.kind != "sql":
            continue
        where: Loc = ("datasets", i)
        try:
            found = discover(dataset_url(ds), sample=sample)
        except PersonvernError as err:
            out.append(_finding(loaded, "PV085", where, f"dataset {ds.id!r}: {err}"))
            continue
        out += [_finding(loaded, rule, loc, message)
                for rule, loc, message in _compare(ds, where, found)]
        if any(c.kind == "no_card_data" for c in loaded.manifest.commitments):
            out += [_finding(loaded, "PV090", loc, message)
                    for loc, message in _card_data(ds, where, found)]
    return out


def _card_data(ds: Dataset, where: Loc, found: Discovery) -> Iterator[tuple[Loc, str]]:
    """Card numbers the map declares or the values show, where none are to be stored."""
    card = _IDENTIFIERS["card number"]
    for j, table in enumerate(ds.tables):
        for k, column in enumerate(table.columns):
            if card in column.categories:
                yield (*where, "tables", j, "columns", k, "categories"), (
                    f"{ds.id}.{table.name}.{column.name} is declared {card}, but the manifest "
                    "commits to storing no card data")
    for t in found.tables:
        mapped = next((j for j, x in enumerate(ds.tables) if x.name == t.name), None)
        at: Loc = (*where, "tables", mapped) if mapped is not None else (*where, "tables")
        for c in t.columns:
            if c.kind == "card number" and c.matched:
                yield at, (f"{ds.id}.{t.name}.{c.name} holds card numbers ({c.note}), but the "
                           "manifest commits to storing no card data")


def _finding(loaded: LoadedManifest, rule_id: str, loc: Loc, message: str) -> Finding:
    r = RULES[rule_id]
    return Finding(r.id, r.name, r.severity, message, format_path(loc), loaded.line_of(loc),
                   loaded.column_of(loc), r.source)


def _compare(ds: Dataset, where: Loc, found: Discovery) -> Iterator[tuple[str, Loc, str]]:
    live = {t.name: t for t in found.tables}
    mapped = {t.name for t in ds.tables}
    for j, table in enumerate(ds.tables):
        at: Loc = (*where, "tables", j)
        seen = live.get(table.name)
        if seen is None:
            yield "PV080", (*at, "name"), (f"dataset {ds.id!r} has no table {table.name!r} "
                                           f"(it has {_names(live)})")
            continue
        yield from _columns(ds, at, table, seen)
        for trigger, ref in table.dates.items():
            child, _, column = ref.partition(".")
            # A date in the rows referring to this table (child_table.column).
            if column and column not in {c.name for c in getattr(live.get(child), "columns",
                                                                   ())}:
                yield "PV081", (*at, "dates", trigger), (
                    f"{ds.id}.{table.name} is dated by {ref}, which the database does not "
                    "have: renamed or dropped?")
    for name, seen in live.items():
        if name not in mapped:
            yield from _unmapped_table(ds, where, seen)


def _names(live: dict[str, TableFinding]) -> str:
    return ", ".join(sorted(live)) or "no tables"


def _columns(ds: Dataset, at: Loc, table: Table, seen: TableFinding
             ) -> Iterator[tuple[str, Loc, str]]:
    columns = {c.name: c for c in seen.columns}
    named: list[tuple[Loc, str]] = [((*at, "key"), table.key)]
    named += [((*at, "columns", k, "name"), c.name) for k, c in enumerate(table.columns)]
    named += [((*at, "references", k, "column"), r.column)
              for k, r in enumerate(table.references)]
    named += [((*at, "dates", trigger), column) for trigger, column in table.dates.items()
              if "." not in column]  # a child table's column: checked by _compare
    for loc, name in named:
        if name not in columns:
            yield "PV081", loc, (f"{ds.id}.{table.name} has no column {name!r} (it has "
                                 f"{', '.join(sorted(columns))}): renamed or dropped?")
    declared = {c.name: c for c in table.columns}
    plain = {table.key, *(r.column for r in table.references)}
    for name, column in columns.items():
        mine = declared.get(name)
        if mine is None:
            if name not in plain:
                yield from _undeclared(ds, at, table.name, column)
            continue
        k = table.columns.index(mine)
        for category in mine.categories:
            kind = _PROVABLE.get(category)
            if kind and column.non_null and not column.matches.get(kind):
                yield "PV083", (*at, "columns", k, "categories"), (
                    f"{ds.id}.{table.name}.{name} is declared {category} ({kind}), but "
                    f"{column.tried(kind)}{_seen(column)}")
        if column.kind in _IDENTIFIERS and column.proposed and \
                _IDENTIFIERS[column.kind] not in mine.categories:
            yield "PV084", (*at, "columns", k, "categories"), (
                f"{ds.id}.{table.name}.{name} holds {column.kind}s ({column.note}), which "
                f"its categories do not declare")


def _seen(column: ColumnFinding) -> str:
    return f"; they match: {column.kind}" if column.kind and column.matched else ""


def _undeclared(ds: Dataset, at: Loc, table: str, column: ColumnFinding
                ) -> Iterator[tuple[str, Loc, str]]:
    if not column.proposed or column.category is None:
        return
    where = f"{ds.id}.{table}.{column.name}"
    if column.kind in _IDENTIFIERS:
        yield "PV084", at, (f"{where} holds {column.kind}s ({column.note}), and the map "
                            "does not declare the column")
    else:
        yield "PV082", at, (f"{where} holds personal data the map does not declare: "
                            f"{column.kind} ({column.category}; {column.note})")


def _unmapped_table(ds: Dataset, where: Loc, seen: TableFinding
                    ) -> Iterator[tuple[str, Loc, str]]:
    for column in seen.columns:
        yield from _undeclared(ds, (*where, "tables"), seen.name, column)
