"""Two ``serve`` hosts and two ``worker`` hosts on one PostgreSQL: a request run queued on one
host is carried out by a worker once, even when its worker is SIGKILLed mid-job; a run that
always fails is retried with back-off and then shown failed; on SQLite there is no worker."""

from __future__ import annotations

import itertools
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from cli_inprocess import run_personvern
from scale.support import ChatApp, Cluster, api, sql, until

pytestmark = pytest.mark.postgres
PASSWORD = "fjord lantern pebble 42"
OWNER_SCOPES = ("subjects:write", "requests:open", "requests:run", "requests:read")


def open_request(cluster: Cluster, type_: str, email: str) -> str:
    """A verified request of ``type_`` for the person with ``email``, opened on host a."""
    with api(cluster, "a", OWNER_SCOPES) as client:
        subject = client.post("/api/v1/subjects", json={"email": email})
        assert subject.status_code in (200, 201), subject.text
        opened = client.post("/api/v1/requests", json={
            "type": type_, "subject": subject.json()["id"], "opened_by": "owner",
            "verified_by": "called back on the number on file"})
        assert opened.status_code == 201, opened.text
        return str(opened.json()["id"])


def run_later(cluster: Cluster, rid: str) -> int:
    """``personvern request run RID --later``: the job's id."""
    done = run_personvern("request", "run", rid, "--reason", "the person asked", "--later",
                          "--json", "--manifest", str(cluster.manifest), "--db", cluster.db_url)
    assert done.returncode == 0, done.stderr
    import json

    return int(json.loads(done.stdout)["job"])


def run_later_by_api(cluster: Cluster, rid: str) -> int:
    """``POST /api/v1/requests/{rid}/run`` with ``later`` on host a: the job's id."""
    with api(cluster, "a", OWNER_SCOPES) as client:
        queued = client.post(f"/api/v1/requests/{rid}/run",
                             json={"reason": "the person asked", "later": True})
        assert queued.status_code == 202 and queued.json()["state"] == "queued", queued.text
        return int(queued.json()["job"])


def shown_on_b(cluster: Cluster, rid: str) -> dict[str, Any]:
    """``GET /api/v1/requests/{rid}`` on host b (not where it was opened)."""
    with api(cluster, "b", OWNER_SCOPES) as client:
        answer = client.get(f"/api/v1/requests/{rid}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def finished(cluster: Cluster, rid: str) -> dict[str, Any] | None:
    """The request as host b shows it once completed and its job's end recorded."""
    shown = shown_on_b(cluster, rid)
    done = shown["state"] == "completed" and all(
        j["status"] in ("succeeded", "failed") for j in shown["jobs"])
    return shown if done else None


def starts(db_url: str, job: int) -> list[Any]:
    """When each attempt of ``job`` started (procrastinate's events)."""
    return [r[0] for r in sql(db_url, "SELECT at FROM procrastinate_events WHERE job_id = %s "
                                      "AND type = 'started' ORDER BY at", job)]


def test_a_job_whose_worker_is_killed_midway_is_finished_by_the_other_once(
        hosts: Cluster, chat: ChatApp) -> None:
    """GDPR Art. 17: the erasure a killed worker began is carried out by the other worker,
    and completed once."""
    rid = open_request(hosts, "erasure", "kari.nordmann@example.no")
    chat.hold.add(rid)
    job = run_later(hosts, rid)
    until(lambda: chat.calls_about(rid), 20, "a worker called the app")
    [victim] = until(lambda: [p for p in hosts.procs if f"runs request {rid} " in p.output()],
                     10, "the worker said it runs it")
    victim.kill()  # mid-job: the app's answer never reaches it
    chat.release.set()
    shown = until(lambda: finished(hosts, rid), 30, "the other worker completed the request")
    runs = [j for j in shown["jobs"] if j["task"] == "request.run"]
    assert [(j["id"], j["status"], j["attempts"]) for j in runs] == [
        (job, "succeeded", 2)]  # one handed back (its heartbeat stopped), one finished
    # The proof of erasure followed the answer as its own job, queued with it.
    proofs = [j for j in shown["jobs"] if j["task"] == "request.follow_up"]
    assert proofs and {j["status"] for j in proofs} == {"succeeded"}
    shown = shown_on_b(hosts, rid)
    assert {f["kind"]: f["state"] for f in shown["follow_ups"]}["proof"] == "done"
    assert shown["outcome"]["proof"]["state"] == "done"
    steps = [(e["from"], e["to"]) for e in shown["events"]]
    assert steps.count(("in_progress", "completed")) == 1
    assert len(starts(hosts.db_url, job)) == 2
    assert len(chat.calls_about(rid)) == 2  # the second worker asked the app again
    with sqlite3.connect(hosts.directory / "shop.db") as db:
        assert db.execute("SELECT email FROM customers").fetchall() == [
            ("ola.hansen@example.no",)]
    # The dead host is replaced, as an operator would.
    hosts.procs.remove(victim)
    again = hosts.worker(f"{victim.name}-again")
    hosts.wait_up(again, lambda: "Starting worker" in again.output())


def test_two_workers_racing_for_queued_runs_each_run_happens_once(hosts: Cluster) -> None:
    """Both workers are woken by every queued run (NOTIFY); each run is claimed by one."""
    rids = [open_request(hosts, "access", f"person{i}@example.no") for i in range(4)]
    jobs = [run_later_by_api(hosts, rid) for rid in rids]
    for rid, job in zip(rids, jobs, strict=True):
        shown = until(lambda rid=rid: finished(hosts, rid), 30, f"request {rid} completed")
        assert [(j["id"], j["status"]) for j in shown["jobs"]] == [(job, "succeeded")]
        assert [e["to"] for e in shown["events"]].count("in_progress") == 1
        assert len(starts(hosts.db_url, job)) == 1
    runs = sql(hosts.db_url, "SELECT count(*) FROM audit_events WHERE action = 'request.run' "
                             "AND target = ANY(%s)", [f"request:{r}" for r in rids])
    assert runs == [(4,)]


def test_a_run_that_always_fails_is_retried_with_backoff_then_shown_failed(
        hosts: Cluster) -> None:
    """The service's database is unreadable: two retries after 2 s and 4 s, then the job is
    failed, shown on the request (never silently dropped), and nothing was erased."""
    rid = open_request(hosts, "erasure", "ola.hansen@example.no")
    shop = hosts.directory / "shop.db"
    shutil.copy(shop, hosts.directory / "shop.db.kept")
    shop.write_bytes(b"this is not a database " * 100)
    try:
        job = run_later(hosts, rid)
        shown = until(lambda: (s := shown_on_b(hosts, rid))["jobs"][0]["status"] == "failed"
                      and s, 40, "the job was given up")
    finally:
        shutil.copy(hosts.directory / "shop.db.kept", shop)
    [shown_job] = shown["jobs"]
    assert (shown_job["id"], shown_job["attempts"]) == (job, 3)
    assert shown_job["failed_at"] is not None
    assert shown["state"] == "waiting" and "error" in shown["outcome"]
    began = starts(hosts.db_url, job)
    assert len(began) == 3
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(began)]
    assert gaps[0] >= 2 and gaps[1] >= 4, gaps  # 2**1, then 2**2 seconds
    with sqlite3.connect(shop) as db:
        assert ("ola.hansen@example.no",) in db.execute("SELECT email FROM customers")
    page = dashboard_page(hosts, "b", f"/dashboard/requests/{rid}")
    row = re.search(rf"<tr><td>{job}</td><td class=\"error\">failed</td><td>3</td>", page)
    assert row, page
    assert "A queued run failed every time it was tried" in page


