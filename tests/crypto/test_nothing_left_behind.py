"""Issue 5 item 5: after erasures and a sweep-like bulk delete, the raw bytes of the SQLite
files (and their WAL) hold no e-mail, phone, name or fødselsnummer of the erased people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faker import Faker
from sqlalchemy import Engine, func, select, text

from mail.support import SmtpServer
from personvern.audit import verify_audit_chain
from personvern.consent.events import EventType
from personvern.consent.ledger import evidence_of, verify_ledger
from personvern.consent.service import decide_for, record_event
from personvern.consent.subjects import get_subject
from personvern.crypto import Keyring, use_keyring
from personvern.crypto.columns import ERASED_JSON
from personvern.demo.init import init_demo
from personvern.keys.shred import shred_subject
from personvern.mail.smtp import send_pending
from personvern.requests.datamap import open_datasets
from personvern.requests.engine import Context, Requester, Requests, open_request
from personvern.requests.erase import erase_in_engine
from personvern.requests.tables import Request
from personvern.runtime import Runtime, open_runtime
from personvern.sessions.tables import SignInLink
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for, sqlite_checkpoint
from personvern.web import sessions as web_sessions
from personvern.web import signin

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)
OWNER = Requester("owner", verified_by="checked in a video call")
SWEEP_TABLES = (("login_events", "user_id"), ("sessions", "mentor_id"), ("messages", "sender_id"),
                ("messages", "recipient_id"), ("guardians", "child_id"))


def raw_bytes(directory: Path) -> dict[str, bytes]:
    """Every SQLite file of the demo and its WAL, as bytes."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.name.endswith((".db", ".db-wal", ".db-journal"))}


def leaks(files: dict[str, bytes], values: list[str]) -> list[tuple[str, str]]:
    """(file, value) for every plaintext value found in any file."""
    return [(name, v) for v in values for name, data in files.items() if v.encode() in data]


def people(service: Engine, n: int, skip: int = 0) -> list[dict[str, str]]:
    """Adult mentors who pay for nothing (no bookkeeping hold keeps their name)."""
    with service.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, email, phone, name FROM users WHERE role = 'mentor' AND phone IS NOT NULL"
            " AND id NOT IN (SELECT payer_id FROM purchases) ORDER BY id LIMIT :n OFFSET :k"),
            {"n": n, "k": skip}).mappings().all()
    return [dict(r) for r in rows]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    init_demo(tmp_path, 60, now=NOW)
    return tmp_path


@pytest.fixture
def rt(demo: Path) -> Runtime:
    return open_runtime(Settings(manifest=demo / "personvern.yaml",
                                 database_url=f"sqlite:///{demo / 'personvern.db'}"),
                        lambda: NOW)


def erase_by_request(demo: Path, rt: Runtime, persons: list[dict[str, str]]) -> None:
    """Each person signed in and sent a link, then erased by a request the owner opened."""
    requests = Requests(rt.sessions, Context(rt.consent, lambda: NOW))
    tokens = {}
    for person in persons:
        with rt.transaction() as s:
            # Signed in to the portal, and sent a sign-in link: both must end with erasure.
            tokens[person["sid"]] = web_sessions.start(s, lambda: NOW, "subject",
                                                       person["sid"])[0]
            assert signin.issue(s, lambda: NOW, person["email"]) is not None
            # The owner's note on how identity was checked names the person and their phone.
            by = Requester("owner", verified_by=f"called {person['name']} back on "
                                                f"{person['phone']}")
            rid = open_request(s, requests.ctx, "erasure", subject=f"ext:{person['id']}",
                               by=by, details={"note": f"{person['name']} {person['fnr']}"}
                               ).request.id
        # Sealed from the start: the engine's file never holds the note in clear.
        sealed = raw_bytes(demo)
        assert not leaks({k: v for k, v in sealed.items() if k.startswith("personvern")},
                         [person["name"], person["phone"]])
        result = requests.run(rid, reason="identity checked")
        assert result.state == "completed" and result.outcome["key_destroyed"] is True
        with rt.transaction() as s:
            assert web_sessions.lookup(s, lambda: NOW, tokens[person["sid"]], "subject") is None
            assert s.scalar(select(func.count()).select_from(SignInLink).where(
                SignInLink.subject_id == person["sid"])) == 0
            req = s.get(Request, rid)
            assert req is not None and req.verified_by is None
    requests.close()


