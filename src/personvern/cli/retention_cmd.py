"""``personvern retention``: plan and run the retention sweep."""

from typing import Annotated, Any

import typer

from personvern.cli.common import emit, runtime, vacuum_lines
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

app = typer.Typer(help="Retention: delete, anonymise or restrict data whose time is up.",
                  no_args_is_help=True)

BatchOption = Annotated[int, typer.Option(
    "--batch", help="Rows (or people) per batch: each batch is one transaction.", min=1,
    max=50_000)]


def _lines(data: dict[str, Any], verb: str) -> list[str]:
    from personvern.retention.planning import not_enforced, nothing_due

    lines = [f"retention at {data['now']} ({verb})"]
    if data.get("resumed_batches"):
        batches = count(data["resumed_batches"], "batch", "batches")
        lines.append(f"finished {batches} an interrupted sweep left")
    for rule in data["rules"]:
        lines.append(f"rule {rule['rule']}: {count(rule['rows'], 'row')}. {rule['reason']}")
        for t in rule["tables"]:
            extra = ""
            if t["erased_subjects"]:
                extra += f"; {count(t['erased_subjects'], 'person', 'people')} erased in the engine"
            if t["restricted_subjects"]:
                extra += f"; {t['restricted_subjects']:,} restricted to a legal hold"
            for name, n in (t.get("links") or {}).items():
                extra += f"; {count(n, 'link row')} in {t['dataset']}.{name} deleted with them"
            for name, n in (t.get("parts") or {}).items():
                extra += f"; {count(n, 'part row')} in {t['dataset']}.{name} erased with them"
            examples = f" e.g. keys {', '.join(map(str, t['examples']))}" if t["examples"] \
                else ""
            lines.append(f"  {t['dataset']}.{t['table']}: {t['action']}: {t['rows']:,}"
                         f"{examples} (date from {t['date_from']}){extra}")
    if quiet := nothing_due(data):
        lines.append(quiet)
    lines += vacuum_lines(data.get("left_until_vacuum") or {})
    if data["notices"]:
        lines.append(f"{count(data['notices'], 'notice')} before deletion "
                     + ("queued" if verb == "done" else "to queue"))
    lines += [f"not enforced: {line}" for line in not_enforced(data)]
    lines += children_lines(data.get("children"), verb)
    return lines


def children_lines(kids: dict[str, Any] | None, verb: str) -> list[str]:
    """The sweep's line for children.erase_without_guardian_consent (none when it is off)."""
    if kids is None:
        return []
    lines = [f"children without guardian consent: {kids['to_erase']:,} to erase "
             f"({kids['rule']})"]
    if kids["already_open"]:
        lines.append(f"  {count(kids['already_open'], 'erasure')} of them already under way")
    if verb == "done":
        erased = kids.get("erased") or []
        ok = sum(1 for e in erased if e["state"] == "completed")
        lines.append(f"  {count(ok, 'child', 'children')} erased through erasure requests")
        for e in erased:
            if e["state"] != "completed":
                lines.append(f"  request {e['request_id']} is {e['state']}: {e['error']}")
    if kids["age_unknown"]:
        lines.append(f"  {count(kids['age_unknown'], 'person', 'people')} of age unknown "
                     "(no birth date, or one in the future): not erased; "
                     "see personvern children check")
    return lines


@app.command("plan")
def plan(
    batch: BatchOption = 5000, manifest: ManifestOption = None, db: DbOption = None,
    as_json: JsonOption = False, now: NowOption = None,
) -> None:
    """Say what a sweep at --now would do, rule by rule, with counts, example row keys and
    the reason in words. Changes nothing."""
    from personvern import retention

    with runtime(manifest, db, now) as rt:
        _, data = retention.plan(rt.loaded, rt.sessions, rt.clock(), batch=batch,
                                 consent=rt.consent)
    emit(data, as_json, _lines(data, "plan"))


@app.command("run")
def run(
    reason: Annotated[str, typer.Option(
        "--reason", help="Why the sweep runs now; required, kept in the audit log "
                         "(at most 2000 characters).")],
    batch: BatchOption = 5000,
    vacuum: Annotated[bool, typer.Option(
        "--vacuum", help="Rewrite the PostgreSQL tables swept (VACUUM FULL: no byte of the "
                         "deleted rows left; locks those tables meanwhile).")] = False,
    manifest: ManifestOption = None, db: DbOption = None,
    as_json: JsonOption = False, now: NowOption = None,
) -> None:
    """Sweep at --now: delete, anonymise or restrict what the rules say, in batches,
    audited. Safe to repeat; after a crash, run it again and it finishes the work.
    A --now earlier than the last sweep is refused (the clock went backwards)."""
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from personvern import retention
    from personvern.requests.engine import Requests

    with runtime(manifest, db, now) as rt, Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
            console=Console(stderr=True), disable=as_json or not sys.stderr.isatty(),
            transient=True) as bar:
        task = bar.add_task("sweeping", total=None)

        def progress(step: str, rows: int) -> None:
            bar.update(task, description=step, advance=rows)

        service = Requests.of(rt)
        try:
            _, data = retention.run(rt.loaded, rt.sessions, rt.clock(), reason=reason,
                                    batch=batch, progress=progress, by="cli", vacuum=vacuum,
                                    requests=service)
        finally:
            service.close()
    emit(data, as_json, _lines(data, "done"))
