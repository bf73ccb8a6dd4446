"""Fault: ``personvern keys rotate`` is SIGKILLed at random points of its batches, then run
again. Nothing lost means every subject key that opened under the old master key opens
under the new one to the very same key (so every sealed value still reads), the destroyed
keys stay destroyed, the rotation is recorded finished once, and the audit trail verifies;
the old key alone is refused afterwards rather than read as garbage."""

from __future__ import annotations

import base64
import os
import random
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cli_inprocess import run_personvern
from faults.support import PV, chains_intact, copy_demo, env, make_demo, pv, rows
from personvern.crypto.keyring import Keyring
from personvern.crypto.master import MasterKey, parse_key, read_key_file


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo of 40 people, each with a subject key under the test run's master key."""
    return make_demo(tmp_path_factory.mktemp("rotate"))


def opened_keys(demo: Path, master: MasterKey) -> dict[str, bytes | None]:
    """Every subject's raw key as ``master`` opens it; None for a destroyed one."""
    keyring = Keyring(master)
    return {subject: None if wrapped is None else keyring.unwrap(subject, wrapped, key_id)
            for subject, wrapped, key_id in rows(
                demo / "personvern.db",
                "SELECT subject_id, wrapped, master_key_id FROM subject_keys")}


def rewrapped(demo: Path, key_id: str) -> int:
    """How many subject keys are already under ``key_id``."""
    try:
        return len(rows(demo / "personvern.db",
                        f"SELECT 1 FROM subject_keys WHERE master_key_id = '{key_id}'",
                        timeout=0.01))
    except Exception:
        return 0


def test_a_rotation_killed_at_random_batches_loses_no_key(template: Path, tmp_path: Path
                                                          ) -> None:
    demo = copy_demo(template, tmp_path / "demo")
    old = parse_key(os.environ["PERSONVERN_MASTER_KEY"], "the test environment")
    before = opened_keys(demo, old)
    assert sum(v is not None for v in before.values()) >= 40
    new_file = tmp_path / "new.key"
    new_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode(), encoding="ascii")
    new_file.chmod(0o600)
    new = read_key_file(new_file)
    args = [PV, "keys", "rotate", "--new-key-file", str(new_file), "--batch", "1"]
    rng = random.Random(3)
    total = sum(v is not None for v in before.values())
    killed_at = []
    # Kill points: after a random number of keys were rewrapped, the later one after more;
    # both in the first half, so a loaded machine still catches the process mid-way.
    for target in sorted(rng.sample(range(1, total // 2), 2)):
        process = subprocess.Popen(args, env=env(demo), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while (rewrapped(demo, new.key_id) < target and process.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed_at.append((process.returncode, rewrapped(demo, new.key_id)))
    assert any(code == -signal.SIGKILL and 0 < n < total for code, n in killed_at), killed_at

    # A kill can still land after the last batch; then the run says it is done, not redone.
    unfinished = rows(demo / "personvern.db", "SELECT 1 FROM key_rotations "
                      f"WHERE new_key_id = '{new.key_id}' AND finished_at IS NULL")
    done = pv(demo, "keys", "rotate", "--new-key-file", str(new_file), "--batch", "1",
              "--json")
    if unfinished:
        assert done.code == 0, done.err
        assert done.json()["resumed"] is True
    else:
        assert done.code == 2 and "already finished" in done.err, done.err
    assert opened_keys(demo, new) == before
    assert len(rows(demo / "personvern.db", "SELECT 1 FROM key_rotations "
                    f"WHERE new_key_id = '{new.key_id}' AND finished_at IS NOT NULL")) == 1
    refused = run_personvern("keys", "list", env=env(demo))
    assert refused.returncode == 2 and "wrong master key" in refused.stderr
    chains_intact(demo)
