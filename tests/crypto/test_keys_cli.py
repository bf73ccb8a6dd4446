"""``personvern keys init-master`` and ``keys rotate`` as a user runs them, and the engine
refusing to start without its master key or with the wrong one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cli_inprocess import run_personvern
from personvern.crypto.master import read_key_file
from personvern.crypto.tables import KeyRotation, SubjectKey
from personvern.keys.rotate import rotate
from personvern.runtime import open_runtime
from personvern.settings import Settings
from personvern.storage.models import AuditEvent

EXE = str(Path(sys.executable).parent / "personvern")
NOW = "2027-03-01T12:00:00+01:00"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    manifest = tmp_path / "personvern.yaml"
    assert run_personvern("init", "-t", "teoritentamen", str(manifest)).returncode == 0
    key = tmp_path / "master.key"
    assert pv({"PATH": "/usr/bin:/bin"}, "keys", "init-master", "--out", str(key)).returncode == 0
    return {"PATH": "/usr/bin:/bin", "PERSONVERN_MANIFEST": str(manifest),
            "PERSONVERN_DATABASE_URL": f"sqlite:///{tmp_path / 'pv.db'}",
            "PERSONVERN_MASTER_KEY_FILE": str(key)}


def pv(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``personvern ARGS`` with exactly ``env``, in the test process (tests/cli_inprocess.py)."""
    return run_personvern(*args, env=env)


