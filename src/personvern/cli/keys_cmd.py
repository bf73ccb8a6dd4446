"""``personvern keys``: the API keys apps authenticate with (create, list, revoke) and the
master key that encrypts personal data (init-master, rotate)."""

from pathlib import Path
from typing import Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

app = typer.Typer(
    help="API keys for apps (create, list, revoke) and the master key that encrypts personal "
         "data (init-master, rotate). Different things: an API key lets an app call the "
         "engine; the master key unlocks every subject's data key and never leaves your "
         "machine.",
    no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who uses the key, e.g. the app's name.")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="What the key may do; repeat for more (`personvern keys scopes` "
                        "lists them; admin is everything).")] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Create an API key for an app, allowed only its --scope(s); printed once, only its hash
    is stored."""
    from personvern.apikeys import create_key, parse_scopes, scopes_of

    parse_scopes(scope or [])  # a misspelt scope is told before anything is opened
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        token, row = create_key(s, rt.clock, name, scope or [])
        held = scopes_of(row)
        data = {"key": token, "prefix": row.prefix, "name": row.name,
                "scopes": held, "created_at": row.created_at.isoformat()}
    emit(data, as_json, [token, f"# {row.prefix} for {row.name!r} with scopes {' '.join(held)}: "
                                "store it now, it is not shown again (send it as "
                                "`Authorization: Bearer <key>`)"])


@app.command("scopes")
def scopes(as_json: JsonOption = False) -> None:
    """List the scopes a key may hold and what each allows."""
    from personvern.apikeys import SCOPES

    width = max(map(len, SCOPES))
    emit(SCOPES, as_json, [f"{name:<{width}}  {what}" for name, what in SCOPES.items()])


@app.command("list")
def list_(
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List API keys by prefix, name and scopes (the keys themselves are never stored).

    Keys made before scopes existed hold ``admin`` (everything); replace them with keys
    holding only what each app needs.
    """
    from personvern.apikeys import ADMIN, list_keys, scopes_of

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        keys = list_keys(s)
        data = [{"prefix": k.prefix, "name": k.name, "scopes": scopes_of(k),
                 "created_at": k.created_at.isoformat(),
                 "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
                for k in keys]
        lines = [f"{k.prefix}  {k.name}  scopes {' '.join(scopes_of(k))}  created "
                 f"{k.created_at.isoformat()}"
                 + (f"  REVOKED {k.revoked_at.isoformat()}" if k.revoked_at else "")
                 for k in keys]
        if any(ADMIN in scopes_of(k) and k.revoked_at is None for k in keys):
            lines.append("# admin may do everything; keys made before scopes existed were "
                         "given admin: replace them with keys holding only what each app "
                         "needs")
    emit(data, as_json, lines or ["no API keys (create one with "
                                  "`personvern keys create NAME --scope SCOPE`)"])


@app.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix as listed (pv_...).")],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Revoke an API key: it stops working at once. A key revoked before is left as it was
    (exit 0), and the output says when it was revoked."""
    from personvern.apikeys import revoke_key

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        row, revoked = revoke_key(s, rt.clock, prefix)
        assert row.revoked_at is not None
        already = not revoked
        data = {"prefix": row.prefix, "name": row.name, "revoked_at": row.revoked_at.isoformat(),
                "already_revoked": already}
    emit(data, as_json, [f"{row.prefix} ({row.name}) was already revoked on "
                         f"{row.revoked_at.isoformat()}; nothing changed" if already
                         else f"revoked {row.prefix} ({row.name})"])


@app.command("init-master")
def init_master(
    out: Annotated[Path, typer.Option("--out", help="Where to write the new key file "
                                      "(mode 0600; never overwritten).")],
    as_json: JsonOption = False,
) -> None:
    """Create a new master key file (not an API key): 32 random bytes, base64.

    The master key wraps every subject's data key. Keep it out of the database's backups;
    losing it loses all encrypted personal data. Point PERSONVERN_MASTER_KEY_FILE at it.
    """
    from personvern.crypto.master import ENV_FILE, write_key_file

    key = write_key_file(out)
    path = out.resolve()
    data = {"file": str(path), "key_id": key.key_id, "export": f"{ENV_FILE}={path}"}
    emit(data, as_json, [f"wrote master key {key.key_id} to {path} (mode 0600)",
                         f"export {ENV_FILE}={path}"])


@app.command("rotate")
def rotate(
    new_key_file: Annotated[Path, typer.Option(
        "--new-key-file", help="The new master key (from "
        "`personvern keys init-master --out FILE`).")],
    batch: Annotated[int, typer.Option(help="Subject keys rewrapped per transaction.")] = 500,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Rewrap every subject key under a new master key (the data is not re-encrypted).

    Runs in batches and is audited with the old and new key ids; if interrupted, run it
    again with the same keys and it resumes. Afterwards set PERSONVERN_MASTER_KEY_FILE to
    the new file; keep the old key only as long as backups made before need it.
    """
    import sys

    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from personvern.clock import parse_now
    from personvern.crypto.master import ENV_FILE, read_key_file
    from personvern.errors import InvalidInput
    from personvern.keys.rotate import rotate as run_rotation
    from personvern.runtime import open_runtime
    from personvern.settings import get_settings

    try:
        clock = parse_now(now)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    new = read_key_file(new_key_file)
    rt = open_runtime(get_settings(manifest=manifest, database_url=db), clock,
                      previous_keys=[new])
    try:
        # On stderr, and only to a terminal: the output itself stays what a script reads.
        with Progress(TextColumn("rewrapping subject keys: {task.completed:,}"),
                      console=Console(stderr=True), disable=as_json or not sys.stderr.isatty(),
                      transient=True) as bar:
            task = bar.add_task("rotate", total=None)
            done = run_rotation(rt.sessions, clock, rt.keyring, new, batch=batch,
                                progress=lambda n: bar.advance(task, n))
    finally:
        rt.close()
    emit(done.as_dict(), as_json, [
        f"rewrapped {count(done.rewrapped, 'key')} from master key {done.old_key_id} to "
        f"{done.new_key_id}" + (" (resumed)" if done.resumed else ""),
        "use the new key from now on:",
        f"  export {ENV_FILE}={new_key_file.resolve()}",
    ])
