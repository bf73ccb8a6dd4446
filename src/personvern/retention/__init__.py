"""Retention that enforces itself: rules resolved to the service's data, swept in batches.

``plan(...)`` says what would happen at a given time, rule by rule — the sweep itself,
rehearsed and rolled back (``rehearsal``); ``run(...)`` does it, audited, idempotent and
resumable. With ``children.erase_without_guardian_consent`` on, both also find the children
under the consent age without a guardian's consent, and a run erases them through the
request engine (``requests.children``). ``people.on_subject_erased`` is the one place that
hears of a subject the engine has forgotten entirely.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from personvern.audit import append_audit, require_reason
from personvern.errors import InvalidInput
from personvern.law import get_jurisdiction
from personvern.requests import children
from personvern.requests.batch import young_objects_only
from personvern.requests.datamap import open_datasets
from personvern.retention.due import Due
from personvern.retention.execute import Executor
from personvern.retention.rehearsal import rehearsal
from personvern.retention.resolve import resolve
from personvern.storage.session import transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from personvern.consent.service import ConsentContext
    from personvern.manifest.loader import LoadedManifest
    from personvern.requests.engine import Requests
    from personvern.retention.execute import Progress
    from personvern.retention.planning import Report
    from personvern.retention.resolve import Resolution


@contextmanager
def resolved(loaded: LoadedManifest) -> Iterator[Resolution]:
    """The manifest's rules resolved against its SQL datasets (reflected; closed after)."""
    datasets = open_datasets(loaded.manifest)
    try:
        yield resolve(loaded, datasets)
    finally:
        for ds in datasets:
            ds.engine.dispose()


def plan(loaded: LoadedManifest, sessions: sessionmaker[Session], now: datetime, *,
         batch: int = 5000, consent: ConsentContext | None = None
         ) -> tuple[Report, dict[str, Any]]:
    """What a sweep at ``now`` would do, changing nothing; the report and its plain form.

    ``consent``: the consent context guardians' consents are judged in (required when
    ``children.erase_without_guardian_consent`` is on)."""
    if loaded.manifest.children.erase_without_guardian_consent and consent is None:
        raise InvalidInput("children.erase_without_guardian_consent is on: the plan needs "
                           "the consent context to judge the guardians' consents")
    report, data = _sweep(loaded, sessions, now, batch=batch, dry_run=True, progress=None,
                          by=None)
    if consent is not None and loaded.manifest.children.erase_without_guardian_consent:
        report.children = data["children"] = _children_summary(
            _children(consent, sessions, now))
    return report, data


def run(loaded: LoadedManifest, sessions: sessionmaker[Session], now: datetime, *,
        reason: str, batch: int = 5000, progress: Progress | None = None,
        by: str | None = None, vacuum: bool = False, requests: Requests | None = None
        ) -> tuple[Report, dict[str, Any]]:
    """Sweep at ``now``: finish an interrupted sweep first, then every rule in batches.

    ``reason`` says why it runs now (required, bounded; audited before the sweep starts,
    so a sweep that fails was still asked for). ``by`` says who or what started it (kept
    in the sweep's audit event, shown in its history): ``cli``, ``serve`` or a staff
    user's actor name. ``vacuum``: rewrite the PostgreSQL tables swept (VACUUM FULL).
    ``requests``: the request engine the children found are erased through (required when
    ``children.erase_without_guardian_consent`` is on)."""
    why = require_reason(reason, "run the retention sweep now")
    if now.tzinfo is None:
        raise InvalidInput("the sweep's time needs a UTC offset")
    if loaded.manifest.children.erase_without_guardian_consent and requests is None:
        raise InvalidInput("children.erase_without_guardian_consent is on: the sweep needs "
                           "the request engine to erase the children it finds")
    with transaction(sessions) as session:
        append_audit(session, lambda: now, by or "unknown", "retention.run_requested",
                     "retention", {"reason": why})
    report, data = _sweep(loaded, sessions, now, batch=batch, dry_run=False, progress=progress,
                          by=by, vacuum=vacuum)
    if requests is not None and loaded.manifest.children.erase_without_guardian_consent:
        found = _children(requests.ctx.consent, sessions, now)
        erased = children.erase(requests, found, reason=why, actor=by or "unknown")
        report.children = data["children"] = {
            **_children_summary(found), "erased": [e.as_dict() for e in erased]}
    return report, data


def _children(consent: ConsentContext, sessions: sessionmaker[Session], now: datetime
              ) -> children.Found:
    with transaction(sessions) as session:
        return children.find(session, consent, now)


def _children_summary(found: children.Found) -> dict[str, Any]:
    """The counts a sweep reports (the ids are `personvern children check`'s to list)."""
    return {"rule": found.rule, "to_erase": len(found.to_erase),
            "already_open": sum(1 for c in found.to_erase if c.open_request),
            "age_unknown": len(found.age_unknown)}


def _sweep(loaded: LoadedManifest, sessions: sessionmaker[Session], now: datetime, *,
           batch: int, dry_run: bool, progress: Progress | None, by: str | None,
           vacuum: bool = False) -> tuple[Report, dict[str, Any]]:
    if now.tzinfo is None:
        raise InvalidInput("the sweep's time needs a UTC offset")
    if not 1 <= batch <= 50_000:
        raise InvalidInput(f"--batch {batch}: give a batch size from 1 to 50000")
    j = get_jurisdiction(loaded.manifest.jurisdiction.country)
    # The collector would otherwise rescan the whole process (some 100,000 objects from
    # start-up) in the middle of a sweep: 0.1 s of a 0.6-1 s sweep of 100,000 users.
    with young_objects_only(), resolved(loaded) as res:
        due = Due(res, j, sessions, now, batch)
        if dry_run:
            with rehearsal(due) as rehearsed:
                report = Executor(rehearsed, dry_run=True).run()
        else:
            report = Executor(due, progress=progress, by=by, vacuum=vacuum).run()
        return report, report.as_dict(res)
