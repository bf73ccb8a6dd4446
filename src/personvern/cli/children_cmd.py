"""``personvern children``: children under the age of consent without a guardian's consent."""

from typing import Annotated, Any

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

app = typer.Typer(help="Children under the age of consent without a guardian's consent "
                       "(GDPR Art. 8(1)).", no_args_is_help=True)


def _lines(found: dict[str, Any], erased: list[dict[str, Any]] | None) -> list[str]:
    lines = [f"children on {found['today']}: under {found['consent_age']} without a "
             f"guardian's consent: {count(len(found['to_erase']), 'child', 'children')} "
             f"to erase; rule: {found['rule']}"]
    for c in found["to_erase"]:
        under_way = f" (erasure {c['open_request']} already under way)" \
            if c["open_request"] else ""
        lines.append(f"  {c['subject_id']}: {c['age']} years: {c['why']}{under_way}")
    for c in found["kept"]:
        lines.append(f"  kept {c['subject_id']}: {c['age']} years: {c['why']}")
    for c in found["age_unknown"]:
        lines.append(f"  age unknown {c['subject_id']}: {c['why']}; not erased on a guess, "
                     "record the birth date")
    for table in found["not_searched"]:
        lines.append(f"not enforced: {table} holds a consent purpose's data and is not "
                     "searched per child; a child found only there is not listed")
    if erased is not None:
        ok = sum(1 for e in erased if e["state"] == "completed")
        lines.append(f"{count(ok, 'child', 'children')} erased through erasure requests")
        for e in erased:
            lines.append(f"  request {e['request_id']}: {e['state']}"
                         + (f": {e['error']}" if e["error"] else ""))
    return lines


@app.command("check")
def check(
    erase: Annotated[bool, typer.Option(
        "--erase", help="Erase each child listed through an erasure request (needs "
                        "--reason).")] = False,
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Why you erase them now; kept in the audit log (at most 2000 "
                         "characters).")] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List the children under the age of consent at --now with no guardian's consent, by
    subject id and age; with --erase, erase them."""
    from personvern.audit import require_reason
    from personvern.errors import InvalidInput
    from personvern.requests import children
    from personvern.requests.engine import Requests

    if reason is not None and not erase:
        raise InvalidInput("--reason goes with --erase; without it nothing is erased")
    why = require_reason(reason, "erase these children") if erase else None
    with runtime(manifest, db, now) as rt:
        with rt.transaction() as s:
            found = children.find(s, rt.consent, rt.clock())
        erased = None
        if why is not None:
            service = Requests.of(rt)
            try:
                erased = [e.as_dict() for e in
                          children.erase(service, found, reason=why, actor="owner")]
            finally:
                service.close()
    data = {**found.as_dict(), "erased": erased}
    emit(data, as_json, _lines(data, erased))
    if erased is not None and any(e["state"] != "completed" for e in erased):
        raise typer.Exit(1)
