"""Tables of the engine's own database (SQLAlchemy 2 typed declarative models)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Fixed constraint names, so migrations can drop and alter them by name on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SHA256_HEX = 64


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive time is refused, because its meaning depends on the machine."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()} cannot be stored; give it an offset")
    return at.astimezone(UTC)


class AwareDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC on every database, never naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive times (their meaning depends on the machine) and store UTC."""
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC back out; SQLite keeps no offset, so the stored UTC is labelled as such."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # The two methods above, each fused with the dialect's own conversion into one
    # function: SQLAlchemy's generic wrapper calls through two more layers per value, and a
    # batch of 200 erasures binds some 2,900 timestamps and reads 1,800 (about 5 ms of it).
    # What goes in and comes out is the same: the same checks, then the same conversion.
    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any]:
        """:meth:`process_bind_param`, then the dialect's conversion, in one call."""
        impl = self.impl_instance.bind_processor(dialect)

        def process(value: datetime | None) -> Any:
            if value is None:
                return None
            # as_utc leaves a UTC time as it is (astimezone to its own zone is itself).
            utc = value if value.tzinfo is UTC else as_utc(value)
            return utc if impl is None else impl(utc)
        return process

    def result_processor(self, dialect: Dialect, coltype: object
                         ) -> Callable[[Any], datetime | None]:
        """The dialect's conversion, then :meth:`process_result_value`, in one call."""
        impl = self.impl_instance.result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if impl is not None:
                value = impl(value)
            if value is None:
                return None
            at: datetime = value
            return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        return process


class Base(DeclarativeBase):
    """Base of every Personvern table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: AwareDateTime()}  # noqa: RUF012 (SQLAlchemy API)


class ManifestVersion(Base):
    """One distinct manifest text the engine has loaded, kept so every decision can cite it."""

    __tablename__ = "manifest_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX), unique=True)
    service: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(index=True)
    text: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<ManifestVersion {self.id} {self.service!r} {self.sha256[:12]}>"


class AuditEvent(Base):
    """One entry of the append-only audit trail; ``hash`` chains it to the one before."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "target", "id"),)

    # Assigned by append_audit (previous id + 1, under a lock), not by the database, so the
    # id is part of the hash and a renumbered or reordered trail is detected.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Unique: each event can be followed by one event only, so the chain cannot fork even
    # if two writers slipped past the lock.
    prev_hash: Mapped[str] = mapped_column(String(SHA256_HEX), unique=True)
    hash: Mapped[str] = mapped_column(String(SHA256_HEX), unique=True)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.target!r}>"
