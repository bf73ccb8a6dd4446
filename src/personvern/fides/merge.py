"""Imported datasets written into a manifest file in place, every other line kept as it was.

A dataset whose id the manifest already has is replaced; the others are added at the end
of its ``datasets:`` section (which is made if there is none). The result is checked as a
whole manifest before anything is written, so a file is never left broken.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from personvern.errors import ManifestError, Problem
from personvern.fides.writer import datasets_yaml
from personvern.manifest.loader import load_manifest, parse_manifest
from personvern.manifest.model import Dataset


def merge_into(path: Path, datasets: list[Dataset]) -> tuple[list[str], list[str]]:
    """Write ``datasets`` into the manifest at ``path``; the ids (replaced, added)."""
    loaded = load_manifest(path)  # the manifest must be valid before it is changed
    text = loaded.text
    lines = text.splitlines(keepends=True)
    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(root, yaml.MappingNode)  # load_manifest accepted it
    section = next(((k, v) for k, v in root.value if k.value == "datasets"), None)
    present = {ds.id: n for n, ds in enumerate(loaded.manifest.datasets)}
    replaced = [ds.id for ds in datasets if ds.id in present]
    added = [ds.id for ds in datasets if ds.id not in present]
    if section is None:
        block = _items(datasets, "  ")
        tail = "" if not lines or lines[-1].endswith("\n") else "\n"
        new_text = text + tail + "\ndatasets:\n" + block
    else:
        key, value = section
        if not isinstance(value, yaml.SequenceNode) or value.flow_style or not value.value:
            # `datasets: []` or nothing: the section is written anew.
            end = _end_line(value) if isinstance(value, yaml.CollectionNode) else key.end_mark.line
            new_lines = [*lines[:key.start_mark.line], "datasets:\n", _items(datasets, "  "),
                         *lines[end + 1:]]
        else:
            first = value.value[0].start_mark
            # The items' dash, before the first key of the first item ("  - id: app").
            indent = " " * max(lines[first.line].rfind("-", 0, first.column), 0)
            new_lines = list(lines)
            # Bottom up, so earlier line numbers stay right.
            spans = []
            for ds in datasets:
                if ds.id in present:
                    item = value.value[present[ds.id]]
                    spans.append((item.start_mark.line, _end_line(item), _items([ds], indent)))
            last = _end_line(value.value[-1])
            spans.append((last + 1, last, _items([d for d in datasets if d.id in added],
                                                 indent)))
            for start, end, block in sorted(spans, reverse=True):
                new_lines[start:end + 1] = [block]
        new_text = "".join(new_lines)
    try:
        parse_manifest(new_text, file=str(path))
    except ManifestError as exc:
        raise ManifestError([Problem("", "the manifest with the imported datasets would not be "
                                         "valid; nothing was written", str(path)),
                             *exc.problems]) from None
    _write(path, new_text)
    return replaced, added


def _items(datasets: list[Dataset], indent: str) -> str:
    """The datasets as sequence items at ``indent`` (the section's own)."""
    if not datasets:
        return ""
    body = datasets_yaml(datasets).split("\n", 1)[1]  # without the "datasets:" line
    return "".join(indent + line if line.strip() else line
                   for line in body.splitlines(keepends=True))


def _end_line(node: yaml.Node) -> int:
    """The 0-based line a node's own text ends on (a block's end mark lies past comments)."""
    while isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    mark = node.end_mark
    # An end mark at column 0 is the start of the next line: the text ended on the line before.
    return mark.line - 1 if mark.column == 0 and mark.line > node.start_mark.line else mark.line


def _write(path: Path, text: str) -> None:
    """Replace the file in one step: a crash leaves the old manifest or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).chmod(path.stat().st_mode & 0o777)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
