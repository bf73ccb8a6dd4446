"""Engines for the engine's own database: SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, exc, make_url

from personvern.errors import ConfigurationError, StorageError

# Connections kept open. A web server runs up to 40 requests at once in threads (anyio's
# default); fewer pooled connections and every request beyond them opens and closes its
# own (for SQLite: opening the file and the pragmas, a millisecond each time).
SQLITE_POOL_SIZE = 40
# PostgreSQL: as many kept as requests run at once (anyio's 40 threads). A connection
# beyond the pool's size is closed when given back, so with fewer kept every busy moment
# started new server processes (a fork and an authentication each; py-spy, 32 clients
# writing consents: docs/performance.md). A few more for the group commit's leader and jobs.
POSTGRES_POOL_SIZE, POSTGRES_MAX_OVERFLOW = 40, 10

# Seconds a connection waits for a lock (SQLite) or a server (PostgreSQL) before giving up.
BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 10

# Run on every new SQLite connection. WAL lets readers work while one writer writes;
# synchronous=NORMAL is durable across application crashes in WAL mode and much faster
# than FULL; secure_delete overwrites freed pages with zeros, because erased personal
# data must not stay readable in the file; foreign keys are off in SQLite unless asked.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA secure_delete=ON",
)


def parse_url(url: str | URL) -> URL:
    """The SQLAlchemy URL for ``url``, with PostgreSQL URLs bound to psycopg 3."""
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(url.strip())
        except (exc.ArgumentError, ValueError):
            raise ConfigurationError(
                f"{url!r} is not a database URL; use e.g. sqlite:///personvern.db or "
                "postgresql://user:password@host:5432/dbname"
            ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        # A bare postgresql:// would pick psycopg2, which is not a dependency; postgres://
        # is what Heroku-style hosts hand out and SQLAlchemy no longer accepts.
        if driver not in ("", "psycopg"):
            raise ConfigurationError(
                f"PostgreSQL driver {driver!r} is not supported; use postgresql:// "
                "(Personvern talks to PostgreSQL through psycopg 3)"
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigurationError(f"SQLite driver {driver!r} is not supported; use sqlite://")
        return parsed
    raise ConfigurationError(
        f"database {parsed.drivername!r} is not supported; use sqlite:///FILE or postgresql://..."
    )


def libpq_conninfo(url: str | URL) -> str:
    """A PostgreSQL URL as psycopg itself takes it (for connections outside SQLAlchemy:
    the job queue's workers, the change listener)."""
    return parse_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def safe_url(url: str | URL) -> str:
    """``url`` for messages and logs, with any password masked."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (exc.ArgumentError, ValueError):
        return "<unparsable URL>"
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_engine_for(url: str | URL, *, echo: bool = False) -> Engine:
    """A configured engine for ``url``; nothing is opened until first use."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    return _postgres_engine(parsed, echo=echo)


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise StorageError(
            f"cannot create SQLite database {path}: directory {path.parent} does not exist"
        )
    # An in-memory database lives in one connection (SQLAlchemy's own pool for it).
    pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 10} if path is not None else {}
    engine = create_engine(url, echo=echo, **pool)

    @event.listens_for(engine, "do_connect")
    def _create_private(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        # The file holds personal data: create it readable by its owner only. SQLite
        # gives the -wal and -shm files the same mode as the database file.
        if path is not None and not path.exists():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass  # another connection created it in between; fine.
            except OSError as err:
                raise StorageError(
                    f"cannot create SQLite database {path}: {err.strerror}"
                ) from None

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    return engine


def _postgres_engine(url: URL, *, echo: bool) -> Engine:
    connect_args: dict[str, Any] = {"application_name": "personvern"}
    if "connect_timeout" not in url.query:
        # Without it an unreachable host hangs for minutes instead of failing clearly.
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(url, echo=echo, connect_args=connect_args,
                           pool_size=POSTGRES_POOL_SIZE, max_overflow=POSTGRES_MAX_OVERFLOW)
    # The server may restart (or end a connection) under a long-running `personvern serve`:
    # a connection is checked before it is handed out, without a round trip when it was
    # in use a moment ago and nothing has arrived on it since (see _looks_alive).
    @event.listens_for(engine, "checkout")
    def _check_alive(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if _looks_alive(dbapi_connection, record):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # SELECT 1, outside any transaction
        except Exception as err:
            # The pool drops this connection and hands out another (a new one if need be).
            raise exc.DisconnectionError(f"pooled connection is gone: {err}") from err

    event.listen(engine, "connect", _note_used)  # just opened: alive
    event.listen(engine, "checkin", _note_used)
    return engine


# Seconds since its last use after which a pooled connection is pinged for real. A busy
# server hands its connections out again within milliseconds: a ping each time (SQLAlchemy's
# pool_pre_ping) was a round trip per request, 6-9 % of a consent write (py-spy).
PING_AFTER_IDLE_S = 5.0
_USED = "personvern.used_at"


def _note_used(dbapi_connection: Any, record: Any) -> None:
    record.info[_USED] = time.monotonic()


def _looks_alive(dbapi_connection: Any, record: Any) -> bool:
    """Whether a pooled psycopg connection can be handed out without a ping: open, used
    within PING_AFTER_IDLE_S, and nothing to read on its socket. A server that ends the
    connection (a restart, pg_terminate_backend) sends its reason and closes it, which
    makes the socket readable; an idle healthy connection has nothing to read."""
    used = record.info.get(_USED)
    if used is None or time.monotonic() - used > PING_AFTER_IDLE_S:
        return False
    if getattr(dbapi_connection, "closed", True) or getattr(dbapi_connection, "broken", True):
        return False
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        return not poller.poll(0)
    except (AttributeError, OSError, ValueError):  # no poll here, or the socket is gone
        return False


def one_line(error: BaseException) -> str:
    """The driver's message of ``error`` squeezed onto one line."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error)
    # SQLAlchemy appends a "(Background on this error at: ...)" link; drop it.
    text = text.split("(Background on this error", 1)[0]
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


# Errors about the database itself (down, locked, not a database, full disk), as opposed to
# errors in what was asked of it (a broken constraint, bad SQL), which callers handle.
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.InternalError, exc.TimeoutError)


@contextmanager
def storage_errors(url: str | URL, *, broad: bool = False) -> Iterator[None]:
    """Turn database-unavailable errors (every driver error if ``broad``) into StorageError."""
    try:
        yield
    except exc.SQLAlchemyError as err:
        # A bare DatabaseError is what sqlite3 raises for a file that is not a database.
        unavailable = isinstance(err, _UNAVAILABLE) or type(err) is exc.DatabaseError
        if not (broad or unavailable):
            raise
        raise StorageError(f"database {safe_url(url)}: {one_line(err)}") from err


def sqlite_checkpoint(engine: Engine) -> None:
    """Fold the SQLite WAL into the main file and truncate it, so erased rows leave no copy."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def sqlite_scrub(engine: Engine) -> None:
    """Rewrite a SQLite file whole (VACUUM) and empty its WAL, so erased rows leave no byte."""
    if engine.dialect.name != "sqlite":
        return
    # secure_delete zeroes a deleted cell and a freed page, but a b-tree split or merge
    # rebuilds a page without clearing the gap it leaves, so copies of rows that moved
    # stay in live table and index pages; REINDEX rebuilds indexes only, and
    # incremental_vacuum only gives back free pages. VACUUM writes every page anew.
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def scrub_erased(engine: Engine, tables: Iterable[str], *, vacuum: bool = False) -> list[str]:
    """After erasing rows of ``tables``: leave no byte where we can (SQLite, rewritten
    whole; PostgreSQL when ``vacuum``), else return the tables whose old row versions are
    still in their files.

    PostgreSQL keeps a deleted row's bytes in the table file until VACUUM FULL rewrites it
    (plain VACUUM only marks the space free); that takes an exclusive lock on a service's
    live table, so it runs only when the owner asks (``--vacuum``), else it is reported.
    """
    if engine.dialect.name == "sqlite":
        sqlite_scrub(engine)
        return []
    names = sorted(set(tables))
    if not rewrites(engine, vacuum=vacuum):
        return names
    quote = engine.dialect.identifier_preparer.quote
    # VACUUM cannot run inside a transaction block.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in names:
            conn.exec_driver_sql(f"VACUUM FULL {quote(name)}")
    return []


def rewrites(engine: Engine, *, vacuum: bool = False) -> bool:
    """Whether :func:`scrub_erased` rewrites ``engine``'s files (SQLite always, PostgreSQL
    when ``vacuum``), as opposed to only naming the tables whose old rows are left."""
    return engine.dialect.name == "sqlite" or (vacuum and engine.dialect.name == "postgresql")
