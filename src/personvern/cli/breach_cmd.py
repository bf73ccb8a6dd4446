"""``personvern breach``: the breach register and its 72-hour clock (GDPR Art. 33-34)."""

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from personvern.breach.tables import Breach

app = typer.Typer(help="Record breaches, count down the 72 hours, notify, report.",
                  no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="Breach id, e.g. B-2027-001.")]
TextOpt = Annotated[str | None, typer.Option("--text", help="What was sent or noted.")]
LateOpt = Annotated[str | None, typer.Option(
    "--late-reason", help="Why the notice comes after 72 hours (GDPR Art. 33(1)).")]
ReasonOpt = Annotated[str | None, typer.Option(
    "--no-notice-reason", help="Why the breach is unlikely to result in a risk (risk none/low).")]
AnywayOpt = Annotated[bool, typer.Option(
    "--notify-anyway", help="Notify the authority although the risk is none or low.")]


class UpdateKind(StrEnum):
    """Kinds of history entries a person can add."""

    authority_notice = "authority_notice"
    phase = "phase"
    note = "note"
    subject_notice = "subject_notice"


class Answer(StrEnum):
    """A yes or no; leaving the option out is "not stated"."""

    yes = "yes"
    no = "no"


class ReportFormat(StrEnum):
    """Formats of the report."""

    md = "md"
    html = "html"
    json = "json"


class Language(StrEnum):
    """Languages of the report."""

    nb = "nb"
    en = "en"


def _when(value: str | None, what: str) -> datetime | None:
    from personvern.errors import InvalidInput

    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not a time such as 2027-03-01T08:30:00+01:00"
                           ) from None
    if at.tzinfo is None:
        raise InvalidInput(f"{what} {value!r} needs a UTC offset, e.g. 2027-03-01T08:30:00+01:00")
    return at


# The widest label ("cross-border: ") sets the column every value starts in.
_LABELS = ("status", "aware", "deadline", "authority", "people", "cross-border", "closed")
_WIDTH = max(len(label) for label in _LABELS) + 2


def _field(label: str, text: str) -> str:
    """One labelled line of ``breach show``, its value in the column all values share."""
    return f"{label + ':':<{_WIDTH}}{text}"


def _lines(view: dict[str, Any], country: str) -> list[str]:
    """The human summary of a breach view."""
    from personvern.breach.register import cross_border_text, local_time

    def t(at: datetime | None) -> str:
        return "-" if at is None else local_time(at, country).strftime("%Y-%m-%d %H:%M %z")

    if view["authority_notified_at"] is not None:
        late = f" (late: {view['late_reason']})" if view["late"] else ""
        authority = f"notified {t(view['authority_notified_at'])}{late}"
    elif view["notify_authority"]:
        authority = "must be notified (GDPR Art. 33)"
    else:
        authority = f"no notice required: {view['no_notice_reason']}"
    mail = view.get("mail") or {}
    if view["subjects_notified_at"] is not None and (mail.get("waiting") or mail.get("failed")):
        # Queued is not told (GDPR Art. 34(1)): the letters must reach the people.
        people = (f"not yet told: e-mail queued {t(view['subjects_notified_at'])}, "
                  f"{mail['sent']} sent, {mail['waiting']} waiting, {mail['failed']} failed")
    elif view["subjects_notified_at"] is not None:
        people = f"told {t(view['subjects_notified_at'])}"
    elif view["subjects_must_be_told"]:
        people = "must be told: high risk (GDPR Art. 34)"
    else:
        people = "not required"
    lines = [
        f"{view['id']}  {view['title']}",
        _field("status", f"{view['status']}   risk: {view['risk']}"),
        _field("aware", t(view["aware_at"])),
        _field("deadline", t(view["deadline"])
               + ("" if view["authority_notified_at"] or not view["notify_authority"]
                  else f"  ({view['time_left']})")),
        _field("authority", authority),
        _field("people", people),
    ]
    if "cross_border" in view:
        lines.append(_field("cross-border", cross_border_text(view)
                            + (" (GDPR Art. 33(3), 56)" if view["cross_border"] is None else "")))
    if view["closed_at"] is not None:
        lines.append(_field("closed", t(view["closed_at"])))
    for u in view.get("updates", []):
        lines.append(f"  {t(u['at'])}  {u['kind']}: {u['text']}")
    return lines


