"""Carrying a request out on the service's data: access, portability, rectification,
erasure, restriction, objection and consent withdrawal.

Work is split in two so that a failure never loses a request:
:func:`perform` works on the service's datasets (each in its own transaction) and
returns what it did; :func:`finish` records the engine's side (ledger events, the
subject's identities, restriction) in the engine's transaction. The request engine
(:mod:`personvern.requests.engine`) calls both and keeps the state.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Date, DateTime, String, bindparam, delete, or_, select, update
from sqlalchemy import Table as SqlTable
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.consent.decide import Decision
from personvern.consent.events import Actor, Channel, EventType
from personvern.consent.tables import (
    CookieChoice,
    Guardianship,
    Identity,
    LedgerEvent,
    LedgerEvidence,
    Membership,
    Subject,
)
from personvern.errors import ConfigurationError, InvalidInput, NotFound
from personvern.law import Jurisdiction
from personvern.manifest.model import (
    LEGAL_BASIS_ARTICLE,
    Column,
    Dataset,
    Manifest,
    Purpose,
    RetentionRule,
)
from personvern.manifest.model import Table as MappedTable
from personvern.requests.datamap import Found, SqlDataset
from personvern.requests.deadlines import receipt_date
from personvern.requests.tables import Request
from personvern.rights.basis import rights_for
from personvern.storage.engine import sqlite_checkpoint, storage_errors

if TYPE_CHECKING:  # consent.service may import this module (the restriction hook)
    from personvern.consent.service import ConsentContext

REDACTED = "[redacted]"
MAX_TEXT = 2000


@dataclass(frozen=True)
class Env:
    """What the work needs from outside: the manifest, the law, the clock, where files go."""

    manifest: Manifest
    jurisdiction: Jurisdiction
    clock: Clock
    out_dir: Path
    lang: str | None = None

    def language(self) -> str:
        """The language of the summary: asked for, else bokmål if the service speaks it."""
        if self.lang in ("nb", "en"):
            return self.lang
        return "nb" if "nb" in self.manifest.languages else "en"


@dataclass(frozen=True)
class Job:
    """A request as the work sees it, read from the engine in one transaction."""

    request_id: str
    type: str
    subject_id: str
    subject_kind: str | None
    identities: dict[str, list[str]]
    details: dict[str, Any]
    opened_by: str
    actor_subject_id: str | None
    channel: str
    consent_purposes: frozenset[str]
    engine_records: dict[str, Any]
    # The answers of http datasets (personvern.requests.tasks), by dataset id.
    callbacks: dict[str, Any] = field(default_factory=dict)


def snapshot(session: Session, req: Request) -> Job:
    """Everything the work needs, so no engine transaction stays open during it."""
    subject = session.get(Subject, req.subject_id)
    if subject is None or subject.erased_at is not None:
        raise NotFound(f"subject {req.subject_id} no longer exists (erased)")
    identities: dict[str, list[str]] = defaultdict(list)
    rows = session.scalars(select(Identity).where(Identity.subject_id == subject.id)
                           .order_by(Identity.id))
    for ident in rows:
        identities[ident.kind].append(ident.value)
    events = list(session.scalars(select(LedgerEvent).where(LedgerEvent.subject_id == subject.id)
                                  .order_by(LedgerEvent.seq)))
    records: dict[str, Any] = {}
    if req.type == "access":
        records = {
            "subject": {"id": subject.id, "kind": subject.kind, "birth_date": subject.birth_date,
                        "created_at": subject.created_at,
                        "last_activity": subject.last_activity},
            "identities": [{"kind": k, "value": v} for k, vs in identities.items() for v in vs],
            "consent_events": [{"purpose": e.purpose, "type": e.type, "at": e.at,
                                "actor": e.actor, "channel": e.channel} for e in events],
            "requests": [{"id": r.id, "type": r.type, "state": r.state,
                          "received_at": r.received_at, "closed_at": r.closed_at}
                         for r in session.scalars(select(Request).where(
                             Request.subject_id == subject.id).order_by(Request.received_at))],
        }
    return Job(
        request_id=req.id, type=req.type, subject_id=subject.id, subject_kind=subject.kind,
        identities=dict(identities), details=dict(req.details or {}), opened_by=req.opened_by,
        actor_subject_id=req.opened_by_subject_id, channel=req.channel,
        consent_purposes=frozenset(e.purpose for e in events if e.purpose),
        engine_records=records,
    )


def needs_datasets(job: Job) -> bool:
    """Whether the work touches the service's datasets."""
    return job.type in ("access", "portability", "rectification", "erasure")


# ---- which purposes are this person's ---------------------------------------------------

