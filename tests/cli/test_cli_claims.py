"""What a CLI command reports as done covers all it was asked to cover: a dataset it cannot
read is named, never counted as one with nothing in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from demo_support import demo_cli, fresh_demo

NOW = "2026-12-02T10:00:00+01:00"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    return fresh_demo(tmp_path, 20)


def add_datasets(demo: Path, *datasets: dict[str, object]) -> None:
    """Append ``datasets`` to the demo's manifest."""
    path = demo / "personvern.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"].extend(datasets)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_sync_names_the_datasets_it_cannot_list_people_from(demo: Path) -> None:
    add_datasets(demo, {"id": "crm", "kind": "manual", "recipient": "vipps",
                        "contact": "personvern@crm.example.no"},
                 {"id": "shop", "kind": "http", "callback": "https://shop.example.no/pv",
                  "secret_env": "SHOP_SECRET"})
    for args in (("--dry-run",), ()):
        done = demo_cli(demo, "subject", "sync", *args, now=NOW)
        assert done.returncode == 0, done.stderr
        assert "not read: crm (manual), shop (http): the engine cannot list the people " \
            "they hold, so none of them is registered here" in done.stdout, done.stdout
    done = demo_cli(demo, "subject", "sync", "--json", now=NOW)
    assert json.loads(done.stdout)["not_read"] == [
        {"dataset": "crm", "kind": "manual"}, {"dataset": "shop", "kind": "http"}]


def test_request_list_never_reads_as_all_when_it_is_cut_or_the_state_is_misspelt(
        demo: Path) -> None:
    opened = []
    for person in ("ext:9", "ext:10", "ext:11"):
        done = demo_cli(demo, "request", "open", "access", "--subject", person,
                        "--verified-by", "known", "--json", now=NOW)
        assert done.returncode == 0, done.stderr
        opened.append(json.loads(done.stdout)["id"])
    # Cut at --limit: the rest is said to exist, on stderr, so --json stays a list.
    done = demo_cli(demo, "request", "list", "--limit", "2", "--json", now=NOW)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 2
    assert "more requests match than the 2 listed" in done.stderr, done.stderr
    done = demo_cli(demo, "request", "list", "--limit", "3", now=NOW)
    assert done.returncode == 0 and "more requests match" not in done.stderr
    assert all(r in done.stdout for r in opened)
    # A state no request can be in is refused, never answered with "no requests".
    done = demo_cli(demo, "request", "list", "--state", "complete", now=NOW)
    assert done.returncode == 2, done.stdout
    assert "unknown state 'complete'" in done.stderr and "completed" in done.stderr
    assert "no requests" not in done.stdout


def test_subject_add_on_someone_known_records_what_was_missing_or_refuses(demo: Path) -> None:
    def add(*args: str) -> tuple[int, str, str]:
        done = demo_cli(demo, "subject", "add", *args, now=NOW)
        return done.returncode, done.stdout, done.stderr

    code, out, err = add("--email", "ny@example.no")
    assert code == 0 and out.startswith("created subject "), err
    subject = out.split()[-1]
    # Found, with a birth date the engine did not have: recorded, and said.
    code, out, err = add("--email", "ny@example.no", "--birth-date", "2016-05-01")
    assert code == 0, err
    assert out.strip() == f"found subject {subject}; recorded: birth date 2016-05-01", out
    shown = json.loads(demo_cli(demo, "subject", "show", subject, "--json", now=NOW).stdout)
    assert shown["birth_date"] == "2016-05-01"
    # A birth date that contradicts the one on record is refused, and nothing is changed.
    code, out, err = add("--email", "ny@example.no", "--phone", "+47 912 34 567",
                         "--birth-date", "2001-05-01")
    assert code == 1, out
    assert f"subject {subject} has birth date 2016-05-01 on record, not 2001-05-01" in err
    shown = demo_cli(demo, "subject", "show", subject, "--json", now=NOW)
    assert "+4791234567" not in shown.stdout
    # Nothing new given: found, as before.
    code, out, _ = add("--email", "ny@example.no", "--birth-date", "2016-05-01")
    assert (code, out.strip()) == (0, f"found subject {subject}")


def test_request_open_says_the_code_is_queued_not_that_it_was_e_mailed(demo: Path) -> None:
    done = demo_cli(demo, "request", "open", "access", "--subject", "ext:9", now=NOW)
    assert done.returncode == 0, done.stderr
    assert "e-mailed" not in done.stdout, done.stdout
    [line] = [x for x in done.stdout.splitlines() if "verification code" in x]
    assert line.startswith("a verification code to ") and "is queued (valid 15 minutes); " \
        "it leaves with personvern mail send (or a running worker); " in line
    outbox = demo_cli(demo, "mail", "list", "--status", "queued", "--json", now=NOW)
    assert [m["kind"] for m in json.loads(outbox.stdout)] == ["request_verification"]


def test_subject_show_never_says_never_active_while_a_source_was_not_read(demo: Path) -> None:
    path = demo / "personvern.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        str(demo / "service.db"), str(demo / "gone" / "service.db")), encoding="utf-8")
    done = demo_cli(demo, "subject", "show", "ext:5", now=NOW)
    assert done.returncode == 0, done.stderr
    assert "  last activity: never in the sources read; 1 source not read\n" in done.stdout, \
        done.stdout
    assert "app.users.last_login_at: not read (" in done.stdout


def test_retention_names_the_datasets_no_sweep_reaches(demo: Path) -> None:
    add_datasets(demo, {"id": "chat", "kind": "http", "callback": "https://chat.example.no/pv",
                        "secret_env": "CHAT_SECRET"},
                 {"id": "crm", "kind": "manual", "recipient": "vipps",
                  "contact": "personvern@crm.example.no"})
    later = "2027-06-01T12:00:00+02:00"
    done = demo_cli(demo, "retention", "plan", now=later)
    assert done.returncode == 0, done.stderr
    assert "not enforced: chat (http), crm (manual): no sweep reaches a dataset outside SQL; " \
        "what they hold is erased on a person's request only, never when a rule's time is " \
        "up" in done.stdout, done.stdout
    data = json.loads(demo_cli(demo, "retention", "plan", "--json", now=later).stdout)
    assert data["unswept"] == [{"dataset": "chat", "kind": "http"},
                               {"dataset": "crm", "kind": "manual"}]
