"""Helpers every benchmark shares: arguments, wall-clock timing, statistics, the JSON line.

The contract (docs: PRODUCT.md, "Performance and reliability"): each ``benchmarks/<name>.py``
accepts ``--quick`` and prints, as its last line, one JSON object
``{"benchmark": NAME, "size": {...}, "figures": {...}, "ratios": {...}}``; each ratio
compares Personvern with a limit measured in the same run and is named so the direction
is clear (``"check_vs_bare_python": 9.5`` means 9.5 times the time of a bare interpreter).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MASTER_KEY = "PERSONVERN_MASTER_KEY"

# Benchmarks use throwaway databases: a random master key, unless one is configured (the
# engine refuses to start without one; processes started from here inherit it).
if not (os.environ.get(MASTER_KEY) or os.environ.get(f"{MASTER_KEY}_FILE")):
    os.environ[MASTER_KEY] = base64.b64encode(os.urandom(32)).decode()


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options every benchmark takes: ``--quick`` and ``--runs``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="a small size that finishes in well under a minute"
    )
    parser.add_argument("--runs", type=int, default=None, help="timed runs per measurement")
    return parser.parse_args(argv)


def log(message: str) -> None:
    """Progress for the person watching, on stderr (stdout ends with the JSON line)."""
    print(message, file=sys.stderr, flush=True)


def console_script(name: str) -> str:
    """The installed console script ``name`` next to this interpreter (the venv's bin/)."""
    bindir = Path(sys.executable).parent
    found = shutil.which(name, path=str(bindir)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"console script {name!r} is not installed; run `make test` first")
    return found


# ---- statistics ----------------------------------------------------------------

def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(samples_ms: Sequence[float]) -> dict[str, float | int]:
    """Median, p95, min and max of timings in milliseconds, rounded to 0.1 ms."""
    return {
        "median_ms": round(statistics.median(samples_ms), 1),
        "p95_ms": round(percentile(samples_ms, 95), 1),
        "min_ms": round(min(samples_ms), 1),
        "max_ms": round(max(samples_ms), 1),
        "runs": len(samples_ms),
    }


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` rounded to two decimals (inf when the limit is 0)."""
    return round(numerator / denominator, 2) if denominator else math.inf


# ---- timing ----------------------------------------------------------------------

def time_call(func: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Wall-clock milliseconds of ``runs`` calls of ``func`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run_process(
    argv: Sequence[str], *, ok_codes: Iterable[int] = (0,), cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> float:
    """Run ``argv`` as a whole process; its wall-clock time in ms. Fails on other exit codes."""
    started = time.perf_counter()
    done = subprocess.run(
        list(argv), cwd=cwd, env=None if env is None else dict(env), check=False,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode not in set(ok_codes):
        stderr = done.stderr.decode("utf-8", "replace")[-2000:]
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{stderr}")
    return elapsed


def time_processes(
    commands: Mapping[str, Sequence[str]], runs: int, warmup: int = 1, *,
    ok_codes: Mapping[str, Iterable[int]] | None = None, cwd: Path = ROOT,
    bytecode_cache: bool = False,
) -> dict[str, list[float]]:
    """Wall-clock ms of each command, run ``runs`` times after ``warmup`` untimed rounds.

    Rounds are interleaved (every command once per round) so that drift of the machine
    (other load, CPU frequency) falls on all commands alike, not on the last one measured.
    ``bytecode_cache``: the commands may write Python's bytecode cache (the warm-up does),
    as a user's installed package has it, whatever ``PYTHONDONTWRITEBYTECODE`` says here.
    """
    codes = {name: tuple((ok_codes or {}).get(name, (0,))) for name in commands}
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith("PERSONVERN_") or k.startswith(MASTER_KEY))
           and not (bytecode_cache and k == "PYTHONDONTWRITEBYTECODE")}
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for round_no in range(warmup + runs):
        for name, argv in commands.items():
            elapsed = run_process(argv, ok_codes=codes[name], cwd=cwd, env=env)
            if round_no >= warmup:
                samples[name].append(elapsed)
    return samples


# ---- output ----------------------------------------------------------------------

def emit(
    name: str, size: Mapping[str, Any], figures: Mapping[str, Any], ratios: Mapping[str, Any]
) -> None:
    """Print the result as the last line of stdout: one JSON object, as the contract says."""
    line = json.dumps(
        {"benchmark": name, "size": dict(size), "figures": dict(figures), "ratios": dict(ratios)},
        ensure_ascii=False, allow_nan=False, default=str,
    )
    print(line, flush=True)
