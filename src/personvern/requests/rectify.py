"""Rectification (Art. 16): each new value checked, then set on the person's rows only.

Values are checked when the request is opened (:func:`validate_changes`), per the
column's ``validate_as``, so a wrong value is refused before anything is stored. The
work (:func:`rectify`) updates the person's rows; a rectified e-mail or phone is also
the identity the engine finds them by, so the engine's side (:func:`sync_identities`)
changes that too. Neither the history nor the audit names an old or new value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, select, update
from sqlalchemy import Table as SqlTable
from sqlalchemy.orm import Session

from personvern.consent.subjects import matches, normalise
from personvern.consent.tables import Identity
from personvern.contact import normalise_email, normalise_phone
from personvern.errors import InvalidInput
from personvern.law import get_jurisdiction
from personvern.manifest.model import Manifest
from personvern.requests.datamap import SqlDataset, resolve_column
from personvern.requests.jobs import Job, walk_ids
from personvern.storage.engine import storage_errors

MAX_TEXT = 2000


# ---- which column, and is the value right -----------------------------------------------

def identity_kind(manifest: Manifest, ref: str) -> str | None:
    """The identity kind a mapped column holds, if any."""
    return resolve_column(manifest, ref)[2].identity


def validate_changes(manifest: Manifest, changes: Any) -> dict[str, str]:
    """Each new value checked per its column's ``validate_as``; keys made canonical."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("a rectification needs at least one change: column=new value")
    region = get_jurisdiction(manifest.jurisdiction.country).phone_region
    out: dict[str, str] = {}
    for ref, value in changes.items():
        ds, table, column = resolve_column(manifest, ref)
        out[f"{ds.id}.{table.name}.{column.name}"] = validate_value(column.validate_as, value,
                                                                    str(ref), region)
    return out


def validate_value(kind: str | None, value: Any, ref: str, region: str) -> str:
    """The normalised value, or InvalidInput saying why not; ``region`` reads national phones."""
    from stdnum.exceptions import ValidationError

    if kind is None:
        raise InvalidInput(f"{ref} has no validate_as in the data map, so it cannot be "
                           "rectified here")
    if value is None or isinstance(value, (dict, list, bool)):
        raise InvalidInput(f"{ref}: give a new value", code="no_value", field=ref)
    text = str(value).strip()
    try:
        if kind == "email":
            return normalise_email(text)
        if kind == "phone":
            return normalise_phone(text, region)
        if kind in ("national_id", "orgnr"):
            from stdnum.no import fodselsnummer, orgnr

            checker, name = (fodselsnummer, "fødselsnummer or D-nummer") \
                if kind == "national_id" else (orgnr, "organisasjonsnummer")
            try:
                return str(checker.validate(text))
            except ValidationError as exc:
                raise InvalidInput(f"{text!r} is not a valid {name} ({exc})",
                                   code=f"bad_{kind}") from None
        if kind == "date":
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)",
                                   code="bad_date") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{ref}: {exc}", code=exc.code, field=ref, **exc.params) from None
    if not text or len(text) > MAX_TEXT or any(ord(ch) < 32 for ch in text):
        raise InvalidInput(f"{ref}: give 1 to {MAX_TEXT} characters of text on one line",
                           code="bad_text", field=ref, max=MAX_TEXT)
    return text


# ---- the work on the datasets, then the engine's side -------------------------------------

def rectify(job: Job, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    """Set the new values on the person's rows, one transaction per dataset."""
    by_ds: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for ref, value in job.details["changes"].items():
        ds_id, table, column = ref.split(".")
        by_ds[ds_id].append((table, column, value))
    done: list[dict[str, Any]] = []
    identity_changes: list[tuple[str, list[str], str]] = []
    for ds in datasets:
        items = by_ds.get(ds.spec.id)
        if not items:
            continue
        with storage_errors(ds.engine.url), ds.engine.begin() as conn:
            found = ds.find(conn, walk_ids(job, ds))
            for table, column, value in items:
                t = ds.tables[table]
                rows = found.rows.get(table, {})
                new = _typed(t, column, value, f"{ds.spec.id}.{table}.{column}")
                kind = next(c.identity for c in ds.mapped[table].columns if c.name == column)
                if kind in ("email", "phone"):
                    olds = [str(r[column]) for r in rows.values() if r[column] is not None]
                    identity_changes.append((kind, olds, str(new)))
                if rows:
                    key = ds.mapped[table].key
                    conn.execute(update(t).where(t.c[key].in_(list(rows))).values({column: new}))
                done.append({"dataset": ds.spec.id, "table": table, "column": column,
                             "rows": len(rows)})
    # The old values go to the engine's side only (sync_identities), never the outcome.
    return {"rectified": done, "_identity_changes": identity_changes}


def _typed(table: SqlTable, column: str, value: str, ref: str) -> Any:
    """The checked text as the column's type; InvalidInput if it is longer than the column."""
    col = table.c[column]
    if isinstance(col.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(col.type, Date):
        return date.fromisoformat(value)
    length = getattr(col.type, "length", None)
    if length is not None and len(value) > length:
        raise InvalidInput(f"{ref}: the new value is longer than the column allows ({length})")
    return value


def sync_identities(session: Session, job: Job, changes: Iterable[Any]) -> None:
    """A rectified e-mail or phone is also the identity the engine finds the person by."""
    for kind, olds, new in changes:
        normal_olds = set()
        for old in olds:
            try:
                normal_olds.add(normalise(kind, old))
            except InvalidInput:
                continue
        ids = session.scalars(select(Identity).where(
            Identity.subject_id == job.subject_id, matches(session, kind, sorted(normal_olds))))
        for ident in ids:
            ident.value = normalise(kind, new)
    session.flush()
