"""The subject, consent and ledger commands, run as a person would, with --now.

They run in the test process (tests/cli_inprocess.py); the broken ledger's exit code 1 is
also checked through the installed script in a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from cli.support import pv, run_sql
from personvern.consent.tables import LedgerEvent, LedgerEvidence
from personvern.crypto.tables import ChainCheckpoint
from personvern.storage.engine import create_engine_for

EXE = str(Path(sys.executable).parent / "personvern")
T = "2027-01-02T10:00:00+01:00"


def pv_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed script in a real process."""
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def ok_json(env: dict[str, str], *args: str) -> dict[str, object]:
    out = pv(env, *args, "--json")
    assert out.returncode == 0, out.stderr
    data: dict[str, object] = json.loads(out.stdout)
    return data


def test_guardian_consent_flow(env: dict[str, str]) -> None:
    """Seed 004: pupils under 13 need a guardian's consent (personopplysningsloven § 5)."""
    parent = ok_json(env, "subject", "add", "--email", "Mor@Example.no", "--now", T)
    child = ok_json(env, "subject", "add", "--external-id", "pupil-1", "--birth-date",
                    "2016-04-01", "--guardian", "mor@example.no", "--now", T)
    alone = pv(env, "consent", "give", "ext:pupil-1", "marketing_cookies", "--now", T)
    assert alone.returncode == 2 and "under 13: a guardian must give" in alone.stderr
    given = ok_json(env, "consent", "give", "ext:pupil-1", "marketing_cookies", "--guardian",
                    "mor@example.no", "--text", "Tillat kapsler?", "--now", T)
    assert given["replayed"] is False
    decision = ok_json(env, "consent", "decide", str(child["id"]), "marketing_cookies",
                       "--now", "2027-01-03T10:00:00+01:00")
    assert decision["allowed"] is True and "by a guardian" in str(decision["reason"])
    gpc = ok_json(env, "consent", "decide", "ext:pupil-1", "marketing_cookies", "--gpc",
                  "--now", "2027-01-03T10:00:00+01:00")
    assert gpc["allowed"] is False and gpc["code"] == "gpc"
    ok_json(env, "consent", "withdraw", "ext:pupil-1", "marketing_cookies", "--channel", "portal",
            "--now", "2027-01-04T10:00:00+01:00")
    after = pv(env, "consent", "decide", "ext:pupil-1", "marketing_cookies", "--now",
               "2027-01-05T10:00:00+01:00")
    assert after.stdout.strip() == "no: consent withdrawn 2027-01-04 via portal"
    shown = ok_json(env, "subject", "show", "mor@example.no", "--now", T)
    assert shown["children"] == [child["id"]] and shown["id"] == parent["id"]


def test_receipt_and_ledger_verification(env: dict[str, str], tmp_path: Path) -> None:
    ok_json(env, "subject", "add", "--email", "ola@example.no", "--birth-date", "1990-05-05",
            "--now", T)
    for day in ("02", "03"):
        pv(env, "consent", "give", "ola@example.no", "ad_pixels", "--text", "Annonser?",
           "--now", f"2027-01-{day}T10:00:00+01:00")
    out = pv(env, "consent", "receipt", "1", "--lang", "en")
    receipt = json.loads(out.stdout)
    assert receipt["notice"]["textShown"] == "Annonser?"  # type: ignore[index]
    assert receipt["events"][0]["dpvStatus"] == "https://w3id.org/dpv#ConsentGiven"  # type: ignore[index]
    assert receipt["processing"][0]["legalBasis"].endswith("#A6-1-a")  # type: ignore[index]
    assert pv(env, "ledger", "verify").stdout.startswith("ledger intact: 2 events")
    engine = create_engine_for(env["PERSONVERN_DATABASE_URL"])
    with Session(engine) as s, s.begin():
        s.execute(update(LedgerEvent).where(LedgerEvent.seq == 1).values(purpose="bookkeeping"))
    engine.dispose()
    broken = pv(env, "ledger", "verify", "--json")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["seq"] == 1
    script = pv_process(env, "ledger", "verify", "--json")
    assert script.returncode == 1
    assert json.loads(script.stdout) == json.loads(broken.stdout)


