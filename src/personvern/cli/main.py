"""The ``personvern`` command. Imports stay lazy so ``--help`` starts fast."""

import re
import sys

import typer

from personvern.cli import (
    audit_cmd,
    breach_cmd,
    check_cmd,
    children_cmd,
    consent_cmd,
    db_cmd,
    demo_cmd,
    discover_cmd,
    fides_cmd,
    init_cmd,
    keys_cmd,
    ledger_cmd,
    mail_cmd,
    org_cmd,
    policy_cmd,
    request_cmd,
    retention_cmd,
    ropa_cmd,
    serve_cmd,
    subject_cmd,
    users_cmd,
    worker_cmd,
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
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(keys_cmd.app, name="keys")
app.command("serve")(serve_cmd.serve)
app.command("worker")(worker_cmd.worker)
app.add_typer(ropa_cmd.app, name="ropa")
app.add_typer(breach_cmd.app, name="breach")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(mail_cmd.app, name="mail")
app.add_typer(request_cmd.app, name="request")
app.add_typer(org_cmd.app, name="org")
app.add_typer(users_cmd.app, name="users")
app.add_typer(retention_cmd.app, name="retention")
app.add_typer(children_cmd.app, name="children")
app.add_typer(fides_cmd.import_app, name="import")
app.add_typer(fides_cmd.export_app, name="export")


@app.command("version")
def version() -> None:
    """Print the installed Personvern version."""
    from importlib.metadata import version as installed

    typer.echo(installed("personvern"))


# A "." that ends a sentence: followed by a space or the end, not closing an abbreviation.
_SENTENCE_END = re.compile(r"(?<!\bArt)(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)\.(?=\s|$)")


def first_sentence(text: str) -> str:
    """The first whole sentence of a help text (outside parentheses), on one line."""
    flat = " ".join(text.split("\n\n", 1)[0].split())
    for end in _SENTENCE_END.finditer(flat):
        head = flat[:end.end()]
        if head.count("(") == head.count(")"):
            return head
    return flat


def whole_sentence_summaries(typer_app: typer.Typer) -> None:
    """Give every command and group its help's first sentence as the summary in listings:
    click's own cuts at about 45 characters or at any word ending in "." ("(GDPR Art.")."""
    for info in typer_app.registered_commands:
        text = info.help or (info.callback.__doc__ if info.callback else None)
        if info.short_help is None and text:
            info.short_help = first_sentence(text)
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        text = sub.info.help
        if isinstance(text, str) and text:
            sub.info.short_help = first_sentence(text)
        whole_sentence_summaries(sub)


whole_sentence_summaries(app)


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
