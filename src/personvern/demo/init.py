"""``personvern demo init``: the demo service, its manifest and the engine's database in DIR."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, insert, select

from personvern.demo import schema
from personvern.demo.generate import Counts, generate
from personvern.errors import InvalidInput

if TYPE_CHECKING:
    from personvern.crypto.keyring import Keyring
    from personvern.crypto.master import MasterKey

MANIFEST_TEMPLATE = Path(__file__).with_name("manifest.yaml")
IDENTITY_CONTEXT = "subject_identities.value"


@dataclass(frozen=True)
class DemoFiles:
    """What ``init_demo`` wrote."""

    directory: Path
    manifest: Path
    service_url: str
    engine_url: str
    counts: Counts
    # The master key file written into the directory; None when one was configured already.
    key_file: Path | None = None


def init_demo(
    directory: Path, subjects: int, *, now: datetime, seed: int = 7, force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> DemoFiles:
    """Write service.db, personvern.yaml and personvern.db into ``directory``.

    The engine's identities are sealed with the configured master key; without one a new
    key file, ``master.key``, is written into ``directory`` (kept across --force).
    """
    from personvern.crypto.keyring import Keyring
    from personvern.manifest.loader import load_manifest
    from personvern.storage.engine import create_engine_for
    from personvern.storage.migrate import upgrade

    if subjects < 3:
        raise InvalidInput("--subjects must be at least 3 (a parent, a pupil and a mentor)")
    directory = directory.resolve()
    names = ("service.db", "personvern.yaml", "personvern.db")
    existing = [n for n in names if (directory / n).exists()]
    if existing and not force:
        raise InvalidInput(f"{directory} already holds {', '.join(existing)}; use --force")
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        for suffix in ("", "-wal", "-shm"):
            (directory / f"{name}{suffix}").unlink(missing_ok=True)
    service_url = f"sqlite:///{directory / 'service.db'}"
    engine_url = f"sqlite:///{directory / 'personvern.db'}"
    service = create_engine_for(service_url)
    try:
        counts = generate(service, subjects, now=now, seed=seed, progress=progress)
        people = _people(service)
    finally:
        service.dispose()
    manifest = directory / "personvern.yaml"
    manifest.write_text(
        MANIFEST_TEMPLATE.read_text(encoding="utf-8").replace("{service_url}", service_url),
        encoding="utf-8",
    )
    load_manifest(manifest)  # the demo must be valid; fail here, not in front of a user
    upgrade(engine_url)
    master, key_file = _master_key(directory)
    _register_subjects(engine_url, people, now, seed, Keyring(master))
    return DemoFiles(directory, manifest, service_url, engine_url, counts, key_file)


def _master_key(directory: Path) -> tuple[MasterKey, Path | None]:
    """The configured master key, else the one in DIR/master.key (written if missing)."""
    from personvern.crypto.master import ENV_FILE, ENV_KEY, read_key_file, write_key_file

    if os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY):
        from personvern.crypto.master import load_master_key
        from personvern.settings import get_settings

        return load_master_key(get_settings()), None
    path = directory / "master.key"
    return (read_key_file(path) if path.exists() else write_key_file(path)), path


def _people(service: object) -> list[tuple[int, str, str | None, object, str, bool]]:
    from sqlalchemy import Engine

    assert isinstance(service, Engine)
    payers = schema.purchases.c.payer_id
    with service.connect() as conn:
        customers = set(conn.scalars(select(payers).distinct()))
        rows = conn.execute(select(
            schema.users.c.id, schema.users.c.email, schema.users.c.phone,
            schema.users.c.birth_date, schema.users.c.role,
        ).order_by(schema.users.c.id)).all()
    return [(r.id, r.email, r.phone, r.birth_date, r.role, r.id in customers) for r in rows]


def _register_subjects(
    engine_url: str, people: list[tuple[int, str, str | None, object, str, bool]],
    now: datetime, seed: int, keyring: Keyring | None = None,
) -> None:
    """Every demo user as a subject of the engine, with e-mail, phone and user id, sealed
    with ``keyring`` (the process's by default)."""
    from personvern.consent.tables import Guardianship, Identity, Subject
    from personvern.crypto.keyring import default_keyring
    from personvern.storage.engine import create_engine_for

    keyring = keyring or default_keyring()
    rng = random.Random(seed)
    ids = {uid: f"{rng.getrandbits(128):032x}" for uid, *_ in people}
    engine = create_engine_for(engine_url)
    try:
        with engine.begin() as conn:
            for start in range(0, len(people), 20_000):
                chunk = people[start:start + 20_000]
                conn.execute(insert(Subject), [
                    {"id": ids[uid], "created_at": now, "kind": role, "birth_date": born,
                     "existing_customer": customer}
                    for uid, _, _, born, role, customer in chunk])
                identities = []
                for uid, email, phone, *_ in chunk:
                    found = [("email", email), ("external_id", str(uid))]
                    found += [("phone", phone)] if phone else []
                    identities += [{
                        "subject_id": ids[uid], "kind": kind, "created_at": now,
                        "value": keyring.lookup_hash(conn, kind, value),  # the lookup column
                        "sealed": keyring.seal(conn, ids[uid], IDENTITY_CONTEXT, value.encode()),
                    } for kind, value in found]
                conn.execute(insert(cast(Table, Identity.__table__)), identities)
        service_links = _guardian_links(engine_url)
        if service_links:
            with engine.begin() as conn:
                conn.execute(insert(Guardianship), [
                    {"guardian_id": ids[g], "child_id": ids[c], "verified_by": "demo data",
                     "created_at": now} for g, c in service_links])
    finally:
        engine.dispose()


def _guardian_links(engine_url: str) -> list[tuple[int, int]]:
    from personvern.storage.engine import create_engine_for

    service = create_engine_for(engine_url.replace("personvern.db", "service.db"))
    try:
        with service.connect() as conn:
            return [(r.guardian_id, r.child_id) for r in conn.execute(
                select(schema.guardians.c.guardian_id, schema.guardians.c.child_id))]
    finally:
        service.dispose()
