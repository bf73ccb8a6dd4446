"""A service encrypting its own columns with the engine's subject keys (EncryptedText /
EncryptedJSON), on SQLite and PostgreSQL: the example of docs/encryption.md."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, String, exc, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from personvern.crypto import ERASED, EncryptedJSON, EncryptedText, Keyring, MasterKey
from personvern.crypto.columns import ERASED_JSON
from personvern.crypto.envelope import CiphertextRejected
from personvern.crypto.keyring import SESSION_INFO
from personvern.errors import Conflict
from personvern.storage.engine import create_engine_for

NOW = datetime(2027, 3, 1, 11, tzinfo=UTC)
KARI, OLA = "a" * 32, "b" * 32


class ServiceBase(DeclarativeBase):
    """The service's own models (not Personvern's)."""


class Customer(ServiceBase):
    """A row of the service: its subject id, a sealed e-mail with a lookup, a sealed profile."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(EncryptedText("customers.email", lookup="email_lookup"))
    email_lookup: Mapped[str] = mapped_column(String(80), unique=True)
    profile: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("customers.profile"))


@pytest.fixture
def service_engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    # SQLite: the service has its own file; PostgreSQL: its tables beside the engine's.
    url = f"sqlite:///{tmp_path / 'service.db'}" if db_url.startswith("sqlite") else db_url
    engine = create_engine_for(url)
    ServiceBase.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def keyring(db_engine: Engine) -> Keyring:
    return Keyring(MasterKey.generate(), store=db_engine)


def session_of(engine: Engine, keyring: Keyring) -> Session:
    return Session(engine, info={SESSION_INFO: keyring})


def test_a_service_reads_and_writes_plain_values_and_stores_ciphertext(
        service_engine: Engine, keyring: Keyring) -> None:
    with session_of(service_engine, keyring) as s:
        s.add_all([Customer(subject_id=KARI, email="kari@example.no", profile={"born": 1990}),
                   Customer(subject_id=OLA, email="ola@example.no", profile=None)])
        s.commit()
        kari = s.scalars(select(Customer).where(Customer.subject_id == KARI)).one()
        assert kari.email == "kari@example.no"  # the object keeps its plain value after flush
    with service_engine.connect() as conn:
        rows = conn.execute(select(Customer.__table__)).mappings().all()
    for row in rows:
        assert row["email"].startswith("pv1:") and "example" not in row["email"]
        assert row["email_lookup"].startswith("h1:")
    assert next(r for r in rows if r["subject_id"] == KARI)["profile"].startswith("pv1:")
    with session_of(service_engine, keyring) as s:
        hashed = keyring.lookup_hash(None, "customers.email", "ola@example.no")
        ola = s.scalars(select(Customer).where(Customer.email_lookup == hashed)).one()
        assert (ola.email, ola.profile) == ("ola@example.no", None)
        ola.email = "ola.nordmann@example.no"
        s.commit()
    with session_of(service_engine, keyring) as s:
        moved = keyring.lookup_hash(None, "customers.email", "ola.nordmann@example.no")
        again = s.scalars(select(Customer).where(Customer.email_lookup == moved)).one()
        assert again.email == "ola.nordmann@example.no"


def test_plain_writes_and_comparisons_are_refused(service_engine: Engine,
                                                  keyring: Keyring) -> None:
    with service_engine.begin() as conn, pytest.raises(exc.StatementError,
                                                       match="plain value for an encrypted"):
        conn.execute(insert(Customer.__table__), {
            "subject_id": KARI, "email": "kari@example.no", "email_lookup": "x"})
    with pytest.raises(TypeError, match="cannot be compared"):
        select(Customer).where(Customer.email == "kari@example.no")


def test_a_ciphertext_moved_to_another_row_fails_and_a_shredded_one_reads_erased(
        service_engine: Engine, keyring: Keyring) -> None:
    with session_of(service_engine, keyring) as s:
        s.add_all([Customer(subject_id=KARI, email="kari@example.no", profile={"a": 1}),
                   Customer(subject_id=OLA, email="ola@example.no", profile={"b": 2})])
        s.commit()
    table = Customer.__table__
    with service_engine.begin() as conn:
        karis = conn.execute(select(table.c.email).where(table.c.subject_id == KARI)).scalar()
        conn.execute(update(table).where(table.c.subject_id == OLA).values(email=karis))
    with session_of(service_engine, keyring) as s, pytest.raises(CiphertextRejected):
        s.scalars(select(Customer).where(Customer.subject_id == OLA)).one()
    assert keyring.shred(None, KARI, NOW) is True
    with session_of(service_engine, keyring) as s:
        kari = s.scalars(select(Customer).where(Customer.subject_id == KARI)).one()
        assert (kari.email, kari.profile) == (ERASED, ERASED_JSON)
        with pytest.raises(Conflict, match="was erased"):
            s.add(Customer(subject_id=KARI, email="kari@new.example.no"))
            s.commit()
