"""The publishing gate: a policy whose manifest has check errors is not published or served.

``personvern check`` calls an error a practice the law does not allow (consent a person
cannot refuse, marketing without consent, a transfer with no safeguard). Publishing the
policy anyway would announce the unlawful practice to the public as if it were lawful,
so ``policy publish``, ``policy render`` without ``--draft``, the API and the served
``/privacy`` all pass through here first. It sits in the check layer, above the policy
layer, because it needs both (README "Layout"); drafts (``--draft``) skip it and are
marked as drafts on every page instead.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from personvern.check.engine import Finding, has_errors, run_checks
from personvern.check.registry import Severity
from personvern.errors import InvalidInput
from personvern.manifest.loader import LoadedManifest
from personvern.policy.completeness import describe_missing, missing_elements
from personvern.policy.render import render_policy
from personvern.policy.versions import Published, publish_with_notices

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from personvern.clock import Clock


def blocking_findings(loaded: LoadedManifest) -> list[Finding]:
    """The check errors of ``loaded`` (warnings and notes do not block publishing)."""
    findings = run_checks(loaded)
    if not has_errors(findings):
        return []
    return [f for f in findings if f.severity is Severity.ERROR]


def describe_blocking(errors: list[Finding], file: str) -> str:
    """The refusal: how many errors, and each as ``file:line:col: PV000 message``."""
    count = len(errors)
    head = (f"the privacy policy is not published: `personvern check` reports {count} "
            f"error{'s' if count != 1 else ''} in the manifest; a policy must not announce "
            "what the law does not allow (fix them, or write a --draft)")
    return "\n".join([head, *(f"  {file}:{f.line}:{f.column}: {f.rule} {f.message} "
                              f"[{f.source}]" for f in errors)])


def require_publishable(loaded: LoadedManifest) -> None:
    """InvalidInput (exit 2, HTTP 422) listing what is missing or the check errors.

    The Art. 13/14 elements missing are named first, in the policy's own words (they are
    check errors too); then every other error, as ``personvern check`` prints it.
    """
    missing = missing_elements(loaded.manifest)
    if missing:
        head = describe_missing(missing).splitlines()[0]
        raise InvalidInput("\n".join([head, *(
            f"  {loaded.file}:{loaded.line_of(x.loc)}:{loaded.column_of(x.loc)}: {x}"
            for x in missing)]))
    errors = blocking_findings(loaded)
    if errors:
        raise InvalidInput(describe_blocking(errors, loaded.file))


def publish_checked(session: Session, clock: Clock, loaded: LoadedManifest,
                    effective: date | datetime, *, actor: str = "cli") -> Published:
    """:func:`personvern.policy.versions.publish_with_notices`, refused on check errors.

    Refused before anything is stored, so the version in force stays the one served.
    """
    require_publishable(loaded)
    return publish_with_notices(session, clock, loaded, effective, actor=actor)


def render_checked(loaded: LoadedManifest, lang: str, fmt: str, *, draft: bool = False) -> str:
    """The policy of ``loaded``; refused on check errors unless it is a marked draft."""
    if not draft:
        require_publishable(loaded)
    return render_policy(loaded.manifest, lang, fmt, draft=draft)
