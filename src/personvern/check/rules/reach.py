"""Promises the engine cannot keep because no mapped data is within its reach: storage
limitation (GDPR Art. 5(1)(e)) and the rights of Art. 15-18 are enforced only where the
data map leads. The engine says so instead of finding "nothing due"."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.categories import categories_meet
from personvern.manifest.model import Dataset, Manifest, Table
from personvern.manifest.references import reachable_tables


@rule("PV086", "retention-reaches-no-data", Severity.WARNING,
      "A retention rule reaches no mapped data", "GDPR Art. 5(1)(e), Art. 13(2)(a)")
def retention_reaches_no_data(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The policy publishes the period, but no mapped table holds data of the purposes
    that use the rule (or names it as its hold), so the engine's sweep never acts on it:
    `retention plan` and `run` report it as not enforced. Map the tables, or enforce the
    period in the service and say so in a `note:`."""
    tables = [t for ds in m.datasets if ds.kind == "sql" for t in ds.tables]
    for i, r in enumerate(m.retention):
        purposes = [p for p in m.purposes if r.id in p.retention]
        held = any(t.hold == r.id or any(c.hold == r.id for c in t.columns) for t in tables)
        reached = held or any(
            categories_meet([c for col in t.columns for c in col.categories], p.categories)
            for t in tables for p in purposes)
        if not reached:
            where = ("no database table is mapped (the sweep acts on mapped tables only)"
                     if not tables else
                     "no mapped table holds data of " + (
                         ", ".join(f"'{p.id}'" for p in purposes) or "any purpose"))
            # What Personvern can say: the service may keep the period by its own code.
            yield ("retention", i), (f"retention rule {r.id!r} is published but Personvern "
                                     f"enforces it nowhere: {where}")


@rule("PV087", "requests-reach-no-data", Severity.WARNING,
      "Requests reach only the engine's own records", "GDPR Art. 15-18, Art. 12(2)")
def requests_reach_no_data(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Without a mapped dataset (a database, an HTTP callback or a manual task) an access
    request exports, and an erasure deletes, only what the engine itself holds (consents,
    requests): the service's own copy of the person is untouched. The request's answer
    says so; this finding says it before anyone asks."""
    if not m.datasets:
        yield ("purposes",), ("no dataset is mapped: access, erasure, rectification and "
                              "restriction reach only the engine's own records, not the "
                              "service's data")


def _sql(m: Manifest) -> Iterator[tuple[int, Dataset]]:
    """The SQL datasets with their index (the others have no tables to judge)."""
    return ((d, ds) for d, ds in enumerate(m.datasets) if ds.kind == "sql")


def _serves_a_purpose(m: Manifest, table: Table) -> bool:
    """Whether a category of the table's columns meets a purpose it may serve (all, or
    those it names under `purposes:`): the way retention rules reach it."""
    cats = [c for col in table.columns for c in col.categories]
    return any(categories_meet(cats, p.categories) for p in m.purposes
               if table.purposes is None or p.id in table.purposes)


@rule("PV091", "table-serves-no-purpose", Severity.WARNING,
      "A mapped table holds personal data no purpose uses", "GDPR Art. 5(1)(b), (c) and (e)")
def table_serves_no_purpose(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Retention rules reach a table through the purposes whose categories its columns
    hold (or the purposes it names under `purposes:`). A table whose personal columns meet
    no purpose is kept for no declared purpose, and no rule ever ends it: the sweep leaves
    it whole while the profile it belongs to goes. Give its categories to the purposes
    that use them, or name them on the table."""
    for d, ds in _sql(m):
        for t, table in enumerate(ds.tables):
            cats = [c for col in table.columns for c in col.categories]
            if cats and not table.hold and not _serves_a_purpose(m, table):
                yield ("datasets", d, "tables", t, "name"), (
                    f"{ds.id}.{table.name} holds {', '.join(sorted(set(cats)))}, which no "
                    "purpose uses: no retention rule reaches it, and nothing says why it "
                    "is kept")


@rule("PV092", "column-category-in-no-purpose", Severity.WARNING,
      "A mapped column holds a category no purpose declares",
      "GDPR Art. 13(1)(c), Art. 14(1)(d), Art. 30(1)(c)")
def column_category_in_no_purpose(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The policy and the record of processing are written from the purposes: a category
    the data map finds in a column but no purpose declares is processed without the person
    being told (a message body kept as "account" data, an IP address in a sign-in log).
    Add it to the purposes that use it. A table no purpose reaches at all is PV091's.
    Said once per category, at the first column holding it."""
    found: dict[str, list[tuple[tuple[str | int, ...], str]]] = {}
    for d, ds in _sql(m):
        for t, table in enumerate(ds.tables):
            if not _serves_a_purpose(m, table):
                continue  # PV091
            for c, col in enumerate(table.columns):
                for k in col.categories:
                    if not any(categories_meet([k], p.categories) for p in m.purposes):
                        found.setdefault(k, []).append(
                            (("datasets", d, "tables", t, "columns", c, "name"),
                             f"{ds.id}.{table.name}.{col.name}"))
    for key, places in found.items():
        yield places[0][0], (
            f"{key} is held in {', '.join(name for _, name in places)}, but no purpose "
            "declares it: the policy does not tell people it is processed")


@rule("PV093", "table-unreachable-from-a-person", Severity.ERROR,
      "A mapped table with personal data no person's identity leads to",
      "GDPR Art. 15, Art. 17, Art. 12(2)")
def table_unreachable(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Access and erasure find a person's rows by walking from the tables holding an
    identity (e-mail, phone, user id) to the tables whose references point at rows already
    found. A table with personal columns that no such walk reaches (an address table the
    person's row points at, `users.address_id -> addresses.id`, instead of one pointing at
    the person) is never exported and never erased, and the proof cannot see what is left
    there, since it holds none of the person's identities. Map a reference from it to a
    table the walk reaches, mark the reference that points at it as `part: true` (the
    address is part of the user's row), or mark it as an organisation's (`organisation:`)."""
    for d, ds in _sql(m):
        reached = reachable_tables(ds)
        for i, t in enumerate(ds.tables):
            personal = sorted({c for col in t.columns for c in col.categories})
            if t.name not in reached and personal:
                yield ("datasets", d, "tables", i, "name"), (
                    f"{ds.id}.{t.name} holds {', '.join(personal)}, but no reference leads "
                    "to it from a table with a person's identity: access requests never "
                    "export it and erasure never reaches it")


@rule("PV094", "part-deleted-under-a-kept-row", Severity.ERROR,
      "A part row deleted while the row pointing at it stays",
      "GDPR Art. 17, Art. 5(1)(d)")
def part_deleted_under_kept_row(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A row that stays on erasure (masked, nulled or kept) still points at its part
    (`part: true`): deleting the part would leave it pointing at nothing, which the
    database refuses (a foreign key) or, without one, leaves a broken row. Erase the part's
    table by masking (`erase: mask`), or delete the referring row too."""
    for d, ds in _sql(m):
        tables = {t.name: t for t in ds.tables}
        for i, t in enumerate(ds.tables):
            for r, ref in enumerate(t.references):
                target = tables.get(ref.to.split(".", 1)[0])
                if ref.part and target is not None and t.erase != "delete_row" \
                        and target.erase == "delete_row":
                    yield ("datasets", d, "tables", i, "references", r, "part"), (
                        f"{ds.id}.{t.name} stays on erasure ({t.erase}) but its part "
                        f"{target.name} is deleted: map {target.name} with erase: mask")
