"""``personvern request``: open, list, show, verify, run, extend, refuse data-subject requests,
and the tasks outside the engine's reach (``task-done``, ``run-due``)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from personvern.cli.common import emit, runtime, vacuum_lines
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from personvern.requests.engine import Context, Requests
    from personvern.requests.tables import Request

app = typer.Typer(help="Data-subject requests: access, erasure, rectification and more.",
                  no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help=(
    "Request id (or a unique prefix of 6+ characters), or the person (ext:ID, e-mail, "
    "+phone): their one open request, else their latest."))]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (told to the person).")]


@contextmanager
def _engine(manifest: Path | None, db: str | None, now: str | None
            ) -> "Iterator[tuple[Session, Context]]":
    """One transaction on the engine's database, with the requests' context."""
    from personvern.requests.engine import Context

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        yield s, Context(rt.consent, rt.clock)


def _resolve(ref: str, manifest: Path | None, db: str | None, now: str | None) -> str:
    """The request id ``ref`` stands for: itself, or the request of the person it names."""
    from personvern.requests.engine import names_a_person, request_of

    if not names_a_person(ref):
        return ref
    with _engine(manifest, db, now) as (s, _):
        return request_of(s, ref).id


@contextmanager
def _service(manifest: Path | None, db: str | None, now: str | None) -> "Iterator[Requests]":
    """The request service (each step its own transaction); its datasets closed after."""
    from personvern.requests.engine import Requests

    with runtime(manifest, db, now) as rt:
        service = Requests.of(rt)
        try:
            yield service
        finally:
            service.close()


def _row(r: "Request") -> dict[str, Any]:
    return {"id": r.id, "type": r.type, "state": r.state, "subject_id": r.subject_id,
            "received_at": r.received_at.isoformat(), "due_on": r.due_on.isoformat(),
            "legal_due_on": r.legal_due_on.isoformat(),
            "extended_to": r.extended_to.isoformat() if r.extended_to else None}


def _changes(values: list[str] | None) -> dict[str, str]:
    from personvern.errors import InvalidInput

    out: dict[str, str] = {}
    for item in values or []:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise InvalidInput(f"--set {item!r}: write table.column=new value")
        out[column.strip()] = value
    return out


@app.command("open")
def open_(
    type: Annotated[str, typer.Argument(help="access, portability, rectification, erasure, "
                                             "restriction, objection or withdrawal.")],
    subject: Annotated[str | None, typer.Option(
        "--subject", help="Subject id, e-mail, +phone or ext:ID.")] = None,
    email: Annotated[str | None, typer.Option(
        "--email", help="The e-mail address the person wrote from (must be theirs).")] = None,
    verified_by: Annotated[str | None, typer.Option(
        "--verified-by", help="How you checked the person's identity (opens it as the privacy "
                              "owner, verified); without it a code is e-mailed.")] = None,
    guardian: Annotated[str | None, typer.Option(
        "--guardian", help="Opened by this guardian for their child.")] = None,
    admin: Annotated[str | None, typer.Option(
        "--admin", help="Opened by this organisation admin for a member.")] = None,
    purpose: Annotated[str | None, typer.Option(
        "--purpose", help="Objection or withdrawal: the purpose (default: all that apply).")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Rectification: table.column=new value (repeatable).")] = None,
    channel: Annotated[str, typer.Option(help="How it came in: email, portal, api, post, "
                                              "phone.")] = "email",
    note: Annotated[str | None, typer.Option(help="What the person wrote, in short.")] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Open a request; its deadline starts today."""
    from personvern.errors import InvalidInput
    from personvern.requests.engine import Requester, open_request
    from personvern.requests.verification import LIFETIME

    if guardian and admin:
        raise InvalidInput("open as a guardian or as an admin, not both")
    kind = "guardian" if guardian else "admin" if admin else "owner" if verified_by else "self"
    by = Requester(kind, guardian or admin, verified_by)
    details: dict[str, Any] = {}
    if set_:
        details["changes"] = _changes(set_)
    if purpose:
        details["purpose"] = purpose
    if note:
        details["note"] = note
    with _engine(manifest, db, now) as (s, ctx):
        opened = open_request(s, ctx, type, subject=subject, email=email, by=by,
                              channel=channel, details=details)
        r = opened.request
        data = {**_row(r), "code_sent_to": opened.code_sent_to}
    lines = [f"opened {r.type} request {r.id}: {r.state}, due {r.due_on}"]
    if opened.code_sent_to:
        # Queued in the outbox, not sent: saying "e-mailed" hid a code that may expire unsent.
        lines.append(f"a verification code to {opened.code_sent_to} is queued (valid "
                     f"{int(LIFETIME.total_seconds()) // 60} minutes); it leaves with "
                     + "personvern mail send (or a running worker); "
                     f"then: personvern request verify {r.id} CODE")
    emit(data, as_json, lines)