def test_erased_people_leave_no_plaintext_in_the_files(demo: Path, rt: Runtime,
                                                       smtp_server: SmtpServer) -> None:
    service = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    fake = Faker("no_NO")
    fake.seed_instance(5)
    by_request, by_sweep = people(service, 3), people(service, 2, skip=3)
    everyone = by_request + by_sweep
    for person in everyone:
        person["fnr"] = fake.ssn()
        with rt.transaction() as s:
            person["sid"] = get_subject(s, f"ext:{person['id']}").id
            # A signed consent form: the evidence carries name and fødselsnummer.
            event, _ = record_event(s, rt.consent, NOW, person["sid"], EventType.CONSENT_GIVEN,
                                 purpose_id="newsletter", evidence={
                                     "signed_by": person["name"], "fodselsnummer": person["fnr"],
                                     "email": person["email"]})
            person["seq"] = str(event.seq)
    values = [p[k] for p in everyone for k in ("email", "phone", "name", "fnr")]
    before = raw_bytes(demo)
    # The scan sees the service's plaintext; the engine never wrote the evidence in clear.
    assert {v for _, v in leaks(before, values)} >= {p["email"] for p in everyone}
    assert not leaks({k: v for k, v in before.items() if k.startswith("personvern")},
                     [p["fnr"] for p in everyone] + [p["name"] for p in everyone])

    erase_by_request(demo, rt, by_request)

    # A sweep-like bulk delete: plain DELETEs on the service, then the engine's side.
    with service.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        ids = [int(p["id"]) for p in by_sweep]
        marks = ", ".join(str(i) for i in ids)
        for table, column in SWEEP_TABLES:
            conn.execute(text(f"DELETE FROM {table} WHERE {column} IN ({marks})"))
        conn.execute(text("DELETE FROM marketing_list WHERE email IN "
                          f"(SELECT email FROM users WHERE id IN ({marks}))"))
        conn.execute(text(f"DELETE FROM users WHERE id IN ({marks})"))
    sqlite_checkpoint(service)
    with rt.transaction() as s:
        for person in by_sweep:
            erase_in_engine(s, person["sid"], "sweep", NOW + timedelta(minutes=1))
            assert shred_subject(s, person["sid"], at=NOW, reason="retention sweep") is True

    with rt.transaction() as s:
        assert verify_ledger(s) is None and verify_audit_chain(s) is None
        assert all(evidence_of(s, int(p["seq"])) is None for p in everyone)
    with rt.sessions() as s:  # the answers to the erasure requests, delivered
        report = send_pending(s, lambda: NOW, smtp_server.host, smtp_server.port,
                              "personvern@example.no")
    assert report.sent >= len(by_request)
    delivered = {to for m in smtp_server.handler.received for to in m.rcpt_tos}
    assert {p["email"] for p in by_request} <= delivered
    for ds in open_datasets(rt.loaded.manifest):  # the service connections Personvern opens
        with ds.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        ds.engine.dispose()
    service.dispose()
    rt.close()
    after = raw_bytes(demo)
    assert not leaks(after, values)
    assert len(after.get("personvern.db-wal", b"")) == 0
    assert ERASED_JSON == {"erased": "[erased]"}


class CountingKeyring(Keyring):
    """The engine's keyring, counting every key it is asked for."""

    asked = 0

    def key(self, *args: Any, **kwargs: Any) -> Any:
        CountingKeyring.asked += 1
        return super().key(*args, **kwargs)


def test_consent_decisions_decrypt_nothing(rt: Runtime) -> None:
    with rt.transaction() as s:
        subject_ids = [get_subject(s, f"ext:{i}").id for i in range(1, 6)]
    use_keyring(CountingKeyring(rt.keyring.master))
    try:
        with rt.transaction() as s:
            decisions = [decide_for(s, rt.consent, sid, purpose.id, NOW)
                         for sid in subject_ids for purpose in rt.loaded.manifest.purposes]
    finally:
        use_keyring(rt.keyring)
        rt.close()
    assert len(decisions) >= 10 and CountingKeyring.asked == 0
