"""The running engine: settings, the manifest in force, the database, the clock.

The CLI, the web app and jobs build one Runtime from Settings and pass it down;
nothing opens a database or reads a manifest at import time. Feature modules are
imported inside the functions that use them, so a command that needs one feature does
not pay for loading every other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from personvern.clock import Clock, system_clock
from personvern.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Engine, ScalarSelect
    from sqlalchemy.orm import Session, sessionmaker

    from personvern.apikeys import KeyCache
    from personvern.consent.group import GroupCommit
    from personvern.consent.service import ConsentContext
    from personvern.crypto.keyring import Keyring
    from personvern.crypto.master import MasterKey
    from personvern.manifest.loader import LoadedManifest
    from personvern.policy.versions import PolicyTimeline


def _key_cache() -> KeyCache:
    """A fresh API-key cache (imported late: the CLI's start-up stays light)."""
    from personvern.apikeys import KeyCache

    return KeyCache()


class EngineSources:
    """What consent decisions learn from the layers above consent: a restriction (the
    requests), the purposes retention still allows, material policy changes (the policy's
    versions). Each is imported on first use: the CLI's start-up stays light."""

    def __init__(self) -> None:
        self._timeline: PolicyTimeline | None = None

    def restricted_since_of(self, subject_id: ColumnElement[str]
                            ) -> ScalarSelect[datetime | None]:
        """When the person's restriction began (GDPR Art. 18), as SQL; NULL when none."""
        from personvern.requests.restrict import restricted_since_of

        return restricted_since_of(subject_id)

    def retained_for_of(self, subject_id: ColumnElement[str]
                        ) -> ScalarSelect[list[str] | None]:
        """The only purposes retention still allows for the person, as SQL; NULL: none."""
        from personvern.retention.people import retained_for_of

        return retained_for_of(subject_id)

    def forget_policy(self) -> None:
        """Reload the policy's versions at the next question (one was published)."""
        if self._timeline is not None:
            self._timeline.forget()

    def fresh_consent_since(self, session: Session | None, at: datetime, purpose: str
                            ) -> datetime | None:
        """When consent for ``purpose`` must be newer than (a material policy change)."""
        if self._timeline is None:
            from personvern.policy.versions import PolicyTimeline

            self._timeline = PolicyTimeline()
        return self._timeline.since(session, at, purpose)


@dataclass
class Runtime:
    """Everything a command or request needs, built once."""

    settings: Settings
    loaded: LoadedManifest
    consent: ConsentContext
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    keyring: Keyring
    keys: KeyCache = field(default_factory=_key_cache)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction (committed on success, rolled back on error)."""
        from personvern.storage.session import transaction

        with transaction(self.sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads that need no snapshot of their own: no transaction is held,
        each statement sees the database as it is when it runs, and no BEGIN and no COMMIT
        are sent (two round trips less on PostgreSQL). Nothing may be written through it:
        on SQLite a write is rolled back and raises RuntimeError."""
        from sqlalchemy.orm import Session

        from personvern.storage.engine import storage_errors

        with storage_errors(self.engine.url), self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            # SQLite's driver begins a transaction only before a write, so reads on the
            # connection as it is already run on their own. Switched to autocommit, the
            # connection is switched back at check-in with a PRAGMA after which SQLite
            # re-prepares every statement it has cached (docs/performance.md, stop 25).
            if not sqlite:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            driver: Any = conn.connection.driver_connection if sqlite else None  # sqlite3's
            with Session(conn, expire_on_commit=False) as session:
                yield session
                # A write made the driver begin a transaction: refused, not kept silently
                # nor lost silently (the session's close rolls it back).
                if driver is not None and driver.in_transaction:
                    raise RuntimeError("a write through Runtime.reading; "
                                       "write in Runtime.transaction")

    @cached_property
    def ledger_writes(self) -> GroupCommit:
        """Consent writes of concurrent requests, committed several to a transaction."""
        from personvern.consent.group import GroupCommit
        from personvern.consent.service import preload_subjects

        return GroupCommit(self.sessions, preload=preload_subjects)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def open_runtime(
    settings: Settings, clock: Clock = system_clock, *, migrate: bool = True,
    previous_keys: Sequence[MasterKey] = (),
) -> Runtime:
    """Load the manifest, open (and by default migrate) the database, record the manifest.

    The manifest text's SHA-256 is the policy version consent events are tied to. Without
    a master key, or with the wrong one, it refuses to start (ConfigurationError).
    """
    from personvern.consent.legacy import seal_legacy_identities
    from personvern.consent.service import ConsentContext
    from personvern.crypto.keyring import Keyring, use_keyring
    from personvern.crypto.master import load_master_key
    from personvern.manifest.loader import load_manifest
    from personvern.storage.engine import create_engine_for
    from personvern.storage.manifests import record_manifest
    from personvern.storage.migrate import upgrade
    from personvern.storage.session import make_sessionmaker, transaction

    keyring = Keyring(load_master_key(settings), previous=previous_keys)
    loaded = load_manifest(settings.manifest, max_bytes=settings.max_manifest_bytes)
    if migrate:
        upgrade(settings.database_url)
    engine = create_engine_for(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        with transaction(sessions) as session:
            keyring.check(session.connection())
            version = record_manifest(session, clock, loaded.manifest.service.name, loaded.text)
        use_keyring(keyring)
        with transaction(sessions) as session:
            seal_legacy_identities(session, keyring)
    except BaseException:
        engine.dispose()
        raise
    ctx = ConsentContext.of(loaded.manifest, version.sha256, EngineSources())
    return Runtime(settings, loaded, ctx, engine, sessions, clock, keyring)
