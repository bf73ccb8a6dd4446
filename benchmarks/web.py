"""Web benchmark: portal and dashboard pages under 32 concurrent users, and the banner's size.

Full size: the demo service with 100,000 subjects (``--quick``: 5,000). ``wrk`` keeps
32 connections busy against ``personvern serve``, with one worker and then with
``--workers N`` (default 2; figures prefixed ``workers_N_``): signed-in portal pages
(overview, consents, requests, details) for random subjects, then the dashboard
(overview and the requests queue, 150 open requests) for the owner. Each request carries
what a signed-in browser sends (its session cookie and the CSRF cookie it got with the
sign-in form); before and after the load, every page is checked to answer 200 with the
signed-in page, since wrk would count a redirect to the sign-in page as an answer. The
limit, measured in the same run with as many workers, is a bare FastAPI endpoint
returning a small constant HTML page. The 1-minute load average at the end tells how busy
the machine was. The banner's size is ``web/static/banner.js`` gzipped (level 9), against
the 15 kB target.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import MASTER_KEY, ROOT, console_script, emit, log, parse_args, ratio
from consent import free_port, server

PORTAL_PAGES = ("/portal", "/portal/consents", "/portal/requests", "/portal/details")
DASHBOARD_PAGES = ("/dashboard", "/dashboard/requests")
# Only a signed-in page has these forms (the sign-in pages have neither).
PORTAL_SIGNED_IN = 'action="/portal/sign-out"'
DASHBOARD_SIGNED_IN = 'action="/dashboard/sign-out"'
BANNER = ROOT / "src" / "personvern" / "web" / "static" / "banner.js"
BANNER_TARGET_BYTES = 15 * 1024
P95_TARGET_MS = 100
CONNECTIONS = 32
SIGNED_IN = 500  # portal sessions the requests are spread over
QUEUED = 150  # open requests in the dashboard's queue
# Prints p95 (wrk's --latency shows 50/75/90/99 only) and the non-2xx count.
DONE_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("P95_US %d\\n", latency:percentile(95.0)))
  io.write(string.format("NON2XX %d\\n", summary.errors.status))
  io.write(string.format("REQUESTS %d\\n", summary.requests))
end
"""


def clean_env() -> dict[str, str]:
    """This environment without PERSONVERN_ settings, except the master key this run uses
    (the demo's database must be readable by this process and the server it starts)."""
    keep = {MASTER_KEY, f"{MASTER_KEY}_FILE"}
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_") or k in keep}

# uvicorn's own --workers leaves Nagle on for the workers' connections (40 ms an answer);
# `personvern serve --workers` turns it off, and so does the bare page's server here.
BARE_WORKERS = """
import socket, sys, uvicorn
from uvicorn.supervisors import Multiprocess
sys.path.insert(0, {app_dir!r})
config = uvicorn.Config("_bare_app:app", port={port}, workers={workers}, log_level="warning",
                        access_log=False)
if __name__ == "__main__":
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()
"""


def build_demo(directory: Path, subjects: int) -> tuple[Path, str]:
    """``personvern demo init`` (the CLI, as a user runs it): (manifest, engine URL)."""
    argv = [console_script("personvern"), "demo", "init", str(directory),
            "--subjects", str(subjects), "--force"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=clean_env(),
                   timeout=3600)
    return directory / "personvern.yaml", f"sqlite:///{directory / 'personvern.db'}"


def sessions_for(manifest: Path, url: str, subjects: int) -> tuple[list[str], str]:
    """Session tokens of ``subjects`` random demo subjects and of one owner, and
    QUEUED open requests so the dashboard's queue has something to show."""
    from sqlalchemy import select

    from personvern.consent.tables import Subject
    from personvern.requests.engine import Context, Requester, open_request
    from personvern.runtime import open_runtime
    from personvern.settings import Settings
    from personvern.staff.users import add_user
    from personvern.storage.engine import create_engine_for
    from personvern.storage.session import make_sessionmaker, transaction
    from personvern.web.sessions import start

    def clock() -> datetime:
        return datetime.now(UTC)

    rt = open_runtime(Settings(manifest=manifest, database_url=url), clock)
    by = Requester(kind="owner", verified_by="benchmark")
    with rt.transaction() as s:
        ids = list(s.scalars(select(Subject.id).where(Subject.erased_at.is_(None))))
        for sid in random.Random(12).sample(ids, QUEUED):
            open_request(s, Context(rt.consent, clock), "access", subject=sid, by=by,
                         channel="post")
    rt.close()
    engine = create_engine_for(url)
    with transaction(make_sessionmaker(engine)) as s:
        chosen = random.Random(11).sample(ids, min(subjects, len(ids)))
        tokens = [start(s, clock, "subject", sid)[0] for sid in chosen]
        owner = add_user(s, clock, "eier@bench.example.no", "fjord lantern pebble 42",
                         role="owner", actor="benchmark")
        staff_token = start(s, clock, "staff", str(owner.id))[0]
    engine.dispose()
    return tokens, staff_token


