"""The dashboard's retention page on SQLite and PostgreSQL: the plan at the dashboard's now
with its counts, the history of sweeps (one run by ``personvern retention run``, one by the
owner's button, one a crash left open), who may see and run it, and bad input."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, MetaData, String, Table, select

from personvern.clock import fixed_clock
from personvern.consent.tables import Subject
from personvern.retention.tables import RetentionBatch, RetentionSweep
from personvern.settings import Settings
from personvern.staff.users import add_user
from personvern.storage.models import AuditEvent
from personvern.web import create_app
from retention.support import build_service, column, person, urls, write_manifest
from staff.support import HashOnce, csrf_token, sign_in_as

NOW = datetime(2027, 6, 1, 10, tzinfo=UTC)
LONG_AGO = datetime(2025, 3, 1, 12, tzinfo=UTC)  # more than two years before NOW
LATELY = datetime(2026, 9, 1, 12, tzinfo=UTC)
PASSWORD = "fjord lantern pebble 42"
ROLES = ("owner", "privacy_officer", "support", "finance")
PV = str(Path(sys.executable).with_name("personvern"))
SIGNUP = ("sessions", "subscription", "parent_payment", "complaints")
# Accounts 1-3 have not signed in for over two years (the rule: "slettes senest 2 år etter
# siste registrerte aktivitet"); 4 and 5 signed in lately. Account 1 has an invoice.
ACCOUNTS = [(1, LONG_AGO), (2, LONG_AGO), (3, LONG_AGO), (4, LATELY), (5, LATELY)]


def _service(tmp_path: Path, db_url: str) -> tuple[Path, str, str]:
    engine_url, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("accounts", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False, unique=True),
          Column("name", String(200), nullable=False),
          Column("last_login_at", DateTime(timezone=True)))
    Table("invoices", m, Column("id", Integer, primary_key=True),
          Column("account_id", ForeignKey("accounts.id"), nullable=False),
          Column("billed_name", String(200), nullable=False),
          Column("issued_on", Date, nullable=False))
    build_service(service_url, m, {
        "accounts": [{"id": i, "email": f"person{i}@example.no", "name": f"Person {i}",
                      "last_login_at": at} for i, at in ACCOUNTS],
        "invoices": [{"id": 10, "account_id": 1, "billed_name": "Person 1",
                      "issued_on": date(2024, 11, 5)}]})
    manifest = write_manifest(tmp_path / "personvern.yaml", "snapmentor", [{
        "id": "customer_database", "url": service_url, "tables": [
            {"name": "accounts", "erase": "mask", "dates": {"last_activity": "last_login_at"},
             "columns": [{"name": "id", "identity": "user_id", "erase": "keep"},
                         {"name": "email", "identity": "email", "categories": ["user.account"]},
                         {"name": "name", "categories": ["user.account"]}]},
            {"name": "invoices", "erase": "keep", "hold": "billing_5y",
             "dates": {"fiscal_year_end": "issued_on"},
             "columns": [{"name": "billed_name",
                          "categories": ["user.behavior.purchase_history"]}],
             "references": [{"column": "account_id", "to": "accounts.id"}]}]}])
    return manifest, engine_url, service_url


@pytest.fixture
def site(tmp_path: Path, db_url: str, hash_once: HashOnce
         ) -> Iterator[tuple[TestClient, Path, str, str]]:
    """The app at NOW over the service, one staff user per role, every account a subject."""
    manifest, engine_url, service_url = _service(tmp_path, db_url)
    app = create_app(Settings(manifest=manifest, database_url=engine_url), fixed_clock(NOW))
    with TestClient(app, base_url="http://127.0.0.1", headers={"Accept-Language": "en"}) as c:
        rt = c.app.state.runtime  # type: ignore[attr-defined]
        with rt.transaction() as s:
            for role in ROLES:
                add_user(s, rt.clock, f"{role}@example.no", PASSWORD, role=role)
        for i, _ in ACCOUNTS:
            person(rt, LONG_AGO, f"person{i}@example.no", i, "parents", SIGNUP)
        yield c, manifest, engine_url, service_url


def _as(c: TestClient, role: str) -> TestClient:
    return sign_in_as(c, f"{role}@example.no", PASSWORD)


def _run_now(c: TestClient, reason: str, **extra: str) -> Any:
    data = {"reason": reason, "csrf_token": csrf_token(c, "/dashboard/retention"), **extra}
    return c.post("/dashboard/retention/run", data=data, follow_redirects=False)


def _rows(page: str, table: str) -> int:
    found = re.search(rf'data-table="customer_database\.{table}" data-rows="(\d+)"', page)
    assert found, page
    return int(found.group(1))


HEADS = ("sweep", "at", "by", "state", "batches", "deleted", "anonymised", "restricted",
         "erased", "people_restricted", "notices")


def _sweep_row(page: str, sweep: int) -> dict[str, str]:
    """The cells of one sweep's row in the history, by column."""
    found = re.search(rf'<tr data-sweep="{sweep}">(.*?)</tr>', page, re.S)
    assert found, page
    cells = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<td>(.*?)</td>", found.group(1), re.S)]
    return dict(zip(HEADS, cells, strict=True))


