"""``personvern serve``: the API, the portal, the dashboard and the banner script with uvicorn."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import tempfile
from typing import Annotated

import typer

from personvern.cli.options import DbOption, ManifestOption, NowOption


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
             "its own decision cache (it follows the ledger within a second) and its own "
             "sign-in rate limits.",
    )] = 1,
    now: NowOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (/api/v1/, /openapi.json), the subject portal (/portal), the
    privacy owner's dashboard (/dashboard) and the cookie banner script
    (/static/banner.js) until interrupted."""
    import uvicorn

    from personvern.clock import parse_now
    from personvern.errors import InvalidInput
    from personvern.settings import get_settings
    from personvern.web import create_app

    try:
        clock = parse_now(now)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    settings = get_settings(manifest=manifest, database_url=db)
    from personvern.crypto.master import load_master_key

    load_master_key(settings)  # refuse here, in one line, not in the server's start-up
    options = {"host": host, "port": port, "log_level": log_level, "server_header": False,
               "proxy_headers": True, "forwarded_allow_ips": "127.0.0.1"}
    if workers == 1:
        # The ledger serialises appends anyway; more processes help reads (pages).
        uvicorn.run(create_app(settings, clock), **options)  # type: ignore[arg-type]
        return
    _serve_workers(manifest, db, now, workers, settings.evidence_key, options)


def _serve_workers(manifest: object, db: str | None, now: str | None, workers: int,
                   evidence: str | None, options: dict[str, object]) -> None:
    """uvicorn's supervisor; each worker builds the app from the environment set here."""
    import uvicorn

    from personvern.web import workers as w

    if manifest is not None:
        os.environ["PERSONVERN_MANIFEST"] = str(manifest)
    if db is not None:
        os.environ["PERSONVERN_DATABASE_URL"] = db
    if now is not None:
        os.environ[w.NOW_ENV] = now
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
