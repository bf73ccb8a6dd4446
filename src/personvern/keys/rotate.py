"""Master-key rotation: every subject key rewrapped under a new master key, in batches,
each batch its own transaction, so an interrupted rotation resumes where it stopped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from personvern.audit import append_audit
from personvern.clock import Clock
from personvern.crypto.checkpoints import resign_checkpoints, sign_heads
from personvern.crypto.keyring import Keyring
from personvern.crypto.master import MasterKey
from personvern.crypto.tables import KeyRotation, SubjectKey
from personvern.errors import InvalidInput
from personvern.storage.session import transaction

_KEYS: Table = SubjectKey.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    id: int
    old_key_id: str
    new_key_id: str
    rewrapped: int
    resumed: bool

    def as_dict(self) -> dict[str, object]:
        """Plain JSON."""
        return dict(vars(self))


def rotate(sessions: sessionmaker[Session], clock: Clock, keyring: Keyring, new: MasterKey,
           *, batch: int = 500, actor: str = "owner",
           progress: Callable[[int], None] | None = None) -> Rotation:
    """Rewrap every key wrapped by ``keyring.master`` under ``new``, and re-sign the chains'
    checkpoints; audited, resumable."""
    old = keyring.master
    if batch < 1:
        raise InvalidInput(f"--batch must be at least 1, not {batch}")
    if new.key_id == old.key_id:
        raise InvalidInput(f"the new master key is the current one (id {old.key_id}); "
                           "create a new one with `personvern keys init-master --out FILE`")
    with transaction(sessions) as s:
        run = s.scalars(select(KeyRotation).where(
            KeyRotation.old_key_id == old.key_id, KeyRotation.new_key_id == new.key_id,
            KeyRotation.finished_at.is_(None))).first()
        done = None
        if run is None:
            done = s.scalars(select(KeyRotation).where(
                KeyRotation.old_key_id == old.key_id, KeyRotation.new_key_id == new.key_id,
                KeyRotation.finished_at.is_not(None))).first()
            # An engine still running with the old key after the run finished wraps new keys
            # under it; the engine then asks for this command again, so it reopens the run.
            if done is not None and _left_under(s, old.key_id):
                done.finished_at = None
                run = done
        resumed = run is not None
        if run is None:
            if done is not None:
                raise InvalidInput(
                    f"the rotation from master key {old.key_id} to {new.key_id} already "
                    f"finished at {done.finished_at:%Y-%m-%d %H:%M}; run Personvern with "
                    "the new key file")
            run = KeyRotation(old_key_id=old.key_id, new_key_id=new.key_id, started_at=clock(),
                              rewrapped=0)
            s.add(run)
            s.flush()
        append_audit(s, clock, actor, "crypto.rotation.resumed" if resumed else
                     "crypto.rotation.started", f"key_rotation:{run.id}",
                     {"old_key_id": old.key_id, "new_key_id": new.key_id})
        run_id = run.id
    pending = select(_KEYS.c.subject_id, _KEYS.c.wrapped).where(
        _KEYS.c.master_key_id == old.key_id).order_by(_KEYS.c.subject_id).limit(batch)
    while True:
        with transaction(sessions) as s:
            conn = s.connection()
            rows = conn.execute(pending).all()
            for sid, wrapped in rows:
                raw = keyring.unwrap(sid, wrapped, old.key_id)
                conn.execute(update(_KEYS).where(
                    _KEYS.c.subject_id == sid, _KEYS.c.master_key_id == old.key_id
                ).values(wrapped=keyring.wrap(sid, raw, new), master_key_id=new.key_id))
            current = s.get_one(KeyRotation, run_id)
            current.rewrapped += len(rows)
            if not rows:
                current.finished_at = clock()
                append_audit(s, clock, actor, "crypto.rotation.finished",
                             f"key_rotation:{run_id}",
                             {"old_key_id": old.key_id, "new_key_id": new.key_id,
                              "rewrapped": current.rewrapped})
                # In the same transaction: chain heads signed under the old key would read
                # as forged under the new one, and a kill must not leave a finished
                # rotation with heads the new key cannot verify. The event above is signed
                # first (the session's keyring holds the old key), so its head is among
                # those re-signed; the commit then finds nothing left to sign.
                sign_heads(s)
                resign_checkpoints(conn, old, new)
                total = current.rewrapped
        if not rows:
            break
        if progress is not None:
            progress(len(rows))
    keyring.clear_cache()
    return Rotation(run_id, old.key_id, new.key_id, total, resumed)


def _left_under(s: Session, key_id: str) -> bool:
    """Whether any subject key is still wrapped under master key ``key_id``."""
    return s.scalar(select(_KEYS.c.subject_id).where(
        _KEYS.c.master_key_id == key_id).limit(1)) is not None
