"""Issue 14 item 3: after a retention sweep, no byte of an erased
person (e-mail, phone, name) is left anywhere in the service's SQLite file or its WAL,
not even in the gaps b-tree splits leave in live index pages, which secure_delete misses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from cli_inprocess import run_personvern
from demo_support import copy_demo, left_behind
from personvern.demo.init import init_demo
from personvern.storage.engine import create_engine_for

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo300")
    init_demo(directory, 300, now=NOW)
    return directory


@pytest.fixture
def demo(template: Path, tmp_path: Path) -> Path:
    return copy_demo(template, tmp_path)


def users(demo: Path, where: str = "1 = 1") -> dict[int, list[str]]:
    """Each service user's id and their e-mail, phone and name."""
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, email, phone, name FROM users WHERE {where}"))
        found = {r.id: [v for v in (r.email, r.phone, r.name) if v] for r in rows}
    engine.dispose()
    return found


def test_a_sweep_leaves_no_byte_of_the_people_it_erased(demo: Path) -> None:
    before = users(demo)
    values = [v for vs in before.values() for v in vs]
    assert left_behind(demo, values)  # the scan sees the service's plaintext
    done = run_personvern("retention", "run", "--now", "2045-01-01T00:00:00+00:00",
                          "--reason", "test", "--manifest", str(demo / "personvern.yaml"),
                          "--db", f"sqlite:///{demo / 'personvern.db'}")
    assert done.returncode == 0, done.stderr
    assert left_behind(demo, values) == []  # as the sweep left the files, before any close
    assert not users(demo, "email NOT LIKE 'slettet-%'")  # every user's row was masked

