"""``personvern worker``: run the background work on PostgreSQL, beside any number of serves."""

from typing import Annotated

import typer

from personvern.cli.options import DbOption, ManifestOption, NowOption


def worker(
    concurrency: Annotated[int, typer.Option(
        min=1, max=64, help="Jobs this worker runs side by side (threads).")] = 2,
    heartbeat: Annotated[float, typer.Option(
        min=0.1, max=600.0,
        help="Seconds between heartbeats; a worker silent for three is taken for dead and "
             "its running jobs go to another.")] = 10.0,
    retries: Annotated[int, typer.Option(
        min=0, max=20, help="Attempts after the first for a job that fails.")] = 5,
    retry_base: Annotated[int, typer.Option(
        min=1, max=60,
        help="Back-off base in seconds: the n-th retry waits base**n (4, 16, 64, ...).")] = 4,
    poll: Annotated[float, typer.Option(
        min=0.1, max=600.0,
        help="Seconds between looks for jobs whose time came (new jobs wake it at once).")]
    = 5.0,
    name: Annotated[str | None, typer.Option(
        help="The worker's name in the queue [default: the host name].",
        show_default=False)] = None,
    manifest: ManifestOption = None, db: DbOption = None, now: NowOption = None,
) -> None:
    """Run queued and scheduled background work until interrupted: request runs, the daily
    retention sweep, the outbox, Art. 19 notices and callbacks due again. PostgreSQL only
    (the queue lives there); several workers on several hosts share it (docs/scale.md)."""
    import logging

    from personvern.cli.common import runtime
    from personvern.errors import ConfigurationError
    from personvern.jobs.worker import WorkerOptions, conninfo, work
    from personvern.settings import get_settings

    # What ran, failed and was handed back, on stderr for the host's log collector.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for chatty in ("alembic", "httpx"):  # each migration step, each call to an app
        logging.getLogger(chatty).setLevel(logging.WARNING)
    settings = get_settings(manifest=manifest, database_url=db)
    conninfo(settings.database_url)  # refuses SQLite in one line, before opening anything
    options = WorkerOptions(concurrency=concurrency, heartbeat_s=heartbeat, retries=retries,
                            retry_base_s=retry_base, poll_s=poll, name=name)
    if settings.jobs != "worker":
        logging.getLogger("personvern.worker").warning(
            "PERSONVERN_JOBS is not worker: serve runs its own daily sweep too (harmless, "
            "the second finds nothing due, but set PERSONVERN_JOBS=worker on every host)")
    with runtime(manifest, db, now) as rt:
        from personvern.storage.queue import has_queue

        with rt.transaction() as s:
            if not has_queue(s):
                raise ConfigurationError("the database has no job queue: run "
                                         "`personvern db upgrade` (migration 0014)")
        work(rt, options)