def _newest(page: str) -> int:
    """The newest sweep's number (listed first): 1, 2, ... on SQLite; on PostgreSQL the
    plans shown before used up numbers too (a sequence is not rolled back with a plan)."""
    return int(re.findall(r'<tr data-sweep="(\d+)">', page)[0])


def _engine(c: TestClient, query: Any) -> list[Any]:
    with c.app.state.runtime.transaction() as s:  # type: ignore[attr-defined]
        return list(s.scalars(query))


def test_plan_then_cli_run_then_owner_run_on_each_database(
        site: tuple[TestClient, Path, str, str]) -> None:
    c, manifest, engine_url, service_url = site
    page = _as(c, "privacy_officer").get("/dashboard/retention")
    assert page.status_code == 200
    expired = sum(at <= NOW.replace(year=NOW.year - 2) for _, at in ACCOUNTS)
    assert _rows(page.text, "accounts") == expired == 3
    assert "The plan at 2027-06-01T10:00" in page.text
    assert "2 years after last activity" in page.text  # the reason, in words
    assert "No sweep has run yet" in page.text
    assert "Run the sweep" not in page.text  # the privacy officer may look, not run
    assert column(service_url, "SELECT email FROM accounts ORDER BY id")[0] == \
        "person1@example.no"  # looking changed nothing

    ran = subprocess.run([PV, "retention", "run", "--manifest", str(manifest), "--db",
                          engine_url, "--now", NOW.isoformat(), "--reason", "after the import"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    masked = column(service_url, "SELECT id FROM accounts WHERE email LIKE 'slettet-%' "
                                 "ORDER BY id")
    assert masked == [1, 2, 3]
    page = c.get("/dashboard/retention")
    row = _sweep_row(page.text, _newest(page.text))
    erased = len(_engine(c, select(Subject.id).where(Subject.erased_at.is_not(None))))
    assert erased == 2  # person 1's invoice is kept: restricted, not erased
    assert (row["by"], row["state"]) == ("personvern retention run", "finished")
    assert (row["deleted"], row["anonymised"], row["restricted"]) == ("3", "0", "0")
    assert (row["erased"], row["people_restricted"]) == (str(erased), "1")
    assert int(row["batches"]) >= 1
    assert 'id="plan-inactive_profile"' not in page.text  # nothing of it is due any more

    _as(c, "owner")
    r = _run_now(c, "checking after the import")
    # The next sweep's number: 2 on SQLite; on PostgreSQL the plans shown meanwhile used
    # up numbers too (a sequence is not rolled back with the plan's rehearsal).
    done = re.fullmatch(r"/dashboard/retention\?done=(\d+)", r.headers["location"])
    assert r.status_code == 303 and done and int(done.group(1)) >= 2
    assert int(done.group(1)) == 2 or "postgres" in engine_url
    sweep = int(done.group(1))
    page = c.get(r.headers["location"]).text
    assert f"Done: sweep {sweep} ran" in page
    assert _sweep_row(page, sweep)["by"] == "staff:owner@example.no"
    # The core records every asked-for sweep with its reason, whoever asked.
    runs = _engine(c, select(AuditEvent).where(AuditEvent.action == "retention.run_requested"))
    assert [(e.actor, e.details["reason"]) for e in runs] == [
        ("cli", "after the import"), ("staff:owner@example.no", "checking after the import")]


def test_a_batch_a_crash_left_pending_is_shown_and_finished_by_the_next_sweep(
        site: tuple[TestClient, Path, str, str]) -> None:
    c, _, _, service_url = site
    with c.app.state.runtime.transaction() as s:  # type: ignore[attr-defined]
        # What a sweep killed between recording a batch and doing it leaves behind.
        sweep = RetentionSweep(now=NOW, started_at=NOW, batch_size=1000, totals={})
        s.add(sweep)
        s.flush()
        s.add(RetentionBatch(sweep_id=sweep.id, step="inactive_profile|customer_database|"
                             "accounts|keys", seq=0, state="pending", keys=[2, 3],
                             subject_ids=[], rows=0))
    page = _as(c, "owner").get("/dashboard/retention").text
    row = _sweep_row(page, 1)
    assert row["state"].startswith("not finished") and row["by"] == "not recorded"
    assert "Pending after a crash: batch 1 of rule inactive_profile on " \
           "customer_database.accounts" in page
    assert _run_now(c, "finish the interrupted sweep").status_code == 303
    page = c.get("/dashboard/retention").text
    assert _sweep_row(page, 1)["state"] == "interrupted, finished by a later sweep"
    assert "Pending after a crash" not in page
    assert _newest(page) >= 2 and _sweep_row(page, _newest(page))["state"] == "finished"
    # The resumed batch took rows 2 and 3, the new sweep row 1.
    assert column(service_url, "SELECT id FROM accounts WHERE email LIKE 'slettet-%' "
                               "ORDER BY id") == [1, 2, 3]


@pytest.mark.parametrize("role", ["support", "finance"])
def test_support_and_finance_may_not_see_or_run_it(
        site: tuple[TestClient, Path, str, str], role: str) -> None:
    c, _, _, service_url = site
    _as(c, role)
    r = c.get("/dashboard/retention")
    assert r.status_code == 403 and "owner, privacy officer" in r.text
    r = c.post("/dashboard/retention/run", data={
        "reason": "x", "csrf_token": csrf_token(c, "/dashboard/sign-in")})
    assert r.status_code == 403 and "that is for: owner" in r.text
    assert _engine(c, select(RetentionSweep.id)) == []
    assert "slettet" not in "".join(column(service_url, "SELECT email FROM accounts"))


def test_privacy_officer_may_not_run_it(site: tuple[TestClient, Path, str, str]) -> None:
    c, _, _, _ = site
    _as(c, "privacy_officer")
    r = c.post("/dashboard/retention/run", data={
        "reason": "x", "csrf_token": csrf_token(c, "/dashboard/retention")})
    assert r.status_code == 403 and "running the retention sweep" in r.text
    assert _engine(c, select(RetentionSweep.id)) == []


@pytest.mark.parametrize(("query", "message"), [
    ("at=tomorrow", "at &#39;tomorrow&#39; is not a date (YYYY-MM-DD)"),
    ("at=2027-06-01T12:00:00", "needs a UTC offset"),
    ("at=0001-01-01", "the year must lie between 1970 and 9000"),
    ("sweeps=abc", "sweeps must be a whole number"),
    ("sweeps=0", "the history shows 1 to 500 sweeps"),
    ("at=<script>x</script>", "is not a date"),
])
def test_bad_query_values_get_a_message_on_the_page(
        site: tuple[TestClient, Path, str, str], query: str, message: str) -> None:
    c, _, _, _ = site
    r = _as(c, "owner").get(f"/dashboard/retention?{query}")
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert message in r.text and "<script>x" not in r.text


def test_plan_at_a_later_date_shows_more(site: tuple[TestClient, Path, str, str]) -> None:
    c, _, _, _ = site
    page = _as(c, "owner").get("/dashboard/retention?at=2028-09-02").text
    assert "The plan at 2028-09-02T00:00+02:00" in page  # midnight in Oslo
    assert _rows(page, "accounts") == 5  # the recent ones are two years old by then


def test_a_run_without_reason_or_csrf_changes_nothing(
        site: tuple[TestClient, Path, str, str]) -> None:
    c, _, _, service_url = site
    _as(c, "owner")
    r = _run_now(c, "   ")
    assert r.status_code == 422 and "say why you run the retention sweep now" in r.text
    r = _run_now(c, "x" * 2001)
    assert r.status_code == 422 and "the reason is too long: at most 2000 characters" in r.text
    r = c.post("/dashboard/retention/run", data={"reason": "no token"})
    assert r.status_code == 403
    assert _engine(c, select(RetentionSweep.id)) == []
    assert "slettet" not in "".join(column(service_url, "SELECT email FROM accounts"))


def test_a_plan_with_nothing_due_still_says_what_no_sweep_can_enforce(
        site: tuple[TestClient, Path, str, str]) -> None:
    """Never a bare "Nothing is due" where a rule cannot date its rows (GDPR Art. 5(1)(e)):
    the dashboard says "in the mapped data" and lists every promise not enforced, the same
    lines `personvern retention plan` prints."""
    c, manifest, engine_url, _ = site
    early = "2025-01-01"  # before anyone's two years have run out
    page = html.unescape(_as(c, "owner").get(f"/dashboard/retention?at={early}").text)
    assert "Nothing is due in the mapped data." in page
    assert "Nothing is due." not in page
    listed = re.findall(r'<ul id="undated">(.*?)</ul>', page, re.S)
    shown = re.findall(r"<li>(.*?)</li>", listed[0], re.S) if listed else []
    planned = subprocess.run([PV, "retention", "plan", "--manifest", str(manifest), "--db",
                              engine_url, "--now", "2025-01-01T00:00:00+01:00"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert planned.returncode == 0, planned.stderr
    assert "nothing is due in the mapped data" in planned.stdout
    said = [line.removeprefix("not enforced: ") for line in planned.stdout.splitlines()
            if line.startswith("not enforced: ")]
    assert shown == said and any("billing_5y" in line for line in said), (shown, said)
