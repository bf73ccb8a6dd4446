"""Fixtures of the request tests: the demo service (60 subjects, built once per session),
a private copy of it per test, a clock the test moves, the runtime and the request service.

Demo ids: 1-7 mentors, 8-30 parents, 31-60 pupils (the parent of 31 is 8).
(The package cannot hold a support module: ``requests`` is also an installed library.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from personvern.demo.init import init_demo
from personvern.requests.engine import Context, Requester, Requests, open_request
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for

DEMO_NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)  # a Monday
DEMO_SUBJECTS = 60
OWNER = Requester("owner", verified_by="checked in a video call")


class MovingClock:
    """A clock the test can move."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        """Move forward by ``timedelta(**delta)``."""
        self.at += timedelta(**delta)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, built once; tests work on copies."""
    directory = tmp_path_factory.mktemp("demo-template")
    init_demo(directory, DEMO_SUBJECTS, now=DEMO_NOW)
    return directory


def copy_demo(template: Path, target: Path) -> Path:
    """A private copy of the demo (service and engine database), its manifest pointing at it."""
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, target / name)
    text = (template / "personvern.yaml").read_text(encoding="utf-8")
    (target / "personvern.yaml").write_text(
        text.replace(str(template / "service.db"), str(target / "service.db")), encoding="utf-8")
    return target


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path) -> Path:
    """This test's copy of the demo."""
    return copy_demo(demo_template, tmp_path)


@pytest.fixture
def moving() -> MovingClock:
    """A clock at DEMO_NOW the test can move."""
    return MovingClock(DEMO_NOW)


Datasets = Callable[..., tuple[Runtime, Requests]]


@pytest.fixture
def with_datasets(demo_dir: Path, moving: MovingClock) -> Iterator[Datasets]:
    """Add datasets to the demo manifest, then open the runtime and the request service."""
    opened: list[tuple[Runtime, Requests]] = []

    def make(*datasets: dict[str, Any], recipients: dict[str, dict[str, Any]] | None = None
             ) -> tuple[Runtime, Requests]:
        path = demo_dir / "personvern.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["datasets"].extend(datasets)
        for r in data.get("recipients", []):
            r.update((recipients or {}).get(r["id"], {}))
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        rt = open_runtime(Settings(manifest=path,
                                   database_url=f"sqlite:///{demo_dir / 'personvern.db'}"), moving)
        pair = (rt, Requests(rt.sessions, Context(rt.consent, moving)))
        opened.append(pair)
        return pair

    yield make
    for rt, service in opened:
        service.close()
        rt.close()


def open_as_owner(rt: Runtime, service: Requests, type: str, ref: str, **kw: Any) -> str:
    """Open a request verified by the privacy owner; its id."""
    with rt.transaction() as s:
        return open_request(s, service.ctx, type, subject=ref, by=kw.pop("by", OWNER),
                            **kw).request.id


@pytest.fixture
def opener() -> Callable[..., str]:
    """``open_as_owner`` for tests (conftest functions cannot be imported: see above)."""
    return open_as_owner


@pytest.fixture
def service_db(demo_dir: Path) -> Iterator[Engine]:
    """The demo service's own database."""
    engine = create_engine_for(f"sqlite:///{demo_dir / 'service.db'}")
    yield engine
    engine.dispose()
