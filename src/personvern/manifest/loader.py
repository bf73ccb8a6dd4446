"""Reading a manifest file: every problem becomes a message with file:line:column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from personvern.errors import ManifestError, ManifestTooLarge, Problem
from personvern.manifest.model import Manifest
from personvern.manifest.references import reference_problems
from personvern.manifest.schema_walk import model_at
from personvern.manifest.yamlpos import (
    DuplicateKey,
    Positions,
    TooComplex,
    TooManyNodes,
    load_with_positions,
)
from personvern.manifest.yamlpos import (
    Path as DataPath,
)

# A real manifest is tens of kilobytes; refusing huge files keeps the answer fast.
DEFAULT_MAX_BYTES = 2 * 1024 * 1024


class LoadedManifest:
    """A valid manifest with where it came from, for findings that cite lines."""

    def __init__(self, manifest: Manifest, file: str, positions: Positions, text: str) -> None:
        self.manifest = manifest
        self.file = file
        self.positions = positions
        self.text = text

    def line_of(self, path: DataPath) -> int:
        """The 1-based line of ``path`` in the file (its nearest present ancestor)."""
        found = self.positions.of(path, key=True)
        return found[0] if found else 1

    def column_of(self, path: DataPath) -> int:
        """The 1-based column of ``path``."""
        found = self.positions.of(path, key=True)
        return found[1] if found else 1


def format_path(path: DataPath) -> str:
    """``('purposes', 2, 'legal_basis')`` as ``purposes[2].legal_basis``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_manifest(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedManifest:
    """Read, parse and validate the manifest at ``path``; ManifestError on any problem."""
    file = str(path)
    text = _read_text(Path(path), file, max_bytes)
    return parse_manifest(text, file=file)


def parse_manifest(text: str, *, file: str = "<manifest>") -> LoadedManifest:
    """Parse and validate manifest ``text``; ``file`` names it in messages."""
    data, positions = parse_yaml(text, file)
    if data is None:
        raise ManifestError([Problem("", "the manifest is empty", file, 1, 1)])
    if not isinstance(data, dict):
        raise ManifestError([Problem("", "expected a mapping of sections at the top", file, 1, 1)])
    if "personvern" not in data:
        raise ManifestError([Problem(
            "", "not a Personvern manifest: the top-level key `personvern: 1` is missing",
            file, 1, 1,
        )])
    version = data["personvern"]
    if isinstance(version, bool) or not isinstance(version, int) or version != 1:
        line, col = positions.of(("personvern",)) or (1, 1)
        raise ManifestError([Problem(
            "personvern", f"unsupported schema version {_got(version)}; this Personvern "
            "reads version 1", file, line, col,
        )])
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(_problems_from(exc, data, positions, file)) from None
    problems = []
    for loc, message in reference_problems(manifest):
        line, col = positions.of(loc, key=False) or (1, 1)
        problems.append(Problem(format_path(loc), message, file, line, col))
    if problems:
        raise ManifestError(problems)
    return LoadedManifest(manifest, file, positions, text)


def _read_text(path: Path, file: str, max_bytes: int) -> str:
    if path.is_dir():
        raise ManifestError([Problem("", "is a directory, not a manifest file", file)])
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ManifestTooLarge([Problem(
                "", f"the file is {size / 1_048_576:.1f} MB; a manifest may be at most "
                f"{max_bytes / 1_048_576:.0f} MB", file,
            )])
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError([Problem("", "no such file", file)]) from None
    except PermissionError:
        raise ManifestError([Problem("", "permission denied", file)]) from None
    except OSError as exc:
        raise ManifestError([Problem("", f"cannot be read ({exc.strerror})", file)]) from None
    if b"\x00" in raw[:8192]:
        raise ManifestError([Problem("", "is a binary file, not a YAML manifest", file)])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError([Problem(
            "", "is not UTF-8 text (a binary file or another encoding)", file, line, 1,
        )]) from None


def parse_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """YAML ``text`` as data with positions; every YAML problem a ManifestError at its place."""
    try:
        return load_with_positions(text)
    except DuplicateKey as dup:
        raise ManifestError([Problem(
            "", f"duplicate key {dup.key!r} (first at line {dup.first[0]})", file, *dup.again,
        )]) from None
    except TooComplex as exc:
        raise ManifestError([Problem("", str(exc), file, *exc.at)]) from None
    except TooManyNodes as exc:
        raise ManifestError([Problem("", f"the document expands to {exc}", file)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = exc.problem or exc.context or "invalid YAML"
        what += _yaml_hint(exc, text)
        raise ManifestError([Problem("", f"invalid YAML: {what}", file, line, col)]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([Problem("", f"invalid YAML: {exc}", file)]) from None


def _yaml_hint(exc: yaml.MarkedYAMLError, text: str) -> str:
    """Where an unclosed flow collection opened, or that a tab is the trouble."""
    mark, opened = exc.problem_mark, exc.context_mark
    if mark is not None:
        lines = text.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        if line[mark.column:mark.column + 1] == "\t" and "tab" not in str(exc.problem):
            return " (a tab: indent with spaces)"
    if exc.problem and exc.context and opened is not None and "flow" in exc.context:
        kind = "list" if "sequence" in exc.context else "mapping"
        return f" (in the {kind} opened at line {opened.line + 1}, column {opened.column + 1})"
    return ""


_TYPE_NAMES = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)", "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
}


def _got(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def data_prefix(data: Any, loc: tuple[Any, ...]) -> DataPath:
    """The longest prefix of a Pydantic ``loc`` that names something in ``data``."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            break
        out.append(part)
    return tuple(out)


def _problems_from(
    exc: ValidationError, data: Any, positions: Positions, file: str
) -> list[Problem]:
    problems: dict[str, Problem] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        where = data_prefix(data, loc)
        if kind == "missing":
            key = loc[len(where)] if len(loc) > len(where) else loc[-1]
            message = f"missing required key {key!r}"
            path = where
            pos = positions.of(where)
        elif kind == "extra_forbidden":
            key = loc[-1]
            path = (*where[:-1], key) if where and where[-1] == key else (*where, key)
            parent = path[:-1]
            message = f"unknown key {key!r}"
            allowed = _allowed_keys(parent, data)
            # Imported here: a manifest without an unknown key has no use for difflib.
            import difflib

            close = difflib.get_close_matches(str(key), allowed, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
            pos = positions.of(path, key=True)
        else:
            path = where
            message = _describe(err)
            pos = positions.of(where)
        label = format_path(path)
        line, col = pos or (None, None)
        # A union reports each branch; the first message per place is the clearest.
        problems.setdefault(f"{label}|{kind}", Problem(label, message, file, line, col))
    return sorted(problems.values(), key=lambda p: (p.line or 0, p.column or 0))


def _describe(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"expected one of {expected}; got {_got(err['input'])}"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_got(err['input'])}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind in {"too_short", "too_long"}:
        return str(err["msg"]).replace("List should", "expected a list that should")
    return str(err["msg"])


def _allowed_keys(parent: DataPath, data: Any) -> list[str]:
    """Field names of the model found at ``parent``, for "did you mean" hints."""
    model = model_at(parent)
    return list(model.model_fields) if model is not None else []
