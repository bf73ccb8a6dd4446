"""YAML to plain Python with the position of every key and value.

PyYAML's C composer gives nodes with marks; we build the data ourselves so that
errors can point at ``file:line:column``, duplicate keys are caught, and the
YAML 1.1 "Norway problem" (``NO`` read as false) cannot happen: only ``true``
and ``false`` are booleans.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

Path = tuple[str | int, ...]
Position = tuple[int, int]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL_WORDS = {"true": True, "false": False}
# Aliases can make a small file expand exponentially ("billion laughs").
MAX_NODES = 1_000_000
# Deep nesting overflows the stack of the C composer (a segfault) and of build() below.
MAX_DEPTH = 100
_COLLECTION_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


class DuplicateKey(Exception):
    """A mapping repeats a key; YAML would silently keep the last one."""

    def __init__(self, key: str, first: Position, again: Position) -> None:
        self.key, self.first, self.again = key, first, again
        super().__init__(key)


class TooManyNodes(Exception):
    """The document expands to more nodes than any manifest needs."""


class TooComplex(Exception):
    """The document nests too deep or an alias contains itself; refused before building."""

    def __init__(self, message: str, at: Position) -> None:
        self.at = at
        super().__init__(message)


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


def _at(event: yaml.Event) -> Position:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _check_shape(text: str) -> None:
    """Refuse, from the event stream and before anything is built, documents that nest
    deeper than MAX_DEPTH, expand past MAX_NODES through aliases, or alias themselves."""
    open_: list[tuple[str | None, int]] = []  # anchor and count at start, per collection
    sizes: dict[str, int] = {}
    expanded = 0
    for event in _events(text):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_) >= MAX_DEPTH:
                raise TooComplex(
                    f"the document nests more than {MAX_DEPTH} levels deep", _at(event)
                )
            open_.append((event.anchor, expanded))
            expanded += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, start = open_.pop()
            if anchor is not None:
                sizes[anchor] = expanded - start
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_):
                raise TooComplex(
                    f"alias *{event.anchor} refers to the collection it is in", _at(event)
                )
            expanded += sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        if expanded > MAX_NODES:
            raise TooManyNodes(f"more than {MAX_NODES:,} values")


def _events(text: str) -> Iterator[yaml.Event]:
    """The parser's events; its own nesting limit (libyaml's, from PyYAML 6.0.2 on, can
    fire before our MAX_DEPTH is reached while it scans ahead) is reported as ours."""
    try:
        yield from yaml.parse(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is None or "nesting depth" not in str(exc.problem):
            raise
        raise TooComplex(f"the document nests more than {MAX_DEPTH} levels deep",
                         (mark.line + 1, mark.column + 1)) from None


def load_with_positions(text: str) -> tuple[Any, Positions]:
    """Parse one YAML document; returns the data (None if empty) and its positions."""
    _check_shape(text)
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
        expected = _COLLECTION_TAGS.get(type(n))
        if expected is not None and n.tag != expected:  # !!set, !!omap, !!python/...
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag {n.tag!r}",
                n.start_mark,
            )
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
        try:
            return constructor.construct_object(n, deep=True)
        except yaml.YAMLError:
            raise
        except Exception:  # resolved or tagged as a date or number, but is none: 2025-02-30
            return n.value

    return build(node, ()), positions
