"""A fideslang dataset file read into the manifest's data map, with what did not carry over.

Fides describes a database as collections of fields; each field has its data categories
and, in ``fides_meta`` (``fidesops_meta`` in older files), the identity it holds, whether
it is the primary key, and its references to other fields. Those become Personvern's
tables, columns, identities, keys and references. What Personvern cannot express is said
as a warning, with the file, line and column it comes from, never dropped in silence.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from personvern.errors import ManifestError, Problem
from personvern.fides.categories import Mapped, from_fides
from personvern.fides.shape import (
    Collection,
    FidesDataset,
    FidesFile,
    Field,
    FieldMeta,
    KeptDataset,
    KeptTable,
    Reference,
    nested_fields,
    problems,
)
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.loader import format_path, parse_yaml
from personvern.manifest.model import Dataset
from personvern.manifest.references import reachable_tables
from personvern.manifest.yamlpos import Path as DataPath
from personvern.manifest.yamlpos import Positions

# Fides's own datasets are tens of kilobytes; one of many megabytes is not a dataset.
MAX_BYTES = 4 * 1024 * 1024

# Fides identity types -> Personvern's. Fides's built-in ones are email and phone_number;
# the others are names services give their own ids.
IDENTITIES: dict[str, str] = {
    "email": "email", "phone_number": "phone", "phone": "phone", "user_id": "user_id",
    "external_id": "external_id", "national_id": "national_id",
}

_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

# Fides's field masking strategies -> what Personvern's erasure does to the column. Fides
# masks the fields its erasure policy names and keeps the row; a collection whose override
# is "delete" loses its rows, as Personvern's default (delete_row) does.
MASKING: dict[str, str] = {
    "null_rewrite": "null", "hash": "hash", "random_string_rewrite": "mask",
    "string_rewrite": "mask",
}


@dataclass(frozen=True)
class Note:
    """Something the import could not carry over as it was, and where it stands."""

    level: Literal["warning", "info"]
    message: str
    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.level}: {self.message}"


@dataclass
class Imported:
    """The data map read from a Fides file, and the notes on what changed on the way."""

    datasets: list[Dataset]
    notes: list[Note] = field(default_factory=list)

    @property
    def warnings(self) -> list[Note]:
        """The notes that need the reader's action."""
        return [n for n in self.notes if n.level == "warning"]


# ---- reading --------------------------------------------------------------------------

def read_fides(path: str | Path) -> Imported:
    """The data map in the Fides dataset file at ``path``; ManifestError on any problem."""
    file = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise ManifestError([Problem("", "is a directory, not a Fides dataset file", file)])
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise ManifestError([Problem(
                "", f"the file is {size / 1_048_576:.1f} MB; a Fides dataset file may be at "
                f"most {MAX_BYTES / 1_048_576:.0f} MB", file)])
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ManifestError([Problem("", "no such file", file)]) from None
    except OSError as exc:
        raise ManifestError([Problem("", f"cannot be read ({exc.strerror})", file)]) from None
    if b"\x00" in raw[:8192]:
        raise ManifestError([Problem("", "is a binary file, not a YAML Fides dataset", file)])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError([Problem("", "is not UTF-8 text", file, line, 1)]) from None
    return parse_fides(text, file=file)


def parse_fides(text: str, *, file: str = "<fides>") -> Imported:
    """The data map in Fides dataset YAML ``text``; ``file`` names it in messages."""
    data, positions = parse_yaml(text, file)
    if isinstance(data, dict) and "fides_key" in data:
        # One dataset on its own, as Fides's API returns it: read it as a file of one.
        data, positions = {"dataset": [data]}, _shifted(positions)
    if not isinstance(data, dict) or "dataset" not in data:
        what = "is empty" if data is None else (
            "is not a fideslang dataset: expected a top-level `dataset:` list (or one "
            "dataset with `fides_key` and `collections`)")
        if isinstance(data, dict) and "personvern" in data:
            what += "; this is a Personvern manifest: `personvern export fides` writes one"
        raise ManifestError([Problem("", what, file, 1, 1)])
    try:
        parsed = FidesFile.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(problems(exc, data, positions, file)) from None
    return _Reader(parsed, positions, file).run()


def _shifted(positions: Positions) -> Positions:
    """Positions of a lone dataset, as if it were ``dataset[0]``."""
    out = Positions()
    out.values = {("dataset", 0, *p): at for p, at in positions.values.items()}
    out.keys = {("dataset", 0, *p): at for p, at in positions.keys.items()}
    return out