def browser_cookies(cookie: str, token: str) -> str:
    """The Cookie header of a signed-in browser: its session, and the CSRF secret it got
    with the sign-in form (every page's forms still carry a token computed from it)."""
    csrf = hashlib.sha256(f"csrf {token}".encode()).hexdigest()
    return f"{cookie}={token}; pv_csrf={csrf}"


def lua_for(path: Path, pages: tuple[str, ...], cookie: str, tokens: list[str]) -> Path:
    """A wrk script asking for a random page with a random signed-in browser's cookies."""
    path.write_text(
        "local pages = {" + ",".join(f'"{p}"' for p in pages) + "}\n"
        "local cookies = {" + ",".join(f'"{browser_cookies(cookie, t)}"' for t in tokens)
        + "}\n"
        "math.randomseed(7)\n"
        "request = function()\n"
        "  local page = pages[math.random(#pages)]\n"
        "  local cookie = cookies[math.random(#cookies)]\n"
        '  return wrk.format("GET", page, {["Cookie"] = cookie, '
        '["Accept-Language"] = "nb"})\n'
        "end\n" + DONE_LUA, encoding="utf-8")
    return path


def wrk(url: str, lua: Path, seconds: int) -> dict[str, float]:
    """Requests per second, p50/p95/p99 (ms) and non-2xx answers from wrk."""
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    text = subprocess.run(argv, capture_output=True, text=True, check=True,
                          timeout=seconds + 60).stdout

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not found:
            raise SystemExit(f"wrk printed no {label}% latency:\n{text}")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    def number(label: str) -> float:
        found = re.search(rf"^{label} (\d+)$", text, re.M)
        if not found:
            raise SystemExit(f"wrk printed no {label}:\n{text}")
        return float(found.group(1))

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rps is None:
        raise SystemExit(f"wrk printed no rate:\n{text}")
    return {"rps": float(rps.group(1)), "p50_ms": latency("50"),
            "p95_ms": round(number("P95_US") / 1000, 1), "p99_ms": latency("99"),
            "non_2xx": number("NON2XX"), "requests": number("REQUESTS")}


