"""``personvern ropa``: the record of processing activities (GDPR Art. 30) from the manifest."""

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from personvern.cli.options import ManifestOption

app = typer.Typer(help="The record of processing activities (GDPR Art. 30).",
                  no_args_is_help=True)


class RopaFormat(StrEnum):
    """Export formats of the record."""

    csv = "csv"
    html = "html"
    jsonld = "jsonld"


class Language(StrEnum):
    """Languages of the record."""

    nb = "nb"
    en = "en"


def _today(m: object) -> date:
    """Today where the controller is (the record is dated in its own time zone)."""
    from zoneinfo import ZoneInfo

    from personvern.clock import system_clock
    from personvern.law import get_jurisdiction
    from personvern.manifest.model import Manifest

    assert isinstance(m, Manifest)
    zone = ZoneInfo(get_jurisdiction(m.jurisdiction.country).timezone)
    return system_clock().astimezone(zone).date()


@app.command("export")
def export(
    format: Annotated[RopaFormat, typer.Option("--format", "-f", help="Output format.")] = (
        RopaFormat.csv),
    lang: Annotated[Language, typer.Option("--lang", help="Language of the texts.")] = (
        Language.nb),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.",
                                             show_default=False)] = None,
    processor: Annotated[bool, typer.Option(
        "--processor", help="The processor's record (Art. 30(2)) instead of the controller's.",
    )] = False,
    manifest: ManifestOption = None,
) -> None:
    """Export the record of processing from the manifest (no database needed).

    The controller's record (Art. 30(1)) has one entry per purpose; --processor gives
    the record a processor keeps for the customers it processes for (Art. 30(2)).
    Gaps the manifest leaves are printed as warnings on stderr.
    """
    import json

    from personvern.errors import NotFound
    from personvern.manifest.loader import load_manifest
    from personvern.ropa import export as ex
    from personvern.ropa.record import build_processor_record, build_record
    from personvern.settings import get_settings
    from personvern.storage.manifests import manifest_sha256

    settings = get_settings(manifest=manifest)
    loaded = load_manifest(settings.manifest, max_bytes=settings.max_manifest_bytes)
    m = loaded.manifest
    if processor:
        proc = build_processor_record(m, lang.value)
        if proc is None:
            raise NotFound(
                f"{m.service.name} processes no data on behalf of customers (GDPR Art. 30(2)); "
                "only a service whose customers are controllers keeps a processor's record"
            )
        if format is RopaFormat.csv:
            text = ex.processor_to_csv(proc)
        elif format is RopaFormat.html:
            text = ex.processor_to_html(proc)
        else:
            text = json.dumps(ex.processor_to_jsonld(proc), ensure_ascii=False, indent=2) + "\n"
    else:
        record = build_record(m, lang.value, drawn_up=_today(m),
                              version=manifest_sha256(loaded.text))
        for gap in record.gaps:
            typer.echo(f"warning: {gap}", err=True)
        if format is RopaFormat.csv:
            text = ex.to_csv(record)
        elif format is RopaFormat.html:
            text = ex.to_html(record)
        else:
            text = json.dumps(ex.to_jsonld(record), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        # newline="" keeps the CSV's CRLF row ends as written (RFC 4180).
        with out.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        typer.echo(f"wrote {out}", err=True)
