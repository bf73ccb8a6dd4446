"""Policy benchmark: writing the privacy policy, and publishing a material change.

1. Render time per policy: every example manifest, in bokmål and English, as HTML and
   Markdown, warm, in process (the two seeds that lack Art. 13 elements are written as
   drafts: the same work). Target: under 100 ms each. Limits measured in the same run:
   ``json.dumps`` of the manifest (serialising the same data without writing any prose)
   and Jinja2 rendering a trivial template.
2. Length (issue 12, item 7): words of the first layer ("Kort fortalt") and of the whole
   policy per seed, in bokmål and English, as a reader sees them in the rendered HTML
   (counted by the helpers tests/policy/test_length.py uses), and the whole policy's ratio
   to the seed document's own words. Targets: the first layer under 400 words; the whole no longer
   than 1.5 x the seed or 1,200 words, whichever is larger. The seeds' word counts are
   recorded below (the seed texts are not in the repository).
3. Publishing a material change (a new US processor) with e-mail notices queued for
   100,000 subjects (``--quick``: 5,000) on SQLite, commit included. Target: under
   30 s. Limit: a hand-written bulk INSERT (sqlite3 ``executemany``) of the same outbox
   rows into a copy of the same database, prepared beforehand. A policy with check errors
   is never published (issue 12), and every example models a seed with genuine errors, so
   both versions start from ``lawful_data()`` of ``tests/policy/support.py``: seed 004
   (Teoritentamen) with its check errors put right. The change adds the processor with
   standard contractual clauses and withdraws the "no transfers to third countries"
   statement it would contradict; both manifests are checked to have no error first.

    python benchmarks/policy.py [--quick] [--runs N]
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from _common import ROOT, emit, log, parse_args, ratio, summary, time_call

EXAMPLES = ["snapmentor", "vekstly", "lillemini", "minmentor", "teoritentamen"]
RENDER_TARGET_MS = 100.0
# Words of each seed document (``len(text.split())`` of shared/seeds/00N_*.txt).
SEED_WORDS = {"snapmentor": 486, "vekstly": 1117, "lillemini": 993, "minmentor": 1860,
              "teoritentamen": 881}
FIRST_LAYER_TARGET_WORDS = 400
PUBLISH_TARGET_S = 30.0
NOW = datetime(2027, 3, 1, 11, 0, tzinfo=UTC)


def render_times(runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median ms per policy, and the limits (json.dumps, trivial Jinja2)."""
    import jinja2

    from personvern.manifest.loader import load_manifest
    from personvern.policy.completeness import missing_elements
    from personvern.policy.render import render_policy

    medians: dict[str, float] = {}
    dumps: list[float] = []
    for name in EXAMPLES:
        manifest = load_manifest(ROOT / "examples" / f"{name}.yaml").manifest
        draft = bool(missing_elements(manifest))
        for lang in ("nb", "en"):
            for fmt in ("html", "md"):
                samples = time_call(
                    lambda m=manifest, lang=lang, fmt=fmt, d=draft: render_policy(
                        m, lang, fmt, draft=d), runs)
                medians[f"{name}.{lang}.{fmt}"] = round(statistics.median(samples), 2)
        dumps += time_call(lambda m=manifest: json.dumps(m.model_dump(mode="json")), runs)
    template = jinja2.Environment(autoescape=True).from_string(
        "<h1>{{ title }}</h1>{% for p in items %}<p>{{ p }}</p>{% endfor %}")
    trivial = time_call(lambda: template.render(title="Personvern", items=["a", "b", "c"]),
                        runs * 10)
    limits = {"json_dumps_ms": round(statistics.median(dumps), 3),
              "trivial_jinja_ms": round(statistics.median(trivial), 3)}
    return medians, limits


