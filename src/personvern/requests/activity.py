"""A person's last activity from every source: the engine's record and the data map's dates.

The engine knows the activity an app reports (``subject activity``, the API); the service's
own database often knows more, in the column a table maps under ``dates: {last_activity:
COLUMN}`` (``users.last_login_at``). What a person is told, and what retention counts
from, is the latest of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from personvern.consent.subjects import identities_of
from personvern.errors import ConfigurationError, StorageError
from personvern.manifest.model import Manifest
from personvern.requests.datamap import Found, open_datasets
from personvern.storage.engine import storage_errors

ENGINE = "recorded by the engine"


@dataclass(frozen=True)
class Source:
    """What one source says: a time, None (nothing there), or why it could not be read."""

    name: str
    at: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class Activity:
    """The latest activity of the sources that could be read, and every source."""

    latest: datetime | None
    sources: list[Source]


def last_activity(session: Session, manifest: Manifest, subject_id: str,
                  recorded: datetime | None) -> Activity:
    """The subject's latest activity: ``recorded`` (the engine's) and every mapped
    ``last_activity`` column of the rows the data map finds for the subject. A dataset that
    cannot be read is named with the reason; the others still count."""
    idents: dict[str, Sequence[Any]] = {}
    for ident in identities_of(session, subject_id):
        idents[ident.kind] = [*idents.get(ident.kind, ()), ident.value]
    sources = [Source(ENGINE, recorded)]
    for ds in manifest.datasets:
        columns = [(t.name, t.dates["last_activity"]) for t in ds.tables
                   if ds.kind == "sql" and "last_activity" in t.dates]
        if not columns:
            continue
        names = [f"{ds.id}.{table}.{column}" for table, column in columns]
        try:
            found = _find(manifest.model_copy(update={"datasets": [ds]}), idents)
        except (StorageError, ConfigurationError) as exc:
            sources += [Source(name, None, str(exc)) for name in names]
            continue
        for name, (table, column) in zip(names, columns, strict=True):
            known = [at for r in found.rows.get(table, {}).values()
                     if (at := _utc(r[column])) is not None]
            sources.append(Source(name, max(known) if known else None))
    known = [s.at for s in sources if s.at is not None]
    return Activity(max(known) if known else None, sources)


def _find(manifest: Manifest, idents: dict[str, Sequence[Any]]) -> Found:
    """The subject's rows in the manifest's one SQL dataset."""
    if not idents:
        return Found()
    [ds] = open_datasets(manifest)
    try:
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            return ds.find(conn, idents)
    finally:
        ds.engine.dispose()


def _utc(value: Any) -> datetime | None:
    """A stored date or time as an aware UTC time; a naive one is taken as UTC, as the
    retention sweep's comparisons in the database take it."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None
