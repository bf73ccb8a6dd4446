"""The person's copy: the access package (Art. 15(3)) and the portability export (Art. 20).

The access package is ``access-<id>.zip``: ``data.json`` (every row found, the Art. 15
information, what the engine holds), one CSV per table and ``summary.html``. No other
person's data leaves: a reference to a row that is not the person's is redacted. The
portability export is ``portability-<id>.json``: what the person provided, for purposes
whose basis gives the right. Both files are readable by their owner only.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import time
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from personvern.errors import Conflict
from personvern.escaping import csv_cell
from personvern.manifest.model import Manifest
from personvern.requests.datamap import Found, SqlDataset
from personvern.requests.information import art15, render_summary
from personvern.requests.jobs import Env, Job, find_all, plain, subject_purposes
from personvern.rights.basis import rights_for

REDACTED = "[redacted]"


def package(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    """Write the access package; returns its file facts, row counts and redactions."""
    found = find_all(job, datasets)
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
    manual = manual_datasets(env.manifest, callbacks)
    path = env.out_dir / f"access-{job.request_id}.zip"
    generated = env.clock()
    document = {"request": job.request_id, "generated_at": generated, "information": info,
                "datasets": data, "manual": manual, "personvern": job.engine_records}
    with _private_file(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        # Streamed into the archive as it is encoded: the whole document is never held as
        # text, then again as bytes, beside the rows it was made from.
        with zf.open(_entry("data.json"), "w", force_zip64=True) as raw, \
                io.TextIOWrapper(raw, encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False, indent=2, default=plain)
        for ds_id, tables in data.items():
            for table, table_rows in tables.items():
                zf.writestr(f"{ds_id}/{table}.csv", _csv(table_rows))
        zf.writestr("summary.html", render_summary(info, counts, generated, env.language(),
                                                   manual))
    # What the package says of each manual dataset, kept with the run's result: the
    # answer amends the package when a task was closed after it was written.
    return {"package": _file_facts(path), "rows": counts, "redacted": redacted,
            "_manual": manual}


def amend_manual(path: Path, manual: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """Rewrite the package at ``path`` with ``manual`` (:func:`manual_datasets` as the tasks
    stand now) in ``data.json`` and ``summary.html``, every other member as it was; its new
    file facts. A processor's answer recorded after the package was written reaches the
    person's copy (Art. 15(1), (3)); ``amended_at`` says when, the rows stay as found."""
    if not path.is_file():  # moved, removed, or a relative path read from elsewhere
        raise Conflict(f"the access package {path} written before the processor answered "
                           "is not there to be amended with the answer: put it back (or run "
                           "from the directory it was written in) and run the request again")
    with zipfile.ZipFile(path) as old:
        document = json.loads(old.read("data.json"))
        document["manual"], document["amended_at"] = manual, at
        info = document["information"]
        counts = {f"{ds_id}.{table}": len(rows) for ds_id, tables in document["datasets"].items()
                  for table, rows in tables.items()}
        summary = render_summary(info, counts, datetime.fromisoformat(document["generated_at"]),
                                 info["language"], manual)
        with _private_file(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for member in old.infolist():
                if member.filename == "data.json":
                    with zf.open(_entry("data.json"), "w", force_zip64=True) as raw, \
                            io.TextIOWrapper(raw, encoding="utf-8") as out:
                        json.dump(document, out, ensure_ascii=False, indent=2, default=plain)
                elif member.filename == "summary.html":
                    zf.writestr(member, summary)
                else:
                    zf.writestr(member, old.read(member))
    return _file_facts(path)


def manual_datasets(manifest: Manifest, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Each manual dataset a task was opened for: its processor, the task's state and the
    note it was closed with (None while open), as the package was made (Art. 15(1), (3))."""
    out = []
    for ds in manifest.datasets:
        task = (answers.get(ds.id) or {}).get("manual") if ds.kind == "manual" else None
        if task is None:
            continue
        recipient = manifest.recipient(ds.recipient) if ds.recipient else None
        out.append({"dataset": ds.id, "processor": recipient.name if recipient else None,
                    "state": task["state"],
                    "note": task["note"] if task["state"] == "done" else None})
    return out


def redact(ds: SqlDataset, found: Found) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The subject's rows with every reference to another person's row redacted."""
    allowed: dict[tuple[str, str], set[Any]] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    redacted = 0
    for table, rows in found.rows.items():
        edges = [e for e in ds.all_edges if e.table == table]
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


def export(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    """Art. 20: what the person provided, for purposes on consent or contract, as JSON."""
    purposes = [p for p in subject_purposes(env.manifest, job) if "portability" in rights_for(p)]
    categories = {c for p in purposes for c in p.categories}
    found = find_all(job, datasets)
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


def _entry(name: str) -> zipfile.ZipInfo:
    """An archive member as ``ZipFile.writestr`` makes one: stamped now, deflated, and
    readable by its owner only."""
    info = zipfile.ZipInfo(name, date_time=time.localtime(time.time())[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def _json(value: Any) -> str:
    """Readable JSON, non-ASCII letters kept (æ, ø, å), database values made plain."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=plain)


def _csv(rows: list[dict[str, Any]]) -> str:
    """One table's rows as CSV, with every field any row has."""
    buf = io.StringIO()
    # An app's rows (an http dataset) need not all have the same fields.
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # data.json holds every value exactly; the CSV is for spreadsheets, which would run
        # a value such as =HYPERLINK(...) that someone else wrote into the person's data.
        writer.writerow({k: _cell(plain(v)) for k, v in row.items()})
    return buf.getvalue()


def _cell(value: Any) -> Any:
    return csv_cell(value) if isinstance(value, str) else value


@contextlib.contextmanager
def _private_file(path: Path) -> Iterator[io.BufferedWriter]:
    """A new file only its owner can read (it holds a person's data), at ``path`` only
    once whole: a full disk or a crash never leaves a partial package under its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _file_facts(path: Path) -> dict[str, Any]:
    """Where the file is, its SHA-256 (the download checks it) and its size."""
    with path.open("rb") as fh:  # in chunks: a package is not read back into memory whole
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return {"path": str(path), "sha256": digest, "bytes": path.stat().st_size}
