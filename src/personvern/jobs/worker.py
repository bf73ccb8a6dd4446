"""``personvern worker``: the background work on procrastinate, for any number of hosts
sharing one PostgreSQL database.

What it runs: request runs queued with the change that asked for them (``request run
--later``), the follow-ups queued with a request's answer (the proof of erasure, the
Art. 19 notices: ``personvern.requests.followups``), and on a schedule the daily
retention sweep, the outbox, due Art. 19 notices and callbacks whose back-off ran out.
A scheduled job is queued once for all hosts (procrastinate's periodic defers are unique
per task and time). A worker that dies
mid-job is noticed by its missing heartbeat and its job handed to another; a job that
keeps failing is retried with exponential back-off, then left ``failed`` in the queue,
where the request shows it (``GET /api/v1/requests/{id}``: ``jobs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from personvern.errors import ConfigurationError, PersonvernError
from personvern.storage.queue import QUEUE

if TYPE_CHECKING:
    import procrastinate

    from personvern.runtime import Runtime

log = logging.getLogger("personvern.worker")
# A worker whose heartbeat is this many beats old is taken for dead, its jobs run again.
STALLED_AFTER_BEATS = 3
# How long a succeeded job (and its events) stays in the queue's tables: 30 days.
KEEP_SUCCEEDED_H = 30 * 24


class RunFailed(PersonvernError):
    """A queued run left the request waiting with an error: the job is tried again."""


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs; the defaults suit production (tests shorten the times)."""

    concurrency: int = 2
    heartbeat_s: float = 10.0
    # Attempts after the first, waiting base**1, base**2, … seconds (4, 16, 64, 256, 1024).
    retries: int = 5
    retry_base_s: int = 4
    # How often a worker looks for jobs whose time came (new ones wake it by NOTIFY).
    poll_s: float = 5.0
    name: str | None = None


def conninfo(database_url: str) -> str:
    """The libpq connection string of the engine's database; refused unless PostgreSQL."""
    from personvern.storage.engine import libpq_conninfo, parse_url

    backend = parse_url(database_url).get_backend_name()
    if backend != "postgresql":
        raise ConfigurationError(
            f"personvern worker needs PostgreSQL (the job queue lives there), not "
            f"{backend}: on SQLite, personvern serve does the background work itself")
    return libpq_conninfo(database_url)


def run_request(rt: Runtime, out_dir: Path, request_id: str, reason: str, actor: str) -> str:
    """Carry a queued request out; its state. A request already closed (a run that ended
    just before its worker died) is left as it is, so a run happens once."""
    from personvern.requests import tasks
    from personvern.requests.engine import CLOSED, Requests, get_request

    with rt.transaction() as s:
        state = get_request(s, request_id).state
        if state in CLOSED:
            log.info("request %s is already %s", request_id, state)
            return state
    service = Requests.of(rt)
    try:
        result = service.run(request_id, reason=reason, out_dir=out_dir, actor=actor)
    finally:
        service.close()
    if result.state == "waiting":
        with rt.transaction() as s:
            open_tasks = [t for t in tasks.tasks_of(s, request_id) if t.state != "done"]
        # Waiting on an app or a processor is the request's own business (run_due and
        # task-done continue it); waiting on an error is the job's: retried, then failed.
        if not open_tasks:
            raise RunFailed(f"request {request_id} is waiting: {result.error}")
    return result.state


def run_follow_up(rt: Runtime, follow_up_id: int) -> str:
    """Run a follow-up of a request's answer (the proof of erasure, the Art. 19 notices);
    one already done is left as it is. A failure is recorded on the request, then raised
    so that the job is retried with back-off, and left ``failed`` when retries run out."""
    from personvern.requests.engine import Requests

    service = Requests.of(rt)
    try:
        return service.run_follow_up(follow_up_id, actor="worker")
    finally:
        service.close()


