"""Fault: ``personvern request run`` of an erasure is SIGKILLed at random points, and once
inside its work (the service write-locked), then run again. Nothing lost means the end
equals a clean run's: the service's rows, who the engine erased and whose key it
destroyed, the request completed with the same outcome and notices, and the consent
ledger and audit trail verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faults.support import (
    T,
    chains_intact,
    copy_demo,
    erasure_state,
    kill_at_random,
    kill_mid_work,
    make_demo,
    pv,
    timed,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo with an erasure request for ext:12, verified and ready to run."""
    demo = make_demo(tmp_path_factory.mktemp("erasure"))
    opened = pv(demo, "request", "open", "erasure", "--subject", "ext:12",
                "--verified-by", "called back on the number we have", "--now", T, "--json")
    return demo, opened.json()["id"]


def run_args(request_id: str) -> tuple[str, ...]:
    """The command the privacy owner types."""
    return ("request", "run", request_id, "--reason", "the person asked", "--now", T, "--json")


@pytest.fixture(scope="module")
def clean(template: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[dict[str, Any], float]:
    """The state after a run nobody interrupted, and how long that run took."""
    demo = copy_demo(template[0], tmp_path_factory.mktemp("clean"))
    done, seconds = timed(demo, *run_args(template[1]))
    assert done.json()["state"] == "completed"
    return erasure_state(demo), seconds


@pytest.mark.parametrize("seed", [1])
def test_an_erasure_killed_at_random_ends_as_a_clean_run(
        template: tuple[Path, str], clean: tuple[dict[str, Any], float], tmp_path: Path,
        seed: int) -> None:
    reference, seconds = clean
    landed = 0
    for attempt in range(4):
        # A fresh copy each try: a run its kill missed (a loaded machine may finish it first)
        # completes the erasure, and no later kill can land on a completed one.
        demo = copy_demo(template[0], tmp_path / f"demo-{attempt}")
        landed = kill_at_random(demo, run_args(template[1]), seconds, seed=seed + attempt,
                                kills=3)
        if landed:
            break
    assert landed >= 1, "no kill landed before the run ended"
    again = pv(demo, *run_args(template[1]))
    # A kill after the commit leaves a completed request; running it again then says so.
    assert again.code == 0 or "completed" in again.err, again.err
    assert erasure_state(demo) == reference
    chains_intact(demo)


def test_an_erasure_killed_inside_its_work_ends_as_a_clean_run(
        template: tuple[Path, str], clean: tuple[dict[str, Any], float], tmp_path: Path
) -> None:
    reference, _ = clean
    demo = copy_demo(template[0], tmp_path / "demo")
    # Killed where the time-based kills rarely land: begun, the service's changes pending.
    # Once only: a second run resumes in_progress, so its start would look the same.
    assert kill_mid_work(demo, run_args(template[1]), template[1], seed=4) == "in_progress"
    assert erasure_state(demo) != reference
    assert pv(demo, *run_args(template[1])).json()["state"] == "completed"
    assert erasure_state(demo) == reference
    chains_intact(demo)
