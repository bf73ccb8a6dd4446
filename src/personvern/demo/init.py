"""``personvern demo init``: the demo service, its manifest and the engine's database in DIR."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, insert

from personvern.demo.templates import DEFAULT, Generated, Template, get_template
from personvern.errors import InvalidInput

if TYPE_CHECKING:
    from personvern.crypto.keyring import Keyring
    from personvern.crypto.master import MasterKey

IDENTITY_CONTEXT = "subject_identities.value"


@dataclass(frozen=True)
class DemoFiles:
    """What ``init_demo`` wrote."""

    directory: Path
    manifest: Path
    service_url: str
    engine_url: str
    counts: dict[str, int]
    # The master key file written into the directory; None when one was configured already.
    key_file: Path | None = None
    template: str = DEFAULT
    # The environment variable the seed's example manifest reads the service's URL from.
    url_env: str = ""


def init_demo(
    directory: Path, subjects: int, *, now: datetime, seed: int = 7, force: bool = False,
    progress: Callable[[int], None] | None = None, template: str = DEFAULT,
) -> DemoFiles:
    """Write service.db, personvern.yaml and personvern.db into ``directory``.

    ``template`` names the seed whose service is written (``TEMPLATES``). The engine's
    identities are sealed with the configured master key; without one a new key file,
    ``master.key``, is written into ``directory`` (kept across --force).
    """
    from personvern.crypto.keyring import Keyring
    from personvern.manifest.loader import load_manifest
    from personvern.storage.engine import create_engine_for
    from personvern.storage.migrate import upgrade

    spec = get_template(template)
    if subjects < spec.min_subjects:
        raise InvalidInput(f"--subjects must be at least {spec.min_subjects} for the "
                           f"{spec.name} demo ({spec.who})")
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
        generated = spec.generate(service, subjects, now=now, seed=seed, progress=progress)
    finally:
        service.dispose()
    manifest = directory / "personvern.yaml"
    manifest.write_text(manifest_text(spec, service_url), encoding="utf-8")
    load_manifest(manifest)  # the demo must be valid; fail here, not in front of a user
    upgrade(engine_url)
    master, key_file = _master_key(directory)
    _register_subjects(engine_url, generated, now, seed, Keyring(master))
    return DemoFiles(directory, manifest, service_url, engine_url, generated.counts, key_file,
                     spec.name, spec.url_env)


def manifest_text(spec: Template, service_url: str) -> str:
    """The template's manifest with its dataset's URL written in, where the source reads
    it from the environment (``url_env``): one data map, in the example and the demo."""
    text = spec.manifest.read_text(encoding="utf-8")
    line = f"url_env: {spec.url_env}\n"
    if text.count(line) != 1:
        raise InvalidInput(f"{spec.manifest}: expected one dataset with {line.strip()!r}")
    return text.replace(line, f"url: {json.dumps(service_url)}\n")


def _master_key(directory: Path) -> tuple[MasterKey, Path | None]:
    """The configured master key, else the one in DIR/master.key (written if missing)."""
    from personvern.crypto.master import ENV_FILE, ENV_KEY, read_key_file, write_key_file

    if os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY):
        from personvern.crypto.master import load_master_key
        from personvern.settings import get_settings

        return load_master_key(get_settings()), None
    path = directory / "master.key"
    return (read_key_file(path) if path.exists() else write_key_file(path)), path


def _register_subjects(
    engine_url: str, generated: Generated, now: datetime, seed: int,
    keyring: Keyring | None = None,
) -> None:
    """Every person of the demo service as a subject of the engine, with e-mail, phone and
    user id, sealed with ``keyring`` (the process's by default); the guardianships the
    service records as the engine's guardian links, its customer organisations as the
    engine's organisations with their members and admins."""
    from personvern.consent.tables import Guardianship, Identity, Membership, Organisation, Subject
    from personvern.crypto.keyring import default_keyring
    from personvern.storage.engine import create_engine_for

    keyring = keyring or default_keyring()
    rng = random.Random(seed)
    people = generated.people
    ids = {p.email: f"{rng.getrandbits(128):032x}" for p in people}
    engine = create_engine_for(engine_url)
    try:
        with engine.begin() as conn:
            for start in range(0, len(people), 20_000):
                chunk = people[start:start + 20_000]
                conn.execute(insert(Subject), [
                    {"id": ids[p.email], "created_at": now, "kind": p.kind,
                     "birth_date": p.birth_date, "existing_customer": p.customer}
                    for p in chunk])
                identities = []
                for p in chunk:
                    found = [("email", p.email)]
                    found += [("external_id", str(p.uid))] if p.uid is not None else []
                    found += [("phone", p.phone)] if p.phone else []
                    identities += [{
                        "subject_id": ids[p.email], "kind": kind, "created_at": now,
                        "value": keyring.lookup_hash(conn, kind, value),  # the lookup column
                        "sealed": keyring.seal(conn, ids[p.email], IDENTITY_CONTEXT,
                                               value.encode()),
                    } for kind, value in found]
                conn.execute(insert(cast(Table, Identity.__table__)), identities)
        if generated.guardians:
            with engine.begin() as conn:
                conn.execute(insert(Guardianship), [
                    {"guardian_id": ids[g], "child_id": ids[c], "verified_by": "demo data",
                     "created_at": now} for g, c in generated.guardians])
        if generated.organisations:
            org_ids = [f"{rng.getrandbits(128):032x}" for _ in generated.organisations]
            with engine.begin() as conn:
                conn.execute(insert(Organisation), [
                    {"id": oid, "name": name, "orgnr": orgnr, "created_at": now}
                    for oid, (name, orgnr, _) in zip(org_ids, generated.organisations,
                                                     strict=True)])
                conn.execute(insert(Membership), [
                    {"organisation_id": oid, "subject_id": ids[email], "role": role,
                     "created_at": now}
                    for oid, (_, _, members) in zip(org_ids, generated.organisations,
                                                    strict=True)
                    for email, role in members])
    finally:
        engine.dispose()
