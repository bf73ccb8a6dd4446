"""Fault: ``personvern request run`` of an access request is SIGKILLed at random points,
then run again. Nothing lost means: after every kill either no package is offered (the
request is not completed) or the offered one is whole (its zip opens, its SHA-256 is the
outcome's), never a partial one; and the run again completes with the clean run's
package contents, outcome and an intact ledger and audit trail."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from faults.support import T, chains_intact, copy_demo, kill_at_random, make_demo, pv, rows, timed


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo with an access request for ext:9, verified and ready to run."""
    demo = make_demo(tmp_path_factory.mktemp("access"))
    opened = pv(demo, "request", "open", "access", "--subject", "ext:9",
                "--verified-by", "known", "--now", T, "--json")
    return demo, opened.json()["id"]


def run_args(demo: Path, request_id: str) -> tuple[str, ...]:
    """The command the privacy owner types."""
    return ("request", "run", request_id, "--reason", "the person asked", "--out",
            str(demo / "out"), "--now", T, "--json")


def offered(demo: Path, request_id: str) -> dict[str, Any] | None:
    """What a download would be served: the package of the completed request, checked
    as the API checks it, with its contents; None when nothing is offered."""
    [(state, outcome)] = rows(demo / "personvern.db",
                              f"SELECT state, outcome FROM requests WHERE id = '{request_id}'")
    if state != "completed":
        assert "package" not in (json.loads(outcome or "null") or {}), (state, outcome)
        return None
    facts = json.loads(outcome)["package"]
    data = Path(facts["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == facts["sha256"], "the offered zip is partial"
    with zipfile.ZipFile(Path(facts["path"])) as zf:
        assert zf.testzip() is None
        contents = {name: zf.read(name) for name in zf.namelist()}
    return {"outcome": {k: v for k, v in json.loads(outcome).items() if k != "package"},
            "name": Path(facts["path"]).name, "bytes": facts["bytes"],
            "files": sorted(contents), "data": json.loads(contents["data.json"])}


@pytest.fixture(scope="module")
def clean(template: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[dict[str, Any], float]:
    """The package a run nobody interrupted offers, and how long that run took."""
    demo = copy_demo(template[0], tmp_path_factory.mktemp("clean"))
    done, seconds = timed(demo, *run_args(demo, template[1]))
    assert done.json()["state"] == "completed"
    package = offered(demo, template[1])
    assert package is not None and package["data"]["datasets"]
    return package, seconds


def test_an_access_run_killed_at_random_never_offers_a_partial_package(
        template: tuple[Path, str], clean: tuple[dict[str, Any], float], tmp_path: Path
) -> None:
    reference, seconds = clean
    killed = None
    for seed in (11, 12, 13, 14, 15, 16):
        # Each try on its own copy: a run its kill missed (on a loaded machine a run may end
        # before its kill) completes the request, and a completed one is not run again.
        demo = copy_demo(template[0], tmp_path / f"demo-{seed}")
        landed = kill_at_random(demo, run_args(demo, template[1]), seconds, seed=seed,
                                kills=1)
        package = offered(demo, template[1])
        assert package is None or package == reference
        for named in (demo / "out").glob("access-*.zip"):  # under its name, only whole
            with zipfile.ZipFile(named) as zf:
                assert zf.testzip() is None
        if landed:
            killed = demo
            break
    assert killed is not None, "no kill landed before the run ended"
    pv(killed, *run_args(killed, template[1]))
    assert offered(killed, template[1]) == reference
    # A kill mid-write leaves a .part file; the run again writes the same one and renames it.
    assert [p.name for p in (killed / "out").iterdir()] == [reference["name"]]
    chains_intact(killed)
