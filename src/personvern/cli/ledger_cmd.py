"""``personvern ledger``: verify the consent ledger, and export its signed checkpoint."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption

if TYPE_CHECKING:
    from personvern.crypto.checkpoints import Checkpoint

app = typer.Typer(help="Inspect the consent ledger.", no_args_is_help=True)

AgainstOption = Annotated[Path | None, typer.Option(
    "--against", help="An exported checkpoint (from `checkpoint --out`) the chain must reach.",
    show_default=False)]
OutOption = Annotated[Path | None, typer.Option(
    "--out", help="Write the checkpoint to this file (default: print it).", show_default=False)]


def read_checkpoint(path: Path) -> "Checkpoint":
    """The exported checkpoint in ``path``; InvalidInput (exit 2) when unreadable."""
    from personvern.crypto.checkpoints import parse_checkpoint
    from personvern.errors import InvalidInput

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"cannot read checkpoint {path}: {err}") from None
    return parse_checkpoint(text, str(path))


@app.command("verify")
def verify(against: AgainstOption = None, manifest: ManifestOption = None, db: DbOption = None,
           as_json: JsonOption = False) -> None:
    """Check every event's hash, link and evidence, and that the chain reaches its signed
    checkpoint (and --against FILE): names the first edited, deleted, moved or cut-off event.

    Exit 0 when the chain is intact, 1 when it is broken, 2 when FILE is unreadable.
    """
    from personvern.consent.ledger import check_ledger, verdict

    given = None if against is None else read_checkpoint(against)
    with runtime(manifest, db, None) as rt, rt.transaction() as s:
        check = check_ledger(s, against=given, source=str(against))
    data: dict[str, object] = {
        "ok": check.broken is None, "events": check.events,
        "checkpoint": None if check.checkpoint is None else check.checkpoint.as_json(),
        "against": None if given is None else given.as_json()}
    if check.broken is None:
        emit(data, as_json, [verdict(check, against=given, source=str(against))])
        return
    broken = check.broken
    data.update(seq=broken.seq, event=broken.event_id, problem=broken.problem)
    emit(data, as_json, [verdict(check)])
    raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(out: OutOption = None, manifest: ManifestOption = None, db: DbOption = None,
               now: NowOption = None, as_json: JsonOption = False) -> None:
    """Verify the ledger, then sign its newest event as a checkpoint to keep or publish.

    Exit 0 when written, 1 when the ledger is broken or empty (nothing is signed then),
    2 when FILE cannot be written.
    """
    from personvern.consent.ledger import sign_ledger

    check_out(out)
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        signed, adopted = sign_ledger(s, rt.clock())
    write_checkpoint(signed, adopted, out, as_json, "ledger")


def check_out(out: Path | None) -> None:
    """Refuse (exit 2) an --out FILE whose directory does not exist, before signing."""
    from personvern.errors import InvalidInput

    if out is not None and not out.parent.is_dir():
        raise InvalidInput(f"cannot write {out}: directory {out.parent} does not exist")


def write_checkpoint(signed: "Checkpoint", adopted: bool, out: Path | None, as_json: bool,
                     noun: str) -> None:
    """Print ``signed`` or write it to ``out``, and warn on stderr when the ``noun`` (ledger,
    trail) was adopted: signed as found, with no checkpoint stored before."""
    from personvern.errors import InvalidInput

    text = json.dumps(signed.as_json(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as err:
            raise InvalidInput(f"cannot write {out}: {err}") from None
        emit(signed.as_json(), as_json, [f"checkpoint written to {out}: {signed}"])
    if adopted:
        typer.echo(f"note: no checkpoint was stored before, so the {noun} was signed as found; "
                   "if checkpoints were in use, that absence is itself a sign of tampering",
                   err=True)

