"""Fixtures of the request tests: the demo service (built once per session), a private copy
per test, a clock the test moves, the runtime and the request service on the copy.

Helpers live in tests/demo_support.py: this package cannot hold a support module, as
``requests`` is also an installed library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from demo_support import DEMO_NOW, DEMO_SUBJECTS, MovingClock, copy_demo, open_as_owner
from personvern.demo.init import init_demo
from personvern.requests.engine import Context, Requests
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, built once; tests work on copies."""
    directory = tmp_path_factory.mktemp("demo-template")
    init_demo(directory, DEMO_SUBJECTS, now=DEMO_NOW)
    return directory


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Path:
    """This test's copy of the demo."""
    return copy_demo(demo_template, tmp_path)


@pytest.fixture
def clock() -> MovingClock:
    """A clock at DEMO_NOW the test can move."""
    return MovingClock(DEMO_NOW)


def open_demo(demo: Path, clock: MovingClock) -> Runtime:
    """The runtime on the demo copy's manifest and engine database."""
    return open_runtime(Settings(manifest=demo / "personvern.yaml",
                                 database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)


@pytest.fixture
def rt(demo: Path, clock: MovingClock) -> Iterator[Runtime]:
    """The runtime on this test's demo copy."""
    runtime = open_demo(demo, clock)
    yield runtime
    runtime.close()


@pytest.fixture
def service(rt: Runtime, clock: MovingClock) -> Iterator[Requests]:
    """The request service on ``rt``."""
    svc = Requests(rt.sessions, Context(rt.consent, clock))
    yield svc
    svc.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two(request: pytest.FixtureRequest, clock: MovingClock
        ) -> Iterator[tuple[Runtime, Requests, Requests]]:
    """The demo's runtime and two request services on it (two claimers)."""
    rt: Runtime = request.getfixturevalue("rt" if request.param == "sqlite" else "pg_demo")
    first, second = (Requests(rt.sessions, Context(rt.consent, clock)) for _ in range(2))
    yield rt, first, second
    first.close()
    second.close()


Datasets = Callable[..., tuple[Runtime, Requests]]


@pytest.fixture
def with_datasets(demo: Path, clock: MovingClock) -> Iterator[Datasets]:
    """Add datasets (and recipient fields) to the demo manifest, then open the runtime and
    the request service on it."""
    opened: list[tuple[Runtime, Requests]] = []

    def make(*datasets: dict[str, Any], recipients: dict[str, dict[str, Any]] | None = None
             ) -> tuple[Runtime, Requests]:
        path = demo / "personvern.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["datasets"].extend(datasets)
        for r in data.get("recipients", []):
            r.update((recipients or {}).get(r["id"], {}))
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        runtime = open_demo(demo, clock)
        pair = (runtime, Requests(runtime.sessions, Context(runtime.consent, clock)))
        opened.append(pair)
        return pair

    yield make
    for runtime, svc in opened:
        svc.close()
        runtime.close()


@pytest.fixture
def opener() -> Callable[..., str]:
    """``open_as_owner``: open a request verified by the privacy owner."""
    return open_as_owner


@pytest.fixture
def service_db(demo: Path) -> Iterator[Engine]:
    """The demo service's own database."""
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_demo(pg_cluster: Any, tmp_path: Path, clock: MovingClock) -> Iterator[Runtime]:
    """The demo with its service and the engine both on PostgreSQL (40 people)."""
    from personvern.demo.init import _register_subjects, manifest_text
    from personvern.demo.templates import get_template

    service_url = pg_cluster.create_database()
    engine_url = pg_cluster.create_database()
    service = create_engine_for(service_url)
    template = get_template("snapmentor")
    generated = template.generate(service, 40, now=DEMO_NOW, seed=7)
    service.dispose()
    manifest = tmp_path / "personvern.yaml"
    manifest.write_text(manifest_text(template, service_url), encoding="utf-8")
    from personvern.storage.migrate import upgrade

    upgrade(engine_url)
    _register_subjects(engine_url, generated, DEMO_NOW, 7)
    runtime = open_runtime(Settings(manifest=manifest, database_url=engine_url), clock)
    yield runtime
    runtime.close()
    for url in (service_url, engine_url):
        pg_cluster.drop_database(url.rsplit("/", 1)[1])
