"""``personvern org``: customer organisations, their members and admins, and an
organisation leaving the service (seed 003)."""

from typing import Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

app = typer.Typer(help="Customer organisations: members, admins, and leaving the service.",
                  no_args_is_help=True)
member_app = typer.Typer(help="Add and remove an organisation's members and admins.",
                         no_args_is_help=True)
app.add_typer(member_app, name="member")

OrgArg = Annotated[str, typer.Argument(help="The organisation's id, orgnr or exact name.")]
SubjectArg = Annotated[str, typer.Argument(help="Subject id, e-mail, +phone or ext:ID.")]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The organisation's name.")],
    orgnr: Annotated[str | None, typer.Option(
        "--orgnr", help="Its organisasjonsnummer (nine digits, checked with mod 11).")] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Register a customer organisation; nothing is stored if its orgnr is invalid or taken."""
    from personvern.requests.organisations import create, describe

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        org = create(s, rt.clock, name, orgnr)
        data = describe(org)
    emit(data, as_json, [f"created organisation {data['id']}: {data['name']}"
                         + (f" ({data['orgnr']})" if data["orgnr"] else "")])


@app.command("list")
def list_(
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List the organisations with their count of members and admins."""
    from personvern.requests.organisations import list_organisations

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        rows = list_organisations(s)
    emit(rows, as_json, [
        f"{r['id']} {r['name']}" + (f" ({r['orgnr']})" if r["orgnr"] else "")
        + f": {count(r['members'], 'member')}, {count(r['admins'], 'admin')}"
        + (f", left {r['left_at'].date().isoformat()}" if r["left_at"] else "")
        for r in rows] or ["no organisations"])


@app.command("show")
def show(
    org: OrgArg,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Show an organisation and its members with their roles."""
    from personvern.requests.organisations import show as show_org

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        data = show_org(s, org)
    lines = [f"{data['name']}" + (f" ({data['orgnr']})" if data["orgnr"] else "")
             + f", id {data['id']}",
             f"  left: {data['left_at'].date().isoformat()}" if data["left_at"] else
             "  left: no"]
    lines += [f"  {m['role']}: {m['reference']}" for m in data["members"]]
    emit(data, as_json, lines)


@member_app.command("add")
def member_add(
    org: OrgArg, subject: SubjectArg,
    admin: Annotated[bool, typer.Option(
        "--admin", help="An admin, who may open requests for the members.")] = False,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Make a subject a member (or an admin) of an organisation."""
    from personvern.requests.organisations import add_member

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        m = add_member(s, rt.clock, org, subject, "admin" if admin else "member")
        data = {"organisation_id": m.organisation_id, "subject_id": m.subject_id,
                "role": m.role}
    emit(data, as_json, [f"{subject} is now {'an admin' if admin else 'a member'} of {org}"])


@member_app.command("remove")
def member_remove(
    org: OrgArg, subject: SubjectArg,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """End a subject's membership of an organisation; their data stays."""
    from personvern.requests.organisations import remove_member

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        remove_member(s, org, subject)
    emit({"removed": True}, as_json, [f"{subject} is no longer in {org}"])


@app.command("leave")
def leave(
    org: OrgArg,
    reason: Annotated[str, typer.Option(
        "--reason", help="Why the organisation leaves; required, kept in the audit log.")],
    channel: Annotated[str, typer.Option(help="How the notice came in: email, portal, api, "
                                              "post, phone.")] = "email",
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Erase every member and the organisation's own rows, except what a legal hold keeps
    (exit 1 while anything is waiting)."""
    from personvern.requests.engine import Requests
    from personvern.requests.organisations import leave_lines, organisation_leaves

    with runtime(manifest, db, now) as rt:
        service = Requests.of(rt)
        try:
            report = organisation_leaves(service, org, reason=reason, channel=channel)
        finally:
            service.close()
    emit(report.as_dict(), as_json, leave_lines(report))
    if not report.complete:
        typer.echo("error: the organisation has not left yet; fix what is said above and run "
                   f"`personvern org leave {report.organisation['id']} --reason TEXT` again",
                   err=True)
        raise typer.Exit(1)
