"""The web application: ``create_app(settings)`` builds it; the lifespan opens the Runtime.

Nothing is opened at import or in ``create_app``: the manifest is read and the
database opened (and migrated) when the server starts, and released when it stops.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from personvern.clock import Clock, system_clock
from personvern.settings import Settings
from personvern.web import problems
from personvern.web.links import add_links
from personvern.web.middleware import (
    DEFAULT_MAX_BODY_BYTES,
    AccessLog,
    BodyLimit,
    SecurityHeaders,
)
from personvern.web.schemas import GpcSupport, Problem

log = logging.getLogger("personvern.web")
DESCRIPTION = """\
The privacy engine beside your app: subjects, the consent ledger, decisions and cookie
choices. Authenticate with `Authorization: Bearer pv_...` (`personvern keys create NAME
--scope SCOPE`); each operation names the scope its key needs (403 without it).
Errors are RFC 9457 problem details (`application/problem+json`). Request bodies are
limited in size (413 above the limit). `Sec-GPC: 1` (exactly) is honoured as Global
Privacy Control.
"""


def _version() -> str:
    try:
        return installed_version("personvern")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


def _lifespan(settings: Settings, clock: Clock, export_dir: Path | None
              ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the Runtime when the server starts; run the background jobs; release at stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from personvern.consent.cookies import gpc_last_update
        from personvern.runtime import open_runtime
        from personvern.web.render import compile_templates

        # Opening reads the manifest and may migrate: blocking work, off the event loop.
        rt = await anyio.to_thread.run_sync(open_runtime, settings, clock)
        await anyio.to_thread.run_sync(compile_templates)
        try:
            with rt.transaction() as session:
                app.state.gpc_last_update = gpc_last_update(session, rt.consent).isoformat()
            app.state.runtime = rt
            from personvern.jobs.invalidation import follow

            # Other hosts' consent writes, key revocations and publishes (PostgreSQL).
            # Kept on the app: a test waits for it to be listening (its first connect
            # clears every cache, which would drop what a request had just cached).
            listener = app.state.listener = follow(rt)
            from personvern.jobs.retention import enabled, sweep_daily
            from personvern.web import exports
            from personvern.web.workers import sweep_lock

            # Private (0700): it holds people's data until they download it.
            app.state.export_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # A shared directory (workers, or a configured one) elects one sweeper by lock.
            lock = sweep_lock(export_dir) if export_dir is not None else None
            try:
                async with anyio.create_task_group() as jobs:
                    # Retention runs itself, a sweep a day, in one process of several;
                    # with PERSONVERN_JOBS=worker the workers sweep instead (jobs.worker).
                    if settings.jobs == "serve" and enabled() and (
                            export_dir is None or lock is not None):
                        jobs.start_soon(sweep_daily, rt)
                    exports.start(jobs, rt, app.state.export_dir,
                                  settings.export_lifetime_minutes)
                    yield
                    jobs.cancel_scope.cancel()
            finally:
                if lock is not None:
                    lock.close()
            # Access packages live only as long as this server: made again after a restart.
            # A directory shared by workers or configured is left to whoever made it.
            if export_dir is None:
                exports.clear(app.state.export_dir)
            if listener is not None:
                listener.stop()
        finally:
            rt.close()

    return lifespan


def create_app(
    settings: Settings,
    clock: Clock = system_clock,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    cookie_choice_months: int | None = None,
    export_dir: Path | None = None,
) -> FastAPI:
    """The ASGI app for ``settings``; ``clock`` gives every "now" (fixed in tests).

    ``cookie_choice_months`` defaults to the settings' (``PERSONVERN_COOKIE_CHOICE_MONTHS``).
    ``export_dir`` holds the access packages and portability exports the portal, the API
    and the dashboard make (``settings.export_dir``, else a new private directory, removed
    at stop; worker processes share one, so any of them can hand out another's package).
    """
    from personvern.web.api_organisations import router as organisations_router
    from personvern.web.api_records import router as records_router
    from personvern.web.api_requests import router as requests_router
    from personvern.web.deps import evidence_key

    app = FastAPI(
        title="Personvern", version=_version(), description=DESCRIPTION,
        lifespan=_lifespan(settings, clock, export_dir or settings.export_dir),
        # The interactive docs load scripts from a CDN, which the CSP (and this network)
        # forbids; /openapi.json is the description.
        docs_url=None, redoc_url=None, openapi_url="/openapi.json",
        # FastAPI's own OpenTelemetry, which Personvern does not configure: left on, it
        # asks whether a tracer, meter or logger provider is set on every request, and
        # OpenTelemetry answers each by looking in os.environ (py-spy: part of the 41 % of
        # a portal page spent outside the page).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    if settings.public_url is None:
        log.warning("PERSONVERN_PUBLIC_URL is not set (serve --public-url): the portal sends "
                    "no sign-in links, since a link built from the request's Host header "
                    "could point anywhere")
    app.state.evidence_key, _ = evidence_key(settings.evidence_key)
    app.state.cookie_choice_months = (
        settings.cookie_choice_months if cookie_choice_months is None else cookie_choice_months
    )
    problems.install(app)
    # Added last = outermost: headers go on every answer, the 413 included.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)

    from personvern.web.api_v1 import ConsentWrites, cookies_router, router

    # Outside SecurityHeaders and BodyLimit (it sets the one and keeps the other itself),
    # inside the proxy headers (added below): the hot write past the router.
    app.add_middleware(ConsentWrites, max_bytes=max_body_bytes)
    # Outside the short path too, so every request has its line (and none a person).
    app.add_middleware(AccessLog)
    app.include_router(router)
    app.include_router(cookies_router)
    app.include_router(records_router)
    app.include_router(requests_router)
    app.include_router(organisations_router)

    from personvern.web.site import install as install_site

    # Static files, the portal and HTML error pages under /portal and /dashboard.
    install_site(app, clock, export_dir or settings.export_dir)
    from personvern.web.dashboard import install as install_dashboard

    install_dashboard(app)  # /dashboard: the privacy owner's pages, staff sign-in

    @app.get("/.well-known/gpc.json", response_model=GpcSupport, tags=["gpc"])
    def gpc_support(request: Request) -> JSONResponse:
        """The Global Privacy Control support resource: this site honours ``Sec-GPC: 1``."""
        body = {"gpc": True, "lastUpdate": request.app.state.gpc_last_update}
        # Public and the same for everyone: caches may keep it for a day.
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=86400"})

    from personvern.web.gates import gate_included_routers

    # Every router is in: each gets its path-prefix check (a portal page no longer tries
    # the API's routes one by one first).
    gate_included_routers(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            # The registered types only: a client may switch on them (docs/api.md#errors).
            components["Problem"]["properties"]["type"]["enum"] = [
                t.uri for t in problems.TYPES.values()]
            add_links(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    proxies = settings.trusted_proxies()
    if proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        # Outermost, so the limits, the cookies and the logs all see the client behind a
        # configured proxy; a header from anyone else changes nothing. Applying it again
        # after uvicorn did (serve) is harmless: the client is no longer a proxy.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    return app
