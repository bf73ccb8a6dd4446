"""``personvern mail``: send the queued e-mail over SMTP, and list the outbox."""

from typing import Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption

app = typer.Typer(help="Send queued e-mail and look at the outbox.", no_args_is_help=True)


@app.command("send")
def send(
    smtp_host: Annotated[str, typer.Option(
        "--smtp-host", envvar="PERSONVERN_SMTP_HOST", help="SMTP server host.")] = "127.0.0.1",
    smtp_port: Annotated[int, typer.Option(
        "--smtp-port", envvar="PERSONVERN_SMTP_PORT", help="SMTP server port.", min=1,
        max=65535)] = 25,
    sender: Annotated[str | None, typer.Option(
        "--from", envvar="PERSONVERN_MAIL_FROM",
        help="Sender address [default: the controller's e-mail in the manifest].",
        show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", help="Send at most this many.", min=1)] = 100,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Send queued messages, oldest first; each is sent at most once.

    Exit 1 when any message could not be sent (it is retried later, or marked failed).
    """
    from personvern.errors import InvalidInput
    from personvern.mail.smtp import send_pending, waiting
    from personvern.wording import count

    with runtime(manifest, db, now) as rt:
        address = sender or rt.loaded.manifest.controller.email
        if not address:
            raise InvalidInput("no sender address: give --from, or an e-mail for the controller "
                               "in the manifest")
        with rt.sessions() as session:
            report = send_pending(session, rt.clock, smtp_host, smtp_port, address, limit=limit)
        with rt.sessions() as session:
            left = waiting(session)
    lines = [f"sent {report.sent}, failed {report.failed}, to retry {report.retry}"]
    lines += [f"  message {i}: {error}" for i, error in report.errors]
    # What is left is said, so "sent 0" never reads as an empty outbox.
    if left["queued"]:
        lines.append(f"{count(left['queued'], 'message')} still queued: "
                     + "run personvern mail send again")
    if left["sending"]:
        lines.append(f"{count(left['sending'], 'message')} left in sending (by a sender that "
                     "stopped, or one at work now): never sent again by itself; "
                     + "see personvern mail list --status sending")
    emit({**report.as_dict(), "still_queued": left["queued"], "left_sending": left["sending"]},
         as_json, lines)
    if report.errors:
        raise typer.Exit(1)


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(
        "--status", help="queued, sending, sent, failed or cancelled.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many.", min=1)] = 50,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List outbox messages, newest first."""
    from personvern.mail.smtp import list_messages

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        rows = list_messages(s, status, limit)
        data = [{
            "id": m.id, "kind": m.kind, "status": m.status, "attempts": m.attempts,
            "to": m.to_address, "title": m.title, "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "last_error": m.last_error,
        } for m in rows]
    lines = [
        f"{d['id']:>6}  {d['status']:<8} {d['attempts']}x  {d['to']}  {d['title']}"
        + (f"  ({d['last_error']})" if d["last_error"] else "")
        for d in data
    ] or ["the outbox is empty" if status is None else f"no {status} messages"]
    emit(data, as_json, lines)
