"""``personvern serve``: the API, the portal, the dashboard and the banner script with uvicorn."""

import contextlib
import os
import secrets
import socket
import tempfile
from typing import TYPE_CHECKING, Annotated

import typer

from personvern.cli.options import DbOption, ManifestOption, NowOption

if TYPE_CHECKING:
    from personvern.settings import Settings


# What the in-process jobs (PERSONVERN_JOBS=serve, the only choice on SQLite) never do.
UNSENT = ("note: serve sends no outbox e-mail (verification codes, policy, breach and "
          "retention notices), delivers no webhook notice and retries no callback due again; "
          "run `personvern mail send`, `personvern request deliver-notices` and `personvern "
          "request run-due` from cron, or on PostgreSQL set PERSONVERN_JOBS=worker and run "
          "`personvern worker`")


def serve(
    manifest: ManifestOption = None,
    db: DbOption = None,
    host: Annotated[str, typer.Option(
        help="Address to listen on. Loopback by default: put a TLS proxy in front to expose it.",
    )] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64,
        help="Worker processes (uvicorn). SQLite (WAL) is fine with a few; each worker has "
             "its own decision cache (it follows the ledger within a second); the sign-in "
             "limits are kept in the database and shared.",
    )] = 1,
    public_url: Annotated[str | None, typer.Option(
        help="The public base URL people reach the server at, e.g. "
             "https://personvern.example.no (default: PERSONVERN_PUBLIC_URL). Every link in "
             "e-mail is built from it; without it the portal sends no sign-in links.",
    )] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        help="Comma-separated addresses or networks of the reverse proxies whose "
             "X-Forwarded-For and X-Forwarded-Proto are believed, e.g. 127.0.0.1 or "
             "10.0.0.0/24 (default: PERSONVERN_FORWARDED_ALLOW_IPS, else none: the "
             "per-IP limits count the connecting address).",
    )] = None,
    now: NowOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (/api/v1/, /openapi.json), the subject portal (/portal), the
    privacy owner's dashboard (/dashboard) and the cookie banner script
    (/static/banner.js) until interrupted.

    It sends no outbox e-mail: run `personvern mail send` from cron (or, on PostgreSQL,
    `personvern worker` with PERSONVERN_JOBS=worker)."""
    import uvicorn

    from personvern.clock import parse_now
    from personvern.errors import InvalidInput
    from personvern.settings import get_settings
    from personvern.web import create_app

    try:
        clock = parse_now(now)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    settings = get_settings(manifest=manifest, database_url=db, public_url=public_url,
                            forwarded_allow_ips=forwarded_allow_ips)
    from personvern.crypto.master import load_master_key

    load_master_key(settings)  # refuse here, in one line, not in the server's start-up
    # The same for the manifest and the database: opened once here (and migrated), so a
    # bad one is the usual one-line error, not uvicorn's traceback from the lifespan.
    from personvern.runtime import open_runtime

    open_runtime(settings, clock).close()
    if settings.jobs == "serve":
        # In-process jobs are the retention sweep and expiring packages: say what is left.
        typer.echo(UNSENT, err=True)
    proxies = settings.trusted_proxies()
    # uvicorn trusts 127.0.0.1 unless told otherwise; we trust only what was configured
    # (the app applies the same list itself, so its access log and the app agree).
    # uvicorn's access log writes each client's address and whole path (e-mail addresses,
    # sign-in tokens) to a log no erasure reaches: off, for the app's own (AccessLog).
    options = {"host": host, "port": port, "log_level": log_level, "server_header": False,
               "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies,
               "access_log": False, "log_config": _log_config(log_level)}
    if workers == 1:
        # The ledger serialises appends anyway; more processes help reads (pages).
        uvicorn.run(create_app(settings, clock), **options)  # type: ignore[arg-type]
        return
    _serve_workers(manifest, db, now, workers, settings, options)


def _log_config(level: str) -> dict[str, object]:
    """uvicorn's logging, with the app's access log (personvern.access) beside its own, at
    ``level`` as uvicorn's are."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    # On stdout, as uvicorn's own access log: errors stay on stderr, apart.
    config["handlers"]["personvern_access"] = {**config["handlers"]["default"],
                                              "stream": "ext://sys.stdout"}
    config["loggers"]["personvern.access"] = {
        "handlers": ["personvern_access"], "level": level.upper(), "propagate": False}
    return config


def _serve_workers(manifest: object, db: str | None, now: str | None, workers: int,
                   settings: "Settings", options: dict[str, object]) -> None:
    """uvicorn's supervisor; each worker builds the app from the environment set here."""
    import uvicorn

    from personvern.web import workers as w

    if manifest is not None:
        os.environ["PERSONVERN_MANIFEST"] = str(manifest)
    if db is not None:
        os.environ["PERSONVERN_DATABASE_URL"] = db
    if now is not None:
        os.environ[w.NOW_ENV] = now
    # Checked settings, passed on as the variables each worker's factory reads.
    if settings.public_url is not None:
        os.environ["PERSONVERN_PUBLIC_URL"] = settings.public_url
    os.environ["PERSONVERN_FORWARDED_ALLOW_IPS"] = settings.forwarded_allow_ips
    evidence = settings.evidence_key
    if not (evidence and evidence.strip()):
        # One key for every worker (still gone when serve stops, as with one process).
        from personvern.web.deps import EVIDENCE_KEY_ENV
        from personvern.web.deps import evidence_key as warn_unset

        warn_unset(None)
        os.environ[EVIDENCE_KEY_ENV] = secrets.token_hex(32)
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("personvern.web.workers:app_from_env", factory=True,
                            workers=workers, **options)  # type: ignore[arg-type]
    listening = config.bind_socket()
    # Workers get the socket without its protocol number, so asyncio leaves Nagle on for
    # their connections: 40 ms per answer (delayed ACKs). Accepted sockets inherit this.
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with tempfile.TemporaryDirectory(prefix="personvern-exports-") as exports:
        os.environ[w.EXPORT_DIR_ENV] = exports
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the workers too
            Multiprocess(config, sockets=[listening]).run()