def _policy_support() -> Any:
    """tests/policy/support.py, loaded by its path: this script is itself a module named
    ``policy``, which would shadow the tests' ``policy`` (a namespace package)."""
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    spec = importlib.util.spec_from_file_location(
        "policy_support", ROOT / "tests" / "policy" / "support.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lengths() -> dict[str, dict[str, Any]]:
    """Words of the first layer and of the whole policy, per seed and language
    (``snapmentor`` is bokmål, ``snapmentor.en`` English), with targets.

    Counted as tests/policy/test_length.py counts them (the same helpers): every word a
    reader sees in the rendered HTML's <main>, headings, captions, column headers and the
    first layer's links included, the draft's own marks taken off as publishing would.
    """
    support = _policy_support()
    length_limit, read_policy, words = (support.length_limit, support.read_policy,
                                        support.words)
    out: dict[str, dict[str, Any]] = {}
    for name in EXAMPLES:
        for lang in ("nb", "en"):
            reader = read_policy(name, lang)
            first, whole = words(reader.first), words(reader.main)
            out[name if lang == "nb" else f"{name}.{lang}"] = {
                "first_layer_words": first, "policy_words": whole,
                "seed_words": SEED_WORDS[name],
                "ratio_to_seed": round(whole / SEED_WORDS[name], 2),
                "target_words": int(length_limit(name)),
                "first_layer_within_target": first < FIRST_LAYER_TARGET_WORDS,
                "whole_within_target": whole <= length_limit(name)}
    return out


def _lawful(data: dict[str, Any], file: str) -> Any:
    """``data`` as a loaded manifest, refused if ``personvern check`` finds an error in it."""
    import yaml

    from personvern.check.gate import blocking_findings
    from personvern.manifest.loader import parse_manifest

    loaded = parse_manifest(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                            file=file)
    errors = blocking_findings(loaded)
    if errors:
        raise SystemExit(f"{file} has check errors: {[f.rule for f in errors]}")
    return loaded


def _manifests() -> tuple[Any, Any]:
    """Seed 004 with its errors put right, and the same plus a new US processor for the
    consent-based pixels: a material change."""
    import copy

    data = _policy_support().lawful_data()
    changed = copy.deepcopy(data)
    changed["recipients"].append({
        "id": "sentry", "name": "Sentry", "role": "processor", "country": "US",
        "service": {"nb": "Feilrapporter", "en": "Error reports"},
        "transfer": {"mechanism": "scc"}, "dpa_signed": True,
        "sub_processors": "general_authorisation"})
    next(p for p in changed["purposes"] if p["id"] == "ad_pixels")["recipients"].append(
        "sentry")
    # The statement the new recipient would make false (PV065) is withdrawn with it.
    changed.pop("no_third_country_transfers", None)
    return _lawful(data, "teoritentamen-lawful.yaml"), _lawful(changed, "changed.yaml")


def populate(url: str, subjects: int, batch: int = 50_000) -> None:
    """Subjects with one e-mail identity each, inserted in bulk."""
    from sqlalchemy import insert

    from personvern.consent.tables import Identity, Subject
    from personvern.storage.engine import create_engine_for

    engine = create_engine_for(url)
    with engine.begin() as conn:
        for start in range(0, subjects, batch):
            ids = [f"{i:032x}" for i in range(start, min(start + batch, subjects))]
            conn.execute(insert(Subject), [
                {"id": sid, "created_at": NOW, "existing_customer": False} for sid in ids])
            conn.execute(insert(Identity), [
                {"subject_id": sid, "kind": "email", "value": f"person{n}@example.no",
                 "created_at": NOW} for n, sid in enumerate(ids, start)])
    engine.dispose()


def publish_with_notices(workdir: Path, subjects: int) -> dict[str, float]:
    """Seconds to publish the material change with its notices, and the hand-written limit."""
    from personvern.clock import fixed_clock
    from personvern.policy.versions import publish_with_notices as publish
    from personvern.storage.engine import create_engine_for
    from personvern.storage.migrate import upgrade
    from personvern.storage.session import make_sessionmaker, transaction

    path = workdir / "pv.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    log(f"  {subjects:,} subjects with e-mail ...")
    populate(url, subjects)
    engine = create_engine_for(url)
    sessions = make_sessionmaker(engine)
    clock = fixed_clock(NOW)
    first, changed = _manifests()
    with transaction(sessions) as s:
        publish(s, clock, first, date(2027, 3, 8))
    engine.dispose()
    shutil.copyfile(path, workdir / "limit.db")

    engine = create_engine_for(url)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    with transaction(sessions) as s:
        done = publish(s, clock, changed, date(2027, 3, 9))
    publish_s = time.perf_counter() - started
    notices = done.notices
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT title, body_text, body_html FROM outbox WHERE dedupe_key LIKE "
            "'policy-notice:v2:%' LIMIT 1").one()
    engine.dispose()
    if notices != subjects:
        raise SystemExit(f"queued {notices} notices for {subjects} subjects")

    # The limit: the same rows, built beforehand, with one executemany and a commit.
    created = NOW.isoformat(sep=" ")
    rows = [(created, "policy_notice", f"{n:032x}", f"person{n}@example.no", row.title,
             row.body_text, row.body_html, "queued", 0, f"policy-notice:v2:{n:032x}")
            for n in range(subjects)]
    conn = sqlite3.connect(workdir / "limit.db")
    started = time.perf_counter()
    conn.executemany(
        "INSERT INTO outbox (created_at, kind, subject_id, to_address, title, body_text, "
        "body_html, status, attempts, dedupe_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    limit_s = time.perf_counter() - started
    conn.close()
    return {"publish_s": round(publish_s, 3), "handwritten_insert_s": round(limit_s, 3),
            "notices": notices, "notice_bytes": len(row.body_text) + len(row.body_html)}


def main() -> None:
    args = parse_args(__doc__ or "")
    runs = args.runs or (5 if args.quick else 30)
    subjects = 5_000 if args.quick else 100_000
    log(f"rendering {len(EXAMPLES)} policies x 2 languages x 2 formats, {runs} runs each ...")
    medians, limits = render_times(runs)
    worst = max(medians.values())
    log(f"  slowest median {worst:.1f} ms ({max(medians, key=medians.__getitem__)})")
    words = lengths()
    for name, w in words.items():
        log(f"  {name}: first layer {w['first_layer_words']} words, policy "
            f"{w['policy_words']} words ({w['ratio_to_seed']}x the seed's {w['seed_words']})")
    log(f"publishing a material change with notices to {subjects:,} subjects ...")
    with tempfile.TemporaryDirectory(prefix="pv-bench-policy-") as tmp:
        pub = publish_with_notices(Path(tmp), subjects)
    log(f"  {pub['publish_s']:.2f} s (hand-written INSERT: {pub['handwritten_insert_s']:.2f} s)")
    all_ms = list(medians.values())
    emit(
        "policy",
        {"policies": len(medians), "subjects": subjects, "runs": runs},
        {
            "render_ms": medians,
            "render_summary": summary(all_ms),
            "render_target_ms": RENDER_TARGET_MS,
            "render_within_target": worst < RENDER_TARGET_MS,
            "words": words,
            "first_layer_target_words": FIRST_LAYER_TARGET_WORDS,
            **limits,
            "publish_with_notices_s": pub["publish_s"],
            "notices_queued": pub["notices"],
            "notice_bytes": pub["notice_bytes"],
            "handwritten_insert_s": pub["handwritten_insert_s"],
            "publish_target_s": PUBLISH_TARGET_S,
            "publish_within_target": pub["publish_s"] < PUBLISH_TARGET_S,
        },
        {
            "render_vs_json_dumps": ratio(statistics.median(all_ms), limits["json_dumps_ms"]),
            "render_vs_trivial_jinja": ratio(statistics.median(all_ms),
                                             limits["trivial_jinja_ms"]),
            "publish_vs_handwritten_insert": ratio(pub["publish_s"],
                                                   pub["handwritten_insert_s"]),
        },
    )


if __name__ == "__main__":
    main()
