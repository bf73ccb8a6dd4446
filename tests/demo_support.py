"""The demo service for request tests: its clock, a private copy per test, opening a request.

Imported by tests/requests/conftest.py (fixtures) and by tests. Demo ids (60 subjects):
1-7 mentors, 8-30 parents, 31-60 pupils (the parent of 31 is 8).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from personvern.clock import Clock
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


def copy_demo(template: Path, target: Path) -> Path:
    """A private copy of the demo (service and engine database), its manifest pointing at it."""
    for name in ("service.db", "personvern.db"):
        shutil.copy(template / name, target / name)
    text = (template / "personvern.yaml").read_text(encoding="utf-8")
    (target / "personvern.yaml").write_text(
        text.replace(str(template / "service.db"), str(target / "service.db")), encoding="utf-8")
    return target


def open_as_owner(rt: Runtime, service: Requests, type: str, ref: str, **kw: Any) -> str:
    """Open a request verified by the privacy owner; its id."""
    with rt.transaction() as s:
        return open_request(s, service.ctx, type, subject=ref, by=kw.pop("by", OWNER),
                            **kw).request.id


# ---- a fresh demo service driven through the CLI ---------------------------------------------

DEMO_BUILT = datetime(2026, 12, 1, 11, tzinfo=UTC)


def fresh_demo(directory: Path, subjects: int, template: str = "snapmentor") -> Path:
    """A demo service written into ``directory`` at DEMO_BUILT (its own master key file:
    clear PERSONVERN_MASTER_KEY[_FILE] in the test first)."""
    from personvern.demo.init import init_demo

    init_demo(directory, subjects, now=DEMO_BUILT, template=template)
    return directory


def demo_cli(demo: Path, *args: str, now: str) -> subprocess.CompletedProcess[str]:
    """``personvern ARGS --now NOW`` on the demo in ``demo``, as a user's shell would run it
    there (its manifest, engine database and master key in the environment)."""
    from cli_inprocess import run_personvern

    env = {"PERSONVERN_MASTER_KEY_FILE": str(demo / "master.key"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{demo / 'personvern.db'}",
           "PERSONVERN_MANIFEST": str(demo / "personvern.yaml"), "PATH": "/usr/bin:/bin"}
    return run_personvern(*args, "--now", now, env=env, cwd=demo)


def with_addresses(demo: Path, people: tuple[int, ...] = (31, 32)) -> None:
    """The demo service keeps postal addresses in their own table, and each of ``people``'s
    user rows points at one (``users.address_id``, a part: ``part: true``); ``uid * 100`` is
    the address of user ``uid``."""
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE postal_addresses (id INTEGER PRIMARY KEY, "
                          "street TEXT NOT NULL, city TEXT NOT NULL)"))
        conn.execute(text("ALTER TABLE users ADD COLUMN address_id INTEGER "
                          "REFERENCES postal_addresses(id)"))
        for uid in people:
            conn.execute(text("INSERT INTO postal_addresses VALUES (:i, :s, 'Bergen')"),
                         {"i": uid * 100, "s": f"Strandgaten {uid}"})
            conn.execute(text("UPDATE users SET address_id = :a WHERE id = :u"),
                         {"a": uid * 100, "u": uid})
    engine.dispose()
    path = demo / "personvern.yaml"
    source = path.read_text(encoding="utf-8")
    users = "      - name: users\n"
    assert source.count(users) == 1
    part = ("      - name: postal_addresses\n        erase: mask\n        columns:\n"
            "          - {name: street, categories: [user.contact.address]}\n"
            "          - {name: city, categories: [user.contact.address]}\n")
    source = source.replace(users, part + users, 1)
    # The user row's reference to its address, marked as its part.
    anchor = "          - {name: last_login_at, categories: [user.behavior], erase: \"null\"}\n"
    assert source.count(anchor) == 1
    path.write_text(source.replace(anchor, anchor + (
        "        references:\n"
        "          - {column: address_id, to: postal_addresses.id, part: true}\n"), 1),
        encoding="utf-8")


PAGE = 4096  # SQLite's page size in the demo's service.db


def left_behind(demo: Path, values: list[str]) -> list[str]:
    """'file page N: value' for every value readable in service.db or its WAL."""
    out = []
    for name in ("service.db", "service.db-wal"):
        path = demo / name
        data = path.read_bytes() if path.exists() else b""
        out += [f"{name} page {data.index(v.encode()) // PAGE + 1}: {v}"
                for v in values if v.encode() in data]
    return out


def demo_sides(template: Path, tmp_path: Path, clock: Clock, names: tuple[str, ...]
               ) -> Iterator[tuple[Runtime, Requests, Path]]:
    """A copy of the demo per name (its directory under ``tmp_path``), each opened with
    its runtime and request service: the same people treated two ways side by side."""
    for name in names:
        directory = tmp_path / name
        directory.mkdir()
        copy_demo(template, directory)
        rt = open_runtime(Settings(manifest=directory / "personvern.yaml",
                                   database_url=f"sqlite:///{directory / 'personvern.db'}"),
                          clock)
        yield rt, Requests(rt.sessions, Context(rt.consent, clock)), directory


def service_values(demo: Path, ids: tuple[int, ...]) -> list[str]:
    """The e-mail addresses, phones and names of the demo service's users ``ids``, as
    stored in service.db (what a byte scan must no longer find once they are erased)."""
    service_db = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    try:
        with service_db.connect() as conn:
            return [v for row in conn.execute(
                text(f"SELECT email, phone, name FROM users WHERE id IN "
                     f"({', '.join(str(int(i)) for i in ids)})")) for v in row if v]
    finally:
        service_db.dispose()
