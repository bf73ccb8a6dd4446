"""How fast the accountability records are: the Art. 30 record and the breach register.

Measured in one run, on a fresh SQLite file:
- building the record of processing from each example manifest and exporting it as CSV,
  HTML and JSON-LD, against the limit of only loading that manifest (``load_manifest``);
- recording a breach (checks, history entry, audit event, commit);
- telling N people of a high-risk breach (Art. 34): e-mails queued through the outbox,
  deduplicated, against the limit of a hand-written ``executemany`` of the same rows.

    python benchmarks/ropa_breach.py [--quick] [--runs N]
"""

from __future__ import annotations

import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from _common import ROOT, emit, log, parse_args, ratio, summary, time_call

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def ropa_figures(runs: int) -> tuple[float, float]:
    """Median ms per example of (record + three exports, manifest load alone)."""
    from personvern.manifest.loader import load_manifest
    from personvern.ropa import build_record, to_csv, to_html, to_jsonld

    examples = sorted((ROOT / "examples").glob("*.yaml"))

    def export_all() -> None:
        for path in examples:
            m = load_manifest(path).manifest
            for lang in ("nb", "en"):
                record = build_record(m, lang)
                to_csv(record), to_html(record), to_jsonld(record)

    def load_all() -> None:
        for path in examples:
            load_manifest(path)

    per = len(examples)
    return (statistics.median(time_call(export_all, runs)) / per,
            statistics.median(time_call(load_all, runs)) / per)


def breach_figures(url: str, people: int, runs: int) -> dict[str, float]:
    """Recording a breach, and queueing the Art. 34 notice to ``people`` subjects."""
    import time

    from sqlalchemy import insert

    from personvern.breach.register import notify_subjects, record_breach
    from personvern.clock import fixed_clock
    from personvern.consent.legacy import seal_legacy_identities
    from personvern.consent.tables import Identity, Subject
    from personvern.crypto.keyring import keyring_for
    from personvern.mail.tables import OutboxMessage
    from personvern.manifest.loader import load_manifest
    from personvern.storage.engine import create_engine_for
    from personvern.storage.migrate import upgrade
    from personvern.storage.session import make_sessionmaker

    upgrade(url)
    engine = create_engine_for(url)
    sessions = make_sessionmaker(engine)
    clock = fixed_clock(NOW)
    manifest = load_manifest(ROOT / "examples" / "minmentor.yaml").manifest
    with sessions.begin() as s:
        s.execute(insert(Subject), [{"id": f"{i:032x}", "created_at": NOW, "kind": None,
                                     "existing_customer": False} for i in range(people)])
        # Bulk-inserted in clear into the table (``value`` is its lookup column), then
        # sealed in place as the engine seals such rows at start: stored as in production.
        s.execute(insert(Identity.__table__), [
            {"subject_id": f"{i:032x}", "kind": "email", "value": f"person{i}@example.no",
             "created_at": NOW} for i in range(people)])
        seal_legacy_identities(s, keyring_for(s))

    def record() -> None:
        with sessions.begin() as s:
            record_breach(s, clock, title="Benchmark", description="Synthetic", risk="high",
                          aware_at=NOW, manifest=manifest)

    record_ms = summary(time_call(record, runs))
    with sessions.begin() as s:
        # The letter must say the likely consequences and the measures (Art. 34(2)).
        breach = record_breach(s, clock, title="Everyone", description="Synthetic",
                               risk="high", aware_at=NOW, manifest=manifest,
                               consequences="Synthetic", measures="Synthetic")
    log(f"queueing the Art. 34 notice to {people} people")
    started = time.perf_counter()
    with sessions.begin() as s:
        result = notify_subjects(s, clock, breach.id, manifest, all_subjects=True)
    notify_ms = (time.perf_counter() - started) * 1000
    assert result.queued == people
    # The limit: the same rows written by hand in one executemany, no checks, no dedupe.
    with sessions.begin() as s:
        # The addresses as the notices carry them (the stored ones are sealed).
        rows = [(f"{i:032x}", f"person{i}@example.no") for i in range(people)]
        started = time.perf_counter()
        s.execute(insert(OutboxMessage), [
            {"created_at": NOW, "kind": "bench", "subject_id": sid, "to_address": addr,
             "title": "t", "body_text": "b", "status": "queued", "attempts": 0,
             "dedupe_key": f"bench:{sid}"} for sid, addr in rows])
        handwritten_ms = (time.perf_counter() - started) * 1000
    engine.dispose()
    return {"record_breach_median_ms": record_ms["median_ms"],
            "notify_subjects_total_ms": round(notify_ms, 1),
            "notify_per_person_ms": round(notify_ms / people, 3),
            "handwritten_insert_total_ms": round(handwritten_ms, 1)}


def main() -> None:
    args = parse_args(__doc__ or "ropa and breach benchmark")
    runs = args.runs or (5 if args.quick else 30)
    people = 1_000 if args.quick else 20_000
    export_ms, load_ms = ropa_figures(runs)
    with tempfile.TemporaryDirectory() as tmp:
        breach = breach_figures(f"sqlite:///{Path(tmp) / 'bench.db'}", people, runs)
    emit(
        "ropa_breach",
        {"examples": 5, "languages": 2, "people_notified": people, "runs": runs},
        {"ropa_export_per_manifest_ms": round(export_ms, 1),
         "manifest_load_ms": round(load_ms, 1), **breach},
        {"ropa_export_vs_manifest_load": ratio(export_ms, load_ms),
         "notify_vs_handwritten_insert": ratio(breach["notify_subjects_total_ms"],
                                               breach["handwritten_insert_total_ms"])},
    )


if __name__ == "__main__":
    main()
