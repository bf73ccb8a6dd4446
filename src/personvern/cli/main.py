"""The ``personvern`` command. Imports stay lazy so ``--help`` starts fast."""

from __future__ import annotations

import sys

import typer

from personvern.cli import (
    breach_cmd,
    check_cmd,
    consent_cmd,
    db_cmd,
    demo_cmd,
    discover_cmd,
    init_cmd,
    keys_cmd,
    ledger_cmd,
    mail_cmd,
    policy_cmd,
    request_cmd,
    retention_cmd,
    ropa_cmd,
    serve_cmd,
    subject_cmd,
    users_cmd,
)

app = typer.Typer(
    name="personvern",
    help="Personvern: keep every promise of your privacy policy in running code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("check")(check_cmd.check)
app.command("discover")(discover_cmd.discover)
app.command("init")(init_cmd.init)
app.add_typer(db_cmd.app, name="db")
app.add_typer(subject_cmd.app, name="subject")
app.add_typer(consent_cmd.app, name="consent")
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(keys_cmd.app, name="keys")
app.command("serve")(serve_cmd.serve)
app.add_typer(ropa_cmd.app, name="ropa")
app.add_typer(breach_cmd.app, name="breach")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(mail_cmd.app, name="mail")
app.add_typer(request_cmd.app, name="request")
app.add_typer(users_cmd.app, name="users")
app.add_typer(retention_cmd.app, name="retention")


@app.command("version")
def version() -> None:
    """Print the installed Personvern version."""
    from importlib.metadata import version as installed

    typer.echo(installed("personvern"))


def run() -> None:
    """The full CLI (from ``cli.entry.run``): known errors become a message and an exit code."""
    from personvern.cli.entry import error_lines
    from personvern.errors import PersonvernError

    try:
        # Without standalone mode click returns an Exit's code instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except PersonvernError as exc:
        for line in error_lines(exc):
            typer.echo(line, err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        show = getattr(exc, "show", None)
        if code is not None and show is not None:
            show()
            sys.exit(code)
        raise
