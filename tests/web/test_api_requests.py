"""/api/v1/requests: data-subject requests over HTTP on the demo service, the engine on
SQLite and PostgreSQL — and bad input, each answered 4xx problem+json, nothing stored changed.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, text

from personvern.consent.tables import Guardianship, Identity, Subject
from personvern.demo.init import init_demo
from personvern.mail.tables import OutboxMessage
from personvern.settings import get_settings
from personvern.storage.engine import create_engine_for
from personvern.storage.models import AuditEvent
from web.support import MovableClock, assert_problem, new_key, open_client, runtime_of

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)  # a Monday
WHY = "identity checked by phone"
# Demo ids (60 subjects): 1-7 mentors, 8-30 parents, 31-60 pupils; the parent of 31 is 8.
PARENT, OTHER_PARENT, PUPIL = "ext:8", "ext:9", "ext:31"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 60, now=NOW)
    return directory


def copy_engine_rows(source_url: str, target_url: str) -> None:
    """The demo's subjects, identities and guardianships into a migrated engine database.

    The subject keys come too: identities are found by a keyed hash whose key is one of them.
    """
    from personvern.crypto.tables import SubjectKey
    from personvern.storage.migrate import upgrade

    upgrade(target_url)
    source, target = create_engine_for(source_url), create_engine_for(target_url)
    try:
        with source.connect() as src, target.begin() as dst:
            for model in (SubjectKey, Subject, Identity, Guardianship):
                table = model.__table__
                rows = [dict(r._mapping) for r in src.execute(select(table))]
                dst.execute(insert(table), rows)  # type: ignore[arg-type]
    finally:
        source.dispose()
        target.dispose()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def demo(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(template / "service.db", tmp_path / "service.db")
    (tmp_path / "personvern.yaml").write_text(
        (template / "personvern.yaml").read_text(encoding="utf-8").replace(
            str(template / "service.db"), str(tmp_path / "service.db")), encoding="utf-8")
    monkeypatch.setenv("PERSONVERN_EXPORT_DIR", str(tmp_path / "packages"))
    return tmp_path


@pytest.fixture
def api(demo: Path, template: Path, db_url: str, clock: MovableClock) -> Iterator[TestClient]:
    """A client with a key, the engine on SQLite or PostgreSQL, the demo service beside it."""
    from personvern.web import create_app

    copy_engine_rows(f"sqlite:///{template / 'personvern.db'}", db_url)
    app = create_app(get_settings(manifest=demo / "personvern.yaml", database_url=db_url), clock)
    with open_client(app) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        yield client


def opened(api: TestClient, type: str = "access", subject: str = PARENT, **body: Any
           ) -> dict[str, Any]:
    r = api.post("/api/v1/requests", json={"type": type, "subject": subject, **body})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def by_owner(api: TestClient, type: str = "access", subject: str = PARENT, **body: Any) -> str:
    data = opened(api, type, subject, opened_by="owner",
                  verified_by="called back on the number on file", **body)
    assert data["state"] == "verified"
    rid: str = data["id"]
    return rid


def mailed_code(api: TestClient) -> str:
    """The code in the newest verification e-mail of the outbox."""
    with runtime_of(api).transaction() as s:
        body = s.scalars(select(OutboxMessage.body_text).where(
            OutboxMessage.kind == "request_verification").order_by(OutboxMessage.id.desc())
        ).first()
    assert body is not None
    found = re.search(r"code: ([0-9A-Z]{4}-[0-9A-Z]{4})", body)
    assert found is not None
    return found.group(1)


def email_of(api: TestClient, ref: str) -> str:
    r = api.get(f"/api/v1/subjects/{ref}")
    assert r.status_code == 200, r.text
    return next(i["value"] for i in r.json()["identities"] if i["kind"] == "email")


def stored(api: TestClient, demo: Path) -> dict[str, Any]:
    """Everything a refused call must leave as it was: engine rows and the service's data."""
    counts: dict[str, Any] = {}
    with runtime_of(api).transaction() as s:
        for name in ("requests", "request_events", "verification_codes", "recipient_notices"):
            counts[name] = s.scalar(text(f"SELECT count(*) FROM {name}"))
        counts["states"] = sorted(s.execute(text("SELECT id, state FROM requests")).all())
        counts["outbox"] = s.scalar(select(func.count()).select_from(OutboxMessage))
        counts["audit"] = s.scalar(select(func.count()).select_from(AuditEvent))
        counts["identities"] = s.scalar(select(func.count()).select_from(Identity))
    service = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with service.connect() as conn:
        counts["service_users"] = conn.execute(text(
            "SELECT group_concat(id || email || coalesce(phone, ''), ',') FROM users")).scalar()
        counts["service_rows"] = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                                  for t in ("sessions", "purchases", "invoices", "messages")]
    service.dispose()
    return counts


