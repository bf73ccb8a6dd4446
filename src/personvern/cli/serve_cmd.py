"""``personvern serve``: the HTTP API (and later portal and dashboard) with uvicorn."""

from __future__ import annotations

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
    now: NowOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (/api/v1/, /openapi.json) until interrupted."""
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
    app = create_app(settings, clock)
    # One process: the ledger serialises appends anyway; scale out behind a proxy.
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False,
                proxy_headers=True, forwarded_allow_ips="127.0.0.1")
