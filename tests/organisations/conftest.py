"""Fixtures of the organisation tests: the Min Mentor demo (seed 003, 30 people in three
companies) built once, a private copy per test, its runtime and request service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_support import DEMO_NOW, MovingClock, copy_demo
from personvern.demo.init import init_demo
from personvern.requests.engine import Requests
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings

SUBJECTS = 30


@pytest.fixture(scope="session")
def minmentor_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Min Mentor demo, built once; tests work on copies."""
    directory = tmp_path_factory.mktemp("minmentor")
    init_demo(directory, SUBJECTS, now=DEMO_NOW, template="minmentor")
    return directory


@pytest.fixture
def demo(minmentor_template: Path, tmp_path: Path) -> Path:
    """This test's copy of the demo."""
    return copy_demo(minmentor_template, tmp_path)


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock(DEMO_NOW)


@pytest.fixture
def rt(demo: Path, clock: MovingClock) -> Iterator[Runtime]:
    runtime = open_runtime(Settings(manifest=demo / "personvern.yaml",
                                    database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    yield runtime
    runtime.close()


@pytest.fixture
def service(rt: Runtime) -> Iterator[Requests]:
    svc = Requests.of(rt)
    yield svc
    svc.close()
