"""A table dated by its own column is taken in windows of keys: each batch the next
``batch`` due rows in key order, deleted by key range. A row still referred to (its
session kept for another purpose) stays, and the batch it falls in is smaller, never
larger; one sweep takes every row that can go, the plan says the same, and a second
sweep finds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table, select

from personvern.storage.models import AuditEvent
from retention.support import build_service, column, plan, runtime, sweep, urls

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
GONE = (1, 2, 4, 5, 7, 8, 9)  # last signed in more than two years ago
OPEN = (2, 4)  # their support case closed a month ago: the session stays for a year
MANIFEST = """\
personvern: 1
service: {name: Benk}
controller: {name: Benk AS, orgnr: "923641645"}
subjects: [{id: users, name: Users}]
purposes:
  - id: account
    name: Account
    legal_basis: contract
    categories: [user.name, user.contact.email, user.content.private]
    subjects: [users]
    retention: [inactive]
  - id: support
    name: Support
    legal_basis: contract
    categories: [user.content.private]
    subjects: [users]
    retention: [cases]
retention:
  - id: inactive
    trigger: last_activity
    duration: 2 years
    description: Deleted two years after the last sign-in.
  - id: cases
    trigger: contract_end
    duration: 1 year
    description: Support notes kept a year after the case closed.
datasets:
  - id: app
    url: "SERVICE"
    tables:
      - name: users
        dates: {last_activity: last_login_at}
        columns:
          - {name: id, identity: user_id}
          - {name: email, identity: email, categories: [user.contact.email]}
          - {name: name, categories: [user.name]}
      - name: sessions
        dates: {contract_end: closed_at}
        columns:
          - {name: notes, categories: [user.content.private]}
        references:
          - {column: user_id, to: users.id}
"""


def test_rows_still_referred_to_stay_and_their_batch_is_smaller(
        tmp_path: Path, db_url: str) -> None:
    """Seven users past the two-year rule (GDPR Art. 5(1)(e)), two of whom still have a
    session the support purpose keeps; batches of two: the users' windows are 1-2, 4-5,
    7-8 and 9, so the users go in batches of 1, 1, 2 and 1 (2 and 4 stay), and the
    report's examples are the smallest keys taken."""
    engine_url, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("users", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False), Column("name", String(200)),
          Column("last_login_at", DateTime, nullable=False))
    Table("sessions", m, Column("id", Integer, primary_key=True),
          Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
          Column("notes", String(200)), Column("closed_at", DateTime, nullable=False))
    build_service(service_url, m, {
        "users": [{"id": i, "email": f"bruker{i}@example.no", "name": f"Bruker {i}",
                   "last_login_at": datetime(2024 if i in GONE else 2027, 1, 1)}
                  for i in range(1, 10)],
        "sessions": [{"id": 10 + i, "user_id": i, "notes": "brøk",
                      "closed_at": datetime(2027, 5, 1) if i in OPEN else datetime(2024, 1, 1)}
                     for i in (9, 3, 1, 7, 5, 2, 8, 6, 4)]})
    manifest = tmp_path / "personvern.yaml"
    manifest.write_text(MANIFEST.replace("SERVICE", service_url), encoding="utf-8")
    with runtime(manifest, engine_url, NOW) as rt:
        planned = {(r["rule"], t["table"]): (t["rows"], t["examples"])
                   for r in plan(rt, NOW)["rules"] for t in r["tables"]}
        done = sweep(rt, NOW, batch=2)
        ran = {(r["rule"], t["table"]): (t["rows"], t["examples"])
               for r in done["rules"] for t in r["tables"]}
        assert ran[("inactive", "users")] == planned[("inactive", "users")] == (5, [1, 5, 7])
        with rt.transaction() as s:
            users = [d["rows"] for target, d in s.execute(
                select(AuditEvent.target, AuditEvent.details).where(
                    AuditEvent.action == "retention.batch").order_by(AuditEvent.id))
                     if target == "app.users"]
        assert users == [1, 1, 2, 1]
        assert column(service_url, "SELECT id FROM users ORDER BY id") == [2, 3, 4, 6]
        assert column(service_url, "SELECT user_id FROM sessions ORDER BY user_id") \
            == [2, 3, 4, 6]
        again = sweep(rt, NOW, batch=2)
        assert all(r["rows"] == 0 for r in again["rules"])
        assert column(service_url, "SELECT id FROM users ORDER BY id") == [2, 3, 4, 6]
