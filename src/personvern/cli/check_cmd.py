"""``personvern check``: lint the manifest against GDPR and Norwegian law."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    """Output formats of ``check``."""

    text = "text"
    json = "json"
    sarif = "sarif"


def check(
    manifest: Annotated[
        Path | None,
        typer.Argument(help="Manifest file [env: PERSONVERN_MANIFEST; default personvern.yaml]",
                       show_default=False),
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    datasets: Annotated[bool, typer.Option(
        "--datasets", help="Also compare the data map with the live databases (read-only, "
        "sampled): rules PV080-PV085.")] = False,
) -> None:
    """Check a manifest against GDPR and Norwegian law.

    Exit 0 when no finding is an error, 1 when one is, 2 when the manifest
    cannot be read or is invalid. Rules and their legal sources: docs/rules.md.
    With --datasets the map is also compared with the databases it names.
    """
    from personvern.cli.entry import run_check

    # The same code as the fast path of the console script (cli/entry.py).
    code = run_check(manifest, format.value, echo=typer.echo, datasets=datasets)
    if code:
        raise typer.Exit(code)
