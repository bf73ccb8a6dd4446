"""Subject keys on SQLite and PostgreSQL: sealing, binding to row and column, shredding,
the erased marker, a wrong master key, rollbacks, and chains that verify after shredding."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from personvern.audit import append_audit, personal_details, verify_audit_chain
from personvern.clock import fixed_clock
from personvern.consent.events import Actor, Channel, EventType
from personvern.consent.ledger import NewEvent, append_event, evidence_of, verify_ledger
from personvern.consent.subjects import create_subject, find_subject, identities_of
from personvern.consent.tables import Identity, LedgerEvidence
from personvern.crypto import ERASED, Keyring, MasterKey
from personvern.crypto.columns import ERASED_JSON
from personvern.crypto.envelope import CiphertextRejected
from personvern.crypto.keyring import keyring_for
from personvern.crypto.tables import SubjectKey
from personvern.errors import ConfigurationError, Conflict
from personvern.keys.shred import shred_subject, shred_subjects
from personvern.storage.models import AuditEvent

NOW = datetime(2027, 3, 1, 11, tzinfo=UTC)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(MasterKey.generate())


def test_seal_and_open_bind_subject_and_column(db_engine: Engine, keyring: Keyring) -> None:
    with db_engine.begin() as conn:
        one = keyring.seal(conn, "a" * 32, "t.email", b"kari@example.no")
        again = keyring.seal(conn, "a" * 32, "t.email", b"kari@example.no")
        assert one != again and one.startswith("pv1:")  # a fresh nonce every time
        assert b"kari" not in base64.b64decode(one[4:])
        assert keyring.open(conn, "a" * 32, "t.email", one) == b"kari@example.no"
        keyring.key(conn, "b" * 32, create=True)
        with pytest.raises(CiphertextRejected, match="copied from another row or column"):
            keyring.open(conn, "b" * 32, "t.email", one)  # moved to another subject's row
        with pytest.raises(CiphertextRejected):
            keyring.open(conn, "a" * 32, "t.phone", one)  # moved to another column
        flipped = one[:-6] + ("A" if one[-6] != "A" else "B") + one[-5:]
        with pytest.raises(CiphertextRejected):
            keyring.open(conn, "a" * 32, "t.email", flipped)


def test_shredding_leaves_a_tombstone_and_an_erased_marker(
        db_session: Session, clock: object) -> None:
    subject, _ = create_subject(db_session, fixed_clock(NOW), {"email": "ola@example.no"})
    append_event(db_session, NOW, NewEvent(subject.id, EventType.CONSENT_GIVEN, Actor.SELF,
                                           Channel.API, purpose="newsletter",
                                           evidence={"name": "Ola Nordmann"}))
    append_audit(db_session, fixed_clock(NOW), "owner", "note", f"subject:{subject.id}",
                 {"kind": "call"}, personal={"said": "Ola called"}, subject_id=subject.id)
    db_session.commit()
    raw = db_session.execute(select(LedgerEvidence.__table__.c.data)).scalar_one()
    assert isinstance(raw, str) and raw.startswith("pv1:") and "Ola" not in raw
    assert shred_subject(db_session, subject.id, at=NOW) is True
    db_session.commit()
    db_session.expire_all()
    row = db_session.get(SubjectKey, subject.id)
    assert row is not None and row.wrapped is None and row.shredded_at is not None
    assert evidence_of(db_session, 1) == ERASED_JSON
    assert [i.value for i in identities_of(db_session, subject.id)] == [ERASED]
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "note")).one()
    assert personal_details(db_session, event) == ERASED_JSON
    # Both chains hash what stays (the ciphertext), so they still verify.
    assert verify_ledger(db_session) is None and verify_audit_chain(db_session) is None
    shredded = db_session.scalars(select(AuditEvent).where(
        AuditEvent.action == "crypto.shredded")).one()
    assert shredded.details["destroyed"] is True and shredded.target == f"subject:{subject.id}"
    with pytest.raises(Conflict, match="was erased"):
        append_event(db_session, NOW, NewEvent(subject.id, EventType.CONSENT_GIVEN,
                                               Actor.SELF, Channel.API, purpose="newsletter",
                                               evidence={"again": True}))
    assert shred_subject(db_session, subject.id, at=NOW) is False  # idempotent


def test_keys_destroyed_together_never_decrypt_again(db_session: Session) -> None:
    """A batch erasure (GDPR Art. 17) destroys its people's keys in one statement: each
    is as gone as one destroyed alone — nothing of theirs opens, in this process (its
    cache) or any other, nothing new can be sealed for them, and each is audited."""
    clock = fixed_clock(NOW)
    kari, _ = create_subject(db_session, clock, {"email": "kari@example.no"})
    ola, _ = create_subject(db_session, clock, {"email": "ola@example.no"})
    keep, _ = create_subject(db_session, clock, {"email": "per@example.no"})
    never = "d" * 32  # a subject the engine never sealed anything for: no key at all
    keyring = keyring_for(db_session)
    conn = db_session.connection()
    sealed = {sid: keyring.seal(conn, sid, "t.note", sid.encode())
              for sid in (kari.id, ola.id, keep.id)}
    for sid, text in sealed.items():  # cached in this process, as a server would have it
        assert keyring.open(conn, sid, "t.note", text) == sid.encode()
    db_session.commit()
    destroyed = shred_subjects(db_session, [kari.id, ola.id, never], at=NOW,
                               reasons={kari.id: "request:one", ola.id: "request:two"})
    assert destroyed == {kari.id: True, ola.id: True, never: False}
    db_session.commit()
    db_session.expire_all()
    conn = db_session.connection()
    for sid in (kari.id, ola.id):
        assert keyring.open(conn, sid, "t.note", sealed[sid]) is None  # not from the cache
        assert [i.value for i in identities_of(db_session, sid)] == [ERASED]
        with pytest.raises(Conflict, match="was erased"):
            keyring.seal(conn, sid, "t.note", b"anything new")
    keyring.clear_cache()  # as another process: the database holds no key either
    assert keyring.open(conn, kari.id, "t.note", sealed[kari.id]) is None
    for sid in (kari.id, ola.id, never):  # a tombstone each, the one never made too
        row = db_session.get(SubjectKey, sid)
        assert row is not None and row.wrapped is None and row.shredded_at == NOW
    assert keyring.open(conn, keep.id, "t.note", sealed[keep.id]) == keep.id.encode()
    audited = {e.target: e.details for e in db_session.scalars(select(AuditEvent).where(
        AuditEvent.action == "crypto.shredded"))}
    assert audited[f"subject:{kari.id}"]["destroyed"] is True
    assert audited[f"subject:{kari.id}"]["reason"] == "request:one"
    assert audited[f"subject:{never}"]["destroyed"] is False
    assert audited[f"subject:{never}"]["reason"] == "erasure"
    assert len(audited) == 3 and verify_audit_chain(db_session) is None
    assert shred_subjects(db_session, [kari.id, never], at=NOW) == {kari.id: False,
                                                                   never: False}


def test_identities_are_found_by_keyed_hash_only(db_session: Session) -> None:
    subject, _ = create_subject(db_session, fixed_clock(NOW),
                                {"email": "Kari@Example.no", "phone": "912 34 567"})
    db_session.commit()
    stored = db_session.execute(select(Identity.__table__.c.value, Identity.__table__.c.sealed)
                                ).all()
    assert all(v.startswith("h1:") and s.startswith("pv1:") for v, s in stored)
    assert not any("kari" in v + s or "91234567" in v + s for v, s in stored)
    found = find_subject(db_session, "email", "kari@example.no")
    assert found is not None and found.id == subject.id
    assert {i.value for i in identities_of(db_session, subject.id)} == {
        "kari@example.no", "+4791234567"}
    with pytest.raises(TypeError, match="cannot be compared"):
        select(Identity).where(Identity.value == "kari@example.no")


def test_a_rolled_back_key_is_not_cached(db_engine: Engine, keyring: Keyring) -> None:
    with db_engine.connect() as conn:
        with conn.begin() as tx:
            sealed = keyring.seal(conn, "c" * 32, "t.x", b"secret")
            assert keyring.open(conn, "c" * 32, "t.x", sealed) == b"secret"
            tx.rollback()
        assert keyring.key(conn, "c" * 32) is None  # not served from a stale cache
        conn.rollback()


def test_a_wrong_master_key_is_a_clear_error(db_engine: Engine, keyring: Keyring) -> None:
    with db_engine.begin() as conn:
        sealed = keyring.seal(conn, "d" * 32, "t.x", b"secret")
    other = Keyring(MasterKey.generate(), cache_size=0)
    with db_engine.begin() as conn:
        with pytest.raises(ConfigurationError, match="wrong master key") as err:
            other.check(conn)
        assert keyring.master.key_id in str(err.value) and other.master.key_id in str(err.value)
        with pytest.raises(ConfigurationError, match="wrong master key"):
            other.open(conn, "d" * 32, "t.x", sealed)


def test_a_tampered_wrapped_key_is_refused(db_engine: Engine) -> None:
    master = MasterKey.generate()
    with db_engine.begin() as conn:
        Keyring(master).key(conn, "e" * 32, create=True)
        Keyring(master).key(conn, "f" * 32, create=True)
        keys = SubjectKey.__table__
        theirs = conn.execute(select(keys.c.wrapped).where(keys.c.subject_id == "f" * 32)).scalar()
        conn.execute(update(keys).where(keys.c.subject_id == "e" * 32).values(wrapped=theirs))
    with db_engine.begin() as conn, pytest.raises(CiphertextRejected, match="does not authent"):
        Keyring(master, cache_size=0).key(conn, "e" * 32)


def test_the_cache_saves_unwrapping_until_its_ttl(db_engine: Engine) -> None:
    now = [0.0]
    keyring = Keyring(MasterKey.generate(), ttl_s=60, timer=lambda: now[0])
    with db_engine.begin() as conn:
        created = keyring.key(conn, "g" * 32, create=True)
    with db_engine.begin() as conn:
        assert keyring.key(conn, "g" * 32) is created  # cached once the creation committed
        now[0] = 61.0
        reloaded = keyring.key(conn, "g" * 32)
        assert reloaded is not created and reloaded is not None
        assert reloaded.raw == created.raw  # unwrapped again from the database


def test_the_master_key_is_never_shown() -> None:
    from personvern.settings import Settings, get_settings

    key = MasterKey.generate()
    settings = Settings(master_key=key.encoded())
    assert key.encoded() not in repr(settings) and key.encoded() not in repr(key)
    assert get_settings(master_key_file=Path("k.key")).master_key_file == Path("k.key")
    assert len(key.key_id) == 16 and key.key_id not in key.encoded()


@pytest.mark.postgres
def test_two_writers_minting_one_subjects_key_end_with_the_same_key(
        postgres_url: str, keyring: Keyring) -> None:
    """Both find no key and insert one; the second insert meets the first's row, does
    nothing, and takes the first's key instead of its own (else data sealed by one writer
    could not be opened by the other)."""
    import threading

    from personvern.storage.engine import create_engine_for
    from personvern.storage.migrate import upgrade

    upgrade(postgres_url)
    engine = create_engine_for(postgres_url)
    other = Keyring(keyring.master)  # another process: its own cache
    first_inserted, keys = threading.Event(), {}

    def second() -> None:
        assert first_inserted.wait(30)
        with engine.begin() as conn:  # waits on the first's uncommitted row, then yields
            keys["second"] = other.key(conn, "s1", create=True, now=NOW)

    thread = threading.Thread(target=second)
    thread.start()
    with engine.begin() as conn:
        keys["first"] = keyring.key(conn, "s1", create=True, now=NOW)
        first_inserted.set()
        thread.join(0.5)  # the second is blocked on our row until we commit
        assert thread.is_alive()
    thread.join(30)
    engine.dispose()
    assert keys["first"] is not None and keys["second"] is not None
    assert keys["first"].raw == keys["second"].raw


def test_a_key_is_unwrapped_once_then_served_from_the_cache_until_destroyed(
        db_engine: Engine, keyring: Keyring) -> None:
    """The counters docs/performance.md reads: a subject's key is read and unwrapped once
    a process, every later seal or open is a hit; once destroyed (Art. 17) it is gone from
    the cache and nothing opens."""
    sid = "c" * 32
    with db_engine.begin() as conn:
        sealed = keyring.seal(conn, sid, "t.email", b"kari@example.no")  # created: a miss
    assert (keyring.hits, keyring.misses) == (0, 1)
    keyring.clear_cache()  # as another process would: read and unwrap it
    with db_engine.begin() as conn:
        for _ in range(3):
            assert keyring.open(conn, sid, "t.email", sealed) == b"kari@example.no"
    assert (keyring.hits, keyring.misses) == (2, 2)
    with db_engine.begin() as conn:
        keyring.shred(conn, sid, NOW)
    with db_engine.begin() as conn:
        assert keyring.open(conn, sid, "t.email", sealed) is None
    assert keyring.misses == 3
