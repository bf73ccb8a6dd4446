"""``personvern request``: open, verify, show, run, list, extend, refuse and notices, as a
privacy owner types them, through the real entry point (errors become exit codes)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from personvern.cli import main, request_cmd
from personvern.demo.init import init_demo
from personvern.mail.tables import OutboxMessage
from personvern.storage.engine import create_engine_for
from personvern.storage.models import Base
from personvern.storage.session import make_sessionmaker

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)
T = "2027-01-04T13:00:00+01:00"

# Until cli/main.py registers the group, the tests add it to the same app the script runs.
if not any(g.name == "request" for g in main.app.registered_groups):
    main.app.add_typer(request_cmd.app, name="request")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 40, now=NOW)
    return directory


@pytest.fixture
def demo(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, tmp_path / name)
    (tmp_path / "personvern.yaml").write_text(
        (template / "personvern.yaml").read_text(encoding="utf-8").replace(
            str(template / "service.db"), str(tmp_path / "service.db")), encoding="utf-8")
    monkeypatch.setenv("PERSONVERN_MANIFEST", str(tmp_path / "personvern.yaml"))
    monkeypatch.setenv("PERSONVERN_DATABASE_URL", f"sqlite:///{tmp_path / 'personvern.db'}")
    return tmp_path


@pytest.fixture
def pv(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
       ) -> Iterator[Any]:
    def call(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["personvern", "request", *args])
        capsys.readouterr()
        try:
            main.run()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    yield call


def ok(pv: Any, *args: str) -> Any:
    code, out, err = pv(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def engine_db(demo: Path) -> Any:
    return create_engine_for(f"sqlite:///{demo / 'personvern.db'}")


def counts(demo: Path) -> dict[str, int]:
    import personvern.schema  # noqa: F401 - every table in the metadata, whatever ran before

    engine = engine_db(demo)
    try:
        with make_sessionmaker(engine)() as s:
            # manifest_versions: every start records the manifest in force, by design.
            return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                    for t in Base.metadata.sorted_tables if t.name != "manifest_versions"}
    finally:
        engine.dispose()


def latest_code(demo: Path) -> str:
    engine = engine_db(demo)
    try:
        with make_sessionmaker(engine)() as s:
            body = s.scalars(select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "request_verification").order_by(
                OutboxMessage.id.desc())).first()
    finally:
        engine.dispose()
    found = re.search(r"code: (\w{4}-\w{4})", body or "")
    assert found
    return found.group(1)


def service_value(demo: Path, sql: str) -> Any:
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_subject_access_from_open_to_package(demo: Path, pv: Any) -> None:
    email = service_value(demo, "SELECT email FROM users WHERE id = 20")
    opened = ok(pv, "open", "access", "--email", email, "--now", T)
    assert opened["state"] == "verifying" and opened["due_on"] == "2027-02-04"
    assert opened["code_sent_to"].endswith(email.split("@")[1])
    code, _, err = pv("verify", opened["id"], "WRONG-CODE", "--now", T)
    assert code == 2 and "not right" in err
    ok(pv, "verify", opened["id"][:10], latest_code(demo), "--now", T)
    run = ok(pv, "run", opened["id"], "--reason", "identity checked", "--out", str(demo / "out"),
             "--now", T)
    assert run["state"] == "completed" and Path(run["outcome"]["package"]["path"]).is_file()
    shown = ok(pv, "show", opened["id"], "--now", T)
    assert shown["due_on"] == "2027-02-04" and shown["state"] == "completed"
    assert [e["to"] for e in shown["events"]] == [
        "received", "verifying", "verified", "in_progress", "completed"]
    code, out, _ = pv("show", opened["id"], "--now", T)
    assert code == 0 and "completed" in out and "due 2027-02-04" in out


def test_erasure_by_the_owner_says_what_was_kept_and_who_was_told(demo: Path, pv: Any) -> None:
    opened = ok(pv, "open", "erasure", "--subject", "ext:12", "--verified-by",
                "called back on the number we have", "--now", T)
    assert opened["state"] == "verified"
    code, out, err = pv("run", opened["id"], "--reason", "identity checked", "--now", T)
    assert code == 0, err
    assert "kept 1 row of invoices until" in out and "bokføringsloven § 13" in out
    assert "proof: nothing left" in out
    # The letter telling the person it is done still carries their address until sent.
    assert "held until delivered: 1 × e-mail to the person (their address), blanked once " \
        "sent" in out
    code, out, _ = pv("notices", opened["id"], "--now", T)
    assert "Driftsleverandør Norge AS (erasure, manual): queued" in out
    told = ok(pv, "notices", opened["id"], "--ack", "1", "--now", T)
    assert told[0]["status"] == "acknowledged"


def test_erase_batch_erases_many_and_reports_the_unknown(demo: Path, pv: Any) -> None:
    code, out, err = pv("erase-batch", "ext:12", "ext:13", "ext:4040", "--verified-by",
                        "called back", "--reason", "they asked", "--now", T)
    assert code == 1, err  # one could not be named: said, and the exit code says so
    assert "erased 2 people in a batch" in out and "not run: ext:4040" in out
    code, out, err = pv("erase-batch", "ext:14", "--reason", "they asked", "--now", T)
    assert code == 2 and "--verified-by" in err
    code, out, _ = pv("erase-batch", "ext:15", "--verified-by", "called back", "--reason",
                      "they asked", "--now", T, "--json")
    [rid] = json.loads(out)["completed"]
    shown = ok(pv, "show", rid, "--now", T)
    assert shown["state"] == "completed"
    assert [f["state"] for f in shown["follow_ups"]] == ["done", "done"]
    code, out, _ = pv("show", rid, "--now", T)
    assert "after the answer: proof done: nothing left that the data map does not keep" in out


def test_lists_extension_and_refusal(demo: Path, pv: Any) -> None:
    a = ok(pv, "open", "access", "--subject", "ext:9", "--verified-by", "known", "--now", T)
    b = ok(pv, "open", "rectification", "--subject", "ext:10", "--verified-by", "known",
           "--set", "users.phone=+47 912 34 567", "--now", T)
    later = "2027-02-01T09:00:00+01:00"
    assert [r["id"] for r in ok(pv, "list", "--due-soon", "5", "--now", later)] == [
        a["id"], b["id"]]
    extended = ok(pv, "extend", a["id"], "--reason", "Mange systemer", "--now", later)
    assert extended["extended_to"] == "2027-04-05"
    refused = ok(pv, "refuse", b["id"], "--reason", "Nummeret er allerede riktig",
                 "--now", later)
    assert refused["state"] == "refused"
    assert ok(pv, "list", "--overdue", "--now", "2027-02-10T09:00:00+01:00") == []
    code, _, err = pv("extend", a["id"], "--reason", "igjen", "--now", later)
    assert code == 1 and "already extended" in err


@pytest.mark.parametrize(("args", "exit_code", "message"), [
    (("open", "access", "--subject", "ext:9999"), 1, "no subject 'ext:9999'"),
    (("open", "access", "--subject", "ext:9", "--email", "annen@example.no"), 2,
     "does not belong to subject"),
    (("open", "access", "--subject", "ext:31", "--guardian", "ext:9"), 1,
     "is not a guardian of"),
    (("open", "rectification", "--subject", "ext:9", "--verified-by", "x", "--set",
      "users.email=ikke-en-adresse"), 2, "is not an e-mail address"),
    (("open", "rectification", "--subject", "ext:9", "--verified-by", "x", "--set",
      "users.phone=123"), 2, "is not a phone number"),
    (("open", "rectification", "--subject", "ext:9", "--verified-by", "x", "--set",
      "users.email"), 2, "write table.column=new value"),
    (("open", "access", "--subject", "ext:9", "--now", "yesterday"), 2, "ISO 8601"),
    (("show", "ffffffff"), 1, "no request"),
    (("list", "--due-soon", "-1"), 2, "0 or more"),
])
def test_bad_input_is_a_clear_message_and_changes_nothing(
        demo: Path, pv: Any, args: tuple[str, ...], exit_code: int, message: str) -> None:
    before = counts(demo)
    code, _out, err = pv(*args)
    assert code == exit_code, err
    assert message in err and "Traceback" not in err
    assert counts(demo) == before


def test_someone_elses_email_does_not_match(demo: Path, pv: Any) -> None:
    other = service_value(demo, "SELECT email FROM users WHERE id = 10")
    before = counts(demo)
    code, _, err = pv("open", "access", "--subject", "ext:9", "--email", other)
    assert code == 2 and "does not belong to subject" in err
    assert counts(demo) == before


def test_a_dataset_that_is_down_exits_1_and_the_request_waits(demo: Path, pv: Any) -> None:
    opened = ok(pv, "open", "access", "--subject", "ext:9", "--verified-by", "known",
                "--now", T)
    good = (demo / "service.db").read_bytes()
    (demo / "service.db").write_bytes(b"not a database" * 64)
    code, _out, err = pv("run", opened["id"], "--reason", "identity checked", "--out", str(demo),
                         "--now", T)
    assert code == 1 and "waiting" in err
    (demo / "service.db").write_bytes(good)
    assert ok(pv, "show", opened["id"])["state"] == "waiting"
    assert ok(pv, "run", opened["id"], "--reason", "identity checked", "--out", str(demo),
              "--now", T)["state"] == "completed"


@pytest.mark.parametrize(("reason", "says"), [
    ((), "Missing option '--reason'"), (("--reason", "  "), "say why you run the request now"),
    (("--reason", "x" * 2001), "the reason is too long")])
def test_a_run_needs_a_reason_and_without_one_nothing_changes(
        demo: Path, pv: Any, reason: tuple[str, ...], says: str) -> None:
    opened = ok(pv, "open", "erasure", "--subject", "ext:12", "--verified-by", "known",
                "--now", T)
    before = counts(demo)
    code, _out, err = pv("run", opened["id"], *reason, "--now", T)
    assert code == 2 and says in " ".join(err.split())
    assert counts(demo) == before
    assert ok(pv, "show", opened["id"])["state"] == "verified"


def test_a_manual_task_is_marked_done_and_completes_the_request(demo: Path, pv: Any) -> None:
    import yaml

    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"].append({"id": "crm", "kind": "manual", "recipient": "vipps",
                             "contact": "personvern@crm.example.no"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    opened = ok(pv, "open", "erasure", "--subject", "ext:12", "--verified-by", "known",
                "--now", T)
    code, _out, err = pv("run", opened["id"], "--reason", "identity checked", "--now", T)
    assert code == 1 and "waiting for the processor to answer: crm" in err
    code, out, _ = pv("show", opened["id"], "--now", T)
    assert "task crm (manual, erase): pending, asked personvern@crm.example.no" in out

    before = counts(demo)
    for args, exit_code, message in [
        (("task-done", opened["id"], "nope", "--note", "x"), 1, "no task for dataset 'nope'"),
        (("task-done", opened["id"], "crm", "--note", " "), 2, "what the processor answered"),
        (("task-done", opened["id"], "crm"), 2, "--note"),
        (("task-done", "ffffffff", "crm", "--note", "x"), 1, "no request"),
    ]:
        code, _out, err = pv(*args, "--now", T)
        assert code == exit_code and message in err, (args, code, err)
        assert "Traceback" not in err
    assert counts(demo) == before
    # Retrying apps cannot bring a processor's answer: run-due says one is still awaited.
    code, out, _ = pv("run-due", "--now", T)
    assert code == 0 and out.splitlines() == [
        "nothing due: no app (http dataset) is due for another call",
        "1 manual task awaiting a processor's answer (this command cannot bring it): "
        "record each with `personvern request task-done ID DATASET --note TEXT`"]

    done = ok(pv, "task-done", opened["id"][:8], "crm", "--note", "CRM confirmed", "--now", T)
    assert done["state"] == "completed"
    shown = ok(pv, "show", opened["id"], "--now", T)
    assert shown["state"] == "completed" and shown["tasks"][0]["note"] == "CRM confirmed"
    assert ok(pv, "run-due", "--now", T) == []


def test_a_manual_task_closed_last_puts_its_answer_in_the_access_package(
        demo: Path, pv: Any) -> None:
    import json
    import zipfile

    import yaml

    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"].append({"id": "crm", "kind": "manual", "recipient": "vipps",
                             "contact": "personvern@crm.example.no"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    opened = ok(pv, "open", "access", "--subject", "ext:12", "--verified-by", "known",
                "--now", T)
    code, _out, err = pv("run", opened["id"], "--reason", "identity checked", "--out",
                         str(demo), "--now", T)
    assert code == 1 and "waiting for the processor to answer: crm" in err
    code, out, _ = pv("task-done", opened["id"], "crm", "--note", "CRM sent it by post",
                      "--out", str(demo), "--now", T)
    package = demo / f"access-{opened['id']}.zip"
    assert code == 0 and f"the access package {package} gives each processor's answer" in out
    with zipfile.ZipFile(package) as zf:
        [crm] = json.loads(zf.read("data.json"))["manual"]
    assert (crm["state"], crm["note"]) == ("done", "CRM sent it by post")
    code, out, _ = pv("show", opened["id"], "--now", T)
    assert "task crm (manual, access): done" in out and "note: CRM sent it by post" in out


def test_what_postgresql_still_holds_is_said_with_the_command_to_end_it() -> None:
    from personvern.cli.common import vacuum_lines

    assert vacuum_lines({}) == []
    assert vacuum_lines({"app": ["messages", "users"]}) == [
        "  app: erased rows stay in the files of messages, users until VACUUM FULL rewrites "
        "them; run: VACUUM FULL messages, users;"]


def test_a_request_is_named_by_its_person(demo: Path, pv: Any) -> None:
    opened = ok(pv, "open", "erasure", "--subject", "ext:12", "--verified-by", "known",
                "--now", T)
    assert ok(pv, "show", "ext:12", "--now", T)["id"] == opened["id"]
    other = ok(pv, "open", "access", "--subject", "ext:12", "--verified-by", "known",
               "--now", T)
    before = counts(demo)
    code, _out, err = pv("run", "ext:12", "--reason", "ID checked", "--now", T)
    assert code == 2 and err.startswith("error: ext:12 has 2 open requests (") and \
        err.strip().endswith("); give the request's id"), err
    assert f"erasure {opened['id'][:8]}" in err and f"access {other['id'][:8]}" in err
    assert counts(demo) == before
    code, _out, err = pv("show", "ext:13", "--now", T)
    assert code == 1 and err.strip() == "error: ext:13 has no request"
    assert ok(pv, "run", other["id"][:8], "--reason", "asked", "--out", str(demo / "out"),
              "--now", T)["state"] == "completed"
    # One open request left: the person names it.
    done = ok(pv, "run", "ext:12", "--reason", "ID checked", "--now", T)
    assert done["id"] == opened["id"] and done["state"] == "completed"
