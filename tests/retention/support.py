"""Small hand-built service databases and manifests derived from ``examples/`` for the
retention tests, on SQLite or PostgreSQL (``db_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import MetaData, text

from personvern import retention
from personvern.clock import fixed_clock
from personvern.consent.events import EventType
from personvern.consent.service import record_event
from personvern.consent.subjects import create_subject
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def urls(db_url: str, tmp_path: Path) -> tuple[str, str]:
    """(engine URL, service URL): on PostgreSQL both live in the one throwaway database
    (their tables do not clash); on SQLite the service gets a file of its own."""
    if db_url.startswith("sqlite"):
        return db_url, f"sqlite:///{tmp_path / 'service.db'}"
    return db_url, db_url


def build_service(url: str, metadata: MetaData, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Create the service's tables and fill them."""
    engine = create_engine_for(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                if rows.get(table.name):
                    conn.execute(table.insert(), rows[table.name])
    finally:
        engine.dispose()


def write_manifest(path: Path, example: str, datasets: list[dict[str, Any]],
                   replace: dict[str, str] | None = None) -> Path:
    """``examples/<example>.yaml`` with the given data map (text edits in ``replace``).

    Text, not a YAML round trip: a round trip would turn the country ``NO`` into false."""
    text = (EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8")
    if "\ndatasets:" in text:
        text = text[:text.index("\ndatasets:")]
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    text = text.rstrip() + "\n\n" + yaml.safe_dump({"datasets": datasets}, allow_unicode=True,
                                                  sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def runtime(manifest: Path, engine_url: str, at: datetime) -> Iterator[Runtime]:
    """The engine for ``manifest`` with its clock at ``at``."""
    rt = open_runtime(Settings(manifest=manifest, database_url=engine_url), fixed_clock(at))
    try:
        yield rt
    finally:
        rt.close()


def person(rt: Runtime, at: datetime, email: str, user_id: int | None = None,
           kind: str | None = None, consents: tuple[str, ...] = ()) -> str:
    """A subject of the engine with e-mail (and user id), consents given at ``at``."""
    ids = {"email": email}
    if user_id is not None:
        ids["external_id"] = str(user_id)
    with rt.transaction() as s:
        subject, _ = create_subject(s, fixed_clock(at), ids, kind=kind)
        for purpose in consents:
            record_event(s, rt.consent, at, subject.id, EventType.CONSENT_GIVEN,
                         purpose_id=purpose)
        return subject.id


def withdraw(rt: Runtime, at: datetime, subject_id: str, purposes: tuple[str, ...]) -> None:
    """Record the person withdrawing consent for ``purposes`` at ``at``."""
    with rt.transaction() as s:
        for purpose in purposes:
            record_event(s, rt.consent, at, subject_id, EventType.CONSENT_WITHDRAWN,
                         purpose_id=purpose)


def sweep(rt: Runtime, at: datetime, *, batch: int = 1000) -> dict[str, Any]:
    """Run the sweep at ``at``; its plain report."""
    from personvern.requests.engine import Requests

    service = Requests.of(rt)
    try:
        _, data = retention.run(rt.loaded, rt.sessions, at, reason="test sweep", batch=batch,
                                requests=service)
    finally:
        service.close()
    return data


def plan(rt: Runtime, at: datetime) -> dict[str, Any]:
    """The plan at ``at``."""
    _, data = retention.plan(rt.loaded, rt.sessions, at, consent=rt.consent)
    return data


def scalar(url: str, sql: str, **params: Any) -> Any:
    """One value from the service's database."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def column(url: str, sql: str, **params: Any) -> list[Any]:
    """A column of values from the service's database, in order."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).scalars())
    finally:
        engine.dispose()


def create_service_update(url: str, sql: str, **params: Any) -> None:
    """Change the service's data as the service itself would."""
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()
