"""``personvern db``: create and migrate the engine's database."""

import json

import typer

from personvern.cli.options import DbOption, JsonOption

# SQLAlchemy and Alembic are imported inside the commands: `personvern --help` must not
# pay for them.

app = typer.Typer(help="Create and migrate the engine's database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Create the database, or migrate it to the newest schema; safe to run again."""
    from personvern.settings import get_settings
    from personvern.storage.migrate import upgrade as run_upgrade

    result = run_upgrade(get_settings(database_url=db).database_url)
    if as_json:
        typer.echo(json.dumps(result.as_json()))
    elif result.previous == result.current:
        typer.echo(f"{result.database}: already at revision {result.current} (newest)")
    else:
        was = result.previous or "empty"
        typer.echo(f"{result.database}: migrated from {was} to revision {result.current}")


@app.command("current")
def current(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show which schema revision the database is at, and the newest one available."""
    from personvern.settings import get_settings
    from personvern.storage.migrate import status

    result = status(get_settings(database_url=db).database_url)
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return
    if result.current is None:
        typer.echo(f"{result.database}: not created yet (run `personvern db upgrade`); "
                   f"newest revision is {result.head}")
    elif result.up_to_date:
        typer.echo(f"{result.database}: at revision {result.current} (newest)")
    else:
        typer.echo(f"{result.database}: at revision {result.current}; newest is {result.head} "
                   "(run `personvern db upgrade`)")
