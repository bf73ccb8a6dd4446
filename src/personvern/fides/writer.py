"""The manifest's data map as a fideslang dataset file, and a data map as manifest YAML.

Fides has no place for what erasure does to a column, legal holds, retention dates or
the database's URL; those go in the dataset's free ``meta`` mapping under ``personvern``,
so that importing the file again gives the same data map. Fides ignores that block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from personvern.errors import InvalidInput
from personvern.fides.categories import NOT_IN_FIDESLANG, to_fides
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.model import Dataset, Manifest, Table
from personvern.manifest.types import Text

# Personvern identity kinds -> Fides identity types (email and phone_number are Fides's own).
IDENTITIES: dict[str, str] = {
    "email": "email", "phone": "phone_number", "user_id": "user_id",
    "external_id": "external_id", "national_id": "national_id",
}
# What erasure does to a column -> Fides's field masking strategy ("keep" is read_only).
MASKING: dict[str, str] = {"null": "null_rewrite", "hash": "hash", "mask": "random_string_rewrite"}
# Fides's category for a field that is not personal data: a key or a reference.
NOT_PERSONAL = "system.operations"


@dataclass
class Exported:
    """A fideslang dataset file's text and what the reader should know about it."""

    text: str
    datasets: int
    notes: list[str] = field(default_factory=list)


def export_fides(manifest: Manifest, only: list[str] | None = None) -> Exported:
    """The manifest's SQL datasets (those in ``only``, if given) as fideslang YAML."""
    notes: list[str] = []
    wanted = [ds for ds in manifest.datasets if only is None or ds.id in only]
    missing = sorted(set(only or ()) - {ds.id for ds in manifest.datasets})
    if missing:
        known = ", ".join(ds.id for ds in manifest.datasets) or "none"
        raise InvalidInput(f"no dataset {', '.join(map(repr, missing))} in the manifest; "
                           f"its datasets: {known}")
    # Asked for by name, a dataset left out would be "0 dataset(s)" passed off as done.
    unfit = [ds for ds in wanted if only is not None and ds.kind != "sql"]
    if unfit:
        sql = ", ".join(ds.id for ds in manifest.datasets if ds.kind == "sql") or "none"
        raise InvalidInput(
            f"{', '.join(f'dataset {ds.id!r} is kind {ds.kind}' for ds in unfit)}: a Fides "
            "dataset describes a database's collections and fields, so only kind sql is "
            f"exported; nothing was written. The manifest's SQL datasets: {sql}")
    out = []
    for ds in wanted:
        if ds.kind != "sql":
            notes.append(f"dataset {ds.id!r} is not exported: it is kind {ds.kind}, and a "
                         "Fides dataset describes a database's collections and fields")
            continue
        if not ds.tables:
            notes.append(f"dataset {ds.id!r} maps no tables: exported with no collections")
        out.append(_dataset(ds, manifest, notes))
    text = yaml.safe_dump({"dataset": out}, sort_keys=False, allow_unicode=True, width=100)
    return Exported(text, len(out), notes)


def _dataset(ds: Dataset, manifest: Manifest, notes: list[str]) -> dict[str, Any]:
    declared = {c.id for c in manifest.categories}
    kept: dict[str, Any] = {"version": 1}
    if ds.description is not None and not ds.description.neutral:
        kept["description"] = dict(ds.description.root)
    for key in ("url", "url_env"):
        if getattr(ds, key):
            kept[key] = getattr(ds, key)
    used = [k for t in ds.tables for c in t.columns for k in c.categories]
    custom = sorted({k for k in used if k not in BUILTIN_CATEGORIES})
    if custom:
        kept["categories"] = custom
    for key in sorted({k for k in used if k in NOT_IN_FIDESLANG or k in custom}):
        source = "declared in the manifest" if key in declared else "Personvern's own"
        notes.append(f"dataset {ds.id!r}: category {key} ({source}) is not in fideslang's "
                     "taxonomy; written as it is: define it in your Fides taxonomy")
    tables = {t.name: _table_meta(t) for t in ds.tables}
    if any(tables.values()):
        kept["tables"] = {name: extra for name, extra in tables.items() if extra}
    plain: dict[str, Any] = {"fides_key": ds.id, "name": ds.id}
    if ds.description is not None:
        plain["description"] = ds.description.get("en")
    plain["meta"] = {"personvern": kept}
    collections = [_collection(t, ds.id) for t in ds.tables]
    # A reference must point at a field Fides knows: add the target where the map names
    # it only as a reference's end (not a column, not the key).
    by_name = {c["name"]: c for c in collections}
    for t in ds.tables:
        for r in t.references:
            table, _, column = r.to.partition(".")
            target = by_name.get(table)
            if target is not None and column not in {f["name"] for f in target["fields"]}:
                target["fields"].append({"name": column, "data_categories": [NOT_PERSONAL]})
    plain["collections"] = collections
    return plain


