"""Migrations: create the schema, idempotent, in sync with the models, on both databases."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from personvern.errors import StorageError
from personvern.schema import Base, schema_differences
from personvern.storage.engine import create_engine_for
from personvern.storage.migrate import (
    MIGRATIONS_DIR,
    VERSION_TABLE,
    downgrade,
    head_revision,
    status,
    upgrade,
)
from personvern.storage.queue import QUEUE_TABLES, is_queue_object

# Every table the models declare, and Alembic's version table.
TABLES = set(Base.metadata.tables) | {VERSION_TABLE}
HEAD = head_revision()


def _tables(url: str) -> set[str]:
    """Our tables; the job queue's (PostgreSQL only, migration 0014) checked apart."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    queue = {n for n in names if is_queue_object(n)}
    assert queue in (set(), QUEUE_TABLES)
    assert bool(queue) == (url.startswith("postgresql") and "personvern_alembic_version" in names
                           and len(names) > 1)
    return names - queue


def test_migrations_ship_inside_the_package() -> None:
    import personvern

    assert MIGRATIONS_DIR.is_relative_to(next(iter(personvern.__path__)))
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert f"{len(list((MIGRATIONS_DIR / 'versions').glob('0*.py'))):04d}" == HEAD


def test_upgrade_creates_the_tables(db_url: str) -> None:
    before = status(db_url)
    assert before.current is None
    assert not before.up_to_date

    result = upgrade(db_url)

    assert (result.previous, result.current, result.head) == (None, HEAD, HEAD)
    assert _tables(db_url) == TABLES
    assert status(db_url).current == head_revision()


def test_upgrade_is_idempotent_and_keeps_data(db_url: str) -> None:
    upgrade(db_url)
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO manifest_versions (sha256, service, loaded_at, text) "
                "VALUES (:h, 'svc', '2027-01-01 00:00:00+00:00', 'personvern: 1')"
            ), {"h": "c" * 64})
        again = upgrade(db_url)
        assert (again.previous, again.current) == (HEAD, HEAD)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM manifest_versions")).scalar() == 1
    finally:
        engine.dispose()


def test_keys_from_before_scopes_keep_every_right_as_admin(db_url: str) -> None:
    """An upgrade must not lock an app out: keys made before 0010 hold admin afterwards."""
    upgrade(db_url, "0009")
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO api_keys (prefix, key_hash, name, created_at) "
                "VALUES ('pv_oldkey123', :h, 'the old app', '2027-01-01 00:00:00+00:00')"
            ), {"h": "d" * 64})
        upgrade(db_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name, scopes FROM api_keys")).all() == [
                ("the old app", "admin")]
    finally:
        engine.dispose()


def test_models_and_migrations_are_in_sync(db_url: str) -> None:
    upgrade(db_url)
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            assert schema_differences(conn) == []
    finally:
        engine.dispose()


def test_an_empty_database_differs_from_the_models(db_url: str) -> None:
    # Guards the test above: the comparison does see tables that are missing.
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            added = {diff[1].name for diff in schema_differences(conn)
                     if isinstance(diff, tuple) and diff[0] == "add_table"}
        assert added == TABLES - {VERSION_TABLE}
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(db_url: str) -> None:
    upgrade(db_url)
    down = downgrade(db_url, "base")
    assert down.current is None
    assert _tables(db_url) == {VERSION_TABLE}
    assert upgrade(db_url).current == HEAD
    assert _tables(db_url) == TABLES


def test_a_database_from_a_newer_personvern_is_refused(db_url: str) -> None:
    upgrade(db_url)
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(StorageError, match="newer Personvern"):
        upgrade(db_url)
    assert status(db_url).current == "9999"


def test_concurrent_upgrades_all_succeed_and_one_does_the_work(db_url: str) -> None:
    results: list[str | None] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(upgrade(db_url).previous)
        except BaseException as err:  # collected, asserted below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results.count(None) == 1
    assert results.count(HEAD) == 3
    assert _tables(db_url) == TABLES


def test_status_does_not_create_a_sqlite_file(sqlite_url: str) -> None:
    assert status(sqlite_url).current is None
    path = sqlite_url.removeprefix("sqlite:///")
    assert not Path(path).exists()


FAILING_MIGRATION = '''"""A migration that fails half-way, for the test."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    raise RuntimeError("migration 9999 failed half-way")


def downgrade() -> None:
    pass
'''


def test_a_failed_migration_leaves_the_database_as_it_was(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personvern.storage import migrate

    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_fails.py").write_text(FAILING_MIGRATION.replace("{head}", HEAD))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", scripts)

    with pytest.raises(RuntimeError, match="half-way"):
        upgrade(db_url)

    # Not even the first revision was kept: the whole upgrade is one transaction, DDL included.
    assert _tables(db_url) == set()
    assert status(db_url).current is None
