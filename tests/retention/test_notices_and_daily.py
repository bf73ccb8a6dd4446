"""The notice before an inactivity deletion (queued once, through the outbox) and the
sweep ``personvern serve`` runs by itself every day."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import func, select

from personvern.demo.init import init_demo
from personvern.jobs.retention import sweep_daily
from personvern.mail.tables import OutboxMessage
from personvern.retention.tables import RetentionSweep
from retention.support import create_service_update, runtime, scalar, sweep

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def demo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = tmp_path_factory.getbasetemp() / "notice-demo"
    if not template.exists():
        init_demo(template, 30, now=NOW)
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, tmp_path / name)
    (tmp_path / "personvern.yaml").write_text(
        (template / "personvern.yaml").read_text(encoding="utf-8").replace(
            str(template / "service.db"), str(tmp_path / "service.db")), encoding="utf-8")
    return tmp_path


def test_notice_thirty_days_before_an_inactivity_deletion_is_queued_once(demo: Path) -> None:
    """The demo's rule gives notice_before: 30 days; the person hears once, then the
    profile goes on the day (GDPR Art. 5(1)(e); the notice is the service's promise)."""
    service = f"sqlite:///{demo / 'service.db'}"
    create_service_update(service, "UPDATE users SET last_login_at = :at", at=NOW)
    last = NOW - timedelta(days=2 * 365 - 20)  # deleted in about three weeks
    create_service_update(service, "UPDATE users SET last_login_at = :at WHERE id = 1", at=last)
    email = scalar(service, "SELECT email FROM users WHERE id = 1")
    with runtime(demo / "personvern.yaml", f"sqlite:///{demo / 'personvern.db'}", NOW) as rt:
        assert sweep(rt, NOW)["notices"] == 1
        assert sweep(rt, NOW + timedelta(days=1))["notices"] == 0  # already told
        with rt.transaction() as s:
            sent = list(s.scalars(select(OutboxMessage).where(
                OutboxMessage.kind == "retention_notice")))
        assert [m.to_address for m in sent] == [email.casefold()]
        due = (last + timedelta(days=730)).date().isoformat()  # two years: 730 days here
        assert due in sent[0].title and f"før {due}, sletter vi" in sent[0].body_text
        sweep(rt, NOW + timedelta(days=30))
        assert scalar(service, "SELECT email FROM users WHERE id = 1").startswith("slettet-")
        assert scalar(service, "SELECT count(*) FROM users WHERE email LIKE 'slettet-%'") == 1


def test_serve_sweeps_daily_by_itself(demo: Path) -> None:
    """The background job of ``personvern serve``: a sweep at once (here), then one a day
    (here every 50 ms); a repeat at the same time finds nothing left to do."""
    with runtime(demo / "personvern.yaml", f"sqlite:///{demo / 'personvern.db'}",
                 NOW + timedelta(days=365 * 3)) as rt:

        def sweeps() -> int:
            with rt.transaction() as s:
                return int(s.scalar(select(func.count()).select_from(RetentionSweep)) or 0)

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: sweep_daily(rt, interval_s=0.05, first_delay_s=0))
                with anyio.move_on_after(60):
                    while await anyio.to_thread.run_sync(sweeps) < 2:
                        await anyio.sleep(0.05)
                tg.cancel_scope.cancel()

        # Its own thread: a session-wide Playwright browser may keep an event loop running
        # in the main thread, where anyio.run refuses to start another.
        worker = threading.Thread(target=anyio.run, args=(main,))
        worker.start()
        worker.join()
        assert sweeps() >= 2
        service = f"sqlite:///{demo / 'service.db'}"
        assert scalar(service, "SELECT count(*) FROM login_events") == 0
