"""Engines: URL handling, SQLite pragmas that are really on, clear errors, no residue."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, StatementError

from personvern.errors import ConfigurationError, StorageError
from personvern.storage.engine import (
    create_engine_for,
    libpq_conninfo,
    one_line,
    parse_url,
    safe_url,
    sqlite_checkpoint,
    storage_errors,
)
from personvern.storage.manifests import record_manifest
from personvern.storage.migrate import upgrade
from personvern.storage.models import ManifestVersion
from personvern.storage.session import make_sessionmaker, transaction
from pgcluster import free_port


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/pv", "postgresql+psycopg://u:p@db:5432/pv"),
        ("postgres://u@db/pv", "postgresql+psycopg://u@db/pv"),
        ("postgresql+psycopg://u@db/pv", "postgresql+psycopg://u@db/pv"),
        ("sqlite:///personvern.db", "sqlite:///personvern.db"),
        ("  sqlite://  ", "sqlite://"),
    ],
)
def test_urls_are_normalised(given: str, expected: str) -> None:
    assert parse_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "bad",
    ["not a url", "", "mysql://u@h/db", "postgresql+psycopg2://u@h/db", "sqlite+aiosqlite:///x"],
)
def test_unusable_urls_are_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_engine_for(bad)
    assert "\n" not in str(caught.value)


def test_passwords_never_appear_in_messages() -> None:
    assert safe_url("postgresql://me:s3cret@db/pv") == "postgresql://me:***@db/pv"
    assert "s3cret" not in safe_url(parse_url("postgresql://me:s3cret@db/pv"))


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_connections_have_wal_foreign_keys_and_secure_delete(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        # Twice: the second connection from the pool must be configured the same way.
        for _ in range(2):
            with engine.connect() as a, engine.connect() as b:
                for conn in (a, b):
                    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                    assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
                    assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
                    assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_sqlite_foreign_keys_are_enforced(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent)"
            )
        with pytest.raises(IntegrityError, match="FOREIGN KEY"), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO child (id, parent_id) VALUES (1, 42)")
    finally:
        engine.dispose()


def test_sqlite_writes_go_through_the_wal_file(sqlite_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            conn.commit()
            assert (tmp_path / "personvern.db-wal").exists()
    finally:
        engine.dispose()


def test_sqlite_file_is_private_to_its_owner(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    mode = stat.S_IMODE((tmp_path / "personvern.db").stat().st_mode)
    assert mode == 0o600


def _file_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.glob("personvern.db*")))


def test_deleted_rows_leave_no_plaintext_in_sqlite_files(
    sqlite_url: str, tmp_path: Path
) -> None:
    marker = "Kari Nordmann 12345678901 secret-marker"
    upgrade(sqlite_url)
    engine = create_engine_for(sqlite_url)
    try:
        with transaction(engine) as session:
            session.add(ManifestVersion(sha256="a" * 64, service="s",
                                        loaded_at=datetime.now(UTC), text=marker * 20))
        sqlite_checkpoint(engine)
        assert marker.encode() in _file_bytes(tmp_path)  # it was really written
        with transaction(engine) as session:
            session.execute(text("DELETE FROM manifest_versions"))
        sqlite_checkpoint(engine)
        assert marker.encode() not in _file_bytes(tmp_path)
    finally:
        engine.dispose()


def test_without_secure_delete_the_plaintext_would_linger(tmp_path: Path) -> None:
    # Control for the test above: the marker survives a plain delete in a default SQLite.
    marker = b"secret-marker-without-secure-delete"
    path = tmp_path / "plain.db"
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA secure_delete=OFF")
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (marker.decode() * 20,))
        conn.commit()
        conn.execute("DELETE FROM t")
        conn.commit()
    finally:
        conn.close()
    assert marker in path.read_bytes()


def test_sqlite_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(StorageError, match="does not exist") as caught:
        create_engine_for(f"sqlite:///{missing / 'pv.db'}")
    assert str(missing) in str(caught.value)
    assert not missing.exists()


def test_unreachable_postgres_is_a_one_line_storage_error() -> None:
    url = f"postgresql://nobody:pw@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(StorageError) as caught:
        upgrade(url)
    message = str(caught.value)
    assert "\n" not in message
    assert "127.0.0.1" in message
    assert "refused" in message.lower()
    assert ":pw@" not in message


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StorageError, match="not a database"):
        upgrade(f"sqlite:///{path}")


@pytest.mark.postgres
def test_postgres_engine_uses_psycopg3(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_setting('application_name')")).scalar() \
                == "personvern"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_pooled_connections_the_server_ended_are_replaced_unnoticed(postgres_url: str) -> None:
    """A restart, or an administrator ending sessions, under a running server: the next
    request gets a working connection, not an error (the pool checks before handing out)."""
    engine = create_engine_for(postgres_url)
    try:
        with engine.connect() as a, engine.connect() as b:  # two pooled, just used
            pids = [c.execute(text("SELECT pg_backend_pid()")).scalar() for c in (a, b)]
        with psycopg.connect(libpq_conninfo(postgres_url), autocommit=True) as admin:
            for pid in pids:
                # Waits until the backend is gone (its goodbye sent), up to 5 s.
                assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)
                                     ).fetchone() == (True,)
        for _ in range(3):  # every pooled connection is handed out again, or replaced
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() not in pids
    finally:
        engine.dispose()


def test_storage_errors_are_squeezed_onto_one_line(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with pytest.raises(StorageError) as caught, storage_errors(engine.url), \
                engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM no_such_table")
        assert "no such table" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert "Background on this error" not in one_line(caught.value)
    finally:
        engine.dispose()


def test_times_come_back_aware_utc_and_exact(db_engine: Engine) -> None:
    oslo = timezone(timedelta(hours=2))
    at = datetime(2027, 6, 1, 9, 30, 15, 123456, tzinfo=oslo)
    with transaction(db_engine) as session:
        version = record_manifest(session, lambda: at, "svc", "personvern: 1\n")
        version_id = version.id
    with make_sessionmaker(db_engine)() as session:
        loaded = session.get(ManifestVersion, version_id)
        assert loaded is not None
        assert loaded.loaded_at == at
        assert loaded.loaded_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(db_engine: Engine) -> None:
    naive = datetime(2027, 6, 1, 9, 30)
    with pytest.raises(ValueError, match="naive"), transaction(db_engine) as session:
        record_manifest(session, lambda: naive, "svc", "x")
    with pytest.raises(StatementError, match="naive"), transaction(db_engine) as session:
        session.add(ManifestVersion(sha256="b" * 64, service="s", loaded_at=naive, text="t"))
        session.flush()
