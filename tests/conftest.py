"""Shared fixtures: a fresh database per test, on SQLite and on a throwaway PostgreSQL."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from personvern.clock import Clock, fixed_clock
from pgcluster import PgCluster, PostgresUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# A random master key for this run, in the environment so CLI subprocesses inherit it:
# the engine refuses to start without one.
os.environ.pop("PERSONVERN_MASTER_KEY_FILE", None)
os.environ["PERSONVERN_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses PostgreSQL, so ``-m "not postgres"`` leaves them out."""
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster for the whole test session, removed afterwards."""
    try:
        cluster = PgCluster.start()
    except PostgresUnavailable as err:
        # In CI a missing PostgreSQL must not turn half the suite into silent skips.
        if _in_ci():
            pytest.fail(f"PostgreSQL tests cannot run (CI is set): {err}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {err}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(pg_cluster: PgCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL (``postgresql://...``) of a fresh, empty database on the cluster, dropped after;
    for a test that uses ``db_engine`` (a migrated database), a copy of the session's
    migrated one (``migrated_postgres``)."""
    if "db_engine" in request.fixturenames:
        url = pg_cluster.create_database(template=request.getfixturevalue("migrated_postgres"))
    else:
        url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file (not yet created) in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'personvern.db'}"


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL: the test runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest revision, once per session (copied per test)."""
    from personvern.storage.migrate import upgrade

    path = tmp_path_factory.mktemp("migrated") / "personvern.db"
    upgrade(f"sqlite:///{path}")
    # Every connection closed: nothing left in a -wal file that a copy of the file would miss.
    assert sorted(p.name for p in path.parent.iterdir()) == ["personvern.db"]
    return path


@pytest.fixture(scope="session")
def migrated_postgres(pg_cluster: PgCluster) -> str:
    """Name of a database migrated to the newest revision, once per session: the template
    fresh databases are copied from (nothing else connects to it)."""
    from personvern.storage.migrate import upgrade

    upgrade(pg_cluster.create_database("pv_migrated_template"))
    return "pv_migrated_template"


def _migrate(request: pytest.FixtureRequest, db_url: str) -> None:
    """Migrate the database at ``db_url`` to the newest revision.

    A fresh SQLite file is a copy of the session's migrated one, and a fresh PostgreSQL
    database for a test that uses ``db_engine`` was created from the session's migrated
    database (``postgres_url``): the schema ``upgrade`` builds (the migrations write no
    data), for a file copy or a ``CREATE DATABASE ... TEMPLATE`` instead of every
    migration again. ``upgrade`` then runs as before: a database something else already
    created is migrated for real, and every one is confirmed at the newest revision.
    """
    from personvern.storage.migrate import upgrade

    if db_url.startswith("sqlite:///"):
        target = Path(db_url.removeprefix("sqlite:///"))
        if not target.exists():
            shutil.copy(request.getfixturevalue("migrated_sqlite"), target)
    migrated = upgrade(db_url)
    assert migrated.current == migrated.head, migrated


@pytest.fixture
def db_engine(db_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a fresh database migrated to the newest revision; disposed after."""
    from personvern.storage.engine import create_engine_for

    _migrate(request, db_url)
    engine = create_engine_for(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session on the migrated database; the test commits what it wants kept."""
    from personvern.storage.session import make_sessionmaker

    with make_sessionmaker(db_engine)() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    """A clock stopped at 2027-03-01 12:00 Oslo time."""
    return fixed_clock(datetime.fromisoformat("2027-03-01T12:00:00+01:00"))


@pytest.fixture(autouse=True)
def _environment_keyring() -> Iterator[None]:
    """Each test ends with the process keyring back to the environment's master key: a
    runtime opened with another key (a rotation's new one) must not decide what the next
    test in this process decrypts with."""
    from personvern.crypto import keyring

    yield
    keyring.use_keyring(None)