def dashboard_page(cluster: Cluster, host: str, path: str) -> str:
    """``path`` on host's dashboard, signed in as the privacy owner."""
    email = "eier@example.no"
    added = run_personvern("users", "add", email, "--role", "owner", "--password-stdin",
                           "--manifest", str(cluster.manifest), "--db", cluster.db_url,
                           stdin=f"{PASSWORD}\n")
    assert added.returncode == 0 or "already" in added.stderr, added.stderr
    [p] = [p for p in cluster.procs if p.name == host]
    with httpx.Client(base_url=str(p.url), timeout=30) as browser:
        form = browser.get("/dashboard/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, form
        signed = browser.post("/dashboard/sign-in", data={
            "email": email, "password": PASSWORD, "csrf_token": token.group(1)})
        assert signed.status_code in (200, 303), signed.text
        page = browser.get(path)
        assert page.status_code == 200, page.text
        return page.text


def test_a_worker_on_sqlite_is_refused_in_one_line(tmp_path: Path) -> None:
    done = run_personvern("worker", "--db", f"sqlite:///{tmp_path / 'personvern.db'}",
                          "--manifest", str(tmp_path / "personvern.yaml"))
    assert done.returncode != 0
    assert "personvern worker needs PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "personvern.db").exists()


def test_succeeded_jobs_are_pruned_after_30_days_and_failed_ones_kept(hosts: Cluster) -> None:
    """The daily prune (run here by queueing it as the schedule would): a job that succeeded
    31 days ago is gone; one that failed then, and one that succeeded today, stay. Its own
    jobs, so that it holds on whichever worker process runs it."""
    def defer_prune() -> int:
        with psycopg.connect(hosts.db_url) as conn:
            [(job,)] = conn.execute(
                "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW('personvern', "
                "'jobs.prune', 0, NULL, NULL, '{\"timestamp\": 0}'::jsonb, NULL)"
                "::procrastinate_job_to_defer_v1]))").fetchall()
        until(lambda: sql(hosts.db_url, "SELECT 1 FROM procrastinate_jobs WHERE id = %s AND "
                                        "status = 'succeeded'", job), 20, "the prune ran")
        return int(job)

    old, failed = defer_prune(), defer_prune()
    # A month on: the first succeeded then, the second is recorded as having failed then.
    sql(hosts.db_url, "UPDATE procrastinate_jobs SET status = 'failed' WHERE id = %s "
                      "RETURNING 1", failed)
    sql(hosts.db_url, "UPDATE procrastinate_events SET at = at - interval '31 days' "
                      "WHERE job_id = ANY(%s) RETURNING 1", [old, failed])
    recent = defer_prune()
    left = {r[0] for r in sql(hosts.db_url, "SELECT id FROM procrastinate_jobs")}
    assert old not in left
    assert {failed, recent} <= left
