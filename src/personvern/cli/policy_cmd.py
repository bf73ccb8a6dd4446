"""``personvern policy``: write the privacy policy, publish versions, show and compare them."""

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption
from personvern.wording import count

if TYPE_CHECKING:
    from personvern.manifest.model import Manifest
    from personvern.runtime import Runtime

app = typer.Typer(help="Write, publish and compare the privacy policy.", no_args_is_help=True)


class Lang(StrEnum):
    """Languages the policy is written in."""

    nb = "nb"
    en = "en"


class Fmt(StrEnum):
    """Formats the policy is written as."""

    html = "html"
    md = "md"


LangOption = Annotated[Lang, typer.Option("--lang", "-l", help="Language: nb or en.")]
FormatOption = Annotated[Fmt, typer.Option("--format", "-f", help="Format: html or md.")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Write to this file instead of standard output.",
                 show_default=False),
]


def _write(text: str, out: Path | None) -> None:
    from personvern.errors import InvalidInput

    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {out}", err=True)


@app.command("render")
def render(
    lang: LangOption = Lang.nb,
    fmt: FormatOption = Fmt.html,
    out: OutOption = None,
    draft: Annotated[bool, typer.Option(
        "--draft", help="Write the policy even if elements are missing, marked as a draft.")
    ] = False,
    manifest: ManifestOption = None,
) -> None:
    """Write the privacy policy from the manifest (no database needed).

    Exit 2, listing them, when `personvern check` reports errors in the manifest or it
    lacks an element GDPR Art. 13/14 requires (unless --draft: then every page is marked
    as a draft).
    """
    from personvern.check.gate import render_checked
    from personvern.manifest.loader import load_manifest
    from personvern.settings import get_settings

    settings = get_settings(manifest=manifest)
    loaded = load_manifest(settings.manifest, max_bytes=settings.max_manifest_bytes)
    _write(render_checked(loaded, lang.value, fmt.value, draft=draft), out)


def _local(rt: "Runtime", at: datetime) -> str:
    """``at`` in the controller's time zone, as people read dates."""
    from zoneinfo import ZoneInfo

    from personvern.law import get_jurisdiction

    zone = ZoneInfo(get_jurisdiction(rt.loaded.manifest.jurisdiction.country).timezone)
    return at.astimezone(zone).isoformat()


def _parse_effective(value: str) -> date | datetime:
    from personvern.errors import InvalidInput

    try:
        if len(value.strip()) == 10:
            return date.fromisoformat(value.strip())
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"--effective {value!r} is not a date (YYYY-MM-DD) or a time with an offset "
            "(2027-03-08T00:00:00+01:00)"
        ) from None


