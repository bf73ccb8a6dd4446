"""YAML to plain Python with the position of every key and value.

PyYAML's C composer gives nodes with marks; we build the data ourselves so that
errors can point at ``file:line:column``, duplicate keys are caught, and the
YAML 1.1 "Norway problem" (``NO`` read as false) cannot happen: only ``true``
and ``false`` are booleans.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]
Position = tuple[int, int]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL_WORDS = {"true": True, "false": False}
# Aliases can make a small file expand exponentially ("billion laughs").
MAX_NODES = 1_000_000


class DuplicateKey(Exception):
    """A mapping repeats a key; YAML would silently keep the last one."""

    def __init__(self, key: str, first: Position, again: Position) -> None:
        self.key, self.first, self.again = key, first, again
        super().__init__(key)


class TooManyNodes(Exception):
    """The document expands to more nodes than any manifest needs."""


class Positions:
    """Where each value (and each mapping key) starts, 1-based."""

    def __init__(self) -> None:
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}

    def of(self, path: Path, *, key: bool = False) -> Position | None:
        """Position of ``path`` (its key if ``key``), else of the nearest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_with_positions(text: str) -> tuple[Any, Positions]:
    """Parse one YAML document; returns the data (None if empty) and its positions."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    positions = Positions()
    if node is None:
        return None, positions
    constructor = yaml.SafeLoader("")  # only its scalar constructors are used
    count = 0

    def build(n: yaml.Node, path: Path) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise TooManyNodes(f"more than {MAX_NODES:,} values")
        positions.values[path] = _mark(n)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = build_scalar_key(key_node)
                if key in out:
                    raise DuplicateKey(str(key), positions.keys[(*path, key)], _mark(key_node))
                positions.keys[(*path, key)] = _mark(key_node)
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        return build_scalar(n)

    def build_scalar_key(n: yaml.Node) -> Any:
        if not isinstance(n, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", n.start_mark
            )
        return build_scalar(n)

    def build_scalar(n: yaml.Node) -> Any:
        assert isinstance(n, yaml.ScalarNode)
        if n.tag == "tag:yaml.org,2002:bool":
            word = str(n.value).lower()
            return _BOOL_WORDS.get(word, n.value)  # yes/no/on/off stay strings
        if n.tag == "tag:yaml.org,2002:str":
            return n.value
        return constructor.construct_object(n, deep=True)

    return build(node, ()), positions
