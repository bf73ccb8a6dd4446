"""Encrypted column types: values are sealed with the row's subject key on flush and
opened on load, so mapped classes read and write plain values.

Use them in a service's own models too::

    class Customer(Base):
        __tablename__ = "customers"
        id: Mapped[int] = mapped_column(primary_key=True)
        subject_id: Mapped[str] = mapped_column(String(32))
        phone: Mapped[str | None] = mapped_column(EncryptedText("customers.phone"))

The subject's id must be an attribute of the same row (``subject=``, default
``subject_id``). A value of an erased subject reads as :data:`ERASED`.
"""

from __future__ import annotations

import json
import weakref
from functools import partial
from typing import Any

from sqlalchemy import JSON, Dialect, Text, event
from sqlalchemy.orm import Mapper, Session, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from personvern.crypto.envelope import is_envelope
from personvern.crypto.keyring import HASH_PREFIX, keyring_for

ERASED = "[erased]"
ERASED_JSON: dict[str, Any] = {"erased": ERASED}
_ALLOWED_OPS = {operators.is_, operators.is_not}


class Sealed(str):
    """A pv1 envelope as stored (not yet opened)."""

    __slots__ = ()


class _Encrypted(TypeDecorator[Any]):
    """Stores pv1 envelopes; refuses plain values and comparisons (they would never match)."""

    cache_ok = True

    def __init__(self, context: str, *, subject: str = "subject_id", lookup: str | None = None,
                 lookup_kind: str | None = None) -> None:
        super().__init__()
        self.context, self.subject = context, subject
        self.lookup, self.lookup_kind = lookup, lookup_kind

    class comparator_factory(TypeDecorator.Comparator[Any]):
        """Only IS NULL / IS NOT NULL: ciphertexts differ even for equal values."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op not in _ALLOWED_OPS:
                raise TypeError("an encrypted column cannot be compared or searched; "
                                "compare its keyed-hash lookup column instead")
            return super().operate(op, *other, **kwargs)

    def is_empty(self, value: Any) -> bool:
        """Values that hold nothing personal are stored as they are."""
        return value is None or value in ("", {}, [])

    def encode(self, value: Any) -> bytes:
        """The plaintext bytes of ``value``."""
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        """``value`` back from its plaintext bytes."""
        raise NotImplementedError

    erased: Any = ERASED

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Envelopes and empty values pass; a plain value is refused, never stored in clear."""
        if is_envelope(value):
            return str(value)
        if self.is_empty(value):
            return value
        raise ValueError(f"{self.context}: a plain value for an encrypted column; seal it "
                         "with Keyring.seal (mapped classes do it on flush)")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Envelopes come back as Sealed (opened by the load hook); others as stored."""
        return Sealed(value) if is_envelope(value) else value


class EncryptedText(_Encrypted):
    """A text column sealed with the row's subject key."""

    impl = Text
    cache_ok = True

    def encode(self, value: Any) -> bytes:
        """UTF-8."""
        return str(value).encode()

    def decode(self, data: bytes) -> Any:
        """UTF-8."""
        return data.decode()


class EncryptedJSON(_Encrypted):
    """A JSON column sealed with the row's subject key (stored as a JSON string)."""

    impl = JSON
    cache_ok = True
    erased = ERASED_JSON

    def encode(self, value: Any) -> bytes:
        """Canonical JSON."""
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str).encode()

    def decode(self, data: bytes) -> Any:
        """JSON."""
        return json.loads(data)


# ---- the ORM hooks: seal on flush, open on load --------------------------------------

Fields = list[tuple[str, _Encrypted]]
_PLAIN: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


@event.listens_for(Mapper, "mapper_configured")
def _watch(mapper: Mapper[Any], class_: type) -> None:
    fields: Fields = [(prop.key, col.type) for prop in mapper.column_attrs
                      for col in prop.columns if isinstance(col.type, _Encrypted)]
    if not fields:
        return
    event.listen(mapper, "before_insert", partial(_seal, fields, False))
    event.listen(mapper, "before_update", partial(_seal, fields, True))
    event.listen(mapper, "after_insert", _restore)
    event.listen(mapper, "after_update", _restore)
    event.listen(mapper, "load", partial(_open, fields))
    event.listen(mapper, "refresh", lambda target, ctx, attrs: _open(fields, target, ctx))


def _seal(fields: Fields, updating: bool, mapper: Mapper[Any], conn: Any, target: Any) -> None:
    from sqlalchemy import inspect

    keyring = keyring_for(object_session(target))
    state = inspect(target)
    plain: dict[str, Any] = {}
    for key, typ in fields:
        value = target.__dict__.get(key)
        # An attribute never set since load is not in committed_state: no history to read
        # (reading it for each of a batch's updated rows was most of this hook's time).
        if isinstance(value, Sealed) or (updating and (
                key not in state.committed_state or not state.attrs[key].history.added)):
            continue
        subject_id = getattr(target, typ.subject)
        if typ.lookup is not None:
            kind = getattr(target, typ.lookup_kind) if typ.lookup_kind else typ.context
            setattr(target, typ.lookup, None if value is None else
                    keyring.lookup_hash(conn, kind, str(value)))
        if typ.is_empty(value):
            continue
        plain[key] = value
        setattr(target, key, Sealed(keyring.seal(conn, subject_id, typ.context,
                                                 typ.encode(value))))
    if plain:
        _PLAIN[target] = plain


def _restore(mapper: Mapper[Any], conn: Any, target: Any) -> None:
    for key, value in _PLAIN.pop(target, {}).items():
        set_committed_value(target, key, value)


def _open(fields: Fields, target: Any, context: Any) -> None:
    session: Session = context.session
    for key, typ in fields:
        raw = target.__dict__.get(key)
        lookup = target.__dict__.get(typ.lookup) if typ.lookup is not None else None
        if isinstance(raw, Sealed) or (raw is None and _legacy(lookup)):
            set_committed_value(target, key, opened(session, typ, getattr(target, typ.subject),
                                                    raw, lookup))


def _legacy(lookup: Any) -> bool:
    """Whether a lookup column holds a plain value (a row written before encryption)."""
    return lookup is not None and not str(lookup).startswith(HASH_PREFIX)


def opened(session: Session, typ: _Encrypted, subject_id: str, raw: Any, lookup: Any = None
           ) -> Any:
    """A sealed column's value as the load hook gives a mapped row (a row read through Core):
    ``raw`` as the column type returns it, ``lookup`` the row's lookup column if it has
    one (a row written before encryption keeps its plain value there)."""
    if isinstance(raw, Sealed):
        keyring = keyring_for(session)
        # The connection only when there is something to open (a row loaded with its
        # sealed columns deferred has none).
        conn = None if keyring.store is not None else session.connection()
        data = keyring.open(conn, subject_id, typ.context, raw)
        return typ.erased if data is None else typ.decode(data)
    if raw is None and typ.lookup is not None and _legacy(lookup):
        return lookup
    return raw
