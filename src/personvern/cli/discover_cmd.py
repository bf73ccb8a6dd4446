"""``personvern discover``: propose the data map of a service's databases."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the scanner loads only when discover runs
    from personvern.discover.scan import TableFinding


def discover(
    urls: Annotated[list[str], typer.Argument(
        help="Database URLs (sqlite:///app.db, postgresql://user@host/db).", show_default=False)],
    sample: Annotated[int, typer.Option(
        "--sample", help="Rows read per table at most (a plain LIMIT: never a full scan).")
    ] = 1000,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the YAML fragment to this file instead of printing it.",
        show_default=False)] = None,
    ids: Annotated[list[str] | None, typer.Option(
        "--id", help="The dataset's id in the manifest, once per URL (default: its name).",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")
                       ] = False,
    categories_from: Annotated[Path | None, typer.Option(
        "--categories-from", help="A manifest whose own categories (declared below the "
        "built-in ones) name what is found, where one is the very kind found.",
        show_default=False)] = None,
) -> None:
    """Read each database's schema and a sample of its rows, and propose the manifest's
    data map: personal-data columns with their categories, identities, references and date
    columns, each with its evidence (values masked). Nothing leaves this machine.

    A database or table that cannot be read is reported and the others are still read;
    then the exit code is 1.
    """
    from personvern.discover.refine import declared_in, refine
    from personvern.discover.report import as_data, as_yaml, dataset_id
    from personvern.discover.scan import discover as read
    from personvern.errors import InvalidInput, PersonvernError

    if ids and len(ids) != len(urls):
        raise InvalidInput(f"--id was given {len(ids)} times for {len(urls)} URLs; give one "
                           "per URL, in the same order")
    if sample < 1:
        raise InvalidInput(f"--sample must be at least 1, not {sample}")
    declared = declared_in(str(categories_from)) if categories_from else {}
    found, named, failed = [], [], 0
    for n, url in enumerate(urls):
        try:
            found.append(read(url, sample=sample))
            refine(found[-1], declared)
        except PersonvernError as err:
            failed += 1
            typer.echo(f"personvern: discover {url}: {err}", err=True)
            continue
        named.append(ids[n] if ids else dataset_id(url))
        failed += _say_unread(url, found[-1].tables)
        for schema, tables in sorted(found[-1].other_schemas.items()):
            typer.echo(f"personvern: discover {url}: schema {schema} ({tables} tables) not read: "
                       "only the default schema is read", err=True)
    if found:
        text = (json.dumps([as_data(f) for f in found], indent=2, ensure_ascii=False)
                if as_json else as_yaml(found, named))
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {out}: {sum(len(f.tables) for f in found)} tables in "
                       f"{len(found)} dataset(s)", err=True)
    if failed:
        raise typer.Exit(1)


def _say_unread(url: str, tables: list["TableFinding"]) -> int:
    """Say on stderr each table of ``url`` that could not be read; 1 if any, else 0."""
    unread = [t for t in tables if t.unread]
    for t in unread:
        typer.echo(f"personvern: discover {url}: table {t.name} {t.note}; its columns are "
                   "not in the proposal", err=True)
    if unread:
        typer.echo(f"personvern: discover {url}: {len(tables) - len(unread)} of "
                   f"{len(tables)} tables read", err=True)
    return 1 if unread else 0