@app.command("publish")
def publish(
    effective: Annotated[str, typer.Option(
        "--effective", help="When the version takes effect: YYYY-MM-DD (local midnight) or "
        "an ISO 8601 time with offset.", show_default=False)],
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Freeze the policy as the next version, in force from --effective.

    The manifest's notice period (policy_changes.notice_days) is counted from now; an
    earlier date is refused and nothing is published. A material change queues e-mail
    notices (if the manifest promises them) for `personvern mail send`. Refused (exit 2,
    nothing published, the version in force still served) while `personvern check`
    reports errors.
    """
    from personvern.check.gate import publish_checked
    from personvern.policy.versions import describe

    when = _parse_effective(effective)
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        done = publish_checked(s, rt.clock, rt.loaded, when)
        # The policy promises a notice of a material change: say whom e-mail cannot reach.
        unreachable = done.unreachable
        data = {**describe(done.version), "notices_queued": done.notices,
                "notices_unreachable": unreachable}
        starts = _local(rt, done.version.effective_from)
    v = done.version
    lines = [
        f"published policy version {v.number} ({'material' if v.material else 'not material'}), "
        f"in force from {starts}",
        *(f"  * [{'material' if c.material else 'minor'}] {c.en}" for c in done.changes),
    ]
    if done.notices:
        lines.append(f"queued {done.notices} e-mail notices; send them with "
                     "`personvern mail send`")
    if unreachable:
        lines.append(f"not enforced: {count(unreachable, 'person', 'people')} "
                     f"{'has' if unreachable == 1 else 'have'} no e-mail address on record: the "
                     "notice of this material change the policy promises does not reach them; "
                     "tell them another way")
    emit(data, as_json, lines)


@app.command("versions")
def versions(
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List the published versions and which one is in force now."""
    from personvern.policy.versions import describe, in_force
    from personvern.policy.versions import versions as all_versions

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        rows = all_versions(s)
        current = in_force(s, rt.clock())
        data = [{**describe(v), "in_force": current is not None and v.number == current.number}
                for v in rows]
        starts = [_local(rt, v.effective_from) for v in rows]
    lines = [
        f"{d['number']:>4}  effective {start}  "
        f"{'material' if d['material'] else 'minor   '}  {count(len(d['changes']), 'change')}"
        f"{'  <- in force' if d['in_force'] else ''}"
        for d, start in zip(data, starts, strict=True)
    ] or ["no policy version has been published yet (`personvern policy publish --effective DATE`)"]
    emit(data, as_json, lines)


def _version_number(value: str) -> int:
    from personvern.errors import InvalidInput

    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a version number (1, 2, ...) or 'current'") from None
    if number < 1:
        raise InvalidInput(f"version numbers start at 1, not {number}")
    return number


def _get_version(s: object, value: str) -> object:
    """The stored version, with NotFound turned into bad input (exit 2) at this boundary."""
    from personvern.errors import InvalidInput, NotFound
    from personvern.policy.versions import get_version

    try:
        return get_version(s, _version_number(value))  # type: ignore[arg-type]
    except NotFound as exc:
        raise InvalidInput(str(exc)) from None


@app.command("show")
def show(
    number: Annotated[str, typer.Argument(help="Version number.")],
    lang: LangOption = Lang.nb,
    fmt: FormatOption = Fmt.html,
    out: OutOption = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Print a published version exactly as it was frozen."""
    from personvern.policy.tables import PolicyVersion
    from personvern.policy.versions import describe

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        version = _get_version(s, number)
        assert isinstance(version, PolicyVersion)
        text = version.documents[lang.value][fmt.value]
        data = {**describe(version), "lang": lang.value, "format": fmt.value, "document": text}
    if as_json:
        emit(data, True, [])
    else:
        _write(text, out)


def _side(rt: "Runtime", s: object, value: str) -> "tuple[str, Manifest]":
    from personvern.policy.tables import PolicyVersion
    from personvern.policy.versions import version_manifest

    if value.strip().lower() == "current":
        return "the manifest now", rt.loaded.manifest
    version = _get_version(s, value)
    assert isinstance(version, PolicyVersion)
    return f"version {version.number}", version_manifest(version)


@app.command("diff")
def diff(
    a: Annotated[str, typer.Argument(help="Old version number, or 'current'.")],
    b: Annotated[str, typer.Argument(help="New version number, or 'current' (the manifest).")],
    lang: Annotated[Lang | None, typer.Option(
        "--lang", "-l", help="Only this language (default: both).", show_default=False)] = None,
    manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Explain in plain words what changed from version A to B, and what is material."""
    from personvern.policy.diff import diff as compare

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        (old_name, old), (new_name, new) = _side(rt, s, a), _side(rt, s, b)
    changes = compare(old, new)
    data = {"from": old_name, "to": new_name, "material": any(c.material for c in changes),
            "changes": [c.as_dict() for c in changes]}
    lines = [f"from {old_name} to {new_name}: {count(len(changes), 'change')}"
             f"{', material' if data['material'] else ''}"]
    for c in changes:
        tag = "material" + (", fresh consent" if c.consent else "") if c.material else "minor"
        texts = [c.text(lang.value)] if lang else [c.nb, c.en]
        lines.append(f"  * [{tag}] " + " / ".join(texts))
    emit(data, as_json, lines)