def subject_purposes(manifest: Manifest, job: Job) -> list[Purpose]:
    """The purposes that process this person's data: those for their kind of subject,
    and consent purposes only where they ever answered (the ledger has an event)."""
    known = {s.id for s in manifest.subjects}
    kind = job.subject_kind if job.subject_kind in known else None
    return [p for p in manifest.purposes
            if (kind is None or not p.subjects or kind in p.subjects)
            and (p.legal_basis != "consent" or p.id in job.consent_purposes)]


def affected_purposes(manifest: Manifest, job: Job, done: dict[str, Any]) -> list[Purpose]:
    """Purposes whose recipients must hear of this change (Art. 19)."""
    purposes = subject_purposes(manifest, job)
    if job.type != "rectification":
        return purposes
    categories: set[str] = set()
    for ref in job.details.get("changes", {}):
        _, _, column = resolve_column(manifest, ref)
        categories.update(column.categories)
    return [p for p in purposes if categories & set(p.categories)]


# ---- rectification: which column, and is the value right -------------------------------

def resolve_column(manifest: Manifest, ref: str) -> tuple[Dataset, MappedTable, Column]:
    """``dataset.table.column`` or ``table.column`` (when unambiguous) of the data map."""
    parts = str(ref).split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidInput(f"{ref!r}: name a column as table.column or dataset.table.column")
    want_ds = parts[0] if len(parts) == 3 else None
    table_name, column_name = parts[-2], parts[-1]
    hits = [(ds, t, c) for ds in manifest.datasets if ds.kind == "sql"
            and (want_ds is None or ds.id == want_ds)
            for t in ds.tables if t.name == table_name for c in t.columns if c.name == column_name]
    if not hits:
        raise InvalidInput(f"{ref!r} is not a column of the data map")
    if len(hits) > 1:
        raise InvalidInput(f"{ref!r} is in more than one dataset; write dataset.table.column")
    return hits[0]


def identity_kind(manifest: Manifest, ref: str) -> str | None:
    """The identity kind a mapped column holds, if any."""
    return resolve_column(manifest, ref)[2].identity


def validate_changes(manifest: Manifest, changes: Any) -> dict[str, str]:
    """Each new value checked per its column's ``validate_as``; keys made canonical."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("a rectification needs at least one change: column=new value")
    out: dict[str, str] = {}
    for ref, value in changes.items():
        ds, table, column = resolve_column(manifest, ref)
        out[f"{ds.id}.{table.name}.{column.name}"] = validate_value(column.validate_as, value,
                                                                    str(ref))
    return out


def validate_value(kind: str | None, value: Any, ref: str) -> str:
    """The normalised value, or InvalidInput saying what is wrong with it."""
    from stdnum.exceptions import ValidationError

    from personvern.consent.subjects import normalise_email, normalise_phone

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
            return normalise_phone(text)
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


# ---- the work on the datasets -------------------------------------------------------------

def perform(job: Job, env: Env, datasets: Sequence[SqlDataset], *, prove: bool = True
            ) -> dict[str, Any]:
    """Do the dataset side of ``job``; returns what was done (keys with _ are internal)."""
    if job.type == "access":
        return _access(job, env, datasets)
    if job.type == "portability":
        return _portability(job, env, datasets)
    if job.type == "rectification":
        return _rectify(job, env, datasets)
    if job.type == "erasure":
        done = _erase(job, env, datasets)
        if prove:
            from personvern.requests.proof import prove_erased

            done["proof"] = prove_erased(datasets, job.identities, done["_kept_keys"]).as_dict()
        return done
    return {}


def _walk_ids(job: Job, ds: SqlDataset) -> dict[str, Sequence[Any]]:
    """The identities typed as the columns they are compared with: PostgreSQL does not
    compare an integer user id with the text "42" (SQLite does). Remove once
    ``SqlDataset.find`` coerces values per column itself."""
    out: dict[str, Sequence[Any]] = {}
    for kind, values in job.identities.items():
        wanted = {kind, "user_id"} if kind == "external_id" else {kind}
        types = set()
        for table, column, k in ds.identity_columns():
            if k in wanted:
                try:
                    types.add(ds.tables[table].c[column].type.python_type)
                except NotImplementedError:
                    types.add(object)
        if types == {int}:
            out[kind] = [int(v) for v in values if v.strip().isdigit()]
        else:
            out[kind] = values
    return out


def _find_all(job: Job, datasets: Sequence[SqlDataset]) -> dict[str, Found]:
    found: dict[str, Found] = {}
    for ds in datasets:
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            found[ds.spec.id] = ds.find(conn, _walk_ids(job, ds))
    return found


def redact(ds: SqlDataset, found: Found) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The subject's rows with every reference to another person's row redacted."""
    allowed: dict[tuple[str, str], set[Any]] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    redacted = 0
    for table, rows in found.rows.items():
        edges = [e for e in ds.edges if e.table == table]
        for e in edges:
            if (e.target, e.target_column) not in allowed:
                allowed[(e.target, e.target_column)] = {
                    r[e.target_column] for r in found.rows.get(e.target, {}).values()}
        clean = []
        for row in rows.values():
            copy = dict(row)
            for e in edges:
                value = copy.get(e.column)
                if value is not None and value not in allowed[(e.target, e.target_column)]:
                    copy[e.column] = REDACTED
                    redacted += 1
            clean.append(copy)
        if clean:
            out[table] = clean
    return out, redacted


