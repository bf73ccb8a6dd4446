"""Fault: the export directory's disk is full (a 64 KiB tmpfs, filled) when an access
request writes its package. Nothing lost means a clear error (exit 1, "waiting", "No space
left", no traceback), the request waiting with no package offered and no partial file in
the directory, and once there is room a run again completes with a whole package."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.support import T, copy_demo, make_demo, pv, rows


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on its own 64 KiB tmpfs, filled to the last block; unmounted after."""
    directory = tmp_path / "exports"
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                              str(directory)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs mount, not permitted here: {mounted.stderr}")
    try:
        filler = directory / "filler"
        with filler.open("wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 1024)
            except OSError:  # full: exactly what the test needs
                pass
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def request_row(demo: Path, request_id: str) -> tuple[str, dict[str, object]]:
    """The request's state and outcome."""
    [(state, outcome)] = rows(demo / "personvern.db",
                              f"SELECT state, outcome FROM requests WHERE id = '{request_id}'")
    return state, json.loads(outcome or "null") or {}


def test_a_full_export_disk_is_a_clear_error_and_no_partial_package(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, full_disk: Path) -> None:
    demo = copy_demo(make_demo(tmp_path_factory.mktemp("template")), tmp_path / "demo")
    opened = pv(demo, "request", "open", "access", "--subject", "ext:9", "--verified-by",
                "known", "--now", T, "--json").json()
    run = ("request", "run", opened["id"], "--reason", "the person asked", "--out",
           str(full_disk), "--now", T)

    failed = pv(demo, *run)
    assert failed.code == 1, failed.err
    assert "Traceback" not in failed.err
    assert "waiting" in failed.err and "No space left" in failed.err, failed.err
    state, outcome = request_row(demo, opened["id"])
    assert state == "waiting" and "package" not in outcome
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]

    (full_disk / "filler").unlink()
    done = pv(demo, *run, "--json").json()
    assert done["state"] == "completed"
    facts = done["outcome"]["package"]
    package = Path(facts["path"])
    assert hashlib.sha256(package.read_bytes()).hexdigest() == facts["sha256"]
    with zipfile.ZipFile(package) as zf:
        assert zf.testzip() is None and "data.json" in zf.namelist()
    assert sorted(p.name for p in full_disk.iterdir()) == [package.name]