def _table_meta(t: Table) -> dict[str, Any]:
    """What Fides cannot say of a table: erasure, holds, dates, keep flag, the purposes it
    serves, per column."""
    extra = t.model_dump(mode="json", exclude_defaults=True,
                         include={"erase", "hold", "dates", "keep_flag", "purposes",
                                  "organisation"})
    naming = [r.column for r in t.references if not r.owner]
    if naming:
        extra["naming"] = naming
    columns = {c.name: c.model_dump(mode="json", exclude_defaults=True,
                                     include={"erase", "hold", "provided", "validate_as"})
               for c in t.columns}
    # A column with nothing Fides lacks and no category nor identity must still come back
    # as a column: an empty entry keeps it.
    columns = {name: extra_c for name, extra_c in columns.items()
               if extra_c or not _says_something(t, name)}
    if columns:
        extra["columns"] = columns
    return extra


def _says_something(t: Table, name: str) -> bool:
    column = next(c for c in t.columns if c.name == name)
    return bool(column.categories or column.identity)


def _collection(t: Table, dataset: str) -> dict[str, Any]:
    fields: dict[str, dict[str, Any]] = {}
    for c in t.columns:
        one: dict[str, Any] = {"name": c.name,
                               "data_categories": [to_fides(k) for k in c.categories]}
        if c.identity:
            one.setdefault("fides_meta", {})["identity"] = IDENTITIES[c.identity]
        if c.erase == "keep":
            one.setdefault("fides_meta", {})["read_only"] = True
        elif c.erase in MASKING:
            one.setdefault("fides_meta", {})["masking_strategy_override"] = {
                "strategy": MASKING[c.erase]}
        fields[c.name] = one
    for r in t.references:
        one = fields.setdefault(r.column, {"name": r.column, "data_categories": [NOT_PERSONAL]})
        # Personvern's walk goes from the referenced key to the rows that hold it: Fides's
        # "from" (the other field is found first); a part is found from this row: "to".
        one.setdefault("fides_meta", {}).setdefault("references", []).append(
            {"dataset": dataset, "field": r.to, "direction": "to" if r.part else "from"})
    key = fields.setdefault(t.key, {"name": t.key, "data_categories": [NOT_PERSONAL]})
    key.setdefault("fides_meta", {})["primary_key"] = True
    out: dict[str, Any] = {"name": t.name, "fields": list(fields.values())}
    if t.erase == "delete_row":
        # Fides masks fields and keeps the row unless the collection says "delete".
        out["fides_meta"] = {"masking_strategy_override": {"strategy": "delete"}}
    return out


def datasets_yaml(datasets: list[Dataset], header: list[str] | None = None) -> str:
    """``datasets`` as the manifest's ``datasets:`` section, ``header`` lines as comments."""
    plain = [_manifest_shape(ds) for ds in datasets]
    # Lists of plain values in flow style ([user.name]), as manifests are written by hand.
    body = yaml.safe_dump({"datasets": plain}, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=None)
    lines = [f"# {line}" if line else "#" for line in header or ()]
    return "".join(line + "\n" for line in lines) + body


def _manifest_shape(ds: Dataset) -> dict[str, Any]:
    """The dataset as a manifest author writes it: defaults left out, texts as written."""
    data = ds.model_dump(mode="json", exclude_defaults=True, exclude={"description"})
    out: dict[str, Any] = {"id": data.pop("id")}
    if ds.description is not None:
        out["description"] = _text(ds.description)
    out.update(data)
    return out


def _text(text: Text) -> Any:
    return text.root["*"] if text.neutral else dict(text.root)
