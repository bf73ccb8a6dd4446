"""Running ``personvern breach`` (and ``subject``) in process, as cli/main.py mounts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from personvern.cli import breach_cmd, subject_cmd

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = "2027-03-01T12:00:00+01:00"

app = typer.Typer()
app.add_typer(breach_cmd.app, name="breach")
app.add_typer(subject_cmd.app, name="subject")


def run(opts: list[str], *args: str) -> Any:
    """The command's result, with the ``opts`` fixture's manifest and database."""
    return CliRunner().invoke(app, [*args, *opts])


def ok(opts: list[str], *args: str) -> Any:
    """The command's --json output; fails the test on a non-zero exit."""
    result = run(opts, *args, "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)