def _iso(value: Any) -> Any:
    """Datetimes as ISO 8601 (``2027-03-04T08:00:00+00:00``) all through a JSON view."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


def _show(session: "Session", breach: "Breach", now: datetime, country: str, as_json: bool) -> None:
    from personvern.breach.register import (
        breach_view,
        mail_delivery,
        recorded_details,
        updates_of,
    )

    view = breach_view(breach, now, updates_of(session, breach.id),
                       recorded_details(session, breach.id))
    view["mail"] = mail_delivery(session, breach.id)
    emit(_iso(view), as_json, _lines(view, country))


@app.command("record")
def record(
    title: Annotated[str, typer.Option("--title", help="A short name for the breach.")],
    description: Annotated[str, typer.Option("--description", help="What happened.")],
    risk: Annotated[str, typer.Option("--risk", help="none, low, risk or high.")],
    aware_at: Annotated[str | None, typer.Option(
        "--aware-at", help="When the controller became aware (default: now).")] = None,
    occurred_at: Annotated[str | None, typer.Option(
        "--occurred-at", help="When the breach happened, if known.")] = None,
    data_category: Annotated[list[str] | None, typer.Option(
        "--data-category", help="Category key of the data (repeat).")] = None,
    subject_category: Annotated[list[str] | None, typer.Option(
        "--subject-category", help="Subject id from the manifest (repeat).")] = None,
    subjects: Annotated[int | None, typer.Option(
        "--subjects", help="Approximate number of people affected.")] = None,
    records: Annotated[int | None, typer.Option(
        "--records", help="Approximate number of records affected.")] = None,
    consequences: Annotated[str, typer.Option(help="Likely consequences.")] = "",
    measures: Annotated[str, typer.Option(help="Measures taken or proposed.")] = "",
    nature: Annotated[list[str] | None, typer.Option(
        "--nature", help="confidentiality, integrity or availability (repeat).")] = None,
    cross_border: Annotated[Answer | None, typer.Option(
        "--cross-border", help="yes or no: people in other EEA countries are affected "
        "(GDPR Art. 33(3), 56); left out, the report says not stated.")] = None,
    country: Annotated[list[str] | None, typer.Option(
        "--country", help="Country of affected people, e.g. SE (repeat).")] = None,
    discovery: Annotated[str | None, typer.Option(
        "--discovery", help="How the breach was discovered.")] = None,
    no_notice_reason: ReasonOpt = None, notify_anyway: AnywayOpt = False,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Document a breach (GDPR Art. 33(5)); the 72 hours run from --aware-at."""
    from personvern.breach.register import record_breach

    aware, occurred = _when(aware_at, "--aware-at"), _when(occurred_at, "--occurred-at")
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        breach = record_breach(
            s, rt.clock, title=title, description=description, risk=risk, aware_at=aware,
            occurred_at=occurred, data_categories=data_category or [],
            subject_categories=subject_category or [], approx_subjects=subjects,
            approx_records=records, consequences=consequences, measures=measures,
            no_notice_reason=no_notice_reason, notify_authority=True if notify_anyway else None,
            nature=nature or [],
            cross_border=None if cross_border is None else cross_border is Answer.yes,
            countries=country or [],
            discovery=discovery, manifest=rt.loaded.manifest,
        )
        _show(s, breach, rt.clock(), rt.loaded.manifest.jurisdiction.country, as_json)


