"""A fideslang dataset file's shape, as the import reads it: lenient where Fides files vary
(keys of later versions are ignored), strict in the ``meta.personvern`` block Personvern
writes; and its validation errors as problems at file:line:column."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from personvern.errors import Problem
from personvern.manifest.loader import data_prefix, format_path
from personvern.manifest.yamlpos import Path as DataPath
from personvern.manifest.yamlpos import Positions


class Loose(BaseModel):
    """As fideslang's own models: keys this reader does not use are ignored."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Reference(Loose):
    dataset: str
    field: str
    direction: Literal["from", "to"] | None = None


class Strategy(Loose):
    strategy: str


class FieldMeta(Loose):
    references: list[Reference] | None = None
    identity: str | None = None
    primary_key: bool | None = None
    read_only: bool | None = None
    masking_strategy_override: Strategy | None = None


class Field(Loose):
    name: str
    description: str | None = None
    data_categories: list[str] | None = None
    fides_meta: FieldMeta | None = None
    fidesops_meta: FieldMeta | None = None
    fields: list[Field] | None = None

    @property
    def meta(self) -> FieldMeta:
        return self.fides_meta or self.fidesops_meta or FieldMeta()


class CollectionMeta(Loose):
    masking_strategy_override: Strategy | None = None
    skip_processing: bool | None = None


class Collection(Loose):
    name: str
    description: str | None = None
    data_categories: list[str] | None = None
    fields: list[Field]
    fides_meta: CollectionMeta | None = None
    fidesops_meta: CollectionMeta | None = None

    @property
    def meta(self) -> CollectionMeta:
        return self.fides_meta or self.fidesops_meta or CollectionMeta()


class Kept(BaseModel):
    """Part of ``meta.personvern``: strict, since only Personvern writes it."""

    model_config = ConfigDict(extra="forbid")


class KeptColumn(Kept):
    erase: str | None = None
    hold: str | None = None
    provided: bool | None = None
    validate_as: str | None = None


class KeptTable(Kept):
    erase: str | None = None
    hold: str | None = None
    dates: dict[str, str] | None = None
    keep_flag: str | None = None
    purposes: list[str] | None = None
    organisation: str | None = None
    # Reference columns that only name a person (owner: false); Fides has no such flag.
    naming: list[str] | None = None
    columns: dict[str, KeptColumn] = {}


class KeptDataset(Kept):
    """What `personvern export fides` writes where Fides has no place for it."""

    version: Literal[1] = 1
    description: str | dict[str, str] | None = None
    url: str | None = None
    url_env: str | None = None
    categories: list[str] = []
    tables: dict[str, KeptTable] = {}


class Meta(Loose):
    model_config = ConfigDict(extra="allow")
    personvern: KeptDataset | None = None


class FidesDataset(Loose):
    fides_key: str
    name: str | None = None
    description: str | None = None
    data_categories: list[str] | None = None
    meta: Meta | None = None
    collections: list[Collection]


class FidesFile(Loose):
    dataset: list[FidesDataset]


def problems(exc: ValidationError, data: Any, positions: Positions, file: str) -> list[Problem]:
    """Each validation error once, where it is in the file, in the file's order."""
    found: dict[str, Problem] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = data_prefix(data, loc)
        if err["type"] == "missing":
            message = f"missing required key {loc[len(where)]!r}"
        elif err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r} in meta.personvern"
        elif err["type"] == "list_type":
            message = "expected a list"
        elif err["type"] in {"dict_type", "model_type", "model_attributes_type"}:
            message = "expected a mapping"
        elif err["type"] == "literal_error":
            expected = str((err.get("ctx") or {}).get("expected", "")).replace("'", "")
            message = f"expected one of {expected.replace(' or ', ', ')}; got {err['input']!r}"
        else:
            message = str(err["msg"])
        line, col = positions.of(where) or (1, 1)
        label = format_path(where)
        found.setdefault(label + message, Problem(label, message, file, line, col))
    return sorted(found.values(), key=lambda p: (p.line or 0, p.column or 0))


Nested = tuple[tuple[str, ...], DataPath, Field]


def nested_fields(fld: Field, names: tuple[str, ...] = (), rel: DataPath = ()) -> list[Nested]:
    """Every field nested in ``fld``: its names below ``fld``, its data path, the field."""
    out: list[Nested] = []
    for i, sub in enumerate(fld.fields or ()):
        here, at = (*names, sub.name), (*rel, "fields", i)
        out.append((here, at, sub))
        out += nested_fields(sub, here, at)
    return out