class _Reader:
    """One pass over a parsed file: builds the datasets, collects notes and errors."""

    def __init__(self, parsed: FidesFile, positions: Positions, file: str) -> None:
        self.parsed = parsed
        self.positions = positions
        self.file = file
        self.notes: list[Note] = []
        self.errors: list[Problem] = []

    def at(self, path: DataPath) -> tuple[int, int]:
        return self.positions.of(path) or (1, 1)

    def note(self, level: Literal["warning", "info"], path: DataPath, message: str) -> None:
        self.notes.append(Note(level, message, self.file, *self.at(path)))

    def error(self, path: DataPath, message: str) -> None:
        self.errors.append(Problem(format_path(path), message, self.file, *self.at(path)))

    def run(self) -> Imported:
        out: list[tuple[int, Dataset]] = []
        keys = [d.fides_key for d in self.parsed.dataset]
        for d, ds in enumerate(self.parsed.dataset):
            if ds.fides_key in keys[:d]:
                self.error(("dataset", d, "fides_key"), f"duplicate fides_key {ds.fides_key!r}")
                continue
            built = self.dataset(("dataset", d), ds)
            if built is not None:
                out.append((d, built))
        if self.errors:
            raise ManifestError(self.errors)
        for d, built in out:
            self.unreached(d, built)
        return Imported([built for _, built in out],
                        sorted(self.notes, key=lambda n: (n.line, n.column)))

    def unreached(self, d: int, ds: Dataset) -> None:
        """Warn of tables with personal data that no identity leads to: access (Art. 15)
        and erasure (Art. 17) would not find their rows."""
        reached = reachable_tables(ds)
        index = {coll.name: c for c, coll in enumerate(self.parsed.dataset[d].collections)}
        for t in ds.tables:
            personal = [c.name for c in t.columns if c.categories]
            if personal and t.name not in reached:
                self.note("warning", ("dataset", d, "collections", index[t.name]),
                          f"table {t.name!r} holds personal data ({', '.join(personal)}) "
                          "that no identity leads to: access and erasure will not find its "
                          "rows. Give it an identity column, or a reference to a table "
                          "that has one (PV093)")

    def dataset(self, loc: DataPath, ds: FidesDataset) -> Dataset | None:
        kept = ds.meta.personvern if ds.meta is not None else None
        extra = kept or KeptDataset()
        ident = ds.fides_key
        if not _ID.match(ident):
            ident = re.sub(r"[^a-z0-9_-]+", "_", ident.lower()).strip("_-")[:63] or "dataset"
            ident = ident if ident[0].isalpha() else f"ds_{ident}"[:63]
            self.note("info", (*loc, "fides_key"),
                      f"fides_key {ds.fides_key!r} is not a manifest id; the dataset's id is "
                      f"{ident!r}")
        custom = frozenset(extra.categories)
        if ds.data_categories and any(from_fides(k).how != "not_personal"
                                      for k in ds.data_categories):
            self.note("warning", (*loc, "data_categories"),
                      f"dataset-wide data_categories {ds.data_categories} are not imported: "
                      "the data map says categories per column; put them on the fields that "
                      "hold them")
        names = [c.name for c in ds.collections]
        tables = []
        for c, coll in enumerate(ds.collections):
            cloc = (*loc, "collections", c)
            if coll.name in names[:c]:
                self.error((*cloc, "name"), f"duplicate collection {coll.name!r}")
                continue
            tables.append(self.table(cloc, ds, coll, custom, extra))
        plain: dict[str, Any] = {"id": ident, "tables": tables}
        # Fides requires no description; its name is often the key again, which says nothing.
        named = ds.name if ds.name and ds.name != ds.fides_key else None
        description = extra.description or ds.description or named
        if description:
            plain["description"] = description
        if extra.url:
            plain["url"] = extra.url
        if extra.url_env:
            plain["url_env"] = extra.url_env
        # A file Personvern exported says where the URL comes from, or that nothing does;
        # for one from Fides, the URL comes from a variable named after the dataset.
        if kept is None and "url" not in plain and "url_env" not in plain:
            plain["url_env"] = f"{ident.upper().replace('-', '_')}_URL"
            self.note("info", loc, f"dataset {ident!r} reads its database URL from "
                                   f"{plain['url_env']}: set it, or write url: instead")
        if kept is None and any(t["erase"] == "mask" for t in tables):
            self.note("info", loc, "Fides erases by masking a person's fields and keeping the "
                                   "row, unless a collection's masking_strategy_override is "
                                   "delete: the tables say the same (erase: mask, or "
                                   "delete_row)")
        if self.errors:
            return None
        try:
            return Dataset.model_validate(plain)
        except ValidationError as exc:
            # Only a hand-edited meta.personvern block can give values the map refuses.
            for err in exc.errors():
                self.error((*loc, "meta"), f"meta.personvern: {format_path(tuple(err['loc']))}: "
                                           f"{err['msg']}")
            return None

    def table(self, loc: DataPath, ds: FidesDataset, coll: Collection, custom: frozenset[str],
              extra: KeptDataset) -> dict[str, Any]:
        kept = extra.tables.get(coll.name) or KeptTable()
        kept_columns = kept.columns
        if coll.data_categories and any(from_fides(k).how != "not_personal"
                                        for k in coll.data_categories):
            self.note("warning", (*loc, "data_categories"),
                      f"collection {coll.name!r}: collection-wide data_categories "
                      f"{coll.data_categories} are not imported: the data map says categories "
                      "per column; put them on the fields that hold them")
        columns: list[dict[str, Any]] = []
        references: list[dict[str, Any]] = []
        keys: list[str] = []
        names = [f.name for f in coll.fields]
        for f, fld in enumerate(coll.fields):
            floc = (*loc, "fields", f)
            if fld.name in names[:f]:
                self.error((*floc, "name"), f"duplicate field {coll.name}.{fld.name}")
                continue
            meta = fld.meta
            meta_loc = (*floc, "fides_meta" if fld.fides_meta else "fidesops_meta")
            if meta.primary_key:
                keys.append(fld.name)
            categories = self.categories(floc, coll.name, fld, custom)
            self.nested(floc, coll.name, fld)
            identity = self.identity((*meta_loc, "identity"), coll.name, fld.name, meta.identity)
            for r, ref in enumerate(meta.references or ()):
                to = self.reference((*meta_loc, "references", r), ds, coll.name, fld.name, ref)
                if to is not None:
                    # direction: to (Fides reads the target from this row): the row it
                    # points at is part of this one, walked from here (part: true).
                    references.append({"column": fld.name, "to": to,
                                       **({"part": True} if ref.direction == "to" else {})})
            erase = self.erase((*meta_loc,), coll.name, fld.name, meta)
            if categories or identity or fld.name in kept_columns:
                column: dict[str, Any] = {"name": fld.name}
                if categories:
                    column["categories"] = categories
                if identity:
                    column["identity"] = identity
                if erase:
                    column["erase"] = erase
                if fld.name in kept_columns:
                    column.update(kept_columns[fld.name].model_dump(exclude_none=True))
                columns.append(column)
        out: dict[str, Any] = {"name": coll.name}
        if len(keys) > 1:
            self.note("warning", loc, f"collection {coll.name!r} has a primary key of "
                                      f"{len(keys)} fields ({', '.join(keys)}); the data map "
                                      f"finds rows by one: {keys[0]!r}")
        if keys:
            out["key"] = keys[0]
        elif "id" not in names:
            self.note("warning", loc, f"collection {coll.name!r} marks no field primary_key "
                                      "and has no field 'id'; the data map assumes 'id': mark "
                                      "the key field with fides_meta: {primary_key: true}")
        out["erase"] = self.collection_erase(loc, coll)
        out["columns"] = columns
        out["references"] = [{**r, "owner": False} if r["column"] in (kept.naming or ())
                             else r for r in references]
        out.update(kept.model_dump(exclude_none=True, exclude={"columns", "naming"}))
        return out

    def collection_erase(self, loc: DataPath, coll: Collection) -> str:
        """What erasure does to the table's rows, from the collection's Fides hints."""
        meta = coll.meta
        if meta.skip_processing:
            self.note("warning", loc, f"collection {coll.name!r} has skip_processing: Fides "
                                      "leaves it out of requests; the data map has no such "
                                      "switch, so access and erasure will reach it")
        override = meta.masking_strategy_override
        if override is not None and override.strategy != "delete":
            self.note("warning", loc, f"collection {coll.name!r}: masking strategy "
                                      f"{override.strategy!r} is not Fides's and is not "
                                      "imported")
        # Fides keeps the row and masks its fields unless the collection says "delete".
        return "delete_row" if override is not None and override.strategy == "delete" \
            else "mask"

    def erase(self, at: DataPath, table: str, column: str, meta: FieldMeta) -> str | None:
        """What erasure does to the column, from Fides's read_only and masking override."""
        if meta.read_only:
            return "keep"
        override = meta.masking_strategy_override
        if override is None:
            return None
        ours = MASKING.get(override.strategy)
        if ours is None:
            self.note("warning", (*at, "masking_strategy_override"),
                      f"{table}.{column}: masking strategy {override.strategy!r} has no "
                      "Personvern equivalent (null, hash or mask); the table's erasure "
                      "applies to the column")
        return ours

    def categories(self, loc: DataPath, table: str, fld: Field,
                   custom: frozenset[str]) -> list[str]:
        """The field's categories (with its nested fields'), as Personvern keys."""
        found: list[str] = []
        for names, rel, one in [((), (), fld), *nested_fields(fld)]:
            for k, key in enumerate(one.data_categories or ()):
                at = (*loc, *rel, "data_categories", k)
                mapped = from_fides(key, custom)
                self.category_note(at, ".".join([table, fld.name, *names]), mapped)
                if mapped.key is not None and mapped.key not in found:
                    found.append(mapped.key)
        return found

    def category_note(self, at: DataPath, where: str, mapped: Mapped) -> None:
        if mapped.how == "renamed":
            self.note("info", at, f"{where}: {mapped.fides} is {mapped.key} in Personvern")
        elif mapped.how == "generalised":
            self.note("info", at, f"{where}: {mapped.fides} is mapped to {mapped.key}, "
                                  "the nearest Personvern category that covers it")
        elif mapped.how == "no_equivalent":
            self.note("warning", at, f"{where}: data category {mapped.fides} has no "
                                     "Personvern equivalent; the column is kept as 'user' "
                                     "(personal data, kind not said): declare a category "
                                     "for it in the manifest's categories and use that")
        elif mapped.how == "unknown":
            hint = difflib.get_close_matches(mapped.fides, list(BUILTIN_CATEGORIES), n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            kept = ("'user' (personal data, kind not said)" if mapped.key == "user" else
                    f"{mapped.key}, the nearest known category that covers it")
            self.note("warning", at, f"{where}: unknown data category {mapped.fides!r} (not "
                                     "in fideslang's taxonomy nor Personvern's); the column "
                                     f"is kept as {kept}{more}")

    def identity(self, at: DataPath, table: str, column: str, kind: str | None) -> str | None:
        if kind is None:
            return None
        ours = IDENTITIES.get(kind)
        if ours is None:
            self.note("warning", at, f"{table}.{column}: Fides identity {kind!r} is the "
                                     "service's own; imported as external_id (the walk "
                                     "matches it with user ids)")
            return "external_id"
        return ours

    def reference(self, at: DataPath, ds: FidesDataset, table: str, column: str,
                  ref: Reference) -> str | None:
        """``table.column`` the reference points at, or None (said why)."""
        if ref.dataset != ds.fides_key:
            known = [d.fides_key for d in self.parsed.dataset]
            if ref.dataset not in known:
                self.note("warning", at, f"{table}.{column} refers to dataset "
                                         f"{ref.dataset!r}, which is not in this file; the "
                                         "data map's references stay inside one dataset, so "
                                         "this one is not imported")
            else:
                self.note("warning", at, f"{table}.{column} refers to {ref.dataset}."
                                         f"{ref.field}, in another dataset; the data map's "
                                         "references stay inside one dataset, so this one is "
                                         "not imported")
            return None
        target_table, _, target_field = ref.field.partition(".")
        collections = {c.name: c for c in ds.collections}
        if not target_field:
            self.error((*at, "field"), f"reference {ref.field!r} must name collection.field")
            return None
        if target_table not in collections:
            hint = difflib.get_close_matches(target_table, list(collections), n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            self.error((*at, "field"), f"{table}.{column} refers to collection "
                                       f"{target_table!r}, which dataset {ds.fides_key!r} "
                                       f"does not have{more}")
            return None
        if "." in target_field:
            self.note("warning", at, f"{table}.{column} refers to the nested field "
                                     f"{ref.field}; the data map compares whole columns, so "
                                     "this reference is not imported")
            return None
        if target_field not in {f.name for f in collections[target_table].fields}:
            self.error((*at, "field"), f"{table}.{column} refers to field {ref.field!r}, "
                                       f"which collection {target_table!r} does not have")
            return None
        return f"{target_table}.{target_field}"

    def nested(self, loc: DataPath, table: str, fld: Field) -> None:
        """Say what becomes of the fields nested in ``fld`` (a JSON or document column)."""
        subs = nested_fields(fld)
        if not subs:
            return
        self.note("info", loc, f"{table}.{fld.name} has nested fields: their categories are "
                               f"imported on the column {fld.name!r}, and erasure acts on "
                               "the whole value")
        for names, rel, sub in subs:
            if sub.meta.identity or sub.meta.references:
                self.note("warning", (*loc, *rel),
                          f"{table}.{fld.name}.{'.'.join(names)} is a nested field: its "
                          "identity and references are not imported, since the data map "
                          "compares whole columns")
