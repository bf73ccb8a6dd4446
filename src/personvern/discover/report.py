"""A discovery as the manifest's own ``datasets:`` YAML (a proposal to review, with each
line's evidence in a comment), and as plain data for ``--json``."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from sqlalchemy.engine import make_url

from personvern.discover.scan import Discovery, TableFinding


def _flow(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML flow scalar


def dataset_id(url: str) -> str:
    """An id for the dataset from its URL: the database or file name, as a manifest id."""
    parsed = make_url(url)
    base = (parsed.database or "dataset").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    cleaned = re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_")
    return cleaned if cleaned and cleaned[0].isalpha() else f"db_{cleaned or 'data'}"


def as_yaml(found: list[Discovery], ids: list[str] | None = None) -> str:
    """The discoveries as a manifest ``datasets:`` fragment; what was not proposed, in
    comments. ``ids``: the datasets' ids (by default from their database names)."""
    lines = ["# Proposed by `personvern discover URL`, reading at most a sample of rows per",
             "# table. A proposal to review, not a finding: every column's evidence is in",
             "# its comment (values masked).",
             "datasets:"]
    for n, one in enumerate(found):
        lines += _dataset(one, ids[n] if ids else dataset_id(one.url))
    return "\n".join(lines) + "\n"


def _dataset(found: Discovery, ident: str) -> list[str]:
    url = make_url(found.url)
    lines = [f"  - id: {ident}  # {found.url}, read in {found.seconds:.1f} s"]
    if url.password is None:
        lines.append(f"    url: {_flow(found.url)}")
    else:  # never a secret in the manifest: the URL comes from the environment
        env = f"{ident.upper()}_URL"
        lines.append(f"    url_env: {env}  # set {env} to the database's URL")
    for schema, n in sorted(found.other_schemas.items()):
        lines.append(f"    # not read: schema {schema} ({n} tables): only the default schema "
                     "is read")
    lines.append("    tables:")
    for table in found.tables:
        lines += _table(table)
    return lines


def _table(table: TableFinding) -> list[str]:
    out = [f"      - name: {_flow(table.name)}"]
    if table.note:
        out[0] += f"  # {table.note}"
    if table.key is None:
        out.append("        # no single-column key: requests cannot find rows by key here")
    elif table.key != "id":
        out.append(f"        key: {_flow(table.key)}")
    if table.dates:
        out.append("        # dates a retention clock could count from: "
                   + ", ".join(table.dates))
    proposed = [c for c in table.columns if c.proposed]
    if proposed:
        out.append("        columns:")
    for column in proposed:
        parts = [f"name: {_flow(column.name)}"]
        if column.category is not None:
            parts.append(f"categories: [{column.category}]")
        if column.identity is not None:
            parts.append(f"identity: {column.identity}")
        evidence = f"{column.confidence:.2f}: {column.note}"
        if column.examples:
            evidence += f" (e.g. {', '.join(column.examples)})"
        out.append(f"          - {{{', '.join(parts)}}}  # {evidence}")
    if table.references:
        out.append("        references:")
    for ref in table.references:
        out.append(f"          - {{column: {_flow(ref.column)}, to: {_flow(ref.to)}}}"
                   f"  # {ref.how}")
    for column in table.columns:
        if not column.proposed and (column.kind or column.in_text or column.note):
            guess = f"{column.kind}? " if column.kind else ""
            out.append(f"        # not proposed: {column.name}: {guess}"
                       f"{column.confidence:.2f}: {column.note}")
    return out


def as_data(found: Discovery) -> dict[str, Any]:
    """``found`` as plain JSON-ready data (values masked, as everywhere)."""
    data = asdict(found)
    for table, plain in zip(found.tables, data["tables"], strict=True):
        for column, out in zip(table.columns, plain["columns"], strict=True):
            out["proposed"] = column.proposed
    return data