@app.command("list")
def list_(
    open_only: Annotated[bool, typer.Option("--open", help="Only breaches not closed.")] = False,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List every breach, notified or not, newest first."""
    from personvern.breach.register import breach_view, list_breaches

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        at = rt.clock()
        views = [breach_view(b, at) for b in list_breaches(s, open_only=open_only)]
    lines = [f"{v['id']}  {v['status']:<18} risk {v['risk']:<4}  "
             + (f"{v['time_left']:<22}" if v["status"] in ("awaiting_notice", "overdue")
                else " " * 22)
             + f"  {v['title']}" for v in views] or ["no breaches recorded"]
    emit(_iso(views), as_json, lines)


@app.command("show")
def show(breach_id: IdArg, manifest: ManifestOption = None, db: DbOption = None,
         as_json: JsonOption = False, now: NowOption = None) -> None:
    """Show a breach: deadline, time left, notices and history."""
    from personvern.breach.register import get_breach

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        _show(s, get_breach(s, breach_id), rt.clock(),
              rt.loaded.manifest.jurisdiction.country, as_json)


@app.command("notify")
def notify(
    breach_id: IdArg,
    authority: Annotated[bool, typer.Option(
        "--authority", help="Record that Datatilsynet has been notified.")] = False,
    subjects: Annotated[bool, typer.Option(
        "--subjects", help="Queue e-mail to the people affected (GDPR Art. 34).")] = False,
    subject: Annotated[list[str] | None, typer.Option(
        "--subject", help="Subject id to tell (repeat).")] = None,
    all_subjects: Annotated[bool, typer.Option(
        "--all", help="Tell every subject with an e-mail address.")] = False,
    message: Annotated[str | None, typer.Option(
        "--message", help="What happened, in plain words for the people (default: description).",
    )] = None,
    text: TextOpt = None, late_reason: LateOpt = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Record the notice to the authority, or e-mail the people affected."""
    from personvern.breach.register import add_update, get_breach, notify_subjects
    from personvern.errors import InvalidInput

    if authority == subjects:
        raise InvalidInput("choose one: --authority or --subjects")
    if authority and (subject or all_subjects):
        raise InvalidInput("--subject and --all go with --subjects")
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        if authority:
            add_update(s, rt.clock, breach_id, "authority_notice",
                       text or "Notice sent to the supervisory authority",
                       late_reason=late_reason)
        else:
            result = notify_subjects(s, rt.clock, breach_id, rt.loaded.manifest,
                                     subject_ids=subject or [], all_subjects=all_subjects,
                                     message=message)
            typer.echo(f"queued {count(result.queued, 'e-mail')}; {result.already_queued} already "
                       f"queued; {result.without_email} without an e-mail address", err=True)
        _show(s, get_breach(s, breach_id), rt.clock(),
              rt.loaded.manifest.jurisdiction.country, as_json)


@app.command("update")
def update(
    breach_id: IdArg,
    kind: Annotated[UpdateKind, typer.Option("--kind", help="What this entry is.")],
    text: Annotated[str, typer.Option("--text", help="What was sent, decided or noted.")],
    late_reason: LateOpt = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Add to a breach's history: a notice, a later phase of it (Art. 33(4)), or a note."""
    from personvern.breach.register import add_update, get_breach

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        add_update(s, rt.clock, breach_id, kind.value, text, late_reason=late_reason)
        _show(s, get_breach(s, breach_id), rt.clock(),
              rt.loaded.manifest.jurisdiction.country, as_json)


@app.command("assess")
def assess(
    breach_id: IdArg,
    risk: Annotated[str | None, typer.Option(
        "--risk", help="none, low, risk or high.", show_default=False)] = None,
    no_notice_reason: ReasonOpt = None, notify_anyway: AnywayOpt = False,
    consequences: Annotated[str | None, typer.Option(
        "--consequences", help="The likely consequences, once known (GDPR Art. 33(3)(c)).",
        show_default=False)] = None,
    measures: Annotated[str | None, typer.Option(
        "--measures", help="Measures taken or proposed, once known (GDPR Art. 33(3)(d)).",
        show_default=False)] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Change the risk assessment as facts emerge (the notice decision follows), and
    record the likely consequences and the measures once known."""
    from personvern.breach.register import assess_risk

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        breach = assess_risk(s, rt.clock, breach_id, risk, no_notice_reason=no_notice_reason,
                             notify_authority=True if notify_anyway else None,
                             consequences=consequences, measures=measures)
        _show(s, breach, rt.clock(), rt.loaded.manifest.jurisdiction.country, as_json)


@app.command("report")
def report(
    breach_id: IdArg,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ReportFormat.md),
    lang: Annotated[Language, typer.Option("--lang", help="Language.")] = Language.nb,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.",
                                             show_default=False)] = None,
    manifest: ManifestOption = None, db: DbOption = None, now: NowOption = None,
) -> None:
    """The facts Datatilsynet's notification form asks for, as Markdown, HTML or JSON."""
    from personvern.breach.report import build_report, render

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        text = render(build_report(s, breach_id, rt.loaded.manifest, rt.clock(), lang.value),
                      format.value)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


@app.command("close")
def close(
    breach_id: IdArg,
    subjects_exemption: Annotated[str | None, typer.Option(
        "--subjects-exemption",
        help="High risk, people not told: the GDPR Art. 34(3) reason.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A closing note.")] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Close a breach once the notices the law requires are given."""
    from personvern.breach.register import close_breach

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        breach = close_breach(s, rt.clock, breach_id, subjects_exemption=subjects_exemption,
                              note=note)
        _show(s, breach, rt.clock(), rt.loaded.manifest.jurisdiction.country, as_json)