def signed_in(port: int, path: str, cookie: str, token: str, marker: str) -> None:
    """Fail unless ``path`` answers 200 (not a redirect) with the signed-in page (it holds
    ``marker``) to this browser. wrk counts only 4xx/5xx as errors: a redirect to the
    sign-in page would pass there as a (fast) answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Cookie": browser_cookies(cookie, token),
                                       "Accept-Language": "nb"})
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    conn.close()
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status} to a signed-in session, not 200")
    if marker not in body:
        raise SystemExit(f"{path} answered 200 without {marker!r}: not a signed-in page")


def all_signed_in(port: int, tokens: list[str], staff: str) -> None:
    """Every measured page, for a sample of the sessions, is the signed-in page."""
    for token in random.Random(5).sample(tokens, min(20, len(tokens))):
        for path in PORTAL_PAGES:
            signed_in(port, path, "pv_subject", token, PORTAL_SIGNED_IN)
    for path in DASHBOARD_PAGES:
        signed_in(port, path, "pv_staff", staff, DASHBOARD_SIGNED_IN)


def measure_site(workdir: Path, manifest: Path, url: str, seconds: int, workers: int,
                 tokens: list[str], staff: str) -> dict[str, dict[str, float]]:
    """Portal and dashboard pages against ``personvern serve --workers N``."""
    portal = lua_for(workdir / "portal.lua", PORTAL_PAGES, "pv_subject", tokens)
    dashboard = lua_for(workdir / "dashboard.lua", DASHBOARD_PAGES, "pv_staff", [staff])
    port = free_port()
    serve = [console_script("personvern"), "serve", "--manifest", str(manifest), "--db", url,
             "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    with server(serve, port, clean_env()):
        # A redirect to the sign-in page would count as success in wrk: check before the
        # load and after it (the sessions are still live at the end of the run).
        all_signed_in(port, tokens, staff)
        wrk(base, portal, 2)  # warm up: imports, templates, caches (in every worker)
        log(f"  portal pages, {workers} worker(s)")
        ours = wrk(base, portal, seconds)
        log(f"  dashboard pages, {workers} worker(s)")
        dash = wrk(base, dashboard, seconds)
        all_signed_in(port, tokens, staff)
    return {"portal": ours, "dashboard": dash}


def measure_bare(workdir: Path, seconds: int, workers: int) -> dict[str, float]:
    """A bare FastAPI endpoint returning a constant HTML page: the limit."""
    port = free_port()
    bare = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "benchmarks"),
            "_bare_app:app", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    if workers > 1:  # as serve starts them: TCP_NODELAY on the shared socket
        bare = [sys.executable, "-c", BARE_WORKERS.format(port=port, workers=workers,
                                                          app_dir=str(ROOT / "benchmarks"))]
    lua = lua_for(workdir / "bare.lua", ("/page",), "x", ["y"])
    with server(bare, port):
        wrk(f"http://127.0.0.1:{port}", lua, 2)
        return wrk(f"http://127.0.0.1:{port}", lua, seconds)


def banner_size() -> dict[str, int] | None:
    """The banner script's size, plain and gzipped; None when it does not exist yet."""
    if not BANNER.is_file():
        return None
    raw = BANNER.read_bytes()
    return {"bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, compresslevel=9))}


def figures_of(site: dict[str, dict[str, float]], bare: dict[str, float]
               ) -> tuple[dict[str, float], dict[str, float | None]]:
    """The figures of one server configuration, and their ratios to the bare page's."""
    portal, dash = site["portal"], site["dashboard"]
    figures = {
        "portal_p95_ms": portal["p95_ms"], "portal_p50_ms": portal["p50_ms"],
        "portal_p99_ms": portal["p99_ms"], "portal_pages_per_s": round(portal["rps"]),
        "portal_non_2xx": portal["non_2xx"],
        "dashboard_p95_ms": dash["p95_ms"], "dashboard_p50_ms": dash["p50_ms"],
        "dashboard_p99_ms": dash["p99_ms"], "dashboard_pages_per_s": round(dash["rps"]),
        "dashboard_non_2xx": dash["non_2xx"],
        "bare_fastapi_p95_ms": bare["p95_ms"], "bare_fastapi_p50_ms": bare["p50_ms"],
        "bare_fastapi_p99_ms": bare["p99_ms"], "bare_fastapi_per_s": round(bare["rps"]),
    }
    ratios = {
        "portal_p95_vs_bare_fastapi": ratio(portal["p95_ms"], bare["p95_ms"]),
        "portal_throughput_vs_bare_fastapi": ratio(portal["rps"], bare["rps"]),
        "dashboard_p95_vs_bare_fastapi": ratio(dash["p95_ms"], bare["p95_ms"]),
    }
    return figures, ratios


def main() -> None:
    """Build the demo, measure with 1 and N workers, print the JSON line."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--workers", type=int, default=2)
    known, rest = pre.parse_known_args()
    args = parse_args((__doc__ or "") + "\n--workers N: also measure with N uvicorn workers "
                      "(default 2; 1 measures one process only).", rest)
    subjects = 5_000 if args.quick else 100_000
    seconds = 5 if args.quick else 15
    counts = sorted({1, max(1, known.workers)})
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed; `make bench` installs it (apt-get install wrk)")
    figures: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pv-bench-web-") as tmp:
        workdir = Path(tmp)
        log(f"building the demo service with {subjects:,} subjects")
        manifest, url = build_demo(workdir / "demo", subjects)
        tokens, staff = sessions_for(manifest, url, SIGNED_IN)
        for workers in counts:
            log(f"serving with {workers} worker(s)")
            site = measure_site(workdir, manifest, url, seconds, workers, tokens, staff)
            log(f"bare FastAPI page, {workers} worker(s)")
            bare = measure_bare(workdir, seconds, workers)
            # One worker keeps the unprefixed names (comparable with earlier runs).
            prefix = "" if workers == 1 else f"workers_{workers}_"
            these, their_ratios = figures_of(site, bare)
            figures.update({prefix + k: v for k, v in these.items()})
            ratios.update({prefix + k: v for k, v in their_ratios.items()})
    banner = banner_size()
    figures.update({
        "banner_bytes": banner["bytes"] if banner else None,
        "banner_gzip_bytes": banner["gzip_bytes"] if banner else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "targets": {"portal_p95_ms": P95_TARGET_MS, "banner_gzip_bytes": BANNER_TARGET_BYTES},
    })
    ratios["banner_gzip_vs_target"] = ratio(banner["gzip_bytes"], BANNER_TARGET_BYTES) \
        if banner else None
    size = {"subjects": subjects, "signed_in_subjects": SIGNED_IN, "open_requests": QUEUED,
            "connections": CONNECTIONS, "seconds": seconds, "workers": counts,
            "cpus": os.cpu_count(), "portal_pages": list(PORTAL_PAGES),
            "dashboard_pages": list(DASHBOARD_PAGES), "database": "sqlite"}
    emit("web", size, figures, ratios)


if __name__ == "__main__":
    main()
