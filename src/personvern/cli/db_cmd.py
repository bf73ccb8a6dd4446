"""``personvern db``: create and migrate the engine's database."""

from __future__ import annotations

import typer

app = typer.Typer(help="Create and migrate the engine's database.", no_args_is_help=True)