# ---- the whole way through -------------------------------------------------------------------

def test_open_verify_run_access_and_download_the_package(api: TestClient) -> None:
    data = opened(api, "access", PARENT)
    assert data["state"] == "verifying"
    assert data["due_on"] == "2027-02-04"  # one month (Regulation 1182/71), a Thursday
    assert re.fullmatch(r".\*\*\*@.+", data["code_sent_to"])
    rid = data["id"]

    r = api.post(f"/api/v1/requests/{rid}/verify", json={"code": mailed_code(api)})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "verified"

    r = api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY, "lang": "en"})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["state"] == "completed"
    assert run["package"] == f"/api/v1/requests/{rid}/package"

    r = api.get(run["package"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = set(zf.namelist())
        document = json.loads(zf.read("data.json"))
        summary = zf.read("summary.html").decode()
    assert {"data.json", "summary.html", "app/users.csv"} <= names
    assert [u["id"] for u in document["datasets"]["app"]["users"]] == [8]
    assert "Datatilsynet" in summary

    shown = api.get(f"/api/v1/requests/{rid[:8]}").json()
    assert shown["state"] == "completed"
    assert shown["due_on"] == "2027-02-04" and shown["overdue"] is False
    assert [(e["from"], e["to"]) for e in shown["events"]] == [
        (None, "received"), ("received", "verifying"), ("verifying", "verified"),
        ("verified", "in_progress"), ("in_progress", "completed")]


def test_packages_live_in_the_export_directory_and_expire(
        api: TestClient, demo: Path, clock: MovableClock) -> None:
    """The API's packages are the portal's: one directory, one lifetime, one sweeper."""
    from personvern.web import exports

    rid = by_owner(api, "access", PARENT)
    assert api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY}).status_code == 200
    made = demo / "packages" / f"access-{rid}.zip"
    assert made.is_file()
    assert not (Path.cwd() / "packages").exists()
    clock.advance(minutes=59)
    assert api.get(f"/api/v1/requests/{rid}/package").status_code == 200
    rt = api.app.state.runtime  # type: ignore[attr-defined]
    assert exports.remove_expired(rt, made.parent, timedelta(minutes=60)) == 0
    clock.advance(minutes=1)
    r = api.get(f"/api/v1/requests/{rid}/package")
    assert_problem(r, 404)
    assert "is gone" in r.json()["detail"]
    assert exports.remove_expired(rt, made.parent, timedelta(minutes=60)) == 1
    assert not made.exists()


def test_portability_export_is_served_as_a_zip(api: TestClient) -> None:
    rid = by_owner(api, "portability", PARENT)
    assert api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY}).status_code == 200
    r = api.get(f"/api/v1/requests/{rid}/package")
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        [name] = zf.namelist()
        export = json.loads(zf.read(name))
    assert name == f"portability-{rid}.json"
    assert export["format"] == "personvern-portability/1"
    assert export["data"]["app"]["users"][0]["email"] == email_of(api, PARENT)


def test_erasure_says_what_was_kept_and_who_was_told(api: TestClient, demo: Path) -> None:
    rid = by_owner(api, "erasure", PARENT)
    r = api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY})
    assert r.status_code == 200, r.text
    outcome = r.json()["outcome"]
    assert outcome["deleted"] or outcome["changed"]
    # The answer does not wait for the proof (GDPR Art. 17): it says the proof is pending,
    # never clean; the proof and the notices run after it, and the request shows them.
    assert outcome["proof"] == {"state": "pending"}
    shown = api.get(f"/api/v1/requests/{rid}").json()
    assert shown["outcome"]["proof"]["state"] == "done"
    assert shown["outcome"]["proof"]["clean"] is True
    assert {(f["kind"], f["state"]) for f in shown["follow_ups"]} == {
        ("proof", "done"), ("notices", "done")}
    told = {(n["recipient"], n["channel"]) for n in shown["notices"]}
    assert ("hosting", "manual") in told and ("vipps", "manual") in told
    # The person is gone from the engine: a new request for them finds no one.
    assert_problem(api.post("/api/v1/requests", json={"type": "access", "subject": PARENT}),
                   404)


