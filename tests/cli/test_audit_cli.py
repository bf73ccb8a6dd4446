"""``personvern audit verify`` and ``audit checkpoint``, run as a privacy owner would.

The trail is the controller's evidence (GDPR Art. 5(2), 32(1)(b)): a trail cut short must
never read as intact, and a checkpoint is only signed over a chain found without one when
someone asks for it, in the open."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cli.support import pv, run_sql
from personvern.crypto.tables import ChainCheckpoint
from personvern.storage.engine import create_engine_for
from personvern.storage.models import AuditEvent

T = "2027-01-02T10:00:00+01:00"


def _open_request(env: dict[str, str], day: str) -> None:
    out = pv(env, "request", "open", "access", "--subject", "ola@example.no",
             "--verified-by", "signed in at the counter", "--now", f"2027-01-{day}T10:00:00+01:00")
    assert out.returncode == 0, out.stderr


def _events(env: dict[str, str]) -> list[tuple[int, str, dict[str, object]]]:
    engine = create_engine_for(env["PERSONVERN_DATABASE_URL"])
    with Session(engine) as s:
        rows = s.execute(select(AuditEvent.id, AuditEvent.action, AuditEvent.details)
                         .order_by(AuditEvent.id)).all()
    engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def test_an_empty_trail_is_empty_and_has_nothing_to_sign(env: dict[str, str]) -> None:
    out = pv(env, "audit", "verify")
    assert (out.returncode, out.stdout) == (0, "audit trail empty: 0 events and no checkpoint\n")
    out = pv(env, "audit", "checkpoint", "--now", T)
    assert out.returncode == 1
    assert out.stderr == "error: the audit trail has no events yet: there is no head to sign\n"


def test_checkpoint_export_and_verify_against_it(env: dict[str, str], tmp_path: Path) -> None:
    pv(env, "subject", "add", "--email", "ola@example.no", "--now", T)
    _open_request(env, "02")
    out = pv(env, "audit", "verify")
    assert out.returncode == 0 and out.stdout.startswith("audit trail intact: 2 events verified")
    kept = tmp_path / "audit-2027-01.json"
    out = pv(env, "audit", "checkpoint", "--out", str(kept), "--now", "2027-01-03T10:00:00+01:00")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"checkpoint written to {kept}: event 2 (2027-01-03 09:00 UTC)\n"
    assert out.stderr == ""  # the trail had its checkpoint: nothing adopted
    assert json.loads(kept.read_text())["chain"] == "audit_events"
    # The signing is the trail's next event.
    assert _events(env)[-1][1:] == ("audit.checkpoint_signed", {"seq": 2, "adopted": False})
    out = pv(env, "audit", "verify", "--against", str(kept), "--json")
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["ok"] and data["events"] == 3
    assert data["against"]["seq"] == 2

    # The trail emptied together with its stored checkpoint: only the kept file tells.
    run_sql(env, delete(AuditEvent), delete(ChainCheckpoint))
    out = pv(env, "audit", "verify", "--against", str(kept))
    assert (out.returncode, out.stdout) == (1, (
        f"audit trail BROKEN: the audit trail is empty, but checkpoint {kept} signed event 2 "
        "(2027-01-03 09:00 UTC): every event was deleted\n"))


def test_bad_files_are_refused_with_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    out = pv(env, "audit", "verify", "--against", str(tmp_path / "missing.json"))
    assert out.returncode == 2 and out.stderr.startswith("error: cannot read checkpoint ")
    (tmp_path / "bad.json").write_text('{"format": "personvern-checkpoint", "v": 1}')
    out = pv(env, "audit", "verify", "--against", str(tmp_path / "bad.json"))
    assert out.returncode == 2 and "has no 'chain'" in out.stderr
    out = pv(env, "audit", "checkpoint", "--out", str(tmp_path / "no" / "k.json"), "--now", T)
    assert out.returncode == 2 and "directory" in out.stderr and "does not exist" in out.stderr


def test_a_cut_trail_with_its_checkpoint_deleted_stays_broken_until_adopted(
        env: dict[str, str]) -> None:
    """Events cut off the end and the stored checkpoint deleted with them: the next audited
    action must not sign the shortened trail as if it were whole (it did, until stop 25)."""
    pv(env, "subject", "add", "--email", "ola@example.no", "--now", T)
    for day in ("02", "03"):
        _open_request(env, day)
    assert len(_events(env)) == 4
    run_sql(env, delete(AuditEvent).where(AuditEvent.id > 2), delete(ChainCheckpoint))
    broken = ("audit trail BROKEN: no signed checkpoint is stored, though the audit trail has "
              "{n} events: it was deleted, or the database predates checkpoints (then run "
              "`personvern audit checkpoint` once)\n")
    out = pv(env, "audit", "verify")
    assert (out.returncode, out.stdout) == (1, broken.format(n=2))
    _open_request(env, "04")  # the next audited action
    out = pv(env, "audit", "verify")
    assert (out.returncode, out.stdout) == (1, broken.format(n=4))

    # Adopting is a deliberate act, said aloud and recorded in the trail itself.
    out = pv(env, "audit", "checkpoint", "--now", "2027-01-05T10:00:00+01:00")
    assert out.returncode == 0
    assert json.loads(out.stdout)["seq"] == 4
    assert "the trail was signed as found" in out.stderr
    assert "that absence is itself a sign of tampering" in out.stderr
    assert _events(env)[-1][1:] == ("audit.checkpoint_signed", {"seq": 4, "adopted": True})
    out = pv(env, "audit", "verify")
    assert out.returncode == 0 and out.stdout.startswith(
        "audit trail intact: 5 events verified, up to the signed checkpoint at event 5")

    # A trail broken with its checkpoint in place is never signed over.
    run_sql(env, delete(AuditEvent).where(AuditEvent.id == 5))
    out = pv(env, "audit", "checkpoint", "--now", T)
    assert out.returncode == 1 and out.stderr.startswith("error: audit trail BROKEN: ")
    assert out.stderr.endswith("event 5 was deleted; nothing signed\n")
