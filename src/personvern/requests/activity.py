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
from personvern.manifest.model import Manifest
from personvern.requests.datamap import open_datasets
from personvern.storage.engine import storage_errors

ENGINE = "recorded by the engine"


@dataclass(frozen=True)
class Activity:
    """The latest activity and, source by source, what each says (None: nothing there)."""

    latest: datetime | None
    sources: list[tuple[str, datetime | None]]


def last_activity(session: Session, manifest: Manifest, subject_id: str,
                  recorded: datetime | None) -> Activity:
    """The subject's latest activity: ``recorded`` (the engine's) and every mapped
    ``last_activity`` column of the rows the data map finds for the subject."""
    idents: dict[str, Sequence[Any]] = {}
    for ident in identities_of(session, subject_id):
        idents[ident.kind] = [*idents.get(ident.kind, ()), ident.value]
    sources: list[tuple[str, datetime | None]] = [(ENGINE, recorded)]
    columns = [(ds.id, t.name, t.dates["last_activity"]) for ds in manifest.datasets
               if ds.kind == "sql" for t in ds.tables if "last_activity" in t.dates]
    if columns and idents:
        for ds in open_datasets(manifest):
            try:
                with storage_errors(ds.engine.url), ds.engine.connect() as conn:
                    found = ds.find(conn, idents)
            finally:
                ds.engine.dispose()
            for ds_id, table, column in columns:
                if ds_id != ds.spec.id:
                    continue
                values = [_utc(r[column]) for r in found.rows.get(table, {}).values()]
                known = [v for v in values if v is not None]
                sources.append((f"{ds_id}.{table}.{column}", max(known) if known else None))
    known = [at for _, at in sources if at is not None]
    return Activity(max(known) if known else None, sources)


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
