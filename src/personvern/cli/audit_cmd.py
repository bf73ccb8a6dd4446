"""``personvern audit``: verify the audit trail, and sign its head as a checkpoint."""


import typer

from personvern.cli.common import emit, runtime
from personvern.cli.ledger_cmd import (
    AgainstOption,
    OutOption,
    check_out,
    read_checkpoint,
    write_checkpoint,
)
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption

app = typer.Typer(help="Inspect the audit trail.", no_args_is_help=True)


@app.command("verify")
def verify(against: AgainstOption = None, manifest: ManifestOption = None, db: DbOption = None,
           as_json: JsonOption = False) -> None:
    """Check every event's hash and link, and that the trail reaches its signed checkpoint
    (and --against FILE): names the first edited, deleted, moved or cut-off event.

    Exit 0 when the trail is intact, 1 when it is broken, 2 when FILE is unreadable.
    """
    from personvern.audit import check_audit_chain

    given = None if against is None else read_checkpoint(against)
    with runtime(manifest, db, None) as rt, rt.transaction() as s:
        check = check_audit_chain(s, against=given, source=str(against))
    data = {"ok": check.problem is None, "events": check.events,
            "checkpoint": None if check.checkpoint is None else check.checkpoint.as_json(),
            "against": None if given is None else given.as_json(),
            "event": check.event_id, "problem": check.problem}
    line = check.verdict()
    if check.problem is None and given is not None:
        line += f"; reaches {against} ({given})"
    emit(data, as_json, [line])
    if check.problem is not None:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(out: OutOption = None, manifest: ManifestOption = None, db: DbOption = None,
               now: NowOption = None, as_json: JsonOption = False) -> None:
    """Verify the trail, then sign its newest event as a checkpoint to keep or publish.

    The signing is recorded as the trail's next event. A trail found without any stored
    checkpoint (a database from before them, or the checkpoint deleted) is signed as found
    only here, never by the next audited action: read the warning it prints.

    Exit 0 when written, 1 when the trail is broken or empty (nothing is signed then),
    2 when FILE cannot be written.
    """
    from personvern.audit import sign_audit_trail

    check_out(out)
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        signed, adopted = sign_audit_trail(s, rt.clock, "cli")
    write_checkpoint(signed, adopted, out, as_json, "trail")
