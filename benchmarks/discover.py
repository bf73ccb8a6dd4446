"""Discovery benchmark: how much of a service's data map `personvern discover` finds, and
how long it takes on a large database.

1. Precision and recall, per seed, on each seed's demo service (`demo init --template`):
   of the personal-data columns, of their categories (table, column, category) and of the
   identities, against the generator's own labels, and of the references against the
   demo's data map. Targets: recall >= 0.95, precision >= 0.90 (of the categories).
   Also, per seed: the columns said to be personal data by Art. 4(1) alone (not proposed)
   and what proposing them would do; and the figures with the seed's own categories (its
   manifest's ``categories:``, never its data map) given, as ``--categories-from`` does.
2. Discovery time on a SQLite database of 50 tables and 10,000,000 rows (``--quick``:
   1,000,000), next to its limit measured in the same run: the same bounded reads in
   hand-written SQL (``SELECT * FROM t LIMIT n`` per table). Target: under 30 s.

3. In the same run, presidio-analyzer (the ``bench`` extra; `make bench` installs it):
   its predefined recognisers that need no NLP model — the PatternRecognizer-based ones
   (e-mail, credit card, IBAN, IP, date, URL, US ids, …) and its phonenumbers-based phone
   recogniser, given Norway among its regions — behind a no-op NLP engine, on the very
   values discovery sampled and classified (at most 200 distinct values per column). No
   spaCy NER model can be downloaded on this machine, so Presidio's PERSON and LOCATION
   (names, addresses) are not in the comparison: its recall here is that of its patterns.
   A column is given Presidio's entity when at least 60 % of its values get it (discovery
   proposes at 0.6). Ratios: Presidio's time over ours on the same values, and its recall
   over ours against the same labels. Norwegian identifiers (fødselsnummer, D-nummer,
   organisasjonsnummer, kontonummer) are measured apart, on valid values made here:
   Presidio has no recogniser for them. Without presidio-analyzer installed this part
   says so and the rest still runs.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from _common import emit, log, parse_args, ratio

# tldextract (Presidio's e-mail check) would fetch the public suffix list; its bundled
# snapshot is used instead: nothing leaves the machine.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

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


def _to_parent(want: set[tuple[str, str, str]], have: set[tuple[str, str, str]]) -> float:
    """Recall where a proposed category that is a parent of the label counts: the labels use
    the seeds' own keys below the built-in taxonomy (``….signature_rights``,
    ``user.behavior.progress``), which discovery can only name by their parent."""
    hits = sum(1 for t, c, cat in want if any(
        (t, c) == (t2, c2) and (cat == cat2 or cat.startswith(cat2 + "."))
        for t2, c2, cat2 in have))
    return round(hits / len(want), 3) if want else 1.0


def accuracy(workdir: Path, subjects: int, template: str,
             presidio: Presidio | None) -> dict[str, Any]:
    """Precision and recall on one seed's demo service, against the generator's labels
    (categories and identities) and the demo's data map (references); and Presidio's on
    the same sampled values, when it is installed."""
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
    url = f"sqlite:///{workdir / 'service.db'}"
    found = discover(url)
    got = labelled(yaml.safe_load(as_yaml([found], [template])))
    out: dict[str, Any] = {}
    for name, want, have in (
            ("personal_columns", {(t, c) for t, c, _ in truth_columns},
             {(t, c) for t, c, _ in got[0]}),
            ("categories", truth_columns, got[0]),
            ("identities", truth_identities, got[1]),
            ("references", truth_refs, got[2])):
        out[f"{name}_recall"], out[f"{name}_precision"] = _score(want, have)
    out["categories_recall_to_parent"] = _to_parent(truth_columns, got[0])
    out["name_only_proposed"] = sorted(f"{t.name}.{c.name} {c.category}" for t in found.tables
                                       for c in t.columns if c.proposed and c.name_only)
    out["missed"] = sorted(f"{t}.{c} {cat}" for t, c, cat in truth_columns - got[0])
    out["spurious"] = sorted(f"{t}.{c} {cat}" for t, c, cat in got[0] - truth_columns)
    out["counts"] = {"labelled": len(truth_columns), "proposed": len(got[0])}
    out["art4_said"] = art4(found, truth_columns, got[0])
    # The same findings, refined by the seed's own categories (its manifest's `categories:`
    # section only, never its data map): what `discover --categories-from` proposes.
    from personvern.discover.refine import declared_in, refine

    refine(found, declared_in(str(workdir / "personvern.yaml")))
    refined = labelled(yaml.safe_load(as_yaml([found], [template])))[0]
    mine: dict[str, Any] = {}
    for name, want, have in (
            ("personal_columns", {(t, c) for t, c, _ in truth_columns},
             {(t, c) for t, c, _ in refined}),
            ("categories", truth_columns, refined)):
        mine[f"{name}_recall"], mine[f"{name}_precision"] = _score(want, have)
    mine["missed"] = sorted(f"{t}.{c} {cat}" for t, c, cat in truth_columns - refined)
    mine["spurious"] = sorted(f"{t}.{c} {cat}" for t, c, cat in refined - truth_columns)
    out["with_declared_categories"] = mine
    if presidio is not None:
        out["presidio"] = presidio.compare(url, truth_columns)
        out["presidio"]["recall_vs_ours"] = ratio(out["presidio"]["recall"],
                                                  out["categories_recall"])
    return out


def art4(found: Any, truth: set[tuple[str, str, str]],
         proposed: set[tuple[str, str, str]]) -> dict[str, Any]:
    """The columns discovery says, below its threshold, are personal data by Art. 4(1) alone
    (in a person's row, no narrower kind known): how many the labels hold, and the
    column-level precision and recall if they were proposed as well."""
    from personvern.discover.scan import RELATES_KIND

    said = {(t.name, c.name) for t in found.tables for c in t.columns
            if c.kind == RELATES_KIND}
    want = {(t, c) for t, c, _ in truth}
    have = {(t, c) for t, c, _ in proposed}
    recall, precision = _score(want, have | said)
    return {"columns": len(said), "labelled": len(said & want),
            "labelled_columns": sorted(f"{t}.{c}" for t, c in said & want),
            "unlabelled_columns": sorted(f"{t}.{c}" for t, c in said - want),
            "personal_columns_recall_if_proposed": recall,
            "personal_columns_precision_if_proposed": precision}


# Presidio's entities and the taxonomy's categories they stand for. DATE_TIME is given the
# birth date, the one date category the labels hold: its patterns cannot tell a birth date
# from a timestamp, so that mapping is generous to it on recall and costs it precision.
PRESIDIO_CATEGORIES = {
    "EMAIL_ADDRESS": "user.contact.email",
    "PHONE_NUMBER": "user.contact.phone_number",
    "CREDIT_CARD": "user.financial.credit_card",
    "IBAN_CODE": "user.financial.bank_account",
    "US_BANK_NUMBER": "user.financial.bank_account",
    "IP_ADDRESS": "user.device.ip_address",
    "DATE_TIME": "user.demographic.date_of_birth",
    "US_SSN": "user.government_id.national_identification_number",
    "US_ITIN": "user.government_id.national_identification_number",
    "US_PASSPORT": "user.government_id",
    "US_DRIVER_LICENSE": "user.government_id.drivers_license_number",
    "UK_NHS": "user.health",
    "MEDICAL_LICENSE": "user.professional_information",
}
SHARE = 0.6  # as scan.CONFIDENT: a column is given an entity most of its values have


class Presidio:
    """presidio-analyzer's model-free recognisers behind a no-op NLP engine, and the time
    they and discovery each take on the same sampled values."""

    def __init__(self) -> None:
        # This folder's requests.py (the rights-request benchmark) would shadow the HTTP
        # library tldextract imports: Presidio is imported with the folder off the path.
        here = Path(__file__).resolve().parent
        saved = sys.path[:]
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
        try:
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import NoOpNlpEngine
            from presidio_analyzer.predefined_recognizers import PhoneRecognizer
        finally:
            sys.path[:] = saved

        nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        registry = RecognizerRegistry(supported_languages=["en"])
        # With a no-op engine only the recognisers that need no model are loaded.
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
        registry.remove_recognizer("PhoneRecognizer")
        registry.add_recognizer(PhoneRecognizer(
            supported_regions=("NO", *PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS)))
        self.recognisers = sorted(type(r).__name__ for r in registry.recognizers)
        self.engine = AnalyzerEngine(registry=registry, nlp_engine=nlp,
                                     supported_languages=["en"])
        self.seconds = self.ours_seconds = 0.0

    def top(self, value: str) -> str | None:
        """The entity Presidio scores highest in ``value`` (its own ranking), or None."""
        results = self.engine.analyze(value, language="en")
        return max(results, key=lambda r: r.score).entity_type if results else None

    def compare(self, url: str, truth: set[tuple[str, str, str]]) -> dict[str, Any]:
        """Both classify the values discovery samples (its reads, its distinct values);
        recall and precision of each against ``truth``, timed apart."""
        from sqlalchemy import MetaData, create_engine, select

        from personvern.discover.scan import _CLASSIFY, SAMPLE, _as_text, _classify

        engine = create_engine(url)
        metadata = MetaData()
        metadata.reflect(engine)
        theirs: set[tuple[str, str, str]] = set()
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = [dict(r._mapping) for r in conn.execute(select(table).limit(SAMPLE))]
                for column in table.c:
                    values = [row[column.name] for row in rows]
                    started = time.perf_counter()
                    _classify(column, values, table.name)  # discovery's share of the work
                    self.ours_seconds += time.perf_counter() - started
                    texts = list(dict.fromkeys(
                        _as_text(v) for v in values if v is not None))[:_CLASSIFY]
                    started = time.perf_counter()
                    counts: dict[str, int] = {}
                    for value in texts:
                        entity = self.top(value)
                        if entity is not None:
                            counts[entity] = counts.get(entity, 0) + 1
                    self.seconds += time.perf_counter() - started
                    best = max(((e, n) for e, n in counts.items() if e in PRESIDIO_CATEGORIES),
                               key=lambda kv: kv[1], default=None)
                    if best and best[1] >= SHARE * len(texts):
                        theirs.add((table.name, column.name, PRESIDIO_CATEGORIES[best[0]]))
        engine.dispose()
        recall, precision = _score(truth, theirs)
        return {"recall": recall, "precision": precision,
                "found": sorted(f"{t}.{c} {cat}" for t, c, cat in theirs & truth)}


def norwegian_values(n: int) -> dict[str, list[str]]:
    """Valid Norwegian identifiers made here (never real ones): fødselsnummer and D-nummer
    (Faker no_NO's birth numbers, the D-nummer's day + 40), organisasjonsnummer and
    kontonummer whose mod-11 check digits python-stdnum accepts."""
    from faker import Faker
    from stdnum.no import fodselsnummer, kontonr, orgnr

    fake = Faker("no_NO")
    fake.seed_instance(13)
    pick = random.Random(13)
    out: dict[str, list[str]] = {"fødselsnummer": [], "D-nummer": [],
                                 "organisasjonsnummer": [], "kontonummer": []}
    while len(out["fødselsnummer"]) < n:
        out["fødselsnummer"].append(fake.ssn())
    while len(out["D-nummer"]) < n:
        base = fake.ssn()[:9]
        d = str(int(base[0]) + 4) + base[1:]
        k1 = fodselsnummer.calc_check_digit1(d)
        full = d + k1 + fodselsnummer.calc_check_digit2(d + k1)
        if fodselsnummer.is_valid(full):  # a check digit of 10 has no number: the next one
            out["D-nummer"].append(full)
    # Random digits kept when their mod-11 check digit holds (about one in eleven).
    while len(out["organisasjonsnummer"]) < n:
        candidate = pick.choice("89") + "".join(pick.choice("0123456789") for _ in range(8))
        if orgnr.is_valid(candidate):
            out["organisasjonsnummer"].append(candidate)
    while len(out["kontonummer"]) < n:
        candidate = "".join(pick.choice("0123456789") for _ in range(11))
        if kontonr.is_valid(candidate):
            out["kontonummer"].append(candidate)
    return out


def norwegian(presidio: Presidio | None, n: int) -> dict[str, Any]:
    """Per Norwegian identifier: the share of valid values each recognises, and what
    Presidio takes them for."""
    from personvern.discover.recognisers import RECOGNISERS

    ours = {"fødselsnummer": "fødselsnummer or D-nummer", "D-nummer": "fødselsnummer or D-nummer",
            "organisasjonsnummer": "organisasjonsnummer", "kontonummer": "kontonummer"}
    by_name = {r.name: r for r in RECOGNISERS}
    out: dict[str, Any] = {}
    for kind, values in norwegian_values(n).items():
        recogniser = by_name[ours[kind]]
        row: dict[str, Any] = {
            "values": len(values),
            "ours_recall": round(sum(recogniser.matches(v) for v in values) / len(values), 3)}
        if presidio is not None:
            taken: dict[str, int] = {}
            for value in values:
                entity = presidio.top(value) or "nothing"
                taken[entity] = taken.get(entity, 0) + 1
            # It has no recogniser for any of them; what lands in the right category does
            # so by another country's pattern (a US bank number: any 8 to 17 digits).
            right = sum(n for entity, n in taken.items()
                        if PRESIDIO_CATEGORIES.get(entity) == recogniser.category)
            row["presidio_recall"] = round(right / len(values), 3)
            row["presidio_takes_them_for"] = dict(sorted(taken.items()))
        out[kind] = row
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


def counted(path: Path) -> int:
    """The rows the big database holds, counted (not assumed from the generator's sizes)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return sum(conn.execute(f"SELECT count(*) FROM t{n:02d}").fetchone()[0]
                   for n in range(TABLES))


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

    presidio: Presidio | None
    try:
        presidio = Presidio()
    except ImportError:
        presidio = None
        log("presidio-analyzer is not installed (`uv sync --extra bench`): not compared")
    with tempfile.TemporaryDirectory(prefix="pv-bench-discover-") as tmp:
        workdir = Path(tmp)
        seeds: dict[str, dict[str, Any]] = {}
        for template in TEMPLATES:
            log(f"precision and recall on the {template} demo service of {subjects:,} people")
            (workdir / template).mkdir()
            seeds[template] = accuracy(workdir / template, subjects, template, presidio)
        log(f"building {TABLES} tables of {rows:,} rows")
        big = workdir / "big.db"
        big_database(big, rows)
        log("discovering it")
        started = time.perf_counter()
        found = discover(f"sqlite:///{big}", sample=sample)
        seconds = time.perf_counter() - started
        bare = handwritten_reads(big, sample)
        written = counted(big)
    proposed = sum(c.proposed for t in found.tables for c in t.columns)
    targets = {"recall_min": 0.95, "precision_min": 0.9}
    figures = {"seeds": seeds,
               "seeds_meeting_targets_with_declared_categories": sorted(
                   name for name, f in seeds.items()
                   if f["with_declared_categories"]["categories_recall"]
                   >= targets["recall_min"]
                   and f["with_declared_categories"]["categories_precision"]
                   >= targets["precision_min"]),
               "seeds_meeting_targets": sorted(
                   name for name, f in seeds.items()
                   if f["categories_recall"] >= targets["recall_min"]
                   and f["categories_precision"] >= targets["precision_min"]),
               "big_database_seconds": round(seconds, 2),
               "big_database_rows_counted": written,
               "handwritten_bounded_reads_seconds": round(bare, 3),
               "big_database_columns_proposed": proposed,
               "presidio": _presidio_figures(presidio, seeds),
               "norwegian_identifiers": norwegian(presidio, 200),
               "targets": {**targets, "big_database_seconds_max": 30}}
    ratios = {"discovery_vs_handwritten_bounded_reads": ratio(seconds, bare)}
    if presidio is not None:
        ratios["presidio_time_vs_ours_same_values"] = ratio(presidio.seconds,
                                                            presidio.ours_seconds)
        ratios["presidio_recall_vs_ours"] = figures["presidio"]["recall_vs_ours"]
    emit("discover", {"demo_subjects": subjects, "tables": TABLES, "rows": TABLES * rows,
                      "sample_per_table": sample}, figures, ratios)


def _presidio_figures(presidio: Presidio | None, seeds: dict[str, Any]) -> dict[str, Any]:
    if presidio is None:
        return {"compared": False,
                "why": "presidio-analyzer is not installed: `uv sync --extra bench`"}
    ours = [s["categories_recall"] for s in seeds.values()]
    theirs = [s["presidio"]["recall"] for s in seeds.values()]
    mean_ours, mean_theirs = sum(ours) / len(ours), sum(theirs) / len(theirs)
    return {"compared": True,
            "what": "pattern recognisers and the phonenumbers phone recogniser only, with "
                    "a no-op NLP engine: no spaCy NER model can be downloaded here, so "
                    "names and addresses (PERSON, LOCATION) are not recognised by it",
            "recognisers": presidio.recognisers,
            "mean_recall": round(mean_theirs, 3), "ours_mean_recall": round(mean_ours, 3),
            "recall_vs_ours": ratio(mean_theirs, mean_ours),
            "seconds": round(presidio.seconds, 3), "ours_seconds": round(presidio.ours_seconds, 3)}


if __name__ == "__main__":
    main()
