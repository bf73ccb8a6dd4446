"""Destroying a subject's key: the one call both erasure paths (a completed erasure
request, a retention sweep) make."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from personvern.audit import append_audit
from personvern.clock import fixed_clock
from personvern.crypto.keyring import GET_KEY, keyring_for
from personvern.mail.scrub import cancel_and_scrub
from personvern.storage.engine import sqlite_checkpoint
from personvern.storage.session import NOTHING_KEPT

_CHECKPOINT = "personvern.checkpoint"


def shred_subject(session: Session, subject_id: str, *, at: datetime, actor: str = "system",
                  reason: str = "erasure") -> bool:
    """Destroy the subject's key in the session's transaction, audited; whether one existed.

    Every ciphertext of the subject becomes unreadable; copies in backups too, once the
    master key those backups' wrapped keys need is retired (see docs/encryption.md).
    """
    keyring = keyring_for(session)
    conn = session.connection()
    row = conn.execute(GET_KEY, {"sid": subject_id}).first()
    old_id = row.master_key_id if row is not None else None
    destroyed = keyring.shred(conn, subject_id, at)
    cancel_and_scrub(session, [subject_id])
    append_audit(session, fixed_clock(at), actor, "crypto.shredded", f"subject:{subject_id}",
                 {"destroyed": destroyed, "master_key_id": old_id, "reason": reason})
    _checkpoint_after_commit(session)
    return destroyed


def shred_subjects(session: Session, subject_ids: Sequence[str], *, at: datetime,
                   actor: str = "system", reasons: Mapping[str, str] | None = None,
                   chunk: int = 500) -> dict[str, bool]:
    """:func:`shred_subject` for many subjects, set-based (a batch erasure): their keys
    destroyed a statement per chunk, their moot mail cancelled and it and their sent mail
    blanked in one more, then each subject's own ``crypto.shredded`` event, as one at a time
    would write it (``reasons``: per subject, else "erasure"). Whether a key was
    destroyed, per subject."""
    ids = list(dict.fromkeys(subject_ids))
    if not ids:
        return {}
    keyring = keyring_for(session)
    # The keys are read once, by the keyring, for what it destroys and what was wrapping it.
    shredded = keyring.shred_many(session.connection(), ids, at, chunk=chunk)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        cancel_and_scrub(session, part)
    clock = fixed_clock(at)
    for sid in ids:
        append_audit(session, clock, actor, "crypto.shredded", f"subject:{sid}",
                     {"destroyed": shredded[sid][0], "master_key_id": shredded[sid][1],
                      "reason": (reasons or {}).get(sid, "erasure")})
    _checkpoint_after_commit(session)
    return {sid: destroyed for sid, (destroyed, _) in shredded.items()}


def _checkpoint_after_commit(session: Session) -> None:
    """Once the erasure commits, fold SQLite's WAL into the file and truncate it."""
    if session.info.get(_CHECKPOINT) or session.get_bind().dialect.name != "sqlite":
        return
    if session.info.get(NOTHING_KEPT):  # nothing reaches the file: nothing to fold
        return
    session.info[_CHECKPOINT] = True

    def checkpoint(s: Session) -> None:
        s.info.pop(_CHECKPOINT, None)
        bind = s.get_bind()
        sqlite_checkpoint(bind if isinstance(bind, Engine) else bind.engine)

    event.listen(session, "after_commit", checkpoint, once=True)
    event.listen(session, "after_rollback",
                 lambda s: s.info.pop(_CHECKPOINT, None), once=True)