def test_many_erasures_at_once_each_with_its_own_request_and_proof(api: TestClient) -> None:
    """POST /api/v1/requests/batch/erasures: GDPR Art. 17 for many people, set-based; an unknown
    person is reported and the others are erased."""
    r = api.post("/api/v1/requests/batch/erasures", json={
        "subjects": [PARENT, "ext:99999", PUPIL], "verified_by": "called back on file",
        "reason": WHY})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["completed"]) == 2 and out["waiting"] == []
    assert [x["ref"] for x in out["refused"]] == ["ext:99999"]
    for rid in out["completed"]:
        shown = api.get(f"/api/v1/requests/{rid}").json()
        assert shown["type"] == "erasure" and shown["state"] == "completed"
        assert shown["outcome"]["proof"]["clean"] is True
        assert {f["kind"]: f["state"] for f in shown["follow_ups"]}["proof"] == "done"
    assert_problem(api.post("/api/v1/requests/batch/erasures", json={
        "subjects": [OTHER_PARENT], "reason": WHY}), 422, "verified_by")


def test_rectification_changes_the_column_and_the_identity(api: TestClient, demo: Path) -> None:
    rid = by_owner(api, "rectification", PARENT,
                   details={"changes": {"users.email": "Ny.Adresse@Example.no"}})
    shown = api.get(f"/api/v1/requests/{rid}").json()
    assert shown["details"]["changes"] == {"app.users.email": "ny.adresse@example.no"}
    assert api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY}).status_code == 200
    assert email_of(api, PARENT) == "ny.adresse@example.no"
    service = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with service.connect() as conn:
        assert conn.execute(text("SELECT email FROM users WHERE id = 8")).scalar() == \
            "ny.adresse@example.no"
    service.dispose()


def test_lists_overdue_and_due_soon(api: TestClient, clock: MovableClock) -> None:
    first = by_owner(api, "access", PARENT)
    clock.advance(days=20)
    second = by_owner(api, "access", OTHER_PARENT)
    assert [r["id"] for r in api.get("/api/v1/requests").json()] == [first, second]
    clock.advance(days=12)  # 5 February: the first was due on the 4th
    overdue = api.get("/api/v1/requests", params={"overdue": True}).json()
    assert [(r["id"], r["overdue"]) for r in overdue] == [(first, True)]
    soon = api.get("/api/v1/requests", params={"due_soon": 30}).json()
    assert [r["id"] for r in soon] == [second]
    mine = api.get("/api/v1/requests", params={"subject": OTHER_PARENT}).json()
    assert [r["id"] for r in mine] == [second]


def test_extend_refuse_and_lift(api: TestClient) -> None:
    rid = by_owner(api, "access", PARENT)
    r = api.post(f"/api/v1/requests/{rid}/extend", json={"reason": "Many systems to search"})
    assert r.status_code == 200, r.text
    assert r.json()["extended_to"] == "2027-04-05"  # three months, moved to a working day
    assert "Many systems" in r.json()["events"][-1]["note"]
    assert_problem(api.post(f"/api/v1/requests/{rid}/extend", json={"reason": "again"}), 409,
                   "already extended")

    r = api.post(f"/api/v1/requests/{rid}/refuse", json={"reason": "Manifestly unfounded"})
    assert r.status_code == 200 and r.json()["state"] == "refused"
    assert r.json()["reason"] == "Manifestly unfounded"

    restriction = by_owner(api, "restriction", OTHER_PARENT)
    assert api.post(f"/api/v1/requests/{restriction}/run", json={"reason": WHY}).status_code == 200
    r = api.post(f"/api/v1/requests/{restriction}/lift", json={"reason": "Accuracy confirmed"})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"]["lifted_because"] == "Accuracy confirmed"


def test_a_guardian_opens_for_their_child_and_sees_it_as_theirs(api: TestClient) -> None:
    data = opened(api, "access", PUPIL, opened_by="guardian", acting_subject=PARENT)
    assert data["state"] == "verifying"
    assert data["code_sent_to"][0] == email_of(api, PARENT)[0]
    rid = data["id"]
    assert api.get(f"/api/v1/requests/{rid}", params={"subject": PARENT}).status_code == 200
    assert api.get(f"/api/v1/requests/{rid}", params={"subject": PUPIL}).status_code == 200


# ---- bad input: 4xx problem+json, nothing stored changed -------------------------------------

