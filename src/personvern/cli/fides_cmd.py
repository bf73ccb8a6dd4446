"""``personvern import fides`` and ``personvern export fides``: the data map to and from Fides."""

from pathlib import Path
from typing import Annotated

import typer

import_app = typer.Typer(help="Bring a data map in from another tool's format.",
                         no_args_is_help=True)
export_app = typer.Typer(help="Write the manifest's data map in another tool's format.",
                         no_args_is_help=True)

OutOption = Annotated[Path | None, typer.Option(
    "--out", help="Write the YAML to this file instead of printing it.", show_default=False)]


def _write(out: Path, text: str) -> None:
    """``text`` to ``out``, or a clear error (a missing directory, no permission)."""
    from personvern.errors import InvalidInput

    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror}") from None


@import_app.command("fides")
def import_fides(
    dataset: Annotated[Path, typer.Argument(
        help="A fideslang dataset file (YAML with a top-level dataset: list).",
        show_default=False)],
    out: OutOption = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Treat every warning as an error: write nothing and exit 1.")
    ] = False,
    into: Annotated[Path | None, typer.Option(
        "--into", help="Write the datasets into this manifest's datasets: section (one with "
        "the same id is replaced), keeping every other line; nothing is written unless the "
        "result is a valid manifest.", show_default=False)] = None,
) -> None:
    """Turn a Fides (fideslang) dataset into the manifest's datasets: section.

    Collections become tables, fields with personal data categories become columns,
    fides_meta identities, primary keys and references carry over. A data category
    Personvern has no key for keeps its column as personal data (user) with a warning;
    what the data map cannot express is printed as a warning with its file, line and
    column, never dropped in silence. Exit 2 when the file is not a fideslang dataset.
    """
    from personvern.errors import InvalidInput
    from personvern.fides.reader import read_fides
    from personvern.fides.writer import datasets_yaml

    if into is not None and out is not None:
        raise InvalidInput("give --into or --out, not both")
    imported = read_fides(dataset)
    for note in imported.notes:
        typer.echo(str(note), err=True)
    warnings = imported.warnings
    if strict and warnings:
        typer.echo(f"personvern: {len(warnings)} warning(s) and --strict: nothing written",
                   err=True)
        raise typer.Exit(1)
    if into is not None:
        from personvern.fides.merge import merge_into

        replaced, added = merge_into(into, imported.datasets)
        done = [f"replaced {', '.join(replaced)}"] if replaced else []
        done += [f"added {', '.join(added)}"] if added else []
        typer.echo(f"wrote {into}: {'; '.join(done)}, {len(warnings)} warning(s); next: "
                   f"personvern check {into}", err=True)
        return
    header = [f"Imported by `personvern import fides {dataset}`: paste it into the manifest.",
              "Review each warning below; the database URL comes from url_env."]
    header += [f"warning: {n.message} ({n.file}:{n.line})" for n in warnings]
    text = datasets_yaml(imported.datasets, header)
    if out is None:
        typer.echo(text, nl=False)
    else:
        _write(out, text)
        tables = sum(len(ds.tables) for ds in imported.datasets)
        typer.echo(f"wrote {out}: {tables} tables in {len(imported.datasets)} dataset(s), "
                   f"{len(warnings)} warning(s)", err=True)


@export_app.command("fides")
def export_fides(
    manifest: Annotated[Path | None, typer.Argument(
        help="The manifest to export (default: the file PERSONVERN_MANIFEST names, else "
             "personvern.yaml).", show_default=False)] = None,
    out: OutOption = None,
    datasets: Annotated[list[str] | None, typer.Option(
        "--dataset", metavar="ID",
        help="Export only this dataset (by its id); may be given more than once.",
        show_default=False)] = None,
) -> None:
    """Write the manifest's data map as a Fides (fideslang) dataset file.

    Tables become collections, columns become fields with their data categories, and
    identities, keys and references go in fides_meta. What Fides has no place for
    (erasure, legal holds, retention dates, the URL's variable) is kept in the dataset's
    meta.personvern, so that `personvern import fides` gives the same data map back.
    """
    from personvern.fides.writer import export_fides as write
    from personvern.manifest.loader import load_manifest
    from personvern.settings import get_settings

    settings = get_settings(manifest=manifest)
    loaded = load_manifest(settings.manifest, max_bytes=settings.max_manifest_bytes)
    exported = write(loaded.manifest, datasets)
    for note in exported.notes:
        typer.echo(f"note: {note}", err=True)
    if out is None:
        typer.echo(exported.text, nl=False)
    else:
        _write(out, exported.text)
        typer.echo(f"wrote {out}: {exported.datasets} dataset(s)", err=True)
