"""Rows two people share, handled as the data map says (``owner: false`` on a reference).

A message belongs to its sender and names its recipient; a session is the pupil's and
names the mentor. Erasure (GDPR Art. 17) removes what is the person's, and only that: a
pupil's erasure does not delete the mentor's messages to them, which lose the link to
the pupil instead; a mentor's erasure does not delete the pupils' sessions. Access
(Art. 15) shows the person the messages sent to them, with the sender redacted.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from demo_support import open_as_owner
from personvern.errors import ConfigurationError
from personvern.requests.engine import Requests, get_request
from personvern.runtime import Runtime


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_a_pupils_erasure_keeps_the_messages_sent_to_them_without_the_link(
        rt: Runtime, service: Requests, service_db: Engine) -> None:
    pupil = 31
    sent = rows(service_db, f"SELECT id FROM messages WHERE sender_id = {pupil}")
    received = rows(service_db, f"SELECT id, sender_id, body FROM messages "
                                f"WHERE recipient_id = {pupil}")
    assert sent and received, "the demo pupil has no conversation"
    others = rows(service_db, f"SELECT count(*) FROM messages WHERE {pupil} NOT IN "
                              "(sender_id, recipient_id)")
    rid = open_as_owner(rt, service, "erasure", f"ext:{pupil}")
    outcome = service.run(rid, reason="the pupil asked").outcome
    assert outcome is not None
    assert not rows(service_db, f"SELECT id FROM messages WHERE sender_id = {pupil}")
    # The mentor's messages stay theirs, with no link left to the erased pupil.
    kept = rows(service_db, "SELECT id, sender_id, body, recipient_id FROM messages WHERE id IN "
                            f"({', '.join(str(r[0]) for r in received)})")
    assert [r[:3] for r in kept] == received
    assert {r[3] for r in kept} == {None}
    assert rows(service_db, f"SELECT count(*) FROM messages WHERE {pupil} NOT IN "
                            "(sender_id, recipient_id) AND recipient_id IS NOT NULL") == others
    assert outcome["changed"]["app.messages"] == len(received)
    assert outcome["proof"]["clean"] is True


def test_a_mentors_erasure_leaves_the_pupils_sessions_to_them(
        rt: Runtime, service: Requests, service_db: Engine) -> None:
    mentor = rows(service_db, "SELECT mentor_id FROM sessions GROUP BY mentor_id "
                              "ORDER BY count(*) DESC LIMIT 1")[0][0]
    sessions = rows(service_db, f"SELECT id, pupil_id FROM sessions WHERE mentor_id = {mentor}")
    rid = open_as_owner(rt, service, "erasure", f"ext:{mentor}")
    service.run(rid, reason="the mentor left")
    ids = ", ".join(str(s[0]) for s in sessions)
    assert rows(service_db, f"SELECT id, pupil_id, mentor_id FROM sessions WHERE id IN ({ids})") \
        == [(*s, None) for s in sessions]
    assert not rows(service_db, f"SELECT id FROM messages WHERE sender_id = {mentor}")


def test_access_shows_the_messages_sent_to_the_person_with_the_sender_redacted(
        rt: Runtime, service: Requests, service_db: Engine, tmp_path: Path) -> None:
    pupil = 31
    received = {r[0] for r in rows(service_db,
                                   f"SELECT id FROM messages WHERE recipient_id = {pupil}")}
    rid = open_as_owner(rt, service, "access", f"ext:{pupil}")
    result = service.run(rid, reason="identity checked", out_dir=tmp_path)
    with zipfile.ZipFile(Path(result.outcome["package"]["path"])) as zf:  # type: ignore[index]
        data = json.loads(zf.read("data.json"))
    messages = data["datasets"]["app"]["messages"]
    assert received <= {m["id"] for m in messages}
    assert {m["sender_id"] for m in messages if m["id"] in received} == {"[redacted]"}


def test_a_naming_column_that_cannot_be_null_is_a_clear_error_and_nothing_changes(
        rt: Runtime, service: Requests, service_db: Engine) -> None:
    with service_db.begin() as conn:  # the recipient column made NOT NULL again
        conn.execute(text("ALTER TABLE messages RENAME TO messages_old"))
        conn.execute(text(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, sender_id INTEGER NOT NULL, "
            "recipient_id INTEGER NOT NULL, sent_at DATETIME, body TEXT)"))
        conn.execute(text("INSERT INTO messages SELECT id, sender_id, recipient_id, sent_at, "
                          "body FROM messages_old"))
        conn.execute(text("DROP TABLE messages_old"))
    before = rows(service_db, "SELECT * FROM messages ORDER BY id")
    users = rows(service_db, "SELECT * FROM users ORDER BY id")
    rid = open_as_owner(rt, service, "erasure", "ext:31")
    with pytest.raises(ConfigurationError, match=r"app\.messages\.recipient_id names the "
                       r"person \(owner: false\) but cannot be set to null \(NOT NULL\)"):
        service.run(rid, reason="the pupil asked")
    with rt.transaction() as s:
        assert get_request(s, rid).state != "completed"
    assert rows(service_db, "SELECT * FROM messages ORDER BY id") == before
    assert rows(service_db, "SELECT * FROM users ORDER BY id") == users
