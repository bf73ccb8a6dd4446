"""The authors' ``note:`` fields, found wherever they are in a manifest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

Loc = tuple[str | int, ...]


def notes(node: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every ``note:`` under ``node`` with its place, in the order of the schema."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            if name == "note" and isinstance(value, str):
                yield (*loc, "note"), value
            else:
                yield from notes(value, (*loc, name))
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            yield from notes(item, (*loc, i))
