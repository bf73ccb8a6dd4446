"""``personvern check``: lint the manifest against GDPR and Norwegian law."""

from __future__ import annotations

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
) -> None:
    """Check a manifest against GDPR and Norwegian law.

    Exit 0 when no finding is an error, 1 when one is, 2 when the manifest
    cannot be read or is invalid. Rules and their legal sources: docs/rules.md.
    """
    from importlib.metadata import version

    from personvern.check.engine import has_errors, run_checks
    from personvern.check.output import as_json, as_sarif, as_text
    from personvern.manifest.loader import load_manifest
    from personvern.settings import get_settings

    settings = get_settings(manifest=manifest)
    loaded = load_manifest(settings.manifest, max_bytes=settings.max_manifest_bytes)
    findings = run_checks(loaded)
    if format is Format.json:
        typer.echo(as_json(findings))
    elif format is Format.sarif:
        typer.echo(as_sarif(findings, loaded.file, version("personvern")))
    else:
        typer.echo(as_text(findings, loaded.file))
    if has_errors(findings):
        raise typer.Exit(1)
