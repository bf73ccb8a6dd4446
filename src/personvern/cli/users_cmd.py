"""``personvern users``: add, list and disable the staff who sign in to the dashboard."""

import sys
from typing import Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

app = typer.Typer(help="Add, list and disable dashboard users (staff).", no_args_is_help=True)

RoleOpt = Annotated[str, typer.Option(
    "--role", help="owner, privacy_officer, support or finance (see docs/dashboard.md).",
    show_default=False)]


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The person's e-mail address (their sign-in).")],
    role: RoleOpt,
    name: Annotated[str | None, typer.Option("--name", help="Full name shown on the dashboard.",
                                             show_default=False)] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (scripts).",
    )] = False,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Add a staff user; the password is asked for (at least 12 characters, not common).

    The first owner is created this way: `personvern users add you@example.no --role owner`.
    """
    from personvern.staff.roles import check_role
    from personvern.staff.users import StaffView, add_user, check_password

    check_role(role)
    # Checked before opening the database, so a weak password fails fast and stores nothing.
    password = check_password(_read_password(password_stdin), email, name or "")
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        view = StaffView.of(add_user(s, rt.clock, email, password, role=role, name=name))
    emit(view.__dict__, as_json,
         [f"added {view.email} ({view.name}) as {view.role}; sign in at /dashboard/sign-in"])


@app.command("list")
def list_(
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List staff users with their role and whether they are disabled."""
    from personvern.staff.users import StaffView, list_users

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        views = [StaffView.of(u) for u in list_users(s)]
    lines = [f"{v.email}  {v.role}  {v.name}" + ("  DISABLED" if v.disabled else "")
             for v in views]
    emit([v.__dict__ for v in views], as_json,
         lines or ["no staff users (add the first owner with `personvern users add EMAIL "
                   "--role owner`)"])


@app.command("disable")
def disable(
    email: Annotated[str, typer.Argument(help="The staff user's e-mail address.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).",
                                        show_default=False)],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Disable a staff user: they can no longer sign in and their sessions end at once."""
    from personvern.staff.users import StaffView, disable_user
    from personvern.web.sessions import end_all

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        user = disable_user(s, rt.clock, email, reason=reason)
        ended = end_all(s, rt.clock, "staff", str(user.id))
        view = StaffView.of(user)
    emit({**view.__dict__, "sessions_ended": ended}, as_json,
         [f"disabled {view.email}; {count(ended, 'open session')} ended"])
