"""Rows dated by the row they refer to (sessions by their user's last sign-in) are taken in
batches of parents: every batch's rows are counted and audited, the report's examples are
the smallest keys taken, in the plan as in the run, whether or not a batch still has
examples to give."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table, select

from personvern.storage.models import AuditEvent
from retention.support import build_service, column, plan, runtime, sweep, urls

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
GONE = (1, 2, 4, 5, 7, 8, 9)  # last signed in more than two years ago
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
retention:
  - id: inactive
    trigger: last_activity
    duration: 2 years
    description: Deleted two years after the last sign-in.
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
        columns:
          - {name: notes, categories: [user.content.private]}
        references:
          - {column: user_id, to: users.id}
"""


def test_sessions_go_in_batches_of_their_users_each_counted_and_audited(
        tmp_path: Path, db_url: str) -> None:
    """Seven users past the two-year rule (GDPR Art. 5(1)(e)), two not, one session each
    (session 10 + the user's id), batches of two users: the sessions go in four batches
    of 2, 2, 2 and 1, the examples are sessions 11, 12 and 14 (the first batch gives two,
    the second the third), and the users go after them."""
    engine_url, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("users", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False), Column("name", String(200)),
          Column("last_login_at", DateTime, nullable=False))
    Table("sessions", m, Column("id", Integer, primary_key=True),
          Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
          Column("notes", String(200)))
    build_service(service_url, m, {
        "users": [{"id": i, "email": f"bruker{i}@example.no", "name": f"Bruker {i}",
                   "last_login_at": datetime(2024 if i in GONE else 2027, 1, 1)}
                  for i in range(1, 10)],
        # Out of key order, so no batch can lean on the order rows were written in.
        "sessions": [{"id": 10 + i, "user_id": i, "notes": "brøk"}
                     for i in (9, 3, 1, 7, 5, 2, 8, 6, 4)]})
    manifest = tmp_path / "personvern.yaml"
    manifest.write_text(MANIFEST.replace("SERVICE", service_url), encoding="utf-8")
    with runtime(manifest, engine_url, NOW) as rt:
        planned = {t["table"]: (t["rows"], t["examples"])
                   for r in plan(rt, NOW)["rules"] for t in r["tables"]}
        done = sweep(rt, NOW, batch=2)
        ran = {t["table"]: (t["rows"], t["examples"]) for r in done["rules"]
               for t in r["tables"]}
        assert ran["sessions"] == planned["sessions"] == (7, [11, 12, 14])
        assert ran["users"] == planned["users"] == (7, [1, 2, 4])
        with rt.transaction() as s:
            batches = [(target, details["rows"]) for target, details in s.execute(
                select(AuditEvent.target, AuditEvent.details).where(
                    AuditEvent.action == "retention.batch").order_by(AuditEvent.id))]
    assert batches == [("app.sessions", 2)] * 3 + [("app.sessions", 1)] \
        + [("app.users", 2)] * 3 + [("app.users", 1)]
    assert column(service_url, "SELECT user_id FROM sessions ORDER BY id") == [3, 6]
    assert column(service_url, "SELECT id FROM users ORDER BY id") == [3, 6]
