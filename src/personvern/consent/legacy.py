"""Identities written before encryption (or by bulk Core inserts): sealed in place."""

from __future__ import annotations

from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.orm import Session

from personvern.consent.tables import Identity
from personvern.crypto.keyring import Keyring

_IDS: Table = Identity.__table__  # type: ignore[assignment]
_CONTEXT = "subject_identities.value"
_SEAL = update(_IDS).where(_IDS.c.id == bindparam("_id")).values(
    value=bindparam("_lookup"), sealed=bindparam("_sealed"))


def seal_legacy_identities(session: Session, keyring: Keyring, *, batch: int = 2000) -> int:
    """Replace plain identity values by their keyed hash and sealed value; how many."""
    conn = session.connection()
    if not inspect(conn).has_table(_IDS.name):
        return 0
    query = (select(_IDS.c.id, _IDS.c.subject_id, _IDS.c.kind, _IDS.c.value)
             .where(_IDS.c.sealed.is_(None)).order_by(_IDS.c.id).limit(batch))
    done = 0
    while rows := conn.execute(query).all():
        conn.execute(_SEAL, [
            {"_id": r.id, "_lookup": keyring.lookup_hash(conn, r.kind, r.value),
             "_sealed": keyring.seal(conn, r.subject_id, _CONTEXT, r.value.encode())}
            for r in rows])
        done += len(rows)
    return done