BAD_OPENS = [
    ({"type": "access", "subject": "ext:99999"}, 404, "no subject"),
    ({"type": "access", "email": "nobody@example.no"}, 404, "no subject"),
    ({"type": "access", "subject": PARENT, "email": "EMAIL_OF_OTHER"}, 422, "does not belong"),
    ({"type": "access"}, 422, "name the subject"),
    ({"type": "access", "subject": PUPIL, "opened_by": "guardian",
      "acting_subject": OTHER_PARENT}, 403, "not a guardian"),
    ({"type": "access", "subject": PARENT, "opened_by": "owner"}, 422, "--verified-by"),
    ({"type": "rectification", "subject": PARENT, "verified_by": "letter", "opened_by": "owner",
      "details": {"changes": {"users.email": "not-an-address"}}}, 422, "users.email"),
    ({"type": "rectification", "subject": PARENT, "verified_by": "letter", "opened_by": "owner",
      "details": {"changes": {"users.phone": "12"}}}, 422, "users.phone"),
    ({"type": "rectification", "subject": PARENT, "verified_by": "letter", "opened_by": "owner",
      "details": {"changes": {"users.nope": "x"}}}, 422, "not a column"),
    ({"type": "rectification", "subject": PARENT, "verified_by": "letter", "opened_by": "owner",
      "details": {"changes": {}}}, 422, "at least one change"),
    ({"type": "rectification", "subject": PARENT, "verified_by": "letter", "opened_by": "owner",
      "details": {"changes": {"users.email": "EMAIL_OF_OTHER"}}}, 409, "another subject"),
    ({"type": "access", "subject": PARENT, "details": {"changes": {"users.email": "a@b.no"}}},
     422, "takes no changes"),
    ({"type": "objection", "subject": PARENT, "opened_by": "owner", "verified_by": "letter",
      "details": {"purpose": "bookkeeping"}}, 422, "right to object"),
    # Bodies of the wrong shape.
    ({"type": "delete-everything", "subject": PARENT}, 422, "type"),
    ({"type": "access", "subject": PARENT, "admin": True}, 422, "admin"),
    ({"type": "access", "subject": PARENT, "details": "please"}, 422, "details"),
    ({"type": "rectification", "subject": PARENT, "details": {"changes": [["users.email", "x"]]}},
     422, "changes"),
    ({"type": "access", "subject": 8}, 422, "subject"),
    ({"type": "access", "subject": PARENT, "verified_by": ""}, 422, "verified_by"),
    (["access", PARENT], 422, ""),
]


@pytest.mark.parametrize(("body", "status", "says"), BAD_OPENS)
def test_bad_opens_are_refused_and_store_nothing(
        api: TestClient, demo: Path, body: Any, status: int, says: str) -> None:
    other = email_of(api, OTHER_PARENT)
    body = json.loads(json.dumps(body).replace("EMAIL_OF_OTHER", other))
    before = stored(api, demo)
    assert_problem(api.post("/api/v1/requests", json=body), status, says)
    assert stored(api, demo) == before


def test_a_body_that_is_not_json_is_400(api: TestClient, demo: Path) -> None:
    before = stored(api, demo)
    r = api.post("/api/v1/requests", content=b'{"type": "access",',
                 headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "not valid JSON")
    assert stored(api, demo) == before


def test_expired_wrong_and_reused_codes(api: TestClient, demo: Path, clock: MovableClock) -> None:
    rid = opened(api, "access", PARENT)["id"]
    code = mailed_code(api)
    before = stored(api, demo)
    clock.advance(minutes=16)
    assert_problem(api.post(f"/api/v1/requests/{rid}/verify", json={"code": code}), 422,
                   "expired")
    assert stored(api, demo) == before  # an expired code changes nothing
    assert_problem(api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY}), 409,
                   "not verified")
    assert stored(api, demo) == before

    fresh = opened(api, "access", PARENT)["id"]
    code = mailed_code(api)
    assert_problem(api.post(f"/api/v1/requests/{fresh}/verify", json={"code": "AAAA-AAAA"}),
                   422, "not right")
    assert api.post(f"/api/v1/requests/{fresh}/verify", json={"code": code}).status_code == 200
    before = stored(api, demo)
    assert_problem(api.post(f"/api/v1/requests/{fresh}/verify", json={"code": code}), 409,
                   "not waiting for a code")
    assert_problem(api.post(f"/api/v1/requests/{fresh}/verify", json={"code": 12345678}), 422,
                   "code")
    assert stored(api, demo) == before