@app.command("list")
def list_(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open requests past due.")]
    = False,
    due_soon: Annotated[int | None, typer.Option(
        "--due-soon", help="Only open requests due within this many days.")] = None,
    state: Annotated[str | None, typer.Option(
        help="Only requests in this state: received, verifying, verified, in_progress, "
             "waiting, completed or refused.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="List at most this many.")]
    = 1000,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Requests by due date."""
    from personvern.errors import InvalidInput
    from personvern.requests.engine import CLOSED, OPEN_STATES, list_requests

    states = (*OPEN_STATES, *sorted(CLOSED))
    if state is not None and state not in states:
        # A misspelt state matches nothing: "no requests" would read as none in that state.
        raise InvalidInput(f"unknown state {state!r}; use one of {', '.join(states)}")
    with _engine(manifest, db, now) as (s, ctx):
        # One more than shown, to know whether the list is whole.
        found = list_requests(s, ctx, overdue=overdue, due_within=due_soon, state=state,
                              limit=limit + 1)
        rows = [_row(r) for r in found[:limit]]
    lines = [f"{r['id']}  {r['type']:<13} {r['state']:<11} due {r['due_on']}" for r in rows]
    emit(rows, as_json, lines or ["no requests"])
    if len(found) > limit:  # on stderr: --json stays a list a script reads
        typer.echo(f"personvern: more requests match than the {limit:,} listed (by due "
                   "date); give a larger --limit or a filter to see the rest", err=True)


@app.command("show")
def show(
    request: IdArg,
    finance: Annotated[str | None, typer.Option(
        "--finance", metavar="WHO",
        help="Show which rows were kept only for bookkeeping (finance's view); WHO is "
             "recorded in the audit log. Without it, only how many and until when.")]
    = None,
    manifest: ManifestOption = None, db: DbOption = None,
    as_json: JsonOption = False, now: NowOption = None,
) -> None:
    """A request with its deadlines, history, outcome and notices."""
    request = _resolve(request, manifest, db, now)
    from personvern.errors import InvalidInput
    from personvern.requests.engine import get_request, view

    if finance is not None and not 0 < len(finance.strip()) <= 100:
        raise InvalidInput("--finance names who looks (1 to 100 characters)")
    who = None if finance is None else f"cli:{finance.strip()}"
    with _engine(manifest, db, now) as (s, ctx):
        data = view(s, ctx, get_request(s, request), finance=who)
    lines = [f"request {data['id']}: {data['type']}, {data['state']}",
             f"  received {data['received_at']}, due {data['due_on']}"
             + (" (OVERDUE)" if data["overdue"] else f" ({count(data['days_left'], 'day')} left)"),
             f"  opened by {data['opened_by']}"
             + (f", verified by: {data['verified_by']}" if data["verified_by"] else "")]
    lines += [f"  {e['at']} {e['from'] or '-'} -> {e['to']} ({e['actor']}): {e['note']}"
              for e in data["events"]]
    for k in (data["outcome"] or {}).get("kept", []):
        lines.append(f"  kept {count(k['rows'], 'row')} of {k['table']} until {k['until']}: "
                     f"{k['why']}")
    lines += [f"  told {n['recipient']} by {n['channel']}: {n['status']}"
              for n in data["notices"]]
    lines += [f"  task {t['dataset']} ({t['kind']}, {t['action']}): {t['state']}"
              + (f", asked {t['asked']}" if t["asked"] else "")
              + (f", {count(t['attempts'], 'attempt')}, last error: {t['last_error']}, next "
                 f"{t['next_attempt_at']}" if t["state"] != "done" and t["last_error"] else "")
              + (f", note: {t['note']}" if t["note"] else "")
              for t in data["tasks"]]
    lines += [f"  job {j['id']} ({j['task']}): {j['status']}, "
              f"{count(j['attempts'], 'attempt')} ended"
              + (f", last failed {j['failed_at']}" if j["failed_at"] else "")
              for j in data["jobs"]]
    lines += [f"  after the answer: {f['kind']} {f['state']}"
              + (f" ({count(f['attempts'], 'attempt')}): {f['error']}" if f["error"] else "")
              + (f": {_follow_up_result(f)}" if f["state"] == "done" else "")
              for f in data["follow_ups"]]
    emit(data, as_json, lines)


def _follow_up_result(f: dict[str, Any]) -> str:
    """A done follow-up in a few words: what the proof found, whom the notices tell."""
    from personvern.requests.proof import describe

    result = f["result"] or {}
    if f["kind"] == "notices":
        return count(len(result.get("notices", [])), "recipient") + " to tell"
    return describe(result)


@app.command("verify")
def verify(
    request: IdArg, code: Annotated[str, typer.Argument(help="The code from the e-mail.")],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Verify the person's identity with the code they were e-mailed."""
    request = _resolve(request, manifest, db, now)
    with _service(manifest, db, now) as service:
        r = service.verify(request, code)
    emit(_row(r), as_json, [f"request {r.id} verified"])


@app.command("run")
def run(
    request: IdArg,
    reason: Annotated[str, typer.Option(
        "--reason", help="Why the request runs now; required, kept in the audit log.")],
    out: Annotated[Path, typer.Option("--out", help="Where access and portability files go.")]
    = Path(),
    prove: Annotated[bool, typer.Option(help="Search every dataset after an erasure.")] = True,
    vacuum: Annotated[bool, typer.Option(
        "--vacuum", help="After an erasure, rewrite the PostgreSQL tables it touched (VACUUM "
                         "FULL: no byte of it left; locks those tables meanwhile).")] = False,
    lang: Annotated[str | None, typer.Option(help="Language of the access summary: nb or en.")]
    = None,
    later: Annotated[bool, typer.Option(
        "--later", help="Queue the run for `personvern worker` (PostgreSQL) and return at "
                        "once; `request show` tells how the job went.")] = False,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Carry the request out; a dataset that is down leaves it waiting (exit 1)."""
    request = _resolve(request, manifest, db, now)
    if later:
        with _service(manifest, db, now) as service:
            job = service.run_later(request, reason=reason)
        emit({"id": request, "job": job}, as_json, [f"request {request}: queued as job {job}"])
        return
    with _service(manifest, db, now) as service:
        result = service.run(request, reason=reason, out_dir=out, prove=prove, lang=lang,
                             vacuum=vacuum)
    from personvern.requests import fulfil
    from personvern.requests.bookkeeping import bookkeeping_rules, hide_bookkeeping

    rules = bookkeeping_rules(service.ctx.manifest)
    data = {"id": result.request_id, "state": result.state,
            "outcome": hide_bookkeeping(result.outcome, rules), "error": result.error}
    lines = [f"request {result.request_id}: {result.state}"]
    outcome = result.outcome
    if "package" in outcome:
        lines.append(f"  access package: {outcome['package']['path']}")
    if "export" in outcome:
        lines.append(f"  portability export: {outcome['export']['path']}")
    for k in outcome.get("kept", []):
        lines.append(f"  kept {count(k['rows'], 'row')} of {k['table']} until {k['until']}: "
                     f"{k['why']}")
    proof = outcome.get("proof")
    left = outcome.get("left_until_vacuum") or {}
    if proof and proof.get("state") not in (None, "done"):  # not run, or it failed
        lines.append(" " + fulfil.proof_note(proof))
    elif proof:
        clean = "  proof: nothing left" + (" in the tables (their files: below)" if left else "")
        places = len(proof["unexpected"]) + len(proof.get("engine", []))
        lines.append(clean if proof["clean"] else
                     f"  proof: {count(places, 'place')} still "
                     f"{'holds' if places == 1 else 'hold'} the person's data")
        from personvern.requests.proof import held_note

        if held := held_note(proof.get("held") or ()):
            lines.append(f"  {held}")
    lines += vacuum_lines(left)
    emit(data, as_json, lines)
    if result.state != "completed":
        typer.echo(f"error: {result.error}; the request is waiting, run it again", err=True)
        raise typer.Exit(1)


@app.command("extend")
def extend(
    request: IdArg, reason: ReasonOpt, manifest: ManifestOption = None, db: DbOption = None,
    as_json: JsonOption = False, now: NowOption = None,
) -> None:
    """Extend by two months (GDPR Art. 12(3)); the person is told with the reason."""
    request = _resolve(request, manifest, db, now)
    from personvern.requests.engine import extend as extend_request

    with _engine(manifest, db, now) as (s, ctx):
        r = extend_request(s, ctx, request, reason)
        data = _row(r)
    emit(data, as_json, [f"request {r.id} extended to {r.extended_to}"])


@app.command("refuse")
def refuse(
    request: IdArg, reason: ReasonOpt, manifest: ManifestOption = None, db: DbOption = None,
    as_json: JsonOption = False, now: NowOption = None,
) -> None:
    """Refuse with reasons; the person is told of their right to complain."""
    request = _resolve(request, manifest, db, now)
    from personvern.requests.engine import refuse as refuse_request

    with _engine(manifest, db, now) as (s, ctx):
        r = refuse_request(s, ctx, request, reason)
        data = _row(r)
    emit(data, as_json, [f"request {r.id} refused"])


@app.command("lift")
def lift(
    request: IdArg, reason: ReasonOpt, manifest: ManifestOption = None, db: DbOption = None,
    as_json: JsonOption = False, now: NowOption = None,
) -> None:
    """Lift a restriction (the person is told first, GDPR Art. 18(3))."""
    request = _resolve(request, manifest, db, now)
    from personvern.requests.engine import lift_restriction

    with _engine(manifest, db, now) as (s, ctx):
        r = lift_restriction(s, ctx, request, reason)
        data = _row(r)
    emit(data, as_json, [f"restriction of request {r.id} lifted"])


@app.command("notices")
def notices_(
    request: IdArg,
    deliver: Annotated[bool, typer.Option("--deliver", help="Send the due webhook notices.")]
    = False,
    ack: Annotated[int | None, typer.Option("--ack", help="Record notice N as acknowledged.")]
    = None,
    sent: Annotated[int | None, typer.Option("--sent", help="Record notice N as sent.")] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Who was told of the change (GDPR Art. 19), and recording their answers."""
    request = _resolve(request, manifest, db, now)
    from personvern.requests import notices
    from personvern.requests.engine import get_request

    with _engine(manifest, db, now) as (s, ctx):
        r = get_request(s, request)
        if deliver:
            notices.deliver_due(s, ctx.clock, ctx.manifest)
        for notice_id, status in ((sent, "sent"), (ack, "acknowledged")):
            if notice_id is not None:
                notices.record(s, ctx.clock, notice_id, status)
        rows = notices.told(s, r.id, ctx.manifest)
    lines = [f"{n['id']:>4} {n['name'] or n['recipient']} ({n['action']}, {n['channel']}): "
             f"{n['status']}" + (f", last error: {n['last_error']}" if n["last_error"] else "")
             for n in rows]
    emit(rows, as_json, lines or ["no recipients to tell"])


@app.command("deliver-notices")
def deliver_notices(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many webhook "
                                                              "notices.")] = 100,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Send every due Art. 19 webhook notice, of any request, and follow the e-mailed ones
    through the outbox: what `personvern worker` does each minute. Run it from cron when
    jobs run in-process (SQLite)."""
    from personvern.requests import notices

    with _engine(manifest, db, now) as (s, ctx):
        counts = notices.deliver_due(s, ctx.clock, ctx.manifest, limit=limit)
    said = [f"{n} {what}" for what, n in counts.items() if n]
    emit(counts, as_json, ["notices: " + ", ".join(said)] if said
         else ["no notice was due: none sent"])


@app.command("task-done")
def task_done(
    request: IdArg,
    dataset: Annotated[str, typer.Argument(help="The manual dataset whose processor answered.")],
    note: Annotated[str, typer.Option("--note", help="What the processor answered (kept in "
                                                     "the history).")],
    out: Annotated[Path, typer.Option("--out", help="Where access files go if the request "
                                                    "completes now.")] = Path(),
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Record that a processor asked by e-mail did its part; the last task completes the
    request."""
    request = _resolve(request, manifest, db, now)
    with _service(manifest, db, now) as service:
        result = service.task_done(request, dataset, note, out_dir=out)
    state = result.state if result else "waiting for other tasks"
    package = (result.outcome.get("package") or {}).get("path") if result else None
    data = {"request": request, "dataset": dataset, "state": state,
            "error": result.error if result else None, "package": package}
    lines = [f"task {dataset} of request {request} done; the request is {state}"]
    if package is not None:  # written before the answer: amended to give it (Art. 15(3))
        lines.append(f"the access package {package} gives each processor's answer, and the "
                     "letter says their data was handled by hand")
    emit(data, as_json, lines)


@app.command("run-due")
def run_due(
    out: Annotated[Path, typer.Option("--out", help="Where access and portability files go.")]
    = Path(),
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many requests.")]
    = 100,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Run again the waiting requests whose http datasets are due for another attempt
    (the back-off grows 1, 2, 4 ... minutes to 12 hours). Run it from cron."""
    from personvern.requests.tasks import open_manual

    with _service(manifest, db, now) as service:
        results = service.run_due(out_dir=out, limit=limit)
        with service.transaction() as s:
            manual = open_manual(s)
    rows = [{"id": r.request_id, "state": r.state, "error": r.error} for r in results]
    lines = [f"{r['id']}: {r['state']}" + (f" ({r['error']})" if r["error"] else "")
             for r in rows] or ["nothing due: no app (http dataset) is due for another call"]
    if manual:  # "nothing due" alone would pass for nothing waiting at all
        lines.append(f"{count(manual, 'manual task')} awaiting a processor's answer (this "
                     "command cannot bring it): record each with "
                     "`personvern request task-done ID DATASET --note TEXT`")
    emit(rows, as_json, lines)


@app.command("erase-batch")
def erase_batch(
    refs: Annotated[list[str], typer.Argument(
        help="People to erase (ext:ID, e-mail, +phone: an erasure is opened for each, "
             "verified by you) or ids of verified erasure requests.")],
    reason: Annotated[str, typer.Option(
        "--reason", help="Why they run now; required, kept in the audit log of each.")],
    verified_by: Annotated[str | None, typer.Option(
        "--verified-by", help="How you checked the people's identity (needed to open "
                              "requests for people).")] = None,
    prove: Annotated[bool, typer.Option(help="Search every dataset after each erasure "
                                             "(after the answers).")] = True,
    vacuum: Annotated[bool, typer.Option(
        "--vacuum", help="Rewrite the PostgreSQL tables the batch touched (VACUUM FULL).")]
    = False,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Erase many people together (GDPR Art. 17): one statement per table, each person
    still with their own request, answer and proof; unknown ones are reported (exit 1)."""
    from personvern.errors import InvalidInput
    from personvern.requests.batch import erase_batch as run_batch
    from personvern.requests.batch import open_erasures
    from personvern.requests.engine import names_a_person

    people = [r for r in refs if names_a_person(r)]
    if people and not (verified_by or "").strip():
        raise InvalidInput("opening erasures for people needs --verified-by (how you "
                           "checked who they are)")
    with _service(manifest, db, now) as service:
        opened, refused = open_erasures(service, people, verified_by=verified_by or "")
        ids = [r for r in refs if not names_a_person(r)] + opened
        result = run_batch(service, ids, reason=reason, prove=prove, vacuum=vacuum)
    result.refused[:0] = refused
    data = result.as_dict()
    lines = [f"erased {count(len(result.completed), 'person', 'people')} in a batch"]
    lines += [f"  waiting: request {w['id']}: {w['error']}" for w in data["waiting"]]
    lines += [f"  not run: {r['ref']}: {r['error']}" for r in data["refused"]]
    emit(data, as_json, lines)
    if result.waiting or result.refused:
        raise typer.Exit(1)
