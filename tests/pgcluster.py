"""A throwaway PostgreSQL cluster from the machine's packages, for tests and benchmarks.

    with PgCluster.start() as cluster:
        url = cluster.create_database()     # postgresql://postgres@127.0.0.1:PORT/pv_...

The cluster lives in a temporary directory owned by the ``postgres`` system user (initdb
and postgres refuse to run as root), listens on 127.0.0.1 on a free port, and is stopped
and removed on exit. It trades durability for speed (fsync off): it is thrown away anyway.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

BINDIR_GLOB = "/usr/lib/postgresql/*/bin"
# Settings for a cluster nobody needs to survive a crash: no flushing to disk at all.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "64MB",
    "max_wal_size": "1GB",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (or no user to run them as) on this machine."""


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb, or $PERSONVERN_PG_BINDIR."""
    override = os.environ.get("PERSONVERN_PG_BINDIR")
    candidates = [Path(override)] if override else [
        Path(p) for p in _glob_sorted_by_version(BINDIR_GLOB)
    ]
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresUnavailable(
        f"no PostgreSQL server binaries found in {override or BINDIR_GLOB}; "
        "install them with `apt-get install -y postgresql` (or set PERSONVERN_PG_BINDIR)"
    )


def _glob_sorted_by_version(pattern: str) -> list[str]:
    """Paths matching ``pattern``, highest PostgreSQL major version first."""
    paths = [str(p) for p in Path("/").glob(pattern.lstrip("/"))]

    def version(path: str) -> tuple[int, ...]:
        found = re.search(r"postgresql/([\d.]+)/", path)
        return tuple(int(n) for n in found.group(1).split(".") if n) if found else ()

    return sorted(paths, key=version, reverse=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """A running throwaway cluster; ``stop()`` (or leaving ``with``) removes it entirely."""

    bindir: Path
    root: Path
    port: int
    user: str = "postgres"
    _as_user: list[str] = field(default_factory=list)
    _stopped: bool = False
    durable: bool = False  # flush every commit to disk, as a production server does

    @property
    def datadir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        """The server log, shown when the server fails to start."""
        return self.root / "postgres.log"

    @classmethod
    def start(cls, attempts: int = 3, *, durable: bool = False) -> PgCluster:
        """initdb a fresh cluster in a temporary directory and start it on a free port;
        ``durable``: with PostgreSQL's own defaults for flushing (benchmarks of commits)."""
        bindir = find_bindir()
        as_user, owner = _run_as()
        root = Path(tempfile.mkdtemp(prefix="personvern-pg-"))
        cluster: PgCluster | None = None
        try:
            if owner is not None:
                os.chown(root, owner.pw_uid, owner.pw_gid)
            (root / "sock").mkdir()
            if owner is not None:
                os.chown(root / "sock", owner.pw_uid, owner.pw_gid)
            cluster = cls(bindir=bindir, root=root, port=0, _as_user=as_user, durable=durable)
            cluster._initdb()
            for attempt in range(attempts):
                # Another process may take the port between our probe and the server's bind.
                cluster.port = free_port()
                cluster._write_conf()
                if cluster._pg_ctl_start(last=attempt == attempts - 1):
                    break
        except BaseException:
            if cluster is not None:
                cluster.stop()
            else:
                shutil.rmtree(root, ignore_errors=True)
            raise
        # If the test process dies without teardown, do not leave a server running.
        atexit.register(cluster.stop)
        return cluster

    def _cmd(self, program: str, *args: str) -> list[str]:
        return [*self._as_user, str(self.bindir / program), *args]

    def _initdb(self) -> None:
        result = subprocess.run(
            self._cmd("initdb", "-D", str(self.datadir), "-U", self.user, "--auth=trust",
                      "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"),
            capture_output=True, text=True, check=False, cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stderr}")

    def _write_conf(self) -> None:
        settings = {**SERVER_SETTINGS, "port": str(self.port),
                    "unix_socket_directories": f"'{self.root / 'sock'}'"}
        if self.durable:
            settings.update(fsync="on", synchronous_commit="on", full_page_writes="on")
        conf = self.datadir / "postgresql.auto.conf"
        # Written as root keeps the file's owner (postgres); later lines win on restart.
        with conf.open("a", encoding="utf-8") as out:
            out.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _pg_ctl_start(self, *, last: bool) -> bool:
        result = subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w",
                      "-t", "60", "start"),
            # cwd: the postgres user may not be allowed into the caller's directory.
            capture_output=True, text=True, check=False, cwd=self.root,
        )
        if result.returncode == 0:
            return True
        log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
        if not last and "could not bind" in log:
            return False
        raise RuntimeError(f"PostgreSQL did not start ({result.returncode}):\n"
                           f"{result.stdout}{result.stderr}\n{log}")

    def url(self, dbname: str = "postgres") -> str:
        """A libpq-style URL for ``dbname`` on this cluster (TCP, trust auth)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user,
                               dbname="postgres", autocommit=True)

    def create_database(self, name: str | None = None, template: str = "template0") -> str:
        """Create a database (default: a fresh random name) as a copy of ``template``
        (default: empty) and return its URL."""
        name = name or f"pv_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            # FILE_COPY: with fsync off it copies the template faster than WAL-logging it.
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY")
                         .format(sql.Identifier(name), sql.Identifier(template)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting anything still connected to it."""
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the server and delete the cluster directory; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if (self.datadir / "postmaster.pid").exists():
            subprocess.run(
                self._cmd("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop"),
                capture_output=True, check=False, cwd=self.root,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix and owner to run server binaries with: root must drop to postgres."""
    if os.geteuid() != 0:
        return [], None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root, but there is no `postgres` system user to run initdb as; "
            "`apt-get install -y postgresql` creates it"
        ) from None
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--"], owner