def test_someone_elses_request_is_not_found(api: TestClient, demo: Path) -> None:
    rid = by_owner(api, "access", PARENT)
    before = stored(api, demo)
    mine = {"subject": OTHER_PARENT}
    assert_problem(api.get(f"/api/v1/requests/{rid}", params=mine), 404, "of this subject")
    assert_problem(api.post(f"/api/v1/requests/{rid}/run", params=mine, json={"reason": WHY}), 404)
    assert_problem(api.post(f"/api/v1/requests/{rid}/verify", params=mine,
                            json={"code": "AAAA-AAAA"}), 404)
    assert stored(api, demo) == before
    assert api.post(f"/api/v1/requests/{rid}/run", params={"subject": PARENT},
                    json={"reason": WHY}).status_code == 200
    assert_problem(api.get(f"/api/v1/requests/{rid}/package", params=mine), 404)
    assert api.get(f"/api/v1/requests/{rid}/package",
                   params={"subject": PARENT}).status_code == 200


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("get", "/api/v1/requests/0123456789abcdef", None, 404, "no request"),
    ("get", "/api/v1/requests/xyz!", None, 422, "request_id"),
    ("get", "/api/v1/requests?due_soon=-1", None, 422, "due_soon"),
    ("get", "/api/v1/requests?state=lost", None, 422, "state"),
    ("get", "/api/v1/requests?subject=ext:99999", None, 404, "no subject"),
    ("post", "/api/v1/requests/RID/extend", {"reason": ""}, 422, "reason"),
    ("post", "/api/v1/requests/RID/extend", {}, 422, "reason"),
    ("post", "/api/v1/requests/RID/refuse", {"reason": "   "}, 422, "say why"),
    ("post", "/api/v1/requests/RID/lift", {"reason": "no"}, 409, "not a completed restriction"),
    ("post", "/api/v1/requests/RID/run", {"reason": WHY, "prove": "yes"}, 422, "prove"),
    ("post", "/api/v1/requests/RID/run", {"reason": WHY, "lang": "de"}, 422, "lang"),
    ("post", "/api/v1/requests/RID/run", {"reason": WHY, "later": "soon"}, 422, "later"),
    ("post", "/api/v1/requests/RID/run", {"prove": True}, 422, "reason"),
    ("post", "/api/v1/requests/RID/run", {"reason": "  "}, 422, "say why"),
    ("post", "/api/v1/requests/RID/run", {"reason": "x" * 2001}, 422, "too long"),
    ("get", "/api/v1/requests/RID/package", None, 409, "run it first"),
    ("post", "/api/v1/requests/RID/verify", {"code": "AAAA-AAAA"}, 409, "not waiting"),
])
def test_bad_calls_on_a_request(api: TestClient, demo: Path, method: str, path: str,
                                body: Any, status: int, says: str) -> None:
    rid = by_owner(api, "access", PARENT)
    before = stored(api, demo)
    r = getattr(api, method)(path.replace("RID", rid),
                             **({"json": body} if body is not None else {}))
    assert_problem(r, status, says)
    assert stored(api, demo) == before


def test_a_run_for_later_is_queued_on_postgresql_and_refused_without_a_queue(
        api: TestClient, demo: Path, db_url: str) -> None:
    rid = by_owner(api, "access", PARENT)
    before = stored(api, demo)
    r = api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY, "later": True})
    if db_url.startswith("sqlite"):
        assert_problem(r, 409, "needs the job queue")
        assert stored(api, demo) == before
        return
    assert r.status_code == 202, r.text
    assert (r.json()["state"], r.json()["outcome"]) == ("queued", {})
    jobs = api.get(f"/api/v1/requests/{rid}").json()["jobs"]
    assert [(j["id"], j["task"], j["status"], j["attempts"]) for j in jobs] == [
        (r.json()["job"], "request.run", "todo", 0)]


def test_no_key_no_requests(api: TestClient) -> None:
    rid = by_owner(api, "access", PARENT)
    del api.headers["Authorization"]
    assert_problem(api.get(f"/api/v1/requests/{rid}"), 401)
    assert_problem(api.post("/api/v1/requests", json={"type": "access", "subject": PARENT}), 401)


# ---- tasks outside the engine's reach ------------------------------------------------------

