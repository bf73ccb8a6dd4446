"""Walking the manifest models by path: for hints in errors and for the reference docs."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from personvern.manifest.model import Manifest

DataPath = tuple[str | int, ...]


def submodel(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``annotation`` (through Optional, list and Annotated), if any."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return submodel(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = submodel(arg)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation.model_fields.keys() == {"root"}:
            return None  # a RootModel such as Text: a value, not a section
        return annotation
    return None


def model_at(path: DataPath, root: type[BaseModel] = Manifest) -> type[BaseModel] | None:
    """The model that the mapping at ``path`` is validated against."""
    model: type[BaseModel] | None = root
    for part in path:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = submodel(model.model_fields[part].annotation)
    return model
