"""Discovery benchmark: how much of a service's data map `personvern discover` finds, and
how long it takes on a large database.

1. Precision and recall, per seed, on each seed's demo service (`demo init --template`):
   of the personal-data columns, of their categories (table, column, category) and of the
   identities, against the generator's own labels, and of the references against the
   demo's data map. Targets: recall >= 0.95, precision >= 0.90 (of the categories).
2. Discovery time on a SQLite database of 50 tables and 10,000,000 rows (``--quick``:
   1,000,000), next to its limit measured in the same run: the same bounded reads in
   hand-written SQL (``SELECT * FROM t LIMIT n`` per table). Target: under 30 s.

Not compared: presidio-analyzer. Its recognisers need spaCy and a language model, which
cannot be downloaded on this machine; and it has no recogniser for fødselsnummer,
D-nummer, organisasjonsnummer or kontonummer, which discovery checks with python-stdnum.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from _common import emit, log, parse_args, ratio

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)
TABLES = 50


def labelled(manifest: dict[str, Any]) -> tuple[set[tuple[str, str, str]],
                                                set[tuple[str, str, str]],
                                                set[tuple[str, str, str]]]:
    """(table, column, category), (table, column, identity) and (table, column, to) of a
    manifest's datasets."""
    columns, identities, references = set(), set(), set()
    for dataset in manifest["datasets"]:
        for table in dataset.get("tables", []):
            for column in table.get("columns", []):
                for category in column.get("categories", []):
                    columns.add((table["name"], column["name"], category))
                if column.get("identity"):
                    identities.add((table["name"], column["name"], column["identity"]))
            for ref in table.get("references", []):
                references.add((table["name"], ref["column"], ref["to"]))
    return columns, identities, references


def _score(want: set[Any], have: set[Any]) -> tuple[float, float]:
    """(recall, precision) of ``have`` against ``want``."""
    hits = len(want & have)
    return (round(hits / len(want), 3) if want else 1.0,
            round(hits / len(have), 3) if have else 1.0)


def accuracy(workdir: Path, subjects: int, template: str) -> dict[str, Any]:
    """Precision and recall on one seed's demo service, against the generator's labels
    (categories and identities) and the demo's data map (references)."""
    from personvern.demo.init import init_demo
    from personvern.demo.templates import get_template
    from personvern.discover.report import as_yaml
    from personvern.discover.scan import discover

    init_demo(workdir, subjects, now=NOW, template=template)
    labels = get_template(template).labels
    truth_columns = {(t, c, cat) for (t, c), label in labels.items() for cat in label.categories}
    truth_identities = {(t, c, label.identity) for (t, c), label in labels.items()
                        if label.identity}
    truth_refs = labelled(yaml.safe_load((workdir / "personvern.yaml").read_text("utf-8")))[2]
    found = discover(f"sqlite:///{workdir / 'service.db'}")
    got = labelled(yaml.safe_load(as_yaml([found], [template])))
    out: dict[str, Any] = {}
    for name, want, have in (
            ("personal_columns", {(t, c) for t, c, _ in truth_columns},
             {(t, c) for t, c, _ in got[0]}),
            ("categories", truth_columns, got[0]),
            ("identities", truth_identities, got[1]),
            ("references", truth_refs, got[2])):
        out[f"{name}_recall"], out[f"{name}_precision"] = _score(want, have)
    out["missed"] = sorted(f"{t}.{c} {cat}" for t, c, cat in truth_columns - got[0])
    out["spurious"] = sorted(f"{t}.{c} {cat}" for t, c, cat in got[0] - truth_columns)
    out["counts"] = {"labelled": len(truth_columns), "proposed": len(got[0])}
    return out


def big_database(path: Path, rows_per_table: int) -> None:
    """50 tables of people-like rows, filled by SQLite itself (a recursive CTE)."""
    conn = sqlite3.connect(path)
    for n in range(TABLES):
        conn.execute(f"CREATE TABLE t{n:02d} (id INTEGER PRIMARY KEY, email TEXT, "
                     "phone TEXT, note TEXT, created_at TEXT, owner_id INTEGER)")
        conn.execute(
            f"INSERT INTO t{n:02d} WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL "
            f"SELECT i + 1 FROM k WHERE i < {rows_per_table}) "
            "SELECT i, 'p' || i || '@example.no', '+479' || printf('%07d', i), "
            "'text ' || i, '2026-01-01 12:00:00', (i % 1000) + 1 FROM k")
        conn.commit()
    conn.close()


def handwritten_reads(path: Path, sample: int) -> float:
    """The bounded reads alone, in SQL: each table's first ``sample`` rows."""
    started = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    for n in range(TABLES):
        conn.execute(f"SELECT * FROM t{n:02d} LIMIT {sample}").fetchall()
    conn.close()
    return time.perf_counter() - started


def main() -> None:
    """Measure and print the JSON line."""
    args = parse_args(__doc__ or "")
    subjects = 300 if args.quick else 2000
    rows = 20_000 if args.quick else 200_000
    sample = 1000
    from personvern.demo.templates import TEMPLATES
    from personvern.discover.scan import discover

    with tempfile.TemporaryDirectory(prefix="pv-bench-discover-") as tmp:
        workdir = Path(tmp)
        seeds: dict[str, dict[str, Any]] = {}
        for template in TEMPLATES:
            log(f"precision and recall on the {template} demo service of {subjects:,} people")
            (workdir / template).mkdir()
            seeds[template] = accuracy(workdir / template, subjects, template)
        log(f"building {TABLES} tables of {rows:,} rows")
        big = workdir / "big.db"
        big_database(big, rows)
        log("discovering it")
        started = time.perf_counter()
        found = discover(f"sqlite:///{big}", sample=sample)
        seconds = time.perf_counter() - started
        bare = handwritten_reads(big, sample)
    proposed = sum(c.proposed for t in found.tables for c in t.columns)
    targets = {"recall_min": 0.95, "precision_min": 0.9}
    figures = {"seeds": seeds,
               "seeds_meeting_targets": sorted(
                   name for name, f in seeds.items()
                   if f["categories_recall"] >= targets["recall_min"]
                   and f["categories_precision"] >= targets["precision_min"]),
               "big_database_seconds": round(seconds, 2),
               "handwritten_bounded_reads_seconds": round(bare, 3),
               "big_database_columns_proposed": proposed,
               "presidio": "not compared: needs spaCy and a model download (none here)",
               "targets": {**targets, "big_database_seconds_max": 30}}
    ratios = {"discovery_vs_handwritten_bounded_reads": ratio(seconds, bare)}
    emit("discover", {"demo_subjects": subjects, "tables": TABLES, "rows": TABLES * rows,
                      "sample_per_table": sample}, figures, ratios)


if __name__ == "__main__":
    main()
