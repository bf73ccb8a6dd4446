"""Alembic, run from inside the package: upgrade the database and report its revision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from personvern.errors import StorageError
from personvern.storage.engine import create_engine_for, safe_url, sqlite_path, storage_errors

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import URL, Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Personvern often lives in the same PostgreSQL database as the service's own app, which
# may use Alembic too: a table of our own keeps the two version histories apart.
VERSION_TABLE = "personvern_alembic_version"
# How long (ms) an upgrade on SQLite waits for another process's upgrade to finish.
MIGRATION_LOCK_WAIT_MS = 120_000
# Key of the PostgreSQL advisory lock held while migrating ("pv-migrt" as an int).
_PG_LOCK_KEY = int.from_bytes(b"pv-migrt", "big") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class Revision:
    """Where a database stands against the migrations shipped with this package."""

    database: str
    current: str | None
    head: str
    previous: str | None = None

    @property
    def up_to_date(self) -> bool:
        """True when the database is at the newest revision."""
        return self.current == self.head

    def as_json(self) -> dict[str, str | bool | None]:
        """The fields for ``--json`` output."""
        return {"database": self.database, "previous": self.previous, "current": self.current,
                "head": self.head, "up_to_date": self.up_to_date}


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code (no alembic.ini), pointing inside the package."""
    from alembic.config import Config

    config = Config()
    # A plain path, not the repository root: it works the same from an installed wheel.
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    """The migration scripts shipped with this package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StorageError("no migrations found in the package")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database on ``connection`` is at; None when never migrated."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _check_known(database: str, revision: str | None) -> None:
    """Refuse a database migrated by a newer Personvern: we cannot know its schema."""
    from alembic.util import CommandError

    if revision is None:
        return
    try:
        known = script_directory().get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise StorageError(
            f"database {database} is at revision {revision!r}, which this version of "
            "Personvern does not know; it was migrated by a newer Personvern"
        )


def upgrade(url: str | URL, revision: str = "head") -> Revision:
    """Create or migrate the database at ``url`` up to ``revision`` (default: newest)."""
    return _migrate(url, "upgrade", revision)


def downgrade(url: str | URL, revision: str) -> Revision:
    """Migrate the database at ``url`` back to ``revision`` ("base": drop every table)."""
    return _migrate(url, "downgrade", revision)


def _migrate(url: str | URL, direction: str, revision: str) -> Revision:
    from alembic import command
    from alembic.util import CommandError

    engine = create_engine_for(url)
    shown = safe_url(engine.url)
    try:
        with storage_errors(engine.url, broad=True), engine.connect() as connection:
            _lock_for_migration(connection)
            before = current_revision(connection)
            _check_known(shown, before)
            step = command.upgrade if direction == "upgrade" else command.downgrade
            try:
                step(alembic_config(connection), revision)
            except CommandError as err:
                raise StorageError(f"database {shown}: cannot {direction}: {err}") from None
            after = current_revision(connection)
            connection.commit()
    finally:
        # The engine is ours alone; disposing it also drops the altered SQLite connection.
        engine.dispose()
    return Revision(database=shown, current=after, head=head_revision(), previous=before)


def _lock_for_migration(connection: Connection) -> None:
    """Open one transaction holding the database's migration lock, for the whole upgrade."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        # Several server processes may start at once and all try to upgrade.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # The sqlite3 module leaves DDL outside transactions; take control of the
        # transaction instead, so a failed migration rolls back entirely and a concurrent
        # upgrade waits for this one (BEGIN IMMEDIATE takes the write lock at once).
        driver = connection.connection.driver_connection
        driver.isolation_level = None  # type: ignore[union-attr]
        # A whole upgrade can outlast the usual lock wait (table rebuilds on a busy
        # machine); a process starting meanwhile should wait for it, not fail.
        connection.exec_driver_sql(f"PRAGMA busy_timeout={MIGRATION_LOCK_WAIT_MS}")
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def status(url: str | URL) -> Revision:
    """The revision of the database at ``url``, without changing anything."""
    engine = create_engine_for(url)
    shown = safe_url(engine.url)
    try:
        path = sqlite_path(engine.url) if engine.dialect.name == "sqlite" else None
        if path is not None and not path.exists():
            # Asking must not create an empty database file as a side effect.
            return Revision(database=shown, current=None, head=head_revision())
        with storage_errors(engine.url, broad=True), engine.connect() as connection:
            current = current_revision(connection)
    finally:
        engine.dispose()
    return Revision(database=shown, current=current, head=head_revision())
