"""A rotation that finished while an engine still ran with the old master key (against
docs/encryption.md's advice) can leave subject keys that engine wrapped afterwards under
the old key. The engine then refuses the new key alone and says "run keys rotate again":
that run rewraps them, instead of answering "already finished" and leaving no way out."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from crypto.test_keys_cli import NOW, add_people, env, error_line, pv  # noqa: F401
from personvern.consent.subjects import create_subject
from personvern.crypto.master import read_key_file
from personvern.crypto.tables import SubjectKey
from personvern.runtime import open_runtime
from personvern.settings import Settings


def test_rotating_again_rewraps_what_an_engine_with_the_old_key_wrote_after(
        env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    add_people(env, 3)
    old = read_key_file(Path(env["PERSONVERN_MASTER_KEY_FILE"]))
    new_file = tmp_path / "new.key"
    pv(env, "keys", "init-master", "--out", str(new_file))
    # An engine started before the rotation, still running with the old key.
    stale = open_runtime(Settings(manifest=Path(env["PERSONVERN_MANIFEST"]),
                                  database_url=env["PERSONVERN_DATABASE_URL"],
                                  master_key_file=Path(env["PERSONVERN_MASTER_KEY_FILE"])))
    try:
        with stale.transaction() as s:  # it has been at work: the lookup key is in its cache
            create_subject(s, stale.clock, {"email": "early@example.no"})
        out = pv(env, "keys", "rotate", "--new-key-file", str(new_file), "--json")
        assert out.returncode == 0, out.stderr
        first = json.loads(out.stdout)["rewrapped"]  # the people's keys and the lookup key
        with stale.transaction() as s:
            create_subject(s, stale.clock, {"email": "late@example.no"})
        with stale.transaction() as s:
            left = s.scalar(select(func.count()).select_from(SubjectKey).where(
                SubjectKey.master_key_id == old.key_id))
    finally:
        stale.close()
    assert left == 1
    switched = {**env, "PERSONVERN_MASTER_KEY_FILE": str(new_file)}
    assert "run `personvern keys rotate --new-key-file FILE` again" in error_line(
        pv(switched, "keys", "list"))
    # As told: rotate again with the same keys. It rewraps the one left, and says so.
    again = pv(env, "keys", "rotate", "--new-key-file", str(new_file), "--json", "--now", NOW)
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout)
    assert (done["resumed"], done["rewrapped"]) == (True, first + 1)
    shown = pv(switched, "subject", "show", "late@example.no", "--json")
    assert shown.returncode == 0 and "late@example.no" in shown.stdout
    assert "already finished" in error_line(
        pv(env, "keys", "rotate", "--new-key-file", str(new_file)))
