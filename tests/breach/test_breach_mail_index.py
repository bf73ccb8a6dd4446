"""A breach's e-mails to people are found by the outbox's ``breach_id`` (migration 0018),
indexed, not by a LIKE on the prefix of ``dedupe_key``: that LIKE read every breach notice
of every breach (SQLite's LIKE ignores case, so no index serves it; PostgreSQL's serves it
only in the C collation). The answers stay the same, and the upgrade fills the column in
for the notices queued before it. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from personvern.breach.register import (
    MAIL_KIND,
    failed_letters,
    mail_delivery,
    notify_subjects,
    record_breach,
)
from personvern.clock import Clock
from personvern.consent.subjects import create_subject
from personvern.mail.outbox import Mail, queue_many
from personvern.manifest.loader import load_manifest
from personvern.storage.engine import create_engine_for
from personvern.storage.migrate import upgrade

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples"
INDEX = "ix_outbox_breach_id"


def _plan(engine: Engine, session: Session, read: Any) -> tuple[Any, str]:
    """What ``read()`` answers, and the plan of the statement it ran (the last one)."""
    seen: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        answer = read()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    statement, parameters = seen[-1]
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    rows = session.connection().exec_driver_sql(explain + statement, parameters).all()
    return answer, "\n".join(str(r[-1]) for r in rows)


def test_a_breach_s_mail_is_read_by_its_index_with_the_same_answers(
        db_engine: Engine, db_session: Session, clock: Clock) -> None:
    manifest = load_manifest(EXAMPLES / "snapmentor.yaml").manifest
    for n in range(6):
        create_subject(db_session, clock, {"email": f"elev{n}@example.no"})
    breach = record_breach(db_session, clock, title="Stolen laptop", risk="high",
                           description="A laptop with pupils' profiles was stolen",
                           aware_at=datetime(2027, 3, 1, 7, tzinfo=UTC),
                           consequences="Phishing", measures="Passwords reset")
    assert notify_subjects(db_session, clock, breach.id, manifest, all_subjects=True).queued == 6
    # Many other breaches' notices, some failed: what the LIKE read through every time.
    queue_many(db_session, clock, [
        Mail(kind=MAIL_KIND, to_address=f"p{n}@example.no", title="t", body_text="b",
             dedupe_key=f"breach:B-2026-{n % 40:03d}:{n}", breach_id=f"B-2026-{n % 40:03d}")
        for n in range(2000)])
    db_session.execute(text("UPDATE outbox SET status = 'failed' WHERE id IN (SELECT id "
                            "FROM outbox WHERE breach_id = 'B-2026-007' ORDER BY id LIMIT 25)"))
    db_session.commit()
    db_session.execute(text("ANALYZE" if db_engine.dialect.name == "sqlite"
                            else "ANALYZE outbox"))

    answer, plan = _plan(db_engine, db_session, lambda: mail_delivery(db_session, breach.id))
    assert answer == {"sent": 0, "waiting": 6, "failed": 0}
    assert INDEX in plan, plan
    assert mail_delivery(db_session, "B-2026-007") == {"sent": 0, "waiting": 25, "failed": 25}
    assert mail_delivery(db_session, "B-2026-00") == {"sent": 0, "waiting": 0, "failed": 0}
    assert failed_letters(db_session) == {"B-2026-007": 25}


def test_the_upgrade_fills_in_the_breach_of_the_notices_queued_before(db_url: str) -> None:
    upgrade(db_url, "0017")
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO outbox (created_at, kind, to_address, title, body_text, status, "
                "attempts, dedupe_key) VALUES (:at, :kind, 'a@example.no', 't', 'b', "
                "'failed', 1, :key)"), [
                    {"at": datetime(2027, 3, 1, tzinfo=UTC), "kind": kind, "key": key}
                    for kind, key in [(MAIL_KIND, "breach:B-2027-001:s1"),
                                      (MAIL_KIND, "breach:B-2027-012:s2"),
                                      ("request_receipt", "request:r1:receipt")]])
        upgrade(db_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT dedupe_key, breach_id FROM outbox ORDER BY id")
                                ).all() == [("breach:B-2027-001:s1", "B-2027-001"),
                                            ("breach:B-2027-012:s2", "B-2027-012"),
                                            ("request:r1:receipt", None)]
            with Session(conn) as session:
                assert failed_letters(session) == {"B-2027-001": 1, "B-2027-012": 1}
                assert mail_delivery(session, "B-2027-01")["failed"] == 0
    finally:
        engine.dispose()