@pytest.mark.parametrize(("args", "message"), [
    (["consent", "decide", "nobody@example.no", "service"], "no subject 'nobody@example.no'"),
    (["consent", "decide", "ola@example.no", "nope"], "unknown purpose 'nope'"),
    (["consent", "withdraw", "ola@example.no", "ad_pixels"], "no consent to withdraw"),
    (["consent", "give", "ola@example.no", "service"], "rests on contract, not consent"),
    (["consent", "give", "ola@example.no", "ad_pixels", "--channel", "fax"], "unknown channel"),
    (["consent", "decide", "ola@example.no", "service", "--now", "tomorrow"], "ISO 8601"),
    (["consent", "decide", "ola@example.no", "service", "--now", "2027-01-01T10:00"],
     "needs a UTC offset"),
    (["subject", "add", "--email", "not-an-email"], "is not an e-mail address"),
    (["subject", "add", "--phone", "12"], "is not a phone number"),
    (["subject", "add", "--external-id", "x", "--birth-date", "2030-01-01"], "in the future"),
    (["subject", "add"], "at least one identity"),
])
def test_bad_input_is_a_clear_error_and_stores_nothing(
    env: dict[str, str], args: list[str], message: str
) -> None:
    ok_json(env, "subject", "add", "--email", "ola@example.no", "--now", T)
    out = pv(env, *args)
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr
    assert pv(env, "ledger", "verify").stdout.startswith("ledger empty: 0 events")


def test_ledger_checkpoint_and_verify_against_it(env: dict[str, str], tmp_path: Path) -> None:
    empty = pv(env, "ledger", "checkpoint", "--now", T)
    assert empty.returncode == 1
    assert empty.stderr == "error: the ledger has no events yet: there is no head to sign\n"
    ok_json(env, "subject", "add", "--email", "ola@example.no", "--birth-date", "1990-05-05",
            "--now", T)
    for day in ("02", "03", "04"):
        pv(env, "consent", "give", "ola@example.no", "ad_pixels", "--text", "Annonser?",
           "--now", f"2027-01-{day}T10:00:00+01:00")
    kept = tmp_path / "checkpoint.json"
    out = pv(env, "ledger", "checkpoint", "--out", str(kept), "--now", "2027-01-05T10:00:00+01:00")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"checkpoint written to {kept}: event 3 (2027-01-05 09:00 UTC)\n"
    assert json.loads(kept.read_text())["seq"] == 3
    pv(env, "consent", "withdraw", "ola@example.no", "ad_pixels", "--now",
       "2027-01-06T10:00:00+01:00")
    intact = pv(env, "ledger", "verify", "--against", str(kept))
    assert intact.returncode == 0
    assert intact.stdout == (
        "ledger intact: 4 events verified, up to the signed checkpoint at event 4 "
        f"(2027-01-06 09:00 UTC); reaches {kept} (event 3 (2027-01-05 09:00 UTC))\n")

    forged = tmp_path / "forged.json"
    forged.write_text(kept.read_text().replace('"seq": 3', '"seq": 2'))
    out = pv(env, "ledger", "verify", "--against", str(forged))
    assert (out.returncode, out.stdout) == (1, f"ledger BROKEN: checkpoint {forged} has a "
                                               "signature that does not match: it was forged "
                                               "or altered\n")
    forged.write_text("{")
    out = pv(env, "ledger", "verify", "--against", str(forged))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert out.stderr.startswith(f"error: checkpoint {forged} is not a checkpoint: ")
    out = pv(env, "ledger", "verify", "--against", str(tmp_path / "missing.json"))
    assert out.returncode == 2 and out.stderr.startswith("error: cannot read checkpoint ")

    # Issue 14: the newest withdrawal deleted.
    run_sql(env, delete(LedgerEvidence).where(LedgerEvidence.event_seq > 3),
         delete(LedgerEvent).where(LedgerEvent.seq > 3))
    out = pv(env, "ledger", "verify")
    assert (out.returncode, out.stdout) == (1, (
        "ledger BROKEN: the ledger ends at event 3, but the stored checkpoint signed event 4 "
        "(2027-01-06 09:00 UTC): event 4 was deleted\n"))
    refused = pv(env, "ledger", "checkpoint", "--now", T)
    assert refused.returncode == 1 and "nothing signed" in refused.stderr

    # Every row, and the stored checkpoint with them: only the kept file can tell.
    run_sql(env, delete(LedgerEvidence), delete(LedgerEvent), delete(ChainCheckpoint))
    out = pv(env, "ledger", "verify")
    assert out.returncode == 0 and out.stdout.startswith("ledger empty: 0 events")
    out = pv(env, "ledger", "verify", "--against", str(kept), "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["problem"] == (
        f"the ledger is empty, but checkpoint {kept} signed event 3 (2027-01-05 09:00 UTC): "
        "every event was deleted")
