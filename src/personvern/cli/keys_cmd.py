"""``personvern keys``: create, list and revoke the API keys apps authenticate with."""

from __future__ import annotations

from typing import Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who uses the key, e.g. the app's name.")],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    from personvern.apikeys import create_key

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        token, row = create_key(s, rt.clock, name)
        data = {"key": token, "prefix": row.prefix, "name": row.name,
                "created_at": row.created_at.isoformat()}
    emit(data, as_json, [token, f"# {row.prefix} for {row.name!r}: store it now, it is not "
                                "shown again (send it as `Authorization: Bearer <key>`)"])


@app.command("list")
def list_(
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List keys by prefix and name (the keys themselves are never stored)."""
    from personvern.apikeys import list_keys

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        data = [{"prefix": k.prefix, "name": k.name, "created_at": k.created_at.isoformat(),
                 "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
                for k in list_keys(s)]
    lines = [f"{k['prefix']}  {k['name']}  created {k['created_at']}"
             + (f"  REVOKED {k['revoked_at']}" if k["revoked_at"] else "") for k in data]
    emit(data, as_json, lines or ["no API keys (create one with `personvern keys create NAME`)"])


@app.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix as listed (pv_...).")],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Revoke a key: it stops working at once."""
    from personvern.apikeys import revoke_key

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        row = revoke_key(s, rt.clock, prefix)
        assert row.revoked_at is not None
        data = {"prefix": row.prefix, "name": row.name, "revoked_at": row.revoked_at.isoformat()}
    emit(data, as_json, [f"revoked {row.prefix} ({row.name})"])