@pytest.fixture
def crm_api(demo: Path, template: Path, db_url: str, clock: MovableClock
            ) -> Iterator[TestClient]:
    """As ``api``, with a processor (crm) that is asked by e-mail."""
    import yaml

    from personvern.web import create_app

    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"].append({"id": "crm", "kind": "manual", "recipient": "vipps",
                             "contact": "personvern@crm.example.no"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    copy_engine_rows(f"sqlite:///{template / 'personvern.db'}", db_url)
    app = create_app(get_settings(manifest=path, database_url=db_url), clock)
    with open_client(app) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        yield client


def test_a_manual_task_is_shown_open_and_marked_done(crm_api: TestClient, demo: Path) -> None:
    api = crm_api
    rid = by_owner(api, "erasure", PARENT)
    r = api.post(f"/api/v1/requests/{rid}/run", json={"reason": WHY})
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "waiting" and "crm" in r.json()["error"]
    shown = api.get(f"/api/v1/requests/{rid}").json()
    assert [(t["dataset"], t["state"], t["asked"]) for t in shown["tasks"]] == [
        ("crm", "pending", "personvern@crm.example.no")]

    before = stored(api, demo)
    done = f"/api/v1/requests/{rid}/tasks/crm/done"
    assert_problem(api.post(f"/api/v1/requests/{rid}/tasks/nope/done", json={"note": "x"}), 404,
                   "no task for dataset (the value sent) (its tasks: crm)")
    assert_problem(api.post(done, json={"note": ""}), 422, "note")
    assert_problem(api.post(done, json={"note": "   "}), 422, "what the processor answered")
    assert_problem(api.post(done, json={"remark": "done"}), 422, "note")
    assert_problem(api.post(f"/api/v1/requests/{rid}/tasks/CRM!/done", json={"note": "x"}), 422,
                   "dataset")
    assert stored(api, demo) == before

    r = api.post(done, json={"note": "CRM confirmed the deletion"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "completed"
    assert body["tasks"][0]["state"] == "done" and body["tasks"][0]["done_by"].startswith("api:")
    assert body["outcome"]["tasks"][0]["note"] == "CRM confirmed the deletion"
    assert_problem(api.post(done, json={"note": "again"}), 409, "already completed")


# ---- scopes ---------------------------------------------------------------------------------

def bearer(api: TestClient, name: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_key(api, name, scopes)}"}


def test_only_the_scopes_for_it_open_run_and_download(api: TestClient) -> None:
    banner = bearer(api, "banner", "cookies:write")
    app = bearer(api, "app", "requests:open", "requests:read")
    runner = bearer(api, "owner's runner", "requests:run")
    reader = bearer(api, "owner's archive", "packages:read")
    # The app opens a request for its user and follows it, but cannot carry it out.
    r = api.post("/api/v1/requests", headers=app, json={
        "type": "access", "subject": PARENT, "opened_by": "owner",
        "verified_by": "called back on the number on file"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert api.get(f"/api/v1/requests/{rid}", headers=app).json()["state"] == "verified"
    for who, lacking in [(banner, "requests:run"), (app, "requests:run"),
                         (reader, "requests:run")]:
        r = api.post(f"/api/v1/requests/{rid}/run", headers=who, json={"reason": WHY})
        assert_problem(r, 403, f"lacks the scope '{lacking}'")
    assert_problem(api.get(f"/api/v1/requests/{rid}", headers=runner), 403, "requests:read")
    assert api.get(f"/api/v1/requests/{rid}", headers=app).json()["state"] == "verified"

    r = api.post(f"/api/v1/requests/{rid}/run", headers=runner, json={"reason": WHY})
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    package = r.json()["package"]
    for who in (banner, app, runner):
        assert_problem(api.get(package, headers=who), 403, "lacks the scope 'packages:read'")
    r = api.get(package, headers=reader)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with runtime_of(api).transaction() as s:
        actors = s.scalars(select(AuditEvent.actor).where(AuditEvent.action == "request.run"))
        assert list(actors) == ["api:owner's runner"]


def test_the_api_names_a_request_by_its_id_never_by_its_person(api: TestClient) -> None:
    # The CLI takes `ext:8` for a person's request; here it would tell any caller whether
    # someone exists and has made requests: a person is refused like any other non-id.
    rid = by_owner(api, "access", PARENT)
    assert api.get(f"/api/v1/requests/{rid}").status_code == 200
    for ref in ("ext:000008", "ext:999999"):
        assert_problem(api.get(f"/api/v1/requests/{ref}"), 422, "path.request_id")