def build(rt: Runtime, options: WorkerOptions, out_dir: Path) -> procrastinate.App:
    """The procrastinate app with Personvern's tasks, on the runtime's database."""
    import procrastinate

    from personvern.jobs.retention import sweep_once
    from personvern.requests.engine import RUN_TASK
    from personvern.requests.followups import TASK as FOLLOW_UP_TASK

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(rt.settings.database_url),
        kwargs={"application_name": "personvern worker"}))
    retry = procrastinate.RetryStrategy(max_attempts=options.retries,
                                        exponential_wait=options.retry_base_s)

    @app.task(name=RUN_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def run(context: procrastinate.JobContext, request_id: str, reason: str, actor: str
            ) -> str:
        # Which worker ran what: the operator's (and the tests') one line to look for.
        log.info("worker %s runs request %s (job %s)", context.worker_name, request_id,
                 context.job.id if context.job else None)
        return run_request(rt, out_dir, request_id, reason, actor)

    @app.task(name=FOLLOW_UP_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def follow_up(context: procrastinate.JobContext, request_id: str, follow_up: int) -> str:
        log.info("worker %s runs follow-up %s of request %s (job %s)", context.worker_name,
                 follow_up, request_id, context.job.id if context.job else None)
        return run_follow_up(rt, follow_up)

    @app.periodic(cron="0 3 * * *")
    @app.task(name="retention.sweep", queue=QUEUE, queueing_lock="retention.sweep")
    def sweep(timestamp: int) -> dict[str, Any]:
        return sweep_once(rt, by="worker", reason="the daily retention sweep of the workers")

    @app.periodic(cron="* * * * *")
    @app.task(name="requests.run_due", queue=QUEUE, queueing_lock="requests.run_due")
    def run_due(timestamp: int) -> int:
        from personvern.requests.engine import Requests

        service = Requests.of(rt)
        try:
            return len(service.run_due(out_dir=out_dir, actor="worker"))
        finally:
            service.close()

    @app.periodic(cron="* * * * *")
    @app.task(name="notices.deliver", queue=QUEUE, queueing_lock="notices.deliver")
    def deliver(timestamp: int) -> None:
        from personvern.requests import notices

        with rt.transaction() as s:
            notices.deliver_due(s, rt.clock, rt.loaded.manifest)

    @app.periodic(cron="* * * * *")
    @app.task(name="mail.send", queue=QUEUE, queueing_lock="mail.send")
    def send_mail(timestamp: int) -> int:
        from personvern.mail.smtp import send_pending

        sender = rt.settings.mail_from or rt.loaded.manifest.controller.email
        if not sender:
            log.warning("the outbox waits: no sender address (PERSONVERN_MAIL_FROM or the "
                        "controller's e-mail in the manifest)")
            return 0
        with rt.sessions() as session:
            report = send_pending(session, rt.clock, rt.settings.smtp_host,
                                  rt.settings.smtp_port, str(sender))
        return report.sent

    @app.periodic(cron="30 3 * * *")
    @app.task(name="jobs.prune", queue=QUEUE, queueing_lock="jobs.prune", pass_context=True)
    async def prune(context: procrastinate.JobContext, timestamp: int) -> None:
        # Succeeded jobs go after a while (the audit trail keeps that each request was
        # queued and run); failed ones stay until someone looks, never silently dropped.
        await context.app.job_manager.delete_old_jobs(nb_hours=KEEP_SUCCEEDED_H, queue=QUEUE)

    return app


async def retry_stalled(app: procrastinate.App, heartbeat_s: float) -> None:
    """Hand the jobs of workers that stopped beating (killed, cut off) back to the queue.

    Every worker does this; two finding the same job is harmless (the second retry finds
    it no longer running and fails, which is ignored), and the job's lock keeps a run that
    is still going from starting twice."""
    while True:
        await asyncio.sleep(heartbeat_s)
        try:
            stalled = await app.job_manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=heartbeat_s * STALLED_AFTER_BEATS)
            for job in stalled:
                with contextlib.suppress(Exception):  # another worker handed it back first
                    await app.job_manager.retry_job(job)
                    log.warning("job %s (%s) of a stalled worker runs again", job.id,
                                job.task_name)
        except Exception:  # the database is away: the next beat tries again
            log.exception("looking for stalled jobs failed")


def work(rt: Runtime, options: WorkerOptions) -> None:
    """Run a worker until interrupted (SIGINT or SIGTERM finish the running jobs first)."""
    out_dir = rt.settings.export_dir or Path(tempfile.mkdtemp(prefix="personvern-worker-"))
    app = build(rt, options, out_dir)

    async def main() -> None:
        async with app.open_async():
            side = asyncio.create_task(retry_stalled(app, options.heartbeat_s))
            try:
                await app.run_worker_async(
                    queues=[QUEUE], concurrency=options.concurrency,
                    name=options.name or f"{socket.gethostname()}",
                    fetch_job_polling_interval=options.poll_s,
                    update_heartbeat_interval=options.heartbeat_s,
                    stalled_worker_timeout=options.heartbeat_s * STALLED_AFTER_BEATS,
                    install_signal_handlers=True)
            finally:
                side.cancel()

    asyncio.run(main())
