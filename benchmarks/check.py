"""How fast ``personvern check`` answers, as a user feels it: whole processes, wall clock.

Measured in one run, interleaved round by round:
- ``personvern version``, ``personvern --help`` and ``personvern check
  examples/<each>.yaml`` (the installed console script; exit 0 or 1 is a normal answer,
  anything else stops the benchmark);
- the limits: a bare interpreter (``python -c pass``), and one that only imports the
  libraries check cannot do without (``import yaml, pydantic``) and the CLI framework
  (``import yaml, pydantic, typer``).
The target is an answer within 300 ms, interpreter start included: ``within_target`` is
true when the median of ``version``, ``--help`` and of every example is below
``target_ms``. The processes run with Python's bytecode cache, as an installed package
has it (``PYTHONDONTWRITEBYTECODE`` is dropped for them, so the warm-up round writes it):
without it every start compiles every module again, about twice the time. For
telling start-up from work, ``check_in_process_ms`` is the median time of loading and
checking each example inside this (already warm) process.

    python benchmarks/check.py [--quick] [--runs N]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

# Run as a script, so this directory is on sys.path and the shared helpers import directly.
from _common import (
    ROOT,
    console_script,
    emit,
    log,
    parse_args,
    ratio,
    summary,
    time_call,
    time_processes,
)

TARGET_MS = 300.0
PY = sys.executable
BASELINES = {
    "bare_python": [PY, "-c", "pass"],
    "import_yaml_pydantic": [PY, "-c", "import yaml, pydantic"],
    "import_yaml_pydantic_typer": [PY, "-c", "import yaml, pydantic, typer"],
}


def in_process_ms(path: Path, runs: int) -> float:
    """Median ms to load, validate and check ``path`` in this process, imports done."""
    from personvern.check.engine import run_checks
    from personvern.manifest.loader import load_manifest

    return statistics.median(time_call(lambda: run_checks(load_manifest(path)), runs))


def main() -> None:
    args = parse_args(__doc__ or "check benchmark")
    runs = args.runs or (5 if args.quick else 30)
    warmup = 1 if args.quick else 3
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    if not examples:
        raise SystemExit("no examples/*.yaml to check")
    exe = console_script("personvern")

    commands: dict[str, list[str]] = {**BASELINES, "version": [exe, "version"],
                                      "help": [exe, "--help"]}
    ok_codes: dict[str, tuple[int, ...]] = {}
    for path in examples:
        name = f"check_{path.stem}"
        commands[name] = [exe, "check", str(path.relative_to(ROOT))]
        ok_codes[name] = (0, 1)  # findings of severity error exit 1: still an answer
    log(f"check benchmark: {len(commands)} commands x {runs} runs (+{warmup} warm-up)")
    samples = time_processes(commands, runs, warmup, ok_codes=ok_codes, bytecode_cache=True)

    stats = {name: summary(values) for name, values in samples.items()}
    checks = {p.stem: stats[f"check_{p.stem}"] for p in examples}
    worst = max(checks.values(), key=lambda s: s["median_ms"])
    worst_median = float(worst["median_ms"])
    version_median = float(stats["version"]["median_ms"])
    medians = [version_median, float(stats["help"]["median_ms"]),
               *(float(s["median_ms"]) for s in checks.values())]
    bare = float(stats["bare_python"]["median_ms"])
    deps = float(stats["import_yaml_pydantic"]["median_ms"])
    cli_deps = float(stats["import_yaml_pydantic_typer"]["median_ms"])
    help_median = float(stats["help"]["median_ms"])
    check_median = statistics.median(float(s["median_ms"]) for s in checks.values())

    figures = {
        "bare_python": stats["bare_python"],
        "import_yaml_pydantic": stats["import_yaml_pydantic"],
        "import_yaml_pydantic_typer": stats["import_yaml_pydantic_typer"],
        "version": stats["version"],
        "help": stats["help"],
        "check": checks,
        "check_median_of_examples_ms": round(check_median, 1),
        "check_worst_median_ms": worst_median,
        "check_in_process_ms": {
            p.stem: round(in_process_ms(p, runs), 1) for p in examples
        },
        "target_ms": TARGET_MS,
        "within_target": all(m < TARGET_MS for m in medians),
    }
    ratios = {
        "check_vs_bare_python": ratio(check_median, bare),
        "check_vs_import_yaml_pydantic": ratio(check_median, deps),
        "check_vs_import_yaml_pydantic_typer": ratio(check_median, cli_deps),
        "check_worst_vs_bare_python": ratio(worst_median, bare),
        "version_vs_bare_python": ratio(version_median, bare),
        "version_vs_target": ratio(version_median, TARGET_MS),
        "help_vs_bare_python": ratio(help_median, bare),
        "help_vs_import_yaml_pydantic_typer": ratio(help_median, cli_deps),
        "help_vs_target": ratio(help_median, TARGET_MS),
        "check_vs_target": ratio(check_median, TARGET_MS),
        "check_worst_vs_target": ratio(worst_median, TARGET_MS),
    }
    size = {
        "examples": len(examples),
        "example_bytes": {p.stem: p.stat().st_size for p in examples},
        "runs": runs,
        "warmup_rounds": warmup,
        "python": sys.version.split()[0],
    }
    emit("check", size, figures, ratios)


if __name__ == "__main__":
    main()