def pv_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed script in a real process (``serve`` would otherwise run in the test)."""
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def add_people(env: dict[str, str], n: int) -> None:
    for i in range(n):
        out = pv(env, "subject", "add", "--email", f"person{i}@example.no", "--now", NOW)
        assert out.returncode == 0, out.stderr


def test_init_master_writes_a_private_key_file_and_never_overwrites(tmp_path: Path) -> None:
    key = tmp_path / "k"
    out = pv({"PATH": "/usr/bin:/bin"}, "keys", "init-master", "--out", str(key), "--json")
    data = json.loads(out.stdout)
    assert key.stat().st_mode & 0o777 == 0o600
    assert data["key_id"] == read_key_file(key).key_id
    assert data["export"] == f"PERSONVERN_MASTER_KEY_FILE={key.resolve()}"
    before = key.read_bytes()
    assert "already exists" in error_line(pv({"PATH": "/usr/bin:/bin"}, "keys", "init-master",
                                             "--out", str(key)))
    assert key.read_bytes() == before
    assert "does not exist" in error_line(pv({"PATH": "/usr/bin:/bin"}, "keys", "init-master",
                                             "--out", str(tmp_path / "no" / "k")))


def test_without_a_master_key_the_engine_refuses_to_start(env: dict[str, str]) -> None:
    bare = {k: v for k, v in env.items() if k != "PERSONVERN_MASTER_KEY_FILE"}
    line = error_line(pv(bare, "subject", "add", "--email", "a@example.no", "--now", NOW))
    assert "no master key" in line
    assert "PERSONVERN_MASTER_KEY_FILE" in line and "PERSONVERN_MASTER_KEY " in line
    assert "personvern keys init-master" in line
    serve = error_line(pv_process(bare, "serve", "--port", "1"))
    assert "no master key" in serve


@pytest.mark.parametrize(("content", "mode", "message"), [
    ("not base64!\n", 0o600, "is not base64"),
    ("c2hvcnQ=\n", 0o600, "is 5 bytes; it must be 32"),
    (None, 0o644, "is readable by others (mode 644)"),
])
def test_a_bad_key_file_is_a_clear_error(env: dict[str, str], tmp_path: Path,
                                         content: str | None, mode: int, message: str) -> None:
    key = Path(env["PERSONVERN_MASTER_KEY_FILE"])
    if content is not None:
        key.write_text(content, encoding="ascii")
    key.chmod(mode)
    assert message in error_line(pv(env, "keys", "list"))
    missing = {**env, "PERSONVERN_MASTER_KEY_FILE": str(tmp_path / "gone.key")}
    assert "does not exist" in error_line(pv(missing, "keys", "list"))


def test_a_wrong_master_key_is_refused_and_nothing_changes(env: dict[str, str],
                                                         tmp_path: Path) -> None:
    add_people(env, 2)
    other = tmp_path / "other.key"
    pv(env, "keys", "init-master", "--out", str(other))
    line = error_line(pv({**env, "PERSONVERN_MASTER_KEY_FILE": str(other)},
                         "subject", "add", "--email", "x@example.no", "--now", NOW))
    assert "wrong master key" in line
    assert read_key_file(Path(env["PERSONVERN_MASTER_KEY_FILE"])).key_id in line
    assert read_key_file(other).key_id in line
    shown = pv(env, "subject", "show", "person1@example.no", "--json")
    assert shown.returncode == 0 and "person1@example.no" in shown.stdout


def test_rotate_rewraps_every_key_resumes_and_is_audited(env: dict[str, str],
                                                         tmp_path: Path) -> None:
    add_people(env, 5)
    old = read_key_file(Path(env["PERSONVERN_MASTER_KEY_FILE"]))
    new_file = tmp_path / "new.key"
    pv(env, "keys", "init-master", "--out", str(new_file))
    new = read_key_file(new_file)
    settings = Settings(manifest=Path(env["PERSONVERN_MANIFEST"]),
                        database_url=env["PERSONVERN_DATABASE_URL"],
                        master_key_file=Path(env["PERSONVERN_MASTER_KEY_FILE"]))
    rt = open_runtime(settings, previous_keys=[new])

    def crash(n: int) -> None:
        raise KeyboardInterrupt  # stopped after the first batch was committed

    with pytest.raises(KeyboardInterrupt):
        rotate(rt.sessions, rt.clock, rt.keyring, new, batch=2, progress=crash)
    with rt.transaction() as s:
        ids = list(s.scalars(select(SubjectKey.master_key_id).where(
            SubjectKey.master_key_id.is_not(None))))
    rt.close()
    assert ids.count(new.key_id) == 2 and ids.count(old.key_id) == len(ids) - 2
    # Half-rotated: the old key alone no longer opens the engine, with a clear message.
    assert "rotation was interrupted" in error_line(pv(env, "keys", "list"))

    out = pv(env, "keys", "rotate", "--new-key-file", str(new_file), "--batch", "2", "--json")
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)
    assert done["resumed"] is True and done["rewrapped"] == len(ids)
    assert (done["old_key_id"], done["new_key_id"]) == (old.key_id, new.key_id)
    # The old key is retired, and the error says so in plain words.
    assert error_line(pv(env, "keys", "list")) == (
        f"error: wrong master key: this database holds subject keys locked with master key "
        f"{new.key_id} ({len(ids)} keys), which the key from {env['PERSONVERN_MASTER_KEY_FILE']} "
        f"(id {old.key_id}) cannot open. Set PERSONVERN_MASTER_KEY_FILE (or PERSONVERN_MASTER_KEY) "
        "to the master key in use: after a rotation, the new one; if a rotation "
        "was interrupted, run `personvern keys rotate --new-key-file FILE` again with the same "
        "new key")
    switched = {**env, "PERSONVERN_MASTER_KEY_FILE": str(new_file)}
    shown = pv(switched, "subject", "show", "person3@example.no", "--json")
    assert shown.returncode == 0 and "person3@example.no" in shown.stdout
    rt = open_runtime(Settings(manifest=settings.manifest, database_url=settings.database_url,
                               master_key_file=new_file))
    with rt.transaction() as s:
        run = s.scalars(select(KeyRotation)).one()
        assert run.finished_at is not None and run.rewrapped == len(ids)
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.startswith("crypto.rotation")).order_by(AuditEvent.id)))
        finished = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "crypto.rotation.finished")).one()
    rt.close()
    assert actions == ["crypto.rotation.started", "crypto.rotation.resumed",
                       "crypto.rotation.finished"]
    assert finished.details == {"old_key_id": old.key_id, "new_key_id": new.key_id,
                                "rewrapped": len(ids)}
    same = pv(switched, "keys", "rotate", "--new-key-file", str(new_file))
    assert "is the current one" in error_line(same)
    again = pv(env, "keys", "rotate", "--new-key-file", str(new_file))
    assert again.returncode == 2 and "already finished" in error_line(again)


def test_keys_help_tells_api_keys_and_the_master_key_apart() -> None:
    out = pv({"PATH": "/usr/bin:/bin", "COLUMNS": "200"}, "keys", "--help")
    assert out.returncode == 0
    for word in ("API keys", "master key", "init-master", "rotate", "create", "revoke"):
        assert word in out.stdout
    assert os.environ["PERSONVERN_MASTER_KEY"]  # the suite's own key (tests/conftest.py)


def test_demo_init_writes_a_key_file_and_says_what_to_export(tmp_path: Path) -> None:
    bare = {"PATH": "/usr/bin:/bin"}
    out = pv(bare, "demo", "init", str(tmp_path / "demo"), "--subjects", "5", "--now", NOW)
    assert out.returncode == 0, out.stderr
    key = tmp_path / "demo" / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert f"export PERSONVERN_MASTER_KEY_FILE={key}" in out.stdout
    env = {**bare, "PERSONVERN_MASTER_KEY_FILE": str(key),
           "PERSONVERN_MANIFEST": str(tmp_path / "demo" / "personvern.yaml"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{tmp_path / 'demo' / 'personvern.db'}"}
    shown = pv(env, "subject", "show", "ext:1", "--json")
    assert shown.returncode == 0 and "@" in shown.stdout, shown.stderr
    assert "no master key" in error_line(pv(bare | {k: v for k, v in env.items()
                                                     if k != "PERSONVERN_MASTER_KEY_FILE"},
                                            "subject", "show", "ext:1"))
    before = key.read_bytes()
    again = pv(bare, "demo", "init", str(tmp_path / "demo"), "--subjects", "5", "--force",
               "--now", NOW)
    assert again.returncode == 0 and key.read_bytes() == before
    assert pv(env, "subject", "show", "ext:2").returncode == 0  # the same key, kept
