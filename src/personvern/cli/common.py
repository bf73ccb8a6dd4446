"""What every data command shares: opening the runtime from options, and printing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from personvern.runtime import Runtime


@contextmanager
def runtime(manifest: Path | None, db: str | None, now: str | None) -> Iterator[Runtime]:
    """The runtime for ``--manifest``, ``--db`` and ``--now``; closed afterwards."""
    from personvern.clock import parse_now
    from personvern.errors import InvalidInput
    from personvern.runtime import open_runtime
    from personvern.settings import get_settings

    try:
        clock = parse_now(now)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    rt = open_runtime(get_settings(manifest=manifest, database_url=db), clock)
    try:
        yield rt
    finally:
        rt.close()


def parse_date(value: str | None, what: str) -> date | None:
    """A YYYY-MM-DD option, or a clear error."""
    from personvern.errors import InvalidInput

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def emit(data: Any, as_json: bool, lines: list[str]) -> None:
    """``data`` as JSON with --json, else the human ``lines``."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


def vacuum_lines(left: dict[str, list[str]]) -> list[str]:
    """What a PostgreSQL dataset still holds of erased rows, and the command that ends it."""
    return [f"  {ds}: erased rows stay in the files of {', '.join(tables)} until "
            f"VACUUM FULL rewrites them; run: VACUUM FULL {', '.join(tables)};"
            for ds, tables in left.items()]
