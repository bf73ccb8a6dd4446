"""``personvern subject``: add, show and note activity of data subjects."""

from datetime import UTC, datetime
from typing import Annotated

import typer

from personvern.cli.common import emit, parse_date, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

app = typer.Typer(help="Add and show data subjects.", no_args_is_help=True)


@app.command("add")
def add(
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number (+47 assumed).")] = None,
    external_id: Annotated[str | None, typer.Option(help="The app's own user id.")] = None,
    birth_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (for the child age).")] = None,
    kind: Annotated[str | None, typer.Option(help="Subject kind from the manifest.")] = None,
    customer: Annotated[bool, typer.Option(help="An existing customer (mfl. § 15).")] = False,
    guardian: Annotated[
        str | None, typer.Option(help="A guardian's subject id, e-mail or phone.")
    ] = None,
    verified_by: Annotated[
        str | None, typer.Option(help="How the guardian's authority was checked.")
    ] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Create a subject, or find the one these identities belong to."""
    from personvern.consent.subjects import create_subject, fill_in, get_subject, link_guardian

    given = {k: v for k, v in (("email", email), ("phone", phone), ("external_id", external_id))
             if v is not None}
    born = parse_date(birth_date, "--birth-date")
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        subject, created = create_subject(s, rt.clock, given, birth_date=born, kind=kind,
                                          existing_customer=customer)
        # Found, the facts given would otherwise be dropped in silence: recorded or refused.
        recorded = [] if created else fill_in(subject, birth_date=born, kind=kind,
                                              existing_customer=customer)
        if guardian is not None:
            link_guardian(s, rt.clock, get_subject(s, guardian), subject, verified_by,
                          rt.consent.jurisdiction)
        line = f"{'created' if created else 'found'} subject {subject.id}"
        emit({"id": subject.id, "created": created, "recorded": recorded}, as_json,
             [line + (f"; recorded: {', '.join(recorded)}" if recorded else "")])


@app.command("show")
def show(
    subject: Annotated[str, typer.Argument(help="Subject id, e-mail, +phone or ext:ID.")],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Show a subject: identities, guardians and children, organisations, the last activity
    from every source, and what may be done now."""
    from personvern.consent.service import decisions_for
    from personvern.consent.subjects import (
        children_of,
        get_subject,
        guardians_of,
        identities_of,
        organisations_of,
        reference_of,
    )
    from personvern.requests.activity import last_activity

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        found = get_subject(s, subject)
        identities = [{"kind": i.kind, "value": i.value} for i in identities_of(s, found.id)]
        decisions = [{"purpose": d.purpose, "allowed": d.allowed, "reason": d.reason}
                     for d in decisions_for(s, rt.consent, found.id, rt.clock())]
        activity = last_activity(s, rt.loaded.manifest, found.id, found.last_activity)
        related = {
            "guardians": [{"id": g, "ref": reference_of(s, g)} for g in sorted(guardians_of(
                s, found.id))],
            "children": [{"id": c, "ref": reference_of(s, c)} for c in sorted(children_of(
                s, found.id))],
        }
        orgs = [{"id": o.id, "name": o.name, "orgnr": o.orgnr, "role": role}
                for o, role in organisations_of(s, found.id)]
        data = {
            "id": found.id, "identities": identities, "birth_date": found.birth_date,
            "existing_customer": found.existing_customer,
            "last_activity": activity.latest,
            "activity_sources": [{"source": src.name, "at": src.at, "error": src.error}
                                 for src in activity.sources],
            "guardians": [g["id"] for g in related["guardians"]],
            "children": [c["id"] for c in related["children"]],
            "organisations": orgs, "decisions": decisions,
        }
    lines = [f"subject {found.id}"]
    lines += [f"  {i['kind']}: {i['value']}" for i in identities]
    for kind in ("guardians", "children"):
        lines += [f"  {kind[:-1] if kind == 'guardians' else 'child'}: {r['ref']} "
                  f"(subject {r['id']})" for r in related[kind]]
    lines += [f"  organisation: {o['name']}" + (f" ({o['orgnr']})" if o["orgnr"] else "")
              + f", {o['role']}" for o in orgs]
    unread = sum(1 for src in activity.sources if src.error)
    # The latest of the sources read only: "never" alone would pass for every source.
    lines.append(f"  last activity: {_when(activity.latest)}" + (
        f" in the sources read; {count(unread, 'source')} not read" if unread else ""))
    lines += [f"    {src.name}: " + (f"not read ({src.error})" if src.error else _when(src.at))
              for src in activity.sources]
    lines += [f"  {'yes' if d['allowed'] else 'no '} {d['purpose']}: {d['reason']}"
              for d in decisions]
    emit(data, as_json, lines)


def _when(at: datetime | None) -> str:
    return "never" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@app.command("activity")
def activity(
    subject: Annotated[str, typer.Argument(help="Subject id, e-mail, +phone or ext:ID.")],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Note that the subject was active now (retention counts from the last activity)."""
    from personvern.consent.subjects import get_subject, record_activity

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        found = get_subject(s, subject)
        last = record_activity(s, found, rt.clock())
    emit({"id": found.id, "last_activity": last}, as_json, [f"last activity {last.isoformat()}"])


@app.command("sync")
def sync(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only count the people the engine does not know.")] = False,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Register every person the mapped datasets hold whom the engine does not know yet.

    An address on a newsletter list, a phone number on an order: each is a person with
    rights, whether or not they have an account. Once registered, their consent,
    withdrawal and activity decide retention as for anyone, and requests reach them.
    Identities that cannot be read as one (not an e-mail address, say) are counted and
    left alone; identities two people partly share are never merged.
    """
    from personvern.requests.datamap import open_datasets
    from personvern.requests.found import register_strangers

    with runtime(manifest, db, now) as rt:
        datasets = open_datasets(rt.loaded.manifest)
        try:
            with rt.transaction() as s:
                result = register_strangers(s, rt.clock, datasets, dry_run=dry_run)
        finally:
            for ds in datasets:
                ds.engine.dispose()
    # Only SQL datasets can be listed: an app (http) or a processor (manual) is asked about
    # one person at a time, so the people only they hold are not registered by a sync.
    unlisted = [ds for ds in rt.loaded.manifest.datasets if ds.kind != "sql"]
    data = {**result.as_dict(),
            "not_read": [{"dataset": ds.id, "kind": ds.kind} for ds in unlisted]}
    verb = "would register" if dry_run else "registered"
    lines = [f"{verb} {count(sum(t.rows for t in result.tables), 'row')} of people the "
             "engine did not know" if dry_run else
             f"registered {count(result.registered, 'person', 'people')} the engine did not know"]
    for t in result.tables:
        extra = f"; {count(t.unreadable, 'value')} not readable as an identity" \
            if t.unreadable else ""
        lines.append(f"  {t.dataset}.{t.table} ({', '.join(t.columns)}): "
                     f"{count(t.rows, 'row')} of unknown people{extra}")
    if result.conflicts:
        lines.append(f"{count(result.conflicts, 'row')} left alone: their identities belong "
                     "to different people; look at them by hand")
    if not result.tables:
        lines.append("no mapped table has an identity column")
    if unlisted:
        lines.append("not read: " + ", ".join(f"{ds.id} ({ds.kind})" for ds in unlisted)
                     + ": the engine cannot list the people they hold, so none of them is "
                     "registered here")
    emit(data, as_json, lines)
