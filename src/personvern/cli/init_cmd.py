"""``personvern init``: start a manifest from a blank template or a seed example."""

from pathlib import Path
from typing import Annotated

import typer


def init(
    path: Annotated[
        Path, typer.Argument(help="Where to write the manifest.")
    ] = Path("personvern.yaml"),
    template: Annotated[
        str,
        typer.Option("--template", "-t",
                     help="blank, or an example: snapmentor, vekstly, lillemini, minmentor, "
                          "teoritentamen."),
    ] = "blank",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a new manifest from a template; refuses to overwrite without --force."""
    from personvern.templates import template_text

    text = template_text(template)
    if path.exists() and not force:
        typer.echo(f"error: {path} exists; use --force to overwrite it", err=True)
        raise typer.Exit(1)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path} from template {template!r}; next: personvern check {path}")