def plain(value: Any) -> Any:
    """A JSON- and CSV-ready form of a database value."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=plain)


def _private_file(path: Path) -> io.BufferedWriter:
    """A new file only its owner can read: it holds a person's data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")


def _file_facts(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"path": str(path), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _access(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    found = _find_all(job, datasets)
    data: dict[str, dict[str, list[dict[str, Any]]]] = {}
    counts: dict[str, int] = {}
    redacted = 0
    for ds in datasets:
        rows, n = redact(ds, found[ds.spec.id])
        data[ds.spec.id] = rows
        redacted += n
        counts.update({f"{ds.spec.id}.{t}": len(r) for t, r in rows.items()})
    callbacks = dict(job.callbacks)
    for ds_id, answer in callbacks.items():
        for table, table_rows in (answer or {}).get("tables", {}).items():
            if table_rows:
                data.setdefault(ds_id, {})[table] = table_rows
                counts[f"{ds_id}.{table}"] = len(table_rows)
    info = art15(env.manifest, env.jurisdiction, job, env.language())
    path = env.out_dir / f"access-{job.request_id}.zip"
    generated = env.clock()
    document = {"request": job.request_id, "generated_at": generated, "information": info,
                "datasets": data, "personvern": job.engine_records}
    with _private_file(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.json", _json(document))
        for ds_id, tables in data.items():
            for table, table_rows in tables.items():
                zf.writestr(f"{ds_id}/{table}.csv", _csv(table_rows))
        zf.writestr("summary.html", render_summary(info, counts, generated, env.language()))
    return {"package": _file_facts(path), "rows": counts, "redacted": redacted}


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    # An app's rows (an http dataset) need not all have the same fields.
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: plain(v) for k, v in row.items()})
    return buf.getvalue()


def _portability(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    """Art. 20: what the person provided, for purposes on consent or contract, as JSON."""
    purposes = [p for p in subject_purposes(env.manifest, job)
                if p.legal_basis in ("consent", "contract")]
    categories = {c for p in purposes for c in p.categories}
    found = _find_all(job, datasets)
    data: dict[str, dict[str, list[dict[str, Any]]]] = {}
    counts: dict[str, int] = {}
    for ds in datasets:
        for table, rows in found[ds.spec.id].rows.items():
            cols = [c.name for c in ds.mapped[table].columns
                    if c.provided and set(c.categories) & categories]
            picked = [{c: plain(row[c]) for c in cols} for row in rows.values()]
            picked = [r for r in picked if any(v is not None for v in r.values())]
            if picked:
                data.setdefault(ds.spec.id, {})[table] = picked
                counts[f"{ds.spec.id}.{table}"] = len(picked)
    path = env.out_dir / f"portability-{job.request_id}.json"
    with _private_file(path) as fh:
        fh.write(_json({
            "format": "personvern-portability/1", "request": job.request_id,
            "generated_at": env.clock(), "controller": env.manifest.controller.name,
            "purposes": [p.id for p in purposes], "data": data,
        }).encode())
    return {"export": _file_facts(path), "rows": counts}


def _rectify(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
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
            found = ds.find(conn, _walk_ids(job, ds))
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
    return {"rectified": done, "_identity_changes": identity_changes}


def _typed(table: SqlTable, column: str, value: str, ref: str) -> Any:
    col = table.c[column]
    if isinstance(col.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(col.type, Date):
        return date.fromisoformat(value)
    length = getattr(col.type, "length", None)
    if length is not None and len(value) > length:
        raise InvalidInput(f"{ref}: the new value is longer than the column allows ({length})")
    return value


# ---- erasure ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hold:
    """Why a row is kept despite erasure, and until when (None: no date to compute it)."""

    rule: str
    until: date | None
    via: str | None = None


def hold_until(rule: RetentionRule, j: Jurisdiction, on: date | None) -> date | None:
    """The last day a row dated ``on`` is kept under ``rule``.

    Bookkeeping (bokføringsloven § 13): ``bookkeeping_years`` after the end of the
    fiscal year of the row's date, the fiscal year being the calendar year (the
    default in Norway; the manifest has no field for another year end yet).
    """
    if on is None or rule.duration.unlimited:
        return None
    if rule.bookkeeping or rule.trigger == "fiscal_year_end":
        year_end = date(on.year, 12, 31)
        if rule.bookkeeping:
            return year_end + relativedelta(years=j.bookkeeping_years)
        return year_end + relativedelta(years=rule.duration.years, months=rule.duration.months,
                                        days=rule.duration.days)
    if rule.trigger == "collected":
        return on + relativedelta(years=rule.duration.years, months=rule.duration.months,
                                  days=rule.duration.days)
    return None  # the trigger (end of contract, ...) is not in the row: keep, say so


def row_date(table: SqlTable, row: dict[str, Any]) -> date | None:
    """The row's date for a hold: its first date or timestamp column with a value."""
    for col in table.columns:
        if isinstance(col.type, (Date, DateTime)):
            value = row.get(col.name)
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
    return None


def _row_action(spec: MappedTable) -> str:
    """What erasure does to a row that no active hold keeps."""
    if spec.erase == "keep":
        return "delete_row" if spec.hold else "keep"  # a hold that ended no longer keeps it
    return spec.erase


class _Plan:
    """What erasure will do to one dataset; checked whole before anything runs."""

    def __init__(self) -> None:
        self.kept: dict[str, dict[Any, Hold]] = defaultdict(dict)
        self.deletes: dict[str, list[Any]] = defaultdict(list)
        self.updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.untouched: dict[str, int] = defaultdict(int)


def _plan(ds: SqlDataset, found: Found, env: Env) -> _Plan:
    today = receipt_date(env.clock(), env.jurisdiction)
    plan = _Plan()

    def active(rule_id: str, table: str, row: dict[str, Any]) -> Hold | None:
        rule = env.manifest.retention_rule(rule_id)
        if rule is None:
            raise ConfigurationError(f"hold {rule_id!r} names no retention rule")
        until = hold_until(rule, env.jurisdiction, row_date(ds.tables[table], row))
        return Hold(rule.id, until) if until is None or until >= today else None

    for table, rows in found.rows.items():
        spec = ds.mapped[table]
        if spec.hold:
            for key, row in rows.items():
                hold = active(spec.hold, table, row)
                if hold:
                    plan.kept[table][key] = hold
    _keep_referenced(ds, found, plan)
    for table, rows in found.rows.items():
        spec = ds.mapped[table]
        t = ds.tables[table]
        for key, row in rows.items():
            if key in plan.kept.get(table, {}):
                continue
            action = _row_action(spec)
            held_cols = {c.name for c in spec.columns if c.hold and active(c.hold, table, row)}
            if action == "delete_row" and not held_cols:
                plan.deletes[table].append(key)
                continue
            if action == "keep":
                plan.untouched[table] += 1
                continue
            values = {}
            for c in spec.columns:
                how = c.erase or (action if action != "delete_row" else "mask")
                if c.name == spec.key or c.name in held_cols or how == "keep":
                    continue
                values[c.name] = _erased_value(t, c.name, how, row.get(c.name), ds.spec.id)
            if values:
                plan.updates[table].append({"_key": key, **values})
    return plan


def _keep_referenced(ds: SqlDataset, found: Found, plan: _Plan) -> None:
    """A row a kept row points at stays too, if erasure would delete it (foreign keys)."""
    changed = True
    while changed:
        changed = False
        for e in ds.edges:
            kept_children = plan.kept.get(e.table)
            if not kept_children or _row_action(ds.mapped[e.target]) != "delete_row":
                continue
            targets = found.rows.get(e.target, {})
            for child_key, hold in list(kept_children.items()):
                value = found.rows[e.table][child_key].get(e.column)
                for t_key, t_row in targets.items():
                    if t_row.get(e.target_column) == value and t_key not in plan.kept[e.target]:
                        plan.kept[e.target][t_key] = Hold(hold.rule, hold.until, via=e.table)
                        changed = True


def _erased_value(table: SqlTable, column: str, how: str, value: Any, ds_id: str) -> Any:
    col = table.c[column]
    is_text = isinstance(col.type, String)
    if how == "null" and (col.nullable or not is_text):
        if not col.nullable:
            raise ConfigurationError(f"{ds_id}.{table.name}.{column} cannot be set to null "
                                     "(NOT NULL); map it with erase: mask or keep")
        return None
    if not is_text:
        if not col.nullable:
            raise ConfigurationError(f"{ds_id}.{table.name}.{column} ({col.type}) cannot be "
                                     f"{how}ed and is NOT NULL; map it with erase: keep or null")
        return None
    length = getattr(col.type, "length", None) or 255
    if how == "hash" and value is not None:
        text = "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()
    else:  # mask, or null on a NOT NULL text column: a unique placeholder (unique columns)
        text = f"slettet-{secrets.token_hex(6)}"
    return text[:length]


def _erase(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    deleted: dict[str, int] = {}
    changed: dict[str, int] = {}
    kept_out: list[dict[str, Any]] = []
    kept_keys: dict[str, dict[str, set[Any]]] = {}
    untouched: dict[str, int] = {}
    for ds in datasets:
        with storage_errors(ds.engine.url), ds.engine.begin() as conn:
            found = ds.find(conn, _walk_ids(job, ds))
            plan = _plan(ds, found, env)
            try:
                _apply(conn, ds, plan)
            except IntegrityError as exc:
                raise ConfigurationError(
                    f"dataset {ds.spec.id!r}: erasing broke a foreign key the data map does "
                    f"not follow; add it as a reference ({str(exc.orig).splitlines()[0]})"
                ) from None
        sqlite_checkpoint(ds.engine)  # no copy of the erased rows left in the WAL
        name = ds.spec.id
        deleted.update({f"{name}.{t}": len(k) for t, k in plan.deletes.items() if k})
        changed.update({f"{name}.{t}": len(r) for t, r in plan.updates.items() if r})
        untouched.update({f"{name}.{t}": n for t, n in plan.untouched.items()})
        kept_keys[name] = {t: set(k) for t, k in plan.kept.items() if k}
        kept_out += _describe_kept(name, plan, env)
    callbacks = dict(job.callbacks)
    for ds_id, answer in callbacks.items():  # what the apps kept, said the same way
        kept_out += [{"dataset": ds_id, "table": k["table"], "rows": k["rows"], "rule": None,
                      "why": k["why"], "until": k.get("until"), "restricted": True, "keys": []}
                     for k in (answer or {}).get("kept", [])]
    return {"deleted": deleted, "changed": changed, "kept": kept_out,
            "kept_by_map": untouched, "callbacks": callbacks, "_kept_keys": kept_keys}


def _apply(conn: Any, ds: SqlDataset, plan: _Plan) -> None:
    for table in ds.deletion_order():
        keys = plan.deletes.get(table)
        if keys:
            t = ds.tables[table]
            key = ds.mapped[table].key
            for start in range(0, len(keys), 500):
                conn.execute(delete(t).where(t.c[key].in_(keys[start:start + 500])))
    for table, rows in plan.updates.items():
        t = ds.tables[table]
        key = ds.mapped[table].key
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_shape[tuple(sorted(k for k in row if k != "_key"))].append(row)
        for cols, batch in by_shape.items():
            stmt = update(t).where(t.c[key] == bindparam("_key")).values(
                {c: bindparam(c) for c in cols})
            conn.execute(stmt, batch)


def _describe_kept(ds_id: str, plan: _Plan, env: Env) -> list[dict[str, Any]]:
    """What was kept, why and until when, grouped for the answer to the person."""
    lang = env.language()
    groups: dict[tuple[str, str, date | None, str | None], list[Any]] = defaultdict(list)
    for table, rows in plan.kept.items():
        for key, hold in rows.items():
            groups[(table, hold.rule, hold.until, hold.via)].append(key)
    out = []
    for (table, rule_id, until, via), keys in sorted(groups.items(), key=lambda g: (
            g[0][0], g[0][2] or date.max)):
        rule = env.manifest.retention_rule(rule_id)
        why = rule_text(rule, lang) if rule else rule_id
        if rule and rule.statute:
            why = f"{why} ({rule.statute})"
        if via:
            why += f"; needed by the kept {via} rows"
        out.append({"dataset": ds_id, "table": table, "rows": len(keys), "rule": rule_id,
                    "why": why, "until": until.isoformat() if until else None,
                    "restricted": True, "keys": sorted(keys, key=str)})
    return out


# ---- the engine's side ----------------------------------------------------------------------

def finish(session: Session, consent: ConsentContext, clock: Clock, job: Job,
           done: dict[str, Any]) -> dict[str, Any]:
    """Record the engine's side of ``job`` and return the outcome to store (no secrets)."""
    outcome = {k: v for k, v in done.items() if not k.startswith("_")}
    now = clock()
    if job.type in ("objection", "withdrawal"):
        outcome.update(_ledger(session, consent, now, job))
    elif job.type == "restriction":
        outcome["restricted_since"] = now.isoformat()
        outcome["scope"] = "every purpose; storage only (GDPR Art. 18(2))"
        consent.cache.invalidate_on_commit(session, job.subject_id)
    elif job.type == "rectification":
        _sync_identities(session, job, done.get("_identity_changes", []))
    if job.type == "erasure":
        erase_in_engine(session, job.subject_id, job.request_id, now)
        from personvern.requests.proof import engine_leftovers

        if "proof" in outcome:
            left = engine_leftovers(session, job.identities)
            outcome["proof"]["engine"] = left
            outcome["proof"]["clean"] = outcome["proof"]["clean"] and not left
        consent.cache.invalidate_on_commit(session, job.subject_id)
        # Last: destroy the subject's key, so every copy of their ciphertext (backups too)
        # is unreadable.
        from personvern.crypto.shred import shred_subject

        outcome["key_destroyed"] = shred_subject(session, job.subject_id, at=now,
                                                 reason=f"request:{job.request_id}")
    return outcome


def _ledger(session: Session, consent: ConsentContext, at: datetime, job: Job
            ) -> dict[str, Any]:
    from personvern.consent.service import record_event

    actor = {"guardian": Actor.GUARDIAN, "admin": Actor.ADMIN, "owner": Actor.SYSTEM}.get(
        job.opened_by, Actor.SELF)
    channel = {"portal": Channel.PORTAL, "email": Channel.EMAIL}.get(job.channel, Channel.API)
    kind = EventType.OBJECTION_RAISED if job.type == "objection" else EventType.CONSENT_WITHDRAWN
    recorded, skipped = [], []
    for purpose in job.details.get("purposes", []):
        try:
            record_event(session, consent, at, job.subject_id, kind, purpose_id=purpose,
                         actor=actor, channel=channel, actor_subject_id=job.actor_subject_id,
                         evidence={"request": job.request_id},
                         idempotency_key=f"request:{job.request_id}:{purpose}")
            recorded.append(purpose)
        except InvalidInput as exc:  # e.g. withdrawn in the portal meanwhile
            skipped.append({"purpose": purpose, "why": str(exc)})
    key = "objected" if job.type == "objection" else "withdrawn"
    return {key: recorded, "skipped": skipped}


def _sync_identities(session: Session, job: Job, changes: Iterable[Any]) -> None:
    """A rectified e-mail or phone is also the identity the engine finds the person by."""
    from personvern.consent.subjects import matches, normalise

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


def erase_in_engine(session: Session, subject_id: str, request_id: str, at: datetime) -> None:
    """Erase what the engine holds on the person; the pseudonymous id, the hash-chained
    ledger facts and this request's record (without personal values) remain as proof."""
    conn = session.connection()  # Core statements: no ORM bookkeeping for plain deletes
    for table, where in (
        (_IDENTITIES, _IDENTITIES.c.subject_id == subject_id),
        (_EVIDENCE, _EVIDENCE.c.subject_id == subject_id),
        (_GUARDIANS, or_(_GUARDIANS.c.guardian_id == subject_id,
                         _GUARDIANS.c.child_id == subject_id)),
        (_MEMBERS, _MEMBERS.c.subject_id == subject_id),
        (_COOKIES, _COOKIES.c.subject_id == subject_id),
    ):
        conn.execute(delete(table).where(where))
    conn.execute(update(_REQUESTS).where(_REQUESTS.c.subject_id == subject_id,
                                         _REQUESTS.c.id != request_id).values(details={}))
    subject = session.get(Subject, subject_id)
    if subject is not None:
        subject.erased_at = at
        subject.closed_at = subject.closed_at or at
        subject.birth_date = None
        subject.last_activity = None
    session.flush()


_IDENTITIES: SqlTable = Identity.__table__  # type: ignore[assignment]
_EVIDENCE: SqlTable = LedgerEvidence.__table__  # type: ignore[assignment]
_GUARDIANS: SqlTable = Guardianship.__table__  # type: ignore[assignment]
_MEMBERS: SqlTable = Membership.__table__  # type: ignore[assignment]
_COOKIES: SqlTable = CookieChoice.__table__  # type: ignore[assignment]
_REQUESTS: SqlTable = Request.__table__  # type: ignore[assignment]


# ---- restriction: every use but storage is denied ------------------------------------------

def restricted_since(session: Session, subject_id: str) -> datetime | None:
    """When the person's restriction began (Art. 18), or None when none is in force."""
    rows = session.execute(select(Request.closed_at, Request.outcome).where(
        Request.subject_id == subject_id, Request.type == "restriction",
        Request.state == "completed").order_by(Request.closed_at)).all()
    for closed_at, outcome in rows:
        if not (outcome or {}).get("lifted_at"):
            since: datetime | None = closed_at
            return since
    return None


def restriction_decision(purpose: Purpose, since: datetime, at: datetime) -> Decision:
    """The decision while processing is restricted: no use but storage (Art. 18(2))."""
    return Decision(False, purpose.id, purpose.legal_basis,
                    f"processing restricted at the person's request since "
                    f"{since.date().isoformat()}; only storage is allowed (GDPR Art. 18(2))",
                    "restricted", at)


def restricted(decide: Callable[..., Decision]) -> Callable[..., Decision]:
    """Wrap a ``decide_for``-shaped function so a restriction in force denies first."""
    def wrapper(session: Session, ctx: ConsentContext, subject_id: str, purpose_id: str,
                at: datetime, **kwargs: Any) -> Decision:
        since = restricted_since(session, subject_id)
        if since is not None and since <= at:
            return restriction_decision(ctx.purpose(purpose_id), since, at)
        return decide(session, ctx, subject_id, purpose_id, at, **kwargs)
    return wrapper


# ---- telling: the event note and the letter ------------------------------------------------

def summary(type: str, outcome: dict[str, Any]) -> str:
    """One line for the request's history (no personal values)."""
    if type == "access":
        return (f"access package written ({sum(outcome.get('rows', {}).values())} rows, "
                f"{outcome.get('redacted', 0)} references to others redacted)")
    if type == "portability":
        return f"portability export written ({sum(outcome.get('rows', {}).values())} rows)"
    if type == "rectification":
        return "rectified " + ", ".join(
            f"{r['table']}.{r['column']} ({r['rows']} rows)" for r in outcome.get("rectified", []))
    if type == "erasure":
        kept = sum(k["rows"] for k in outcome.get("kept", []))
        proof = outcome.get("proof", {})
        left = "" if not proof else (" proof: clean" if proof.get("clean") else
                                     f" proof: {len(proof.get('unexpected', []))} left")
        return (f"erased: {sum(outcome.get('deleted', {}).values())} rows deleted, "
                f"{sum(outcome.get('changed', {}).values())} masked, {kept} kept under a "
                f"legal hold;{left}")
    if type == "restriction":
        return "processing restricted: every use but storage is denied"
    if type == "objection":
        return "objection recorded for " + (", ".join(outcome.get("objected", [])) or "nothing")
    return "consent withdrawn for " + (", ".join(outcome.get("withdrawn", [])) or "nothing")


def letter(type: str, outcome: dict[str, Any]) -> str:
    """The e-mail to the person when the request is done (bokmål, then English)."""
    lines = ["Forespørselen din er behandlet. Your request has been carried out.", "",
             summary(type, outcome)]
    for k in outcome.get("kept", []):
        until = k["until"] or "the end of the retention period"
        lines.append(f"Beholdt / kept: {k['rows']} rader i {k['table']} til {until}: {k['why']}."
                     " Tilgangen er begrenset til dette formålet. Access is restricted to it.")
    if type == "access":
        lines.append("Kopien din kan lastes ned i portalen. Your copy is ready in the portal.")
    return "\n".join(lines)


# ---- Art. 15 information --------------------------------------------------------------------

LABELS = {
    "nb": {"title": "Innsyn: dine personopplysninger", "controller": "Behandlingsansvarlig",
           "purposes": "Hva vi bruker opplysningene til", "basis": "Rettslig grunnlag",
           "categories": "Opplysninger", "recipients": "Mottakere", "retention": "Lagringstid",
           "rights": "Dine rettigheter", "complaint": "Klage", "data": "Dine data",
           "source": "Kilde", "automated": "Automatiserte avgjørelser",
           "complaint_text": "Du kan klage til {name}, {address} ({url}).",
           "generated": "Laget", "rows": "rader", "redacted": "Henvisninger til andre personer "
           "er skjult."},
    "en": {"title": "Access: your personal data", "controller": "Controller",
           "purposes": "What we use the data for", "basis": "Legal basis",
           "categories": "Data", "recipients": "Recipients", "retention": "How long",
           "rights": "Your rights", "complaint": "Complaint", "data": "Your data",
           "source": "Source", "automated": "Automated decisions",
           "complaint_text": "You may complain to {name}, {address} ({url}).",
           "generated": "Generated", "rows": "rows", "redacted": "References to other people "
           "are redacted."},
}
BASIS_NAMES = {
    "consent": ("samtykke", "consent"), "contract": ("avtale", "contract"),
    "legal_obligation": ("rettslig forpliktelse", "legal obligation"),
    "vital_interests": ("vitale interesser", "vital interests"),
    "public_task": ("offentlig oppgave", "public task"),
    "legitimate_interests": ("berettiget interesse", "legitimate interests"),
}
RIGHT_NAMES = {
    "access": ("innsyn", "access"), "rectification": ("retting", "rectification"),
    "erasure": ("sletting", "erasure"), "restriction": ("begrensning", "restriction"),
    "objection": ("protest", "objection"), "portability": ("dataportabilitet", "portability"),
    "withdraw_consent": ("trekke tilbake samtykke", "withdraw consent"),
    "human_review": ("menneskelig vurdering", "human review"),
}


def rule_text(rule: RetentionRule, lang: str) -> str:
    """A retention rule in words: its description, or its duration and trigger."""
    if rule.description is not None:
        return rule.description.get(lang)
    return f"{rule.duration} after {rule.trigger.replace('_', ' ')}"


def art15(manifest: Manifest, j: Jurisdiction, job: Job, lang: str) -> dict[str, Any]:
    """This person's Art. 15(1)-(2) information, from the manifest, as plain data."""
    i = 0 if lang == "nb" else 1
    c = manifest.controller
    contact = c.dpo or c.privacy_contact
    names = {cat.id: cat.name.get(lang) for cat in manifest.categories if cat.name}
    sources = {cat.id: cat.source.get(lang) for cat in manifest.categories if cat.source}
    purposes = []
    for p in subject_purposes(manifest, job):
        basis = p.legal_basis
        recipients = [r for r in (manifest.recipient(rid) for rid in p.recipients) if r]
        rules = [r for r in (manifest.retention_rule(rid) for rid in p.retention) if r]
        purposes.append({
            "id": p.id, "name": p.name.get(lang),
            "description": p.description.get(lang) if p.description else None,
            "basis": BASIS_NAMES[basis][i] if basis else None,
            "article": f"GDPR Art. 6(1)({LEGAL_BASIS_ARTICLE[basis]})" if basis else None,
            "legitimate_interest": p.legitimate_interest.interest.get(lang)
            if p.legitimate_interest else None,
            "statute": p.legal_obligation.statute if p.legal_obligation else None,
            "categories": [names.get(k, k) for k in p.categories],
            "sources": sorted({sources[k] for k in p.categories if k in sources}),
            "recipients": [{"name": r.name, "role": r.role, "service": r.service.get(lang),
                            "country": r.country,
                            "transfer": r.transfer.mechanism if r.transfer else None}
                           for r in recipients],
            "retention": [rule_text(r, lang) for r in rules],
            "rights": [RIGHT_NAMES[r][i] for r in rights_for(p)],
            "automated": p.automated_decisions.logic.get(lang)
            if p.automated_decisions and p.automated_decisions.logic else None,
        })
    a = j.authority
    return {
        "controller": {"name": c.name, "orgnr": c.orgnr, "address": c.address, "email": c.email,
                       "phone": c.phone,
                       "contact": contact.email if contact else None},
        "purposes": purposes,
        "complaint": {"authority": a.name, "address": a.address, "website": a.website,
                      "complaint_url": a.complaint_url},
        "language": lang,
    }


_SUMMARY = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ t.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
</style></head><body>
<h1>{{ t.title }}</h1>
<p>{{ t.generated }}: {{ generated }}</p>
<h2>{{ t.controller }}</h2>
<p>{{ info.controller.name }} ({{ info.controller.orgnr }}){% if info.controller.address %},
{{ info.controller.address }}{% endif %}{% if info.controller.contact %} —
{{ info.controller.contact }}{% endif %}</p>
<h2>{{ t.purposes }}</h2>
{% for p in info.purposes %}<section><h3>{{ p.name }}</h3>
{% if p.description %}<p>{{ p.description }}</p>{% endif %}
<dl><dt>{{ t.basis }}</dt><dd>{{ p.basis }} ({{ p.article }}){% if p.statute %},
{{ p.statute }}{% endif %}{% if p.legitimate_interest %}: {{ p.legitimate_interest }}
{% endif %}</dd>
<dt>{{ t.categories }}</dt><dd>{{ p.categories | join(", ") }}</dd>
{% if p.sources %}<dt>{{ t.source }}</dt><dd>{{ p.sources | join("; ") }}</dd>{% endif %}
<dt>{{ t.recipients }}</dt><dd>{% for r in p.recipients %}{{ r.name }} ({{ r.service }}{%
 if r.country %}, {{ r.country }}{% endif %}{% if r.transfer %}, {{ r.transfer }}{% endif
 %}){% if not loop.last %}; {% endif %}{% else %}—{% endfor %}</dd>
<dt>{{ t.retention }}</dt><dd>{{ p.retention | join("; ") }}</dd>
<dt>{{ t.rights }}</dt><dd>{{ p.rights | join(", ") }}</dd>
{% if p.automated %}<dt>{{ t.automated }}</dt><dd>{{ p.automated }}</dd>{% endif %}
</dl></section>{% endfor %}
<h2>{{ t.complaint }}</h2>
<p>{{ complaint }}</p>
<h2>{{ t.data }}</h2>
<table>{% for table, n in counts.items() %}<tr><td>{{ table }}</td><td>{{ n }} {{ t.rows }}</td>
</tr>{% endfor %}</table>
<p>{{ t.redacted }}</p>
</body></html>
"""


def render_summary(info: dict[str, Any], counts: dict[str, int], generated: datetime,
                   lang: str) -> str:
    """The readable HTML of the Art. 15 information and what data was found."""
    from jinja2 import Environment

    t = LABELS[lang]
    a = info["complaint"]
    complaint = t["complaint_text"].format(name=a["authority"], address=a["address"],
                                           url=a["complaint_url"])
    env = Environment(autoescape=True)
    return env.from_string(_SUMMARY).render(t=t, info=info, counts=counts, lang=lang,
                                            generated=generated.isoformat(timespec="minutes"),
                                            complaint=complaint)

