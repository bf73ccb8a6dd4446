"""``personvern ledger``: verify the consent ledger's hash chain."""

from __future__ import annotations

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption

app = typer.Typer(help="Inspect the consent ledger.", no_args_is_help=True)


@app.command("verify")
def verify(manifest: ManifestOption = None, db: DbOption = None,
           as_json: JsonOption = False) -> None:
    """Check every event's hash and link; names the first edited, deleted or moved event.

    Exit 0 when the chain is intact, 1 when it is broken.
    """
    from sqlalchemy import func, select

    from personvern.consent.ledger import verify_ledger
    from personvern.consent.tables import LedgerEvent

    with runtime(manifest, db, None) as rt, rt.transaction() as s:
        broken = verify_ledger(s)
        count = s.scalar(select(func.count()).select_from(LedgerEvent)) or 0
    if broken is None:
        emit({"ok": True, "events": count}, as_json, [f"ledger intact: {count} events verified"])
        return
    emit({"ok": False, "events": count, "seq": broken.seq, "event": broken.event_id,
          "problem": broken.problem}, as_json, [f"ledger BROKEN at {broken}"])
    raise typer.Exit(1)
