"""Options shared by commands (--manifest, --db, --json, --now), defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ManifestOption = Annotated[
    Path | None,
    typer.Option(
        "--manifest", "-m",
        help="Manifest file [env: PERSONVERN_MANIFEST; default personvern.yaml]",
        show_default=False,
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL [env: PERSONVERN_DATABASE_URL; default sqlite:///personvern.db]",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Act as if it were this time (ISO 8601 with offset).",
                 show_default=False),
]
